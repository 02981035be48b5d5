using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Health;
using Fleet.Core.Remediation;
using Fleet.Core.Text;
using Fleet.Grains.Audit;
using Fleet.Grains.Supervision;
using Fleet.Grains.Telemetry;

namespace Fleet.Grains.Nodes;

/// <summary>
/// The node's remediation case: the one case machine (<see cref="CaseMachine"/>) stepped with the node as its subject; the
/// grain carries out its effects (the ones every owner of a case carries out alike through <see cref="CaseEffectRunner"/>).
/// </summary>
public sealed partial class NodeGrain
{
    /// <summary>
    /// One pass of the remediation loop: compare what is with what should be, and take the next step. A node with no case
    /// that needs neither a remedy nor a prevention has no step to take (the common report): the case machine is not run.
    /// </summary>
    private Task ReconcileAsync(DateTimeOffset now) =>
        S.Registration is null || S.Admin == AdminState.Decommissioned || S.Case is null && (OutOfService || Needs() is (false, false))
            ? Task.CompletedTask
            : StepAsync(CaseEvent.Tick, now);

    /// <summary>Whether the node's judged health calls for a remedy (Unhealthy, not being drained) or a prevention (memory, disk or CPU forecast to fail, in service).</summary>
    private (bool Remedy, bool Prevention) Needs() =>
        (S.Health.Health == HealthState.Unhealthy && S.Admin != AdminState.Draining,
         S.Admin == AdminState.None && S.Health.Foreseen);

    /// <summary>Steps the case machine with one event and carries out its effects, in order.</summary>
    private async Task<CaseStepResult?> StepAsync(CaseEvent e, DateTimeOffset now)
    {
        if (S.Registration is not { } reg) return null;
        await LoadPlacementsAsync(); // a case's lease covers the services with an instance here
        // A case about to open or climb a rung reads what the ladder has learned (one read per silo every few seconds).
        if (_policy.Learning.Enabled && (S.Case is null ? S.Health.Health == HealthState.Unhealthy : S.Case.Phase is RemediationPhase.Verifying or RemediationPhase.Acting))
            await learned.RefreshAsync();
        var result = CaseMachine.Step(new CaseState(S.Case, S.History), e, CaseSubjectOf(reg, now), CaseRules.For(_policy), now);
        if (result.Ignored) return result;
        if (S.Case is { } closing && result.State.Case is null) _closingCase = closing; // its last records still belong to its trace
        var opened = result.State.Case is { } c && c.CaseId != S.Case?.CaseId ? c : null;
        if (!ReferenceEquals(result.State.Case, S.Case) || !ReferenceEquals(result.State.History, S.History))
            state.State = S with { Case = result.State.Case, History = result.State.History };
        if (opened is not null && CaseTracing.OpenCase(Actor, opened.CaseId, opened.Action, opened.Symptom,
                [("fleet.observe", S.Health.LastReportAt ?? now, $"report {S.Health.LastSequence} of node {Id}"),
                 ("fleet.judge", now, $"node {Id} judged {S.Health.Health}: {string.Join("; ", S.Health.Conditions.Select(x => x.Reason))}")]) is { } traceParent)
            state.State = S with { Case = S.Case! with { TraceParent = traceParent } };
        foreach (var effect in result.Effects)
        {
            if (await GrainFactory.RunSharedAsync(effect, now, FlushAuditAsync))
            {
                if (effect is CaseEffect.Learned && _policy.Learning.Enabled) learned.Invalidate();
                continue;
            }
            switch (effect)
            {
                case CaseEffect.Record r:
                    Record(r.Draft);
                    break;
                case CaseEffect.AskLease ask:
                    using (CaseTracing.Step("fleet.lease", S.Case?.TraceParent, Actor, ask.Request.Action))
                    {
                        var decision = await GrainFactory.AcquireLeaseAsync(ask.Request);
                        await StepAsync(new CaseEvent.LeaseAnswered(ask.Request, decision), now);
                    }
                    break;
                case CaseEffect.StartAction start:
                    // The case is written before the action starts, so a reactivated grain knows the key it was running.
                    await CommitAsync(now);
                    // The executor runs in this span's context: its calls, and the outcome it hands back, join the case's trace.
                    using (CaseTracing.Step("fleet.execute", S.Case?.TraceParent, Actor, start.Request.Action))
                        executor.Start(start.Request);
                    break;
                case CaseEffect.ApplyAdminEffect admin:
                    // A node being decommissioned stays draining whatever a case's action does to its admin state.
                    state.State = S with { Admin = admin.Effect == AdminEffect.Draining || S.Stage == LifecycleStage.Draining ? AdminState.Draining : AdminState.None };
                    break;
                case CaseEffect.ForgetForecast:
                    state.State = S with { Health = S.Health with { MemorySamples = Fleet.Core.Forecasting.MemoryWindow.Empty, LoadSamples = null, Forecast = null } };
                    break;
            }
        }
        return result;
    }

