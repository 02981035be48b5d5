using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Principals;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Security;
using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Supervision;

namespace Fleet.Grains.Security;

[GenerateSerializer, Immutable, Alias("fleet.PrincipalGrainState")]
public sealed record PrincipalGrainState(
    [property: Id(0)] ImmutableArray<PrincipalSample> Samples,
    [property: Id(1)] PrincipalPhase Phase,
    [property: Id(2)] DateTimeOffset? Since,
    [property: Id(3)] string? Evidence,
    [property: Id(4)] string? Action,
    [property: Id(5)] string? ActionKey,
    [property: Id(6)] string? LeaseId,
    [property: Id(7)] int Episode,
    [property: Id(8)] string? Note,
    [property: Id(9)] DateTimeOffset? LastReportAt,
    [property: Id(10)] int Streak = 0,
    [property: Id(11)] int Attempt = 0)
{
    public PrincipalGrainState() : this([], PrincipalPhase.Normal, null, null, null, null, null, 0, null, null) { }
}

/// <summary>
/// One account or service identity. Each report is judged against the principal's own history
/// (<see cref="PrincipalBaseline"/>); an anomaly asks the security supervisor whether it is one account's or a fleet-wide
/// shift, then proposes a containment that needs a lease like every other action (class containment: its own budget,
/// the fleet's cap) and runs through the security actuator. A principal marked <c>security.approvalRequired</c> is handed
/// to a person instead. The containment holds until a person releases it. Reports made while contained stay out of the
/// baseline, and an episode (an anomaly until a normal report) writes each kind of record once.
/// </summary>
[GrainType(Subjects.PrincipalKind)]
public sealed class PrincipalGrain(
    [PersistentState("principal", StorageNames.Fleet)] IPersistentState<PrincipalGrainState> state,
    PolicyCache policies, IAuditStore audit, ActionExecutor executor, TimeProvider time) : Grain, IPrincipalGrain
{
    /// <summary>Reports between two writes of the baseline while nothing else changes (it is soft: a few lost reports do not matter).</summary>
    public const int CheckpointEvery = 12;

    private readonly List<DecisionRecord> _pending = [];
    private bool _known;
    private bool _judgedTold;
    private int _unsaved;

    private string Id => this.GetPrimaryKeyString();
    private string Subject => Subjects.Principal(Id);
    private PrincipalGrainState S => state.State;
    private ISecuritySupervisorGrain Supervisor => GrainFactory.GetGrain<ISecuritySupervisorGrain>(FleetNames.Default);

    public async Task<PrincipalReportOutcome> ReportAsync(PrincipalReport report)
    {
        var policy = policies.Current;
        if (!_known)
        {
            await Supervisor.KnownAsync(Id);
            _known = true;
        }
        var changed = false;
        state.State = S with { LastReportAt = report.Timestamp };
        if (S.Phase != PrincipalPhase.Normal)
        {
            await SaveAsync(false);
            return PrincipalReportOutcome.Contained;
        }
        var anomaly = PrincipalBaseline.Judge(S.Samples, report, policy.Security);
        if (PrincipalBaseline.CanJudge(S.Samples, policy.Security) && !_judgedTold)
        {
            await Supervisor.JudgedAsync(Id);
            _judgedTold = true;
        }
        if (anomaly is null)
        {
            state.State = S with { Samples = PrincipalBaseline.Add(S.Samples, PrincipalSample.From(report), policy.Security.Window) };
            if (S.Note is not null || S.Streak > 0)
            {
                if (S.Note is not null) Record(DecisionKinds.Verified, $"Principal {Id} reports within its baseline again; the episode is over.", rule: "security.threshold");
                state.State = S with { Note = null, Evidence = null, Streak = 0 };
                changed = true;
            }
            await SaveAsync(changed);
            return PrincipalReportOutcome.Normal;
        }
        await OnAnomalyAsync(anomaly, report, policy);
        return PrincipalReportOutcome.Anomalous;
    }

    private async Task OnAnomalyAsync(Anomaly anomaly, PrincipalReport report, FleetPolicy policy)
    {
        var now = time.GetUtcNow();
        // The first anomalous report of an episode goes into the baseline (robust statistics shrug off one burst, and a
        // one-window job that recurs — a new nightly export — is learned instead of flagged for ever); the rest of the
        // episode stays out, so a sustained exfiltration that is held back (a storm, the budget, an approval) cannot teach
        // the baseline that it is normal. Reports made while contained stay out too.
        if (S.Streak == 0) state.State = S with { Samples = PrincipalBaseline.Add(S.Samples, PrincipalSample.From(report), policy.Security.Window) };
        var first = S.Note is null;
        if (first) state.State = S with { Episode = S.Episode + 1 };
        state.State = S with { Evidence = anomaly.Evidence, Streak = S.Streak + 1 };
        var evidence = ImmutableDictionary<string, string>.Empty.Add("metric", anomaly.Metric).Add("value", anomaly.Value.ToString("0.##"))
            .Add("median", anomaly.Median.ToString("0.##")).Add("mad", anomaly.Mad.ToString("0.##")).Add("score", anomaly.Score.ToString("0.#"));
        if (first) Record(DecisionKinds.Observed, $"Principal {Id} is anomalous: {anomaly.Evidence}" +
            (policy.Security.ConfirmReports > 1 ? $"; containment is proposed if {policy.Security.ConfirmReports} reports in a row are." : "."),
            evidence: evidence, rule: "security.threshold");

        var verdict = await Supervisor.AnomalyAsync(Id, report.Timestamp);
        if (S.Streak < policy.Security.ConfirmReports)
        {
            // One window more before acting: a fleet-wide shift shows itself as one before any account is contained.
            state.State = S with { Note = "watching" };
            await SaveAsync(true);
            return;
        }
        if (verdict.Storm)
        {
            if (S.Note != "storm")
                Record(DecisionKinds.Escalated, $"Did not contain principal {Id}: {verdict.Anomalous} of {verdict.Judged} judged principals turned anomalous within " +
                    $"{Core.Text.Format.Duration(policy.Security.StormWindow)} — a fleet-wide shift (a release, a migration), not an attack on each; a person should look.",
                    policy.Security.Action, guardrail: Guardrails.SecurityStorm, rule: "security.stormShare", outcome: "storm");
            state.State = S with { Note = "storm" };
            await SaveAsync(true);
            return;
        }
        var action = policy.Security.Action;
        var leaseId = $"{Subject}/contain-{S.Episode}.{S.Attempt}"; // a new attempt after a failure is a new action, not a repeat
        if (S.Note is null or "watching" or "storm" or "failed")
            Record(DecisionKinds.Proposed, $"Proposed to contain principal {Id} ({action}): {anomaly.Evidence}.", action, evidence: evidence, rule: "security.action");
        // The one permit path: shadow mode and approvals first (a principal in security.approvalRequired asks for a person
        // itself), then the security supervisor's budget and the fleet's slot.
        var decision = await GrainFactory.AcquireLeaseAsync(new LeaseRequest(leaseId, Subject, action, policy.Version, [Subjects.Security(FleetNames.Default)],
            ActionClass.Containment, Basis: ActionBasis.Reported)
        {
            ApprovalRequired = policy.Security.NeedsApproval(Id),
            Why = $"contain principal {Id} ({action}): {anomaly.Evidence}",
        });
        if (!decision.Granted)
        {
            var note = "denied:" + decision.Guardrail;
            if (S.Note != note)
            {
                if (decision.Guardrail == Guardrails.Shadow)
                    Record(DecisionKinds.Shadowed, $"Shadow mode ({decision.Shadow}): would contain principal {Id} ({action}) and did nothing; it {decision.Reason}.",
                        action, decision.Evidence, guardrail: Guardrails.Shadow, rule: "security.action", outcome: "shadowed");
                else
                    Record(DecisionKinds.Denied, $"Containment of principal {Id} ({action}) was not permitted: {decision.Reason}.", action, decision.Evidence,
                        guardrail: decision.Guardrail, outcome: "denied");
            }
            state.State = S with { Note = note };
            await SaveAsync(true);
            return;
        }
        Record(DecisionKinds.Permitted, $"Permitted to contain principal {Id} ({action}): {decision.Reason}.", action, decision.Evidence);
        var key = $"{leaseId}/{action}";
        state.State = S with { Phase = PrincipalPhase.Containing, Since = now, Action = action, ActionKey = key, LeaseId = leaseId, Note = "containing" };
        await SaveAsync(true);
        executor.Start(Request(key, action, $"{action} for principal {Id}: {anomaly.Evidence}", leaseId));
    }

    public async Task<PrincipalStatus> ReleaseAsync(string by, string reason)
    {
        if (S.Phase == PrincipalPhase.Containing)
            throw new ActionRefusedException("containment-in-flight", $"Principal {Id}'s containment ({S.Action}) is being carried out; release it once it is contained.");
        if (S.Phase != PrincipalPhase.Contained)
            throw new ActionRefusedException("not-contained", $"Principal {Id} is not contained ({S.Phase}); there is nothing to release.");
        var key = $"{Subject}/release-{S.Episode}.{S.Attempt}";
        Record(DecisionKinds.Operator, $"Releasing principal {Id} at the request of {by}: {reason}.", ContainmentActions.Release, rule: "principals.release");
        state.State = S with { Phase = PrincipalPhase.Releasing, Since = time.GetUtcNow(), ActionKey = key, Note = $"released by {by}" };
        await SaveAsync(true);
        executor.Start(Request(key, ContainmentActions.Release, $"release of principal {Id} at the request of {by}: {reason}", null));
        return Status()!;
    }

    public async Task ActionCompletedAsync(ActionOutcome outcome)
    {
        if (outcome.IdempotencyKey != S.ActionKey) return;
        if (S.Phase == PrincipalPhase.Containing)
        {
            if (outcome.Succeeded)
            {
                Record(DecisionKinds.Executed, $"Contained principal {Id} ({S.Action}): {outcome.Detail}. It stays contained until a person releases it (fleet principals release {Id} --reason …).",
                    S.Action, outcome: "contained");
                state.State = S with { Phase = PrincipalPhase.Contained, Since = outcome.CompletedAt };
            }
            else
            {
                Record(DecisionKinds.Failed, $"Containment of principal {Id} ({S.Action}) failed: {outcome.Detail}; the next anomalous report tries again.", S.Action, outcome: "failed");
                state.State = S with { Phase = PrincipalPhase.Normal, Since = outcome.CompletedAt, Note = "failed", Attempt = S.Attempt + 1 };
            }
            if (S.LeaseId is { } lease) await Supervisor.ReleaseLeaseAsync(lease);
            state.State = S with { LeaseId = null };
        }
        else if (S.Phase == PrincipalPhase.Releasing)
        {
            if (outcome.Succeeded)
            {
                Record(DecisionKinds.Released, $"Released principal {Id}: {outcome.Detail}. It is judged against its baseline again.", ContainmentActions.Release, outcome: "released");
                state.State = S with { Phase = PrincipalPhase.Normal, Since = outcome.CompletedAt, Note = null, Evidence = null, Action = null, Streak = 0 };
            }
            else
            {
                Record(DecisionKinds.Failed, $"Release of principal {Id} failed: {outcome.Detail}; it stays contained (release it again to retry).", ContainmentActions.Release, outcome: "failed");
                state.State = S with { Phase = PrincipalPhase.Contained, Attempt = S.Attempt + 1 };
            }
        }
        await SaveAsync(true);
    }

    public Task<PrincipalStatus?> GetAsync() => Task.FromResult(Status());

    private PrincipalStatus? Status() =>
        S.LastReportAt is null && S.Phase == PrincipalPhase.Normal ? null
        : new PrincipalStatus(Id, S.Phase, S.Since, S.Samples.IsDefault ? 0 : S.Samples.Length, S.LastReportAt, PrincipalBaseline.Describe(S.Samples),
            S.Evidence, S.Action, policies.Current.Security.NeedsApproval(Id), S.Note);

    private ActionRequest Request(string key, string action, string reason, string? leaseId) =>
        new(key, null, action, reason, leaseId, Subject) { Parameters = ImmutableDictionary<string, string>.Empty.Add("principal", Id) };

    private void Record(string kind, string reason, string? action = null, IReadOnlyDictionary<string, string>? evidence = null,
        string? rule = null, string? guardrail = null, string? outcome = null) =>
        _pending.Add(Decisions.Create(time.GetUtcNow(), Subject, Subject, kind, reason, policies.Current.Version, action, evidence, rule, guardrail, outcome));

    private async Task SaveAsync(bool force)
    {
        if (force || ++_unsaved >= CheckpointEvery)
        {
            await state.WriteOrResetAsync(DeactivateOnIdle);
            _unsaved = 0;
        }
        await audit.FlushAsync(_pending);
    }
}
