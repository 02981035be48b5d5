using System.Diagnostics;
using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Telemetry;

/// <summary>
/// Traces of remediation cases (ActivitySource <c>Fleet</c>): one trace per case. Its root span <c>fleet.case</c> is made
/// when the case opens, with the report and the judgement that opened it as its first children (<c>fleet.observe</c>,
/// <c>fleet.judge</c>); every later step — <c>fleet.propose</c>, <c>fleet.permit</c> (around the lease call, so the
/// supervisors' grain calls are its children), <c>fleet.act</c> (around the action, so the executor's calls are its
/// children), <c>fleet.verify</c>, <c>fleet.escalate</c> — is a child of the span the step runs in when that belongs to the
/// case, else of the root, linked to whatever triggered it (a report, a timer) since a case lasts minutes. The decision
/// record made in a step carries the case's trace id. No spans are made while nothing listens (no OTLP endpoint).
/// </summary>
public static class CaseTracing
{
    public const string SourceName = "Fleet";

    public static readonly ActivitySource Source = new(SourceName, "1.0");

    /// <summary>The step a decision record stands for.</summary>
    public static string StepOf(string kind) => kind switch
    {
        DecisionKinds.Observed => "fleet.observe",
        DecisionKinds.HealthChanged or DecisionKinds.Predicted => "fleet.judge",
        DecisionKinds.Proposed => "fleet.propose",
        DecisionKinds.Permitted or DecisionKinds.Denied => "fleet.permit",
        DecisionKinds.Executed or DecisionKinds.Failed => "fleet.act",
        DecisionKinds.Verified => "fleet.verify",
        DecisionKinds.Escalated or DecisionKinds.HandedToHuman => "fleet.escalate",
        DecisionKinds.Released => "fleet.release",
        _ => "fleet." + kind,
    };

    /// <summary>Opens the case's trace: a new root (never a child of the report or timer that opened it, which it links), ended at once.</summary>
    public static string? OpenCase(string subject, string caseId, string action, string symptom, IEnumerable<(string Name, DateTimeOffset At, string Detail)> openedBy)
    {
        if (!Source.HasListeners()) return null;
        var trigger = Activity.Current;
        Activity.Current = null;
        try
        {
            using var root = Source.StartActivity("fleet.case", ActivityKind.Internal, default(ActivityContext),
                [new("fleet.subject", subject), new("fleet.case", caseId), new("fleet.action", action), new("fleet.symptom", symptom)],
                trigger is null ? null : [new ActivityLink(trigger.Context)]);
            if (root is null) return null;
            foreach (var (name, at, detail) in openedBy)
            {
                using var child = Source.StartActivity(name, ActivityKind.Internal, root.Context, [new("fleet.subject", subject), new("fleet.detail", detail)], startTime: at);
                child?.SetEndTime(at.UtcDateTime.AddTicks(10)); // a zero duration would be replaced by the time Stop is called
            }
            return root.Id;
        }
        finally
        {
            Activity.Current = trigger;
        }
    }

    /// <summary>
    /// A step of the case: a child of the current span when it belongs to the case (the lease call, the action), else of
    /// the case's root, linked to the current span. Null when the case has no trace.
    /// </summary>
    public static Activity? Step(string name, string? traceParent, string subject, string? action = null, string? reason = null)
    {
        if (traceParent is null || !ActivityContext.TryParse(traceParent, null, out var root)) return null;
        var current = Activity.Current;
        var inCase = current is not null && current.TraceId == root.TraceId;
        var span = Source.StartActivity(name, ActivityKind.Internal, inCase ? current!.Context : root,
            [new("fleet.subject", subject), new("fleet.action", action), new("fleet.reason", reason)],
            inCase || current is null ? null : [new ActivityLink(current.Context)]);
        return span;
    }
}