    /// <summary>
    /// What an action on this node would rest on: its own failed checks, or a death a probe confirmed; anything else
    /// (silence, or the hold of a node still earning its recovery after silence) counts as unconfirmed silence.
    /// </summary>
    private static ActionBasis BasisOf(NodeHealthModel health) =>
        health.HasCondition(ConditionTypes.CheckFailed) ? ActionBasis.Reported
        : health.HasCondition(ConditionTypes.PeerUnreachable) ? ActionBasis.ConfirmedSilence
        : ActionBasis.UnconfirmedSilence;

    private CaseSubject CaseSubjectOf(NodeRegistration reg, DateTimeOffset now)
    {
        var judged = S.Health.Health;
        var forecast = S.Health.Foreseen;
        var (remedy, prevention) = Needs();
        // Outcomes are counted under the symptom's signature always; only a policy that learns reads them back (to skip a rung).
        var signature = Fleet.Core.Learning.OutcomeTable.Signature(Subjects.NodeKind, S.Health.Conditions.Select(c => c.Type),
            S.Health.LastReport?.Checks.Where(c => !c.Passed).Select(c => c.Name) ?? []);
        return new CaseSubject(Actor, Id, judged,
            NeedsRemedy: remedy,
            NeedsPrevention: prevention,
            Forecast: forecast, S.Health.LastReportAt, Symptom, Evidence, ScopesOf(reg, now), BasisOf(S.Health))
        {
            Signature = signature,
            Foreseen = S.Health.ForeseenText ?? "memory exhaustion",
            Learned = _policy.Learning.Enabled ? action => learned.Get(signature, action) : null,
        };
    }

    /// <summary>A record of the case is made in a span of the case's trace, so it carries the case's trace id.</summary>
    private void Record(RecordDraft d)
    {
        var trace = (d.CaseId ?? d.IncidentId) is not { } caseId ? null
            : S.Case?.CaseId == caseId ? S.Case.TraceParent
            : _closingCase?.CaseId == caseId ? _closingCase.TraceParent : null;
        using var step = CaseTracing.Step(CaseTracing.StepOf(d.Kind), trace, Actor, d.Action, d.Reason);
        (_pending ??= []).Add(Decisions.Create(time.GetUtcNow(), Actor, Actor, d.Kind, d.Reason, _policy.Version, d.Action, d.Evidence, d.Rule, d.Guardrail,
            d.Outcome, incidentId: d.IncidentId, caseId: d.CaseId));
    }

    private RemediationCase? _closingCase;

    private string Symptom(bool preventive)
    {
        var conditions = S.Health.Conditions;
        var relevant = preventive
            ? conditions.Where(x => ConditionTypes.IsForecast(x.Type))
            : conditions.Where(x => x.Type is ConditionTypes.CheckFailed or ConditionTypes.Silent or ConditionTypes.Stale or ConditionTypes.PeerUnreachable);
        var text = string.Join("; ", relevant.Select(x => x.Reason));
        return text.Length > 0 ? text : $"it is {S.Health.Health}";
    }

    private ImmutableDictionary<string, string> Evidence()
    {
        var e = ImmutableDictionary.CreateBuilder<string, string>();
        foreach (var c in S.Health.Conditions) e[$"condition.{c.Type}"] = c.Reason;
        e["health"] = S.Health.Health.ToString();
        e["lastSequence"] = S.Health.LastSequence.ToString();
        if (S.Health.LastReportAt is { } at) e["lastReportAt"] = at.ToString("O");
        if (S.Health.Forecast?.TimeToExhaustion is { } tte) e["forecast.timeToExhaustion"] = Format.Duration(tte);
        return e.ToImmutable();
    }
}
