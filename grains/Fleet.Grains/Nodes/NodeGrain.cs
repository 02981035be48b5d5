using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Health;
using Fleet.Core.Remediation;
using Fleet.Core.Text;
using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Telemetry;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Nodes;

/// <summary>
/// One server: judges its reports and its silence, and runs the remediation loop — propose a rung of the ladder,
/// ask the domain supervisor for a lease, hand the action to the executor, verify, escalate or close — writing a
/// decision record at every step. The judging and the ladder are pure functions in Fleet.Core; this class orchestrates.
/// </summary>
public sealed partial class NodeGrain(
    [PersistentState("node", StorageNames.Fleet)] IPersistentState<NodeState> state,
    PolicyCache policies, IAuditStore audit, ActionExecutor executor, FleetMetrics metrics, TimeProvider time,
    ILogger<NodeGrain> log) : Grain, INodeGrain
{
    private readonly List<DecisionRecord> _pending = [];
    private DateTimeOffset _watchingSince;
    private IGrainTimer? _timer;
    private TimeSpan _timerPeriod;
    private FleetPolicy _policy = FleetPolicy.Default;
    private bool _dirty;
    private NodeState? _written;
    private DateTimeOffset _writtenAt;

    /// <summary>How long counters and samples of plain reports may go unwritten (a SIGKILL loses at most this much of them).</summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(10);

    private string Id => this.GetPrimaryKeyString();
    private string Actor => $"node/{Id}";
    private NodeState S => state.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _watchingSince = time.GetUtcNow();
        _written = state.RecordExists ? S : null;
        _writtenAt = _watchingSince;
        _policy = await policies.GetAsync();
        metrics.NodeEntered(S.Effective);
        EnsureTimer();
        if (S.Case is { Phase: RemediationPhase.Acting, IdempotencyKey: { } key, LeaseId: { } lease } c)
        {
            // Reactivated mid-action (its silo died, or it was moved): hand the same key to the executor. The action
            // ledger returns the stored outcome if the action finished; otherwise the idempotent actuator runs it again.
            Record(DecisionKinds.Observed, $"Resumed {c.Action} on node {Id} after its grain was reactivated; the action ledger tells whether key {key} already ran.", c.Action);
            await FlushAuditAsync();
            executor.Start(new ActionRequest(key, Id, c.Action, c.Symptom, lease));
        }
    }

    public Task PingAsync() => Task.CompletedTask;

    public Task PeerObservedAsync(PeerView view)
    {
        if (S.Registration is not null) state.State = S with { Health = NodeMonitor.OnPeerView(S.Health, view) };
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.NodeLeft(S.Effective);
        // A clean shutdown (or migration) writes the last counters; a failed write was already handled by deactivation.
        if (S.Registration is not null && !ReferenceEquals(S, _written) && reason.ReasonCode != DeactivationReasonCode.ApplicationError)
        {
            try { await state.WriteStateAsync(); }
            catch (Exception e) { LogCheckpointFailed(log, Id, e.Message); }
        }
    }

    public async Task<NodeStatus> RegisterAsync(NodeRegistration registration)
    {
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var previous = S.Registration;
        if (previous is not null && previous.Domain != registration.Domain)
        {
            if (S.Case?.LeaseId is { } lease) await Domain(previous.Domain).ReleaseLeaseAsync(lease, Id, "node moved to another domain");
            await Domain(previous.Domain).RemoveMemberAsync(Id);
            if (S.Case is { LeaseId: not null } c) state.State = S with { Case = c with { Phase = RemediationPhase.AwaitingLease, LeaseId = null } };
        }
        state.State = previous is null
            ? S with { Registration = registration, Health = NodeHealthModel.Initial(now), EffectiveSince = now }
            : S with { Registration = registration };
        if (previous is null) _watchingSince = now;
        Record(previous is null ? DecisionKinds.Registered : DecisionKinds.Operator,
            previous is null
                ? $"Registered node {Id} in domain {registration.Domain} ({Format.Num(registration.Capacity.CpuCores)} cores, {Format.Bytes(registration.Capacity.MemoryBytes)} memory)."
                : $"Updated the registration of node {Id} (domain {registration.Domain}).",
            evidence: registration.Labels);
        _dirty = true;
        await CommitAsync(now, forceMember: true);
        EnsureTimer();
        return Status();
    }

    public async Task<ReportResult> ReportAsync(TelemetryReport report)
    {
        if (S.Registration is null) return new ReportResult(ReportOutcome.NotRegistered, HealthState.Unknown, -1);
        if (S.Admin == AdminState.Decommissioned) return new ReportResult(ReportOutcome.Decommissioned, S.Effective, S.Health.LastSequence);
        var started = time.GetTimestamp();
        var now = time.GetUtcNow();
        _policy = policies.Current;
        if (report.Peers.IsDefault || report.Checks.IsDefault)
            report = report with { Peers = report.Peers.IsDefault ? [] : report.Peers, Checks = report.Checks.IsDefault ? [] : report.Checks };
        var judgement = NodeMonitor.OnReport(S.Health, report, now, _policy);
        metrics.Report(judgement.Outcome);
        if (judgement.Outcome != ReportOutcome.Accepted) return new ReportResult(judgement.Outcome, S.Effective, S.Health.LastSequence);

        Apply(judgement, now);
        await PublishHealthAsync(now);
        await ReconcileAsync(now);
        await CommitAsync(now);
        if (!report.Peers.IsDefaultOrEmpty)
            foreach (var peer in report.Peers)
                if (peer.NodeId != Id) await GrainFactory.GetGrain<INodeGrain>(peer.NodeId).PeerObservedAsync(new PeerView(Id, peer.Reachable, now, peer.Detail));
        metrics.Decision(time.GetElapsedTime(started));
        return new ReportResult(ReportOutcome.Accepted, S.Effective, S.Health.LastSequence);
    }

    public Task<NodeStatus?> GetStatusAsync() => Task.FromResult(S.Registration is null ? null : Status());

    public Task<NodeStatus> CordonAsync(string by, string? reason) => SetAdminAsync(AdminState.Cordoned, by, reason, "Cordoned");

    public Task<NodeStatus> UncordonAsync(string by, string? reason) => SetAdminAsync(AdminState.None, by, reason, "Uncordoned");

    public Task<NodeStatus> DrainAsync(string by, string? reason) => SetAdminAsync(AdminState.Draining, by, reason, "Drained");

    public async Task ActionCompletedAsync(ActionOutcome outcome)
    {
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var c = S.Case;
        if (c is null || c.IdempotencyKey != outcome.IdempotencyKey || c.Phase != RemediationPhase.Acting)
        {
            LogStaleOutcome(log, Id, outcome.IdempotencyKey);
            return;
        }
        metrics.Action(c.Action, outcome.Succeeded);
        var rung = Rung(c);
        if (!outcome.Succeeded)
        {
            Record(DecisionKinds.Failed, $"{Verb(c.Action)} on node {Id} failed: {outcome.Detail} ({rung}).", c.Action, outcome: "failed");
            await ReleaseAsync(c, "the action failed");
            Escalate(c, now, $"{c.Action} failed ({outcome.Detail})");
        }
        else if (c.Preventive)
        {
            Record(DecisionKinds.Executed, $"{Verb(c.Action)} node {Id} before its memory ran out: {outcome.Detail} ({rung}).", c.Action, outcome: "succeeded");
            state.State = S with
            {
                Admin = c.Action == ActionNames.Drain ? AdminState.Draining : S.Admin,
                Health = S.Health with { MemorySamples = [], Forecast = null },
            };
            Record(DecisionKinds.Verified, $"Prevented memory exhaustion on node {Id}: its workload was moved off by {c.Action} while {c.Symptom}.", c.Action, outcome: "prevented");
            await ReleaseAsync(c, "preventive action done");
            Close(now);
        }
        else
        {
            var window = _policy.Remediation.Ladder[Math.Min(c.Step, _policy.Remediation.Ladder.Length - 1)].VerifyWindow;
            Record(DecisionKinds.Executed, $"{Verb(c.Action)} on node {Id}: {outcome.Detail}; watching for the symptom to clear within {Format.Duration(window)} ({rung}).",
                c.Action, outcome: "succeeded");
            if (c.Action == ActionNames.Drain) state.State = S with { Admin = AdminState.Draining };
            if (c.Action == ActionNames.Replace) state.State = S with { Admin = AdminState.None };
            state.State = S with { Case = c with { Phase = RemediationPhase.Verifying, ActedAt = outcome.CompletedAt, Deadline = outcome.CompletedAt + window } };
        }
        _dirty = true;
        await ReconcileAsync(now);
        await CommitAsync(now);
    }

    private async Task TickAsync(CancellationToken _)
    {
        if (S.Registration is null || S.Admin == AdminState.Decommissioned) return;
        var started = time.GetTimestamp();
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var judgement = NodeMonitor.OnTick(S.Health, now, _watchingSince, _policy);
        if (ReferenceEquals(judgement.Model, S.Health) && S.Case is null)
        {
            EnsureTimer(); // nothing to judge or do: a node reporting on time costs its timer almost nothing
            return;
        }
        Apply(judgement, now);
        await PublishHealthAsync(now);
        await ReconcileAsync(now);
        await CommitAsync(now);
        metrics.Decision(time.GetElapsedTime(started));
        EnsureTimer();
    }

    private void Apply(Judgement judgement, DateTimeOffset now)
    {
        if (!ReferenceEquals(judgement.Model, S.Health)) state.State = S with { Health = judgement.Model };
        if (judgement.Change is { } change)
            Record(DecisionKinds.HealthChanged, $"Judged node {Id} {change.To} (was {change.From}): {change.Reason}.",
                evidence: change.Evidence, rule: RuleFor(change.To));
    }

    /// <summary>One pass of the remediation loop: compare what is with what should be, and take the next step.</summary>
    private async Task ReconcileAsync(DateTimeOffset now)
    {
        if (S.Registration is null || S.Admin == AdminState.Decommissioned) return;
        var judged = S.Health.Health;
        var forecast = S.Health.HasCondition(ConditionTypes.MemoryExhaustionForecast);
        var c = S.Case;

        if (c is null)
        {
            if (judged == HealthState.Unhealthy && S.Admin != AdminState.Draining) c = Open(now, false);
            else if (forecast && _policy.Forecast.Enabled && S.Admin == AdminState.None) c = Open(now, true);
            else return;
            if (c is null) return;
        }

        switch (c.Phase)
        {
            case RemediationPhase.AwaitingLease:
                if (!c.Preventive && judged is HealthState.Healthy or HealthState.Degraded)
                {
                    Record(DecisionKinds.Verified, $"Closed the case on node {Id} without acting: it recovered on its own before {c.Action} was permitted.", c.Action, outcome: "recovered-without-action");
                    Close(now, countAsStep: false);
                    return;
                }
                if (c.Preventive && !forecast)
                {
                    Record(DecisionKinds.Verified, $"Dropped the preventive {c.Action} of node {Id}: memory is no longer forecast to run out within {Format.Duration(_policy.Forecast.Horizon)}.", c.Action, outcome: "forecast-cleared");
                    Close(now, countAsStep: false);
                    return;
                }
                await RequestLeaseAsync(c, now);
                return;
            case RemediationPhase.Acting when now >= c.Deadline:
                Record(DecisionKinds.Failed, $"{Verb(c.Action)} on node {Id} gave no outcome within {Format.Duration(_policy.Guardrails.LeaseDuration)}; counted as failed ({Rung(c)}).", c.Action, outcome: "no-outcome");
                await ReleaseAsync(c, "no outcome in time");
                Escalate(c, now, $"{c.Action} gave no outcome");
                return;
            case RemediationPhase.Verifying:
                if (judged is HealthState.Healthy or HealthState.Degraded && S.Health.LastReportAt > c.ActedAt)
                {
                    Record(DecisionKinds.Verified, $"Verified {c.Action} on node {Id}: the symptom cleared ({Describe(judged)}); on probation for {Format.Duration(_policy.Remediation.Probation)} ({Rung(c)}).",
                        c.Action, outcome: "cleared");
                    await ReleaseAsync(c, "verified");
                    state.State = S with { Case = c with { Phase = RemediationPhase.Probation, Deadline = now + _policy.Remediation.Probation } };
                }
                else if (now >= c.Deadline)
                {
                    Record(DecisionKinds.Failed, $"{Verb(c.Action)} did not heal node {Id}: {c.Symptom} persisted past the verify window ({Rung(c)}).", c.Action, outcome: "symptom-persisted");
                    await ReleaseAsync(c, "symptom persisted");
                    Escalate(c, now, $"{c.Action} did not clear the symptom");
                    await ReconcileAsync(now);
                }
                return;
            case RemediationPhase.Probation:
                if (judged == HealthState.Unhealthy)
                {
                    Escalate(c, now, $"it failed again during probation after {c.Action}");
                    await ReconcileAsync(now);
                }
                else if (now >= c.Deadline && judged is HealthState.Healthy)
                {
                    Close(now);
                }
                return;
            case RemediationPhase.HandedToHuman:
                if (judged == HealthState.Healthy)
                {
                    Record(DecisionKinds.Verified, $"Closed the hand-off of node {Id}: it reports healthy again.", outcome: "recovered-after-hand-off");
                    Close(now, countAsStep: false);
                }
                return;
        }
    }

    private RemediationCase? Open(DateTimeOffset now, bool preventive)
    {
        var ladder = _policy.Remediation;
        var step = preventive ? -1 : EscalationLadder.FirstStep(S.History, now, ladder);
        var symptom = Symptom(preventive);
        var action = preventive ? _policy.Forecast.Action : ladder.Ladder[step].Action;
        var c = new RemediationCase(Guid.CreateVersion7(now).ToString("N")[..12], preventive, symptom, step, action, RemediationPhase.AwaitingLease, now);
        state.State = S with { Case = c };
        if (preventive)
            Record(DecisionKinds.Predicted, $"Predicted memory exhaustion on node {Id}: {symptom}.", action, rule: "forecast.horizon",
                evidence: Evidence());
        if (!preventive && EscalationLadder.IsHuman(ladder, step))
        {
            HandToHuman(c, now, "its earlier cases this hour already climbed the whole ladder");
            return null;
        }
        var why = !preventive && step > 0 ? $" (starting at step {step + 1}: the last case closed less than {Format.Duration(ladder.FlapWindow)} ago)" : "";
        Record(DecisionKinds.Proposed, $"Proposed {action} for node {Id}: {symptom} ({Rung(c)}){why}.", action, evidence: Evidence(), rule: RuleOf(c));
        return c;
    }

    private async Task RequestLeaseAsync(RemediationCase c, DateTimeOffset now)
    {
        if (EscalationLadder.NextAllowedAt(S.History, now, _policy.Remediation) is { } next)
        {
            if (c.LastDenial != "cooldown")
            {
                var cooldown = EscalationLadder.CurrentCooldown(S.History, now, _policy.Remediation);
                Record(DecisionKinds.Denied, $"Held back {c.Action} on node {Id}: it is in its {Format.Duration(cooldown)} cooldown after {S.History.RecentActions.Length} recent action(s), until {next:HH:mm:ss} UTC.",
                    c.Action, guardrail: "cooldown", rule: "remediation.cooldown");
                state.State = S with { Case = c with { LastDenial = "cooldown" } };
            }
            return;
        }

        var request = new LeaseRequest($"{Id}/{c.CaseId}/{c.Step}/{c.Attempt}", Id, S.Registration!.Domain, c.Action, true, _policy.Version);
        var decision = await Domain(S.Registration.Domain).RequestLeaseAsync(request);
        if (!decision.Granted)
        {
            if (c.LastDenial != decision.Guardrail)
            {
                Record(DecisionKinds.Denied, $"Denied {c.Action} on node {Id}: {decision.Reason}.", c.Action, guardrail: decision.Guardrail,
                    rule: $"guardrails.{decision.Guardrail}");
                state.State = S with { Case = c with { LastDenial = decision.Guardrail } };
            }
            return;
        }

        var key = $"{Id}/{c.CaseId}/{c.Step}";
        Record(DecisionKinds.Permitted, $"Permitted {c.Action} on node {Id}: {decision.Reason} (lease until {decision.ExpiresAt:HH:mm:ss} UTC).", c.Action, rule: RuleOf(c));
        state.State = S with
        {
            Case = c with { Phase = RemediationPhase.Acting, LeaseId = decision.LeaseId, IdempotencyKey = key, ActedAt = now, Deadline = decision.ExpiresAt, LastDenial = null },
            History = EscalationLadder.RecordAction(S.History, now, _policy.Remediation),
        };
        // The case is written before the action starts, so a reactivated grain knows the key it was running.
        await CommitAsync(now);
        executor.Start(new ActionRequest(key, Id, c.Action, c.Symptom, decision.LeaseId!));
    }

    private void Escalate(RemediationCase c, DateTimeOffset now, string why)
    {
        var next = c.Preventive ? 0 : c.Step + 1;
        if (EscalationLadder.IsHuman(_policy.Remediation, next))
        {
            HandToHuman(c with { Step = next }, now, why);
            return;
        }
        var action = _policy.Remediation.Ladder[next].Action;
        var escalated = c with
        {
            Step = next, Action = action, Phase = RemediationPhase.AwaitingLease, Preventive = false, LeaseId = null,
            IdempotencyKey = null, Deadline = null, LastDenial = null, Attempt = c.Attempt + 1, Symptom = Symptom(false),
        };
        Record(DecisionKinds.Escalated, $"Escalated node {Id} from {c.Action} to {action}: {why} ({Rung(escalated)}).", action, rule: RuleOf(escalated));
        state.State = S with { Case = escalated };
    }

    private void HandToHuman(RemediationCase c, DateTimeOffset now, string why)
    {
        Record(DecisionKinds.HandedToHuman, $"Handed node {Id} to a human: {why}; the ladder has no further automatic step (policy v{_policy.Version}).",
            ActionNames.Human, rule: "remediation.ladder", evidence: Evidence());
        state.State = S with { Case = c with { Phase = RemediationPhase.HandedToHuman, Action = ActionNames.Human, LeaseId = null, Deadline = null } };
    }

    private void Close(DateTimeOffset now, bool countAsStep = true)
    {
        var c = S.Case!;
        state.State = S with
        {
            Case = null,
            History = countAsStep && !c.Preventive ? EscalationLadder.RecordClose(S.History, c.Step, now) : S.History,
        };
    }

    private async Task ReleaseAsync(RemediationCase c, string outcome)
    {
        if (c.LeaseId is null) return;
        await FlushAuditAsync(); // the trail reads in order: the verdict, then the release it caused
        await Domain(S.Registration!.Domain).ReleaseLeaseAsync(c.LeaseId, Id, outcome);
        if (S.Case is { } current) state.State = S with { Case = current with { LeaseId = null } };
    }

    private async Task<NodeStatus> SetAdminAsync(AdminState admin, string by, string? reason, string verb)
    {
        if (S.Registration is null) throw new NodeNotRegisteredException(Id);
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var handOff = admin == AdminState.None && S.Case?.Phase == RemediationPhase.HandedToHuman;
        state.State = S with { Admin = admin };
        Record(DecisionKinds.Operator, $"{verb} node {Id} at the request of {by}" + (string.IsNullOrWhiteSpace(reason) ? "." : $": {reason}."),
            admin == AdminState.Draining ? ActionNames.Drain : null);
        if (handOff)
        {
            Record(DecisionKinds.Verified, $"Closed the hand-off of node {Id}: {by} took it back into automatic care.", outcome: "resolved-by-human");
            state.State = S with { Case = null, History = RemediationHistory.Empty };
        }
        _dirty = true;
        await CommitAsync(now);
        return Status();
    }

    /// <summary>Writes state (when changed) and the pending decision records, after publishing the shown health.</summary>
    private async Task CommitAsync(DateTimeOffset now, bool forceMember = false)
    {
        await PublishHealthAsync(now, forceMember);
        if (_dirty || MustCheckpoint(now))
        {
            state.State = S with { PolicyVersion = _policy.Version };
            await state.WriteOrResetAsync(DeactivateOnIdle);
            _dirty = false;
            _written = S;
            _writtenAt = now;
        }
        await FlushAuditAsync();
    }

    /// <summary>
    /// A plain healthy report changes only counters and samples: those are written at most every
    /// <see cref="CheckpointInterval"/>. Anything a decision rests on (health, conditions, the case, the history,
    /// operator state, registration) is written before the call returns.
    /// </summary>
    private bool MustCheckpoint(DateTimeOffset now)
    {
        var w = _written;
        if (w is null) return true;
        var s = S;
        if (ReferenceEquals(s, w)) return false;
        return !ReferenceEquals(s.Case, w.Case) || !ReferenceEquals(s.History, w.History) || !ReferenceEquals(s.Registration, w.Registration)
            || s.Admin != w.Admin || s.Effective != w.Effective || s.Health.Health != w.Health.Health
            || !s.Health.Conditions.Select(c => c.Type).SequenceEqual(w.Health.Conditions.Select(c => c.Type))
            || now - _writtenAt >= CheckpointInterval;
    }

    private async Task FlushAuditAsync()
    {
        if (_pending.Count == 0) return;
        var batch = _pending.ToArray();
        _pending.Clear();
        await audit.AppendAsync(batch);
    }

    /// <summary>Moves the shown health and tells the domain supervisor, so its storm brake sees the node before it asks for a lease.</summary>
    private async Task PublishHealthAsync(DateTimeOffset now, bool force = false)
    {
        var effective = S.Derive();
        var moved = effective != S.Effective;
        if (moved)
        {
            metrics.NodeMoved(S.Effective, effective);
            var judgedTo = S.Health.Health;
            if (!(effective == judgedTo && _pending.Any(r => r.Kind == DecisionKinds.HealthChanged)))
                Record(DecisionKinds.HealthChanged, $"Node {Id} is now {effective} (was {S.Effective}){PhaseNote(effective)}.", rule: RuleFor(effective));
            state.State = S with { Effective = effective, EffectiveSince = now };
            _dirty = true;
        }
        if ((moved || force) && S.Registration is { } reg)
            await Domain(reg.Domain).ReportMemberAsync(new NodeSummary(Id, reg.Domain, effective, S.EffectiveSince));
    }

    private void EnsureTimer()
    {
        if (S.Registration is null || S.Admin == AdminState.Decommissioned) return;
        var period = _policy.Telemetry.ReportInterval;
        if (_timer is not null && _timerPeriod == period) return;
        _timer?.Dispose();
        _timerPeriod = period;
        _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    private void Record(string kind, string reason, string? action = null, IReadOnlyDictionary<string, string>? evidence = null,
        string? rule = null, string? guardrail = null, string? outcome = null) =>
        _pending.Add(Decisions.Create(time.GetUtcNow(), Actor, Actor, kind, reason, _policy.Version, action, evidence, rule, guardrail, outcome,
            incidentId: S.Case?.CaseId));

    private IDomainSupervisorGrain Domain(string name) => GrainFactory.GetGrain<IDomainSupervisorGrain>(name);

    private NodeStatus Status()
    {
        var r = S.Registration!;
        var c = S.Case;
        return new NodeStatus(Id, r.Domain, S.Effective, S.Admin, S.Health.Conditions, S.Health.LastSequence, S.Health.LastReportAt,
            S.EffectiveSince, r.Capacity, r.Labels, S.Health.Forecast,
            c is null ? null : new RemediationView(c.CaseId, c.Phase.ToString(), c.Step, c.Action, c.LeaseId, c.Deadline,
                EscalationLadder.NextAllowedAt(S.History, time.GetUtcNow(), _policy.Remediation)),
            S.PolicyVersion, S.Health.LastReport is { Peers.IsDefault: true } old ? old with { Peers = [] } : S.Health.LastReport, RuntimeIdentity);
    }

    private string Symptom(bool preventive)
    {
        var conditions = S.Health.Conditions;
        var relevant = preventive
            ? conditions.Where(x => x.Type == ConditionTypes.MemoryExhaustionForecast)
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

    private string Rung(RemediationCase c) => c.Preventive
        ? $"policy forecast rule, v{_policy.Version}"
        : $"policy ladder step {c.Step + 1} of {_policy.Remediation.Ladder.Length}, v{_policy.Version}";

    private static string RuleOf(RemediationCase c) => c.Preventive ? "forecast.action" : $"remediation.ladder[{c.Step}]";

    private static string? RuleFor(HealthState s) => s switch
    {
        HealthState.Unhealthy or HealthState.Suspect => "telemetry.allowedMisses / health.unhealthyAfterFailedReports",
        HealthState.Degraded => "health thresholds",
        HealthState.Probation => "remediation.probation",
        _ => null,
    };

    private string PhaseNote(HealthState s) => s switch
    {
        HealthState.Remediating => $": {S.Case?.Action} is under way",
        HealthState.Probation => $": watched for {Format.Duration(_policy.Remediation.Probation)} after {S.Case?.Action}",
        HealthState.Healthy when S.Case is null && S.History.LastClosedAt is { } closed && time.GetUtcNow() - closed < TimeSpan.FromSeconds(1) =>
            ": probation passed, case closed",
        _ => "",
    };

    private static string Describe(HealthState s) => s == HealthState.Healthy ? "it reports healthy" : "only soft thresholds remain";

    private static string Verb(string action) => action switch
    {
        ActionNames.RestartServices => "Restarted services",
        ActionNames.Reboot => "Rebooted",
        ActionNames.Drain => "Drained",
        ActionNames.Replace => "Replaced",
        _ => $"Ran {action}",
    };

    [LoggerMessage(LogLevel.Warning, "Failed to write the last state of node {Node} on deactivation: {Error}")]
    private static partial void LogCheckpointFailed(ILogger logger, string node, string error);

    [LoggerMessage(LogLevel.Debug, "Ignored a stale or repeated outcome for node {Node} (key {Key})")]
    private static partial void LogStaleOutcome(ILogger logger, string node, string key);
}

/// <summary>An operator command named a node that was never registered.</summary>
[GenerateSerializer, Alias("fleet.NodeNotRegisteredException")]
public sealed class NodeNotRegisteredException(string nodeId) : Exception($"Node '{nodeId}' is not registered.")
{
    [Id(0)] public string NodeId { get; } = nodeId;
}
