using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Audit;

/// <summary>Builds decision records with the fields every record shares.</summary>
public static class Decisions
{
    public static DecisionRecord Create(
        DateTimeOffset time, string actor, string subject, string kind, string reason, int policyVersion,
        string? action = null, IReadOnlyDictionary<string, string>? evidence = null, string? rule = null,
        string? guardrail = null, string? outcome = null, string? incidentId = null, string? id = null, string? caseId = null) =>
        new(id ?? Guid.CreateVersion7(time).ToString("N"), time, actor, subject, kind, action, reason,
            evidence?.ToImmutableDictionary() ?? ImmutableDictionary<string, string>.Empty,
            rule, policyVersion, guardrail, outcome, incidentId, CaseTrace()) { CaseId = caseId };

    /// <summary>The trace id of the case span the record is made in; none outside a case (never a trace a caller chose).</summary>
    private static string? CaseTrace() =>
        Activity.Current is { } a && a.Source.Name == Telemetry.CaseTracing.SourceName && a.Recorded ? a.TraceId.ToString() : null;
}
