using Fleet.Abstractions.Diagnostics;
using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Health;
using Fleet.Core.Remediation;
using Fleet.Core.Replay;
using Fleet.Core.Services;
using Fleet.Core.Text;
using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Supervision;
using Fleet.Grains.Telemetry;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Nodes;

/// <summary>
/// One server: judges its reports and its silence (<see cref="NodeMonitor"/>) and runs the remediation case
/// (<see cref="CaseMachine"/>), both pure steps in Fleet.Core. This grain feeds them, carries out the effects the case
/// asks for (a lease from the supervisor chain, an action through the executor, a release) and writes state and records.
/// </summary>
[GrainType(Subjects.NodeKind)]
public sealed partial class NodeGrain(NodeGrainServices services) : Grain, INodeGrain
{
    /// <summary>The name of the node's row in the fleet's storage (as the <c>[PersistentState]</c> it was before).</summary>
    private const string NodeStateName = "node";

    /// <summary>
    /// The node's row, read on activation and written through the fleet's grain storage directly. A
    /// <c>[PersistentState]</c> bridge cost every activation ~250 bytes more (the bridge, its lifecycle subscription and
    /// migration participation — a migrated node writes its row on deactivation and reads it back where it lands).
    /// </summary>
    private readonly GrainState<NodeState> state = new();
    private List<DecisionRecord>? _pending; // made on the node's first record, let go when flushed: most nodes record nothing for long stretches
    private DateTimeOffset _watchingSince;
    private FleetPolicy _policy = FleetPolicy.Default;
    private bool _dirty;
    private WrittenMark? _written;

    // The silo's services, reached through one shared object: a reference each in every one of a million activations would cost ~100 bytes a node.
    private PolicyCache policies => services.Policies;
    private IAuditStore audit => services.Audit;
    private Supervision.IMemberStore members => services.Members;
    private ActionExecutor executor => services.Executor;
    private DirectProber prober => services.Prober;
    private NodeWakeups wakeups => services.Wakeups;
    private FleetMetrics metrics => services.Metrics;
    private TimeProvider time => services.Time;
    private Learning.LearningCache learned => services.Learned;
    private Tracing.TraceRecorder trace => services.Trace;
    private ILogger<NodeGrain> log => services.Log;

    /// <summary>
    /// How long counters and samples of plain reports may go unwritten: a SIGKILL loses at most this much of them (the
    /// forecast's memory samples and the report counters; the sequence number resumes from the checkpoint, and a replayed
    /// older report is still refused by its timestamp's TTL). Five minutes keeps a healthy node at 12 writes an hour
    /// whatever its report interval — the store's load for a million nodes is about 3,300 writes a second (docs/capacity.md).
    /// </summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromMinutes(5);

    private string Id => this.GetPrimaryKeyString();
    private string Actor => $"node/{Id}";
    private NodeState S => state.State!;

    private Task WriteStateAsync() => services.Storage.WriteStateAsync(NodeStateName, this.GetGrainId(), state);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await services.Storage.ReadStateAsync(NodeStateName, this.GetGrainId(), state);
        state.State ??= new NodeState();
        _watchingSince = time.GetUtcNow();
        // The stored registration's domain, capacity and labels, as one copy with other nodes' (a memory matter only: not a change to write).
        if (S.Registration is { } stored && SharedParts.Registration(stored) is var shared && !ReferenceEquals(shared, stored))
            state.State = S with { Registration = shared };
        _written = state.RecordExists ? WrittenMark.Of(S, _watchingSince) : null;
        _policy = await policies.GetAsync();
        metrics.NodeEntered(S.Effective);
        ScheduleWakeup(time.GetUtcNow());
        // Reactivated mid-action (its silo died, or it was moved): hand the same key to the executor. The action
        // ledger returns the stored outcome if the action finished; otherwise the idempotent actuator runs it again.
        if (S.Case is { Phase: RemediationPhase.Acting }) await StepAsync(new CaseEvent.Reactivated(), _watchingSince);
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
        if (S.Registration is not null && (_written is null || _written.Unsaved(S)) && reason.ReasonCode != DeactivationReasonCode.ApplicationError)
        {
            try { await WriteStateAsync(); }
            catch (Exception e) { LogCheckpointFailed(log, Id, e.Message); }
        }
    }

    public async Task<NodeStatus> RegisterAsync(NodeRegistration registration)
    {
        // A probe (or an address the policy's default probes would use) the silo will not reach is refused here, not found later.
        if (prober.Refusal(registration) is { } refused)
            throw new Fleet.Abstractions.Security.InvalidInputException("The node registration is not valid.",
                System.Collections.Immutable.ImmutableDictionary<string, System.Collections.Immutable.ImmutableArray<string>>.Empty.Add(refused.Field, [refused.Why]));
        var now = time.GetUtcNow();
        if (trace.On) trace.Add(new TraceEntry { Kind = TraceKinds.Register, At = now, Node = Id, Registration = registration });
        RefuseIfRetired("registered again");
        registration = SharedParts.Registration(registration);
        await LoadPlacementsAsync();
        _policy = policies.Current;
        var previous = S.Registration;
        if (previous is not null && previous.Domain != registration.Domain)
        {
            await StepAsync(new CaseEvent.LeaseLost("node moved to another domain"), now);
            await Domain(previous.Domain).RemoveMemberAsync(Id);
        }
        state.State = previous is null
            ? S with { Registration = registration, Health = NodeHealthModel.Initial(now), EffectiveSince = now }
            : S with { Registration = registration };
        if (previous is null) _watchingSince = now;
        if (previous is null) await LifeAsync(new Fleet.Core.Lifecycle.LifecycleEvent.Registered(), now);
        // A machine the provisioner brought names its request: the capacity supervisor counts it as arrived.
        if (previous is null && registration.Labels is { } labels && labels.TryGetValue(Fleet.Abstractions.Lifecycle.ProvisionLabels.Request, out var request))
        {
            GrainFactory.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).ArrivedAsync(request, Id).Ignore();
            if (S.Stage == LifecycleStage.Serving) TellServing(registration); // no burn-in: it serves at once
        }
        Record(previous is null ? DecisionKinds.Registered : DecisionKinds.Operator,
            previous is null
                ? $"Registered node {Id} in domain {registration.Domain} ({Format.Num(registration.Capacity.CpuCores)} cores, {Format.Bytes(registration.Capacity.MemoryBytes)} memory)."
                : $"Updated the registration of node {Id} (domain {registration.Domain}).",
            evidence: registration.Labels);
        _dirty = true;
        // The node's row in its domain's member list, written here so that thousands registering into one domain are
        // written in parallel (the domain's supervisor only keeps them in memory; its watchdog finds them after a restart).
        await members.UpsertAsync(registration.Domain, [Summary(registration)]);
        await CommitAsync(now, forceMember: true);
        return Status();
    }

    public async Task<ReportResult> ReportAsync(TelemetryReport report)
    {
        if (trace.On) trace.Add(new TraceEntry { Kind = TraceKinds.Report, At = time.GetUtcNow(), Node = Id, Report = report });
        if (S.Registration is null) return new ReportResult(ReportOutcome.NotRegistered, HealthState.Unknown, -1);
        if (S.Admin == AdminState.Decommissioned) return new ReportResult(ReportOutcome.Decommissioned, S.Effective, S.Health.LastSequence);
        var started = time.GetTimestamp();
        var now = time.GetUtcNow();
        _policy = policies.Current;
        if (report.Peers.IsDefault || report.Checks.IsDefault)
            report = report with { Peers = report.Peers.IsDefault ? [] : report.Peers, Checks = report.Checks.IsDefault ? [] : report.Checks };
        if (!S.Alerts.IsEmpty) report = WithAlerts(report);
        var judgement = NodeMonitor.OnReport(S.Health, report, now, _policy);
        metrics.Report(judgement.Outcome);
        if (judgement.Outcome != ReportOutcome.Accepted)
        {
            state.State = S with { Refused = S.Refused.SetItem(judgement.Outcome, S.Refused.GetValueOrDefault(judgement.Outcome) + 1) };
            return new ReportResult(judgement.Outcome, S.Effective, S.Health.LastSequence);
        }
        if (judgement.NewBootFrom is { } from)
        {
            Record(DecisionKinds.Observed, $"Node {Id}'s reporter started a new run (boot id {from} → {report.BootId}); its sequence starts again at {report.Sequence}.",
                evidence: ImmutableDictionary<string, string>.Empty.Add("previousBootId", from).Add("bootId", report.BootId!).Add("sequence", report.Sequence.ToString()));
            _dirty = true;
        }

        Apply(judgement, now);
        if (S.Stage != LifecycleStage.Serving)
            await LifeTickAsync(new Fleet.Core.Lifecycle.LifecycleEvent.Judged(S.Health.Health, string.Join("; ", S.Health.Conditions.Select(c => c.Reason))), now);
        await PublishHealthAsync(now);
        await ReconcileAsync(now);
        await CommitAsync(now);
        if (!report.Peers.IsDefaultOrEmpty)
            foreach (var peer in report.Peers)
                if (peer.NodeId != Id) await GrainReferences.Get<INodeGrain>(GrainFactory, peer.NodeId).PeerObservedAsync(new PeerView(Id, peer.Reachable, now, peer.Detail));
        metrics.Decision(time.GetElapsedTime(started));
        return new ReportResult(ReportOutcome.Accepted, S.Effective, S.Health.LastSequence);
    }

    public async Task<NodeStatus?> GetStatusAsync()
    {
        if (S.Registration is null) return null;
        await LoadPlacementsAsync();
        return Status();
    }

    public Task<NodeStatus> CordonAsync(string by, string? reason)
    {
        Traced(TraceKinds.Cordon, by, reason);
        return SetAdminAsync(AdminState.Cordoned, by, reason, "Cordoned");
    }

    public Task<NodeStatus> UncordonAsync(string by, string? reason)
    {
        Traced(TraceKinds.Uncordon, by, reason);
        return SetAdminAsync(AdminState.None, by, reason, "Uncordoned");
    }

    /// <summary>An operator's request, into the input trace when the fleet records one.</summary>
    private void Traced(string kind, string by, string? reason, bool? force = null)
    {
        // A call a grain makes to carry out its own decision (a train's cordons) is not an input: a replay makes it again.
        if (trace.On && RequestContext.Get(TraceKinds.Decided) is not true)
            trace.Add(new TraceEntry { Kind = kind, At = time.GetUtcNow(), Node = Id, By = by, Reason = reason, Force = force });
    }

    public async Task<NodeStatus> DrainAsync(string by, string? reason, bool force = false)
    {
        Traced(TraceKinds.Drain, by, reason, force);
        if (S.Registration is null) throw new NodeNotRegisteredException(Id);
        RefuseIfRetired("drained");
        await LoadPlacementsAsync();
        if (S.Admin == AdminState.Draining) return Status();
        var now = time.GetUtcNow();
        await PermitDrainAsync(ActionNames.Drain, by, reason, force, now);
        await SetAdminAsync(AdminState.Draining, by, reason, "Drained");
        if (!await HostsInstancesAsync(now)) await ReleaseDrainLeaseAsync(now);
        await CommitAsync(now);
        return Status();
    }

    /// <summary>
    /// Asks the permit path for an operator's drain (or decommission) like any disruptive action, and keeps its lease until
    /// nothing is left to move; a guardrail that says no is recorded and thrown (<see cref="ActionRefusedException"/>).
    /// </summary>
    private async Task PermitDrainAsync(string action, string by, string? reason, bool force, DateTimeOffset now)
    {
        var verb = action == ActionNames.Drain ? "drain" : "decommission";
        var decision = await AskDrainAsync(action, $"{Actor}/{action}/{Guid.CreateVersion7(now):N}", by, reason, force, now);
        if (!decision.Granted)
        {
            Record(DecisionKinds.Denied, $"Refused to {verb} node {Id} at the request of {by}: {decision.Reason}.", action,
                guardrail: decision.Guardrail, rule: $"guardrails.{decision.Guardrail}");
            await FlushAuditAsync();
            throw new ActionRefusedException(decision.Guardrail ?? "refused", $"{(verb == "drain" ? "Draining" : "Decommissioning")} node {Id} was refused: {decision.Reason}.");
        }
    }

    /// <summary>
    /// Asks the permit path for a drain or decommission of this node (scopes: its domain and every service with an
    /// instance on it); a grant is kept as the drain's lease and recorded, a refusal is returned as it is.
    /// </summary>
    private async Task<LeaseDecision> AskDrainAsync(string action, string requestId, string by, string? reason, bool force, DateTimeOffset now)
    {
        var reg = S.Registration!;
        _policy = policies.Current;
        var request = new LeaseRequest(requestId, Actor, action, _policy.Version,
            ScopesOf(reg, now), ActionClass.Disruptive, Force: force, Basis: ActionBasis.Operator) { Why = reason };
        var decision = await GrainFactory.AcquireLeaseAsync(request);
        if (!decision.Granted) return decision;
        state.State = S with { DrainLease = new HeldLease(decision.LeaseId!, action, request.Scopes, decision.ExpiresAt!.Value) };
        Record(DecisionKinds.Permitted, $"Permitted {(action == ActionNames.Drain ? "drain" : "decommission")} on node {Id} for {by}{(force ? " (forced)" : "")}: {decision.Reason} (lease until {decision.ExpiresAt:HH:mm:ss} UTC).",
            action, rule: force ? "operator --force" : null);
        return decision;
    }

    /// <summary>
    /// Frees an operator drain's lease once nothing is left to move off the node (or when the drain is lifted, or the
    /// lease has expired anyway).
    /// </summary>
    private async Task ReleaseDrainLeaseAsync(DateTimeOffset now, string? lifted = null)
    {
        if (S.DrainLease is not { } lease) return;
        var outcome = lifted ?? (now >= lease.ExpiresAt ? "expired" : "nothing left to move");
        await FlushAuditAsync();
        await GrainFactory.ReleaseLeaseAsync(lease.LeaseId, lease.Scopes, outcome);
        state.State = S with { DrainLease = null };
        _dirty = true;
    }

    public async Task ActionCompletedAsync(ActionOutcome outcome)
    {
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var action = S.Case?.Action;
        if (await StepAsync(new CaseEvent.ActionFinished(outcome), now) is not { Ignored: false })
        {
            LogStaleOutcome(log, Id, outcome.IdempotencyKey);
            return;
        }
        metrics.Action(action!, outcome.Succeeded);
        _dirty = true;
        await ReconcileAsync(now);
        await CommitAsync(now);
    }

    public Task WakeAsync() => TickAsync();

    private async Task TickAsync()
    {
        if (S.Registration is null || S.Admin == AdminState.Decommissioned) return;
        var started = time.GetTimestamp();
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var judgement = NodeMonitor.OnTick(S.Health, now, _watchingSince, _policy);
        if (ReferenceEquals(judgement.Model, S.Health) && S.Case is null && S.DrainLease is null && S.Stage == LifecycleStage.Serving)
        {
            ScheduleWakeup(now); // nothing to judge or do: a node reporting on time costs almost nothing
            return;
        }
        Apply(judgement, now);
        await LifeTickAsync(new Fleet.Core.Lifecycle.LifecycleEvent.Tick(), now);
        await ConfirmSilenceAsync(now);
        await PublishHealthAsync(now);
        await ReconcileAsync(now);
        if (S.DrainLease is { } lease && (now >= lease.ExpiresAt || !await HostsInstancesAsync(now))) await ReleaseDrainLeaseAsync(now);
        await CommitAsync(now);
        metrics.Decision(time.GetElapsedTime(started));
    }

    /// <summary>How many peers are asked at once to probe a silent node (SWIM's k).</summary>
    public const int IndirectProbes = 3;

    /// <summary>
    /// A node Suspect through silence is asked about before anything acts: the silo probes it directly (its registration's
    /// probe, or the policy's default for its labels) and asks up to <see cref="IndirectProbes"/> of the peers whose agents
    /// probe it to probe it now, all at once; then it is judged again at once with what they saw — dead is Unhealthy now,
    /// no second hold; alive is "the path to the monitor is broken", and silence alone moves nothing. Asked at most once a
    /// report interval; a change of the silo's answer is recorded.
    /// </summary>
    private async Task ConfirmSilenceAsync(DateTimeOffset now)
    {
        if (!_policy.Probes.ConfirmSilence || S.Health.Health != HealthState.Suspect || !S.Health.HasCondition(ConditionTypes.Silent)) return;
        if (S.Registration is not { } reg) return;
        var probe = ProbeTargets.For(reg, _policy.Probes);
        var last = S.Health.PeerViews.GetValueOrDefault(PeerView.SiloProbe);
        if (last is not null && now - last.At < _policy.Telemetry.ReportInterval) return;
        var peers = S.Health.PeerViews.Keys.Where(k => k != PeerView.SiloProbe).Order(StringComparer.Ordinal).Take(IndirectProbes).ToList();
        if (probe is null && peers.Count == 0) return;

        async Task<(bool Reachable, string Detail)?> Direct() => probe is null ? null : await prober.ProbeAsync(probe, probe.Timeout ?? _policy.Probes.Timeout);
        var direct = Direct();
        var indirect = peers.Select(async peer =>
        {
            try { return await GrainFactory.GetGrain<IAgentGrain>(peer).ProbePeerAsync(Id).WaitAsync(_policy.Probes.Timeout + TimeSpan.FromSeconds(1)); }
            catch (Exception) { return null; } // no agent attached, or it did not answer: that peer says nothing
        }).ToList();
        var directResult = await direct;
        var indirectResults = await Task.WhenAll(indirect);
        var at = time.GetUtcNow();
        var health = S.Health;
        foreach (var (peer, seen) in peers.Zip(indirectResults))
            if (seen is not null) health = NodeMonitor.OnPeerView(health, new PeerView(peer, seen.Reachable, at, seen.Detail));
        if (directResult is var (reachable, detail))
        {
            if (last is null || last.Reachable != reachable)
                Record(DecisionKinds.Observed, $"Probed silent node {Id} directly ({detail}): " +
                    (reachable ? "it answers, so the path to the monitor is what is broken." : "no answer, so its death is confirmed."),
                    evidence: ImmutableDictionary<string, string>.Empty.Add("probe", probe!.ToString()).Add("reachable", reachable ? "true" : "false").Add("detail", detail),
                    rule: "probes.confirmSilence");
            health = NodeMonitor.OnPeerView(health, new PeerView(PeerView.SiloProbe, reachable, at, detail));
        }
        state.State = S with { Health = health };
        Apply(NodeMonitor.OnTick(S.Health, at, _watchingSince, _policy), at);
    }

    private void Apply(Judgement judgement, DateTimeOffset now)
    {
        if (!ReferenceEquals(judgement.Model, S.Health)) state.State = S with { Health = judgement.Model };
        if (judgement.Change is { } change)
            Record(DecisionKinds.HealthChanged, $"Judged node {Id} {change.To} (was {change.From}): {change.Reason}.",
                evidence: change.Evidence, rule: RuleFor(change.To));
    }

    private async Task<NodeStatus> SetAdminAsync(AdminState admin, string by, string? reason, string verb)
    {
        if (S.Registration is null) throw new NodeNotRegisteredException(Id);
        RefuseIfRetired(verb.ToLowerInvariant());
        await LoadPlacementsAsync();
        var now = time.GetUtcNow();
        _policy = policies.Current;
        // Cordoning or uncordoning a node being decommissioned stops the decommission: it serves again, under the hold asked for.
        if (admin != AdminState.Draining && S.Stage == LifecycleStage.Draining) await LifeAsync(new Fleet.Core.Lifecycle.LifecycleEvent.Admitted(by, reason), now);
        if (admin != AdminState.Draining) await ReleaseDrainLeaseAsync(now, "the drain was lifted");
        state.State = S with { Admin = admin };
        Record(DecisionKinds.Operator, $"{verb} node {Id} at the request of {by}" + (string.IsNullOrWhiteSpace(reason) ? "." : $": {reason}."),
            admin == AdminState.Draining ? ActionNames.Drain : null);
        if (admin == AdminState.None) await StepAsync(new CaseEvent.TakenBack(by), now);
        _dirty = true;
        // The admin state is in the domain's row whatever the shown health (a Suspect node's cordon changes no health).
        await CommitAsync(now, forceMember: true);
        return Status();
    }

    /// <summary>Writes state (when changed) and the pending decision records, after publishing the shown health.</summary>
    private async Task CommitAsync(DateTimeOffset now, bool forceMember = false)
    {
        ScheduleWakeup(now);
        await PublishHealthAsync(now, forceMember);
        if (_dirty || MustCheckpoint(now))
        {
            state.State = S with { PolicyVersion = _policy.Version };
            await StateWrites.WriteOrResetAsync(WriteStateAsync, DeactivateOnIdle);
            _dirty = false;
            _written = WrittenMark.Of(S, now);
        }
        await FlushAuditAsync();
    }

    /// <summary>
    /// A plain healthy report changes only counters and samples: those are written once in each of the node's
    /// <see cref="CheckpointInterval"/> slots (<see cref="CheckpointClock"/>: spread over the interval, node by node).
    /// Anything a decision rests on (health, conditions, the case, the history, operator state, registration) is
    /// written before the call returns.
    /// </summary>
    private bool MustCheckpoint(DateTimeOffset now)
    {
        if (_written is not { } w) return true;
        return w.Decisive(S) || CheckpointClock.Due(w.At, now, CheckpointInterval, CheckpointClock.Phase(Id, CheckpointInterval));
    }

    private Task FlushAuditAsync()
    {
        if (_pending is not { } pending) return Task.CompletedTask;
        _pending = null;
        return audit.FlushAsync(pending);
    }

    /// <summary>
    /// What the last write of the node's state held, as far as the checkpoint decision needs it — kept instead of the
    /// written state itself, which would hold a second copy of every node's samples and last report in memory.
    /// </summary>
    private sealed class WrittenMark
    {
        private RemediationCase? _case;
        private RemediationHistory _history = RemediationHistory.Empty;
        private NodeRegistration? _registration;
        private HeldLease? _drain;
        private ImmutableArray<NodeCondition> _conditions;
        private object? _peers, _refused;
        private long _sequence;
        private AdminState _admin;
        private HealthState _effective, _health;

        public DateTimeOffset At { get; private init; }

        public static WrittenMark Of(NodeState s, DateTimeOffset at) => new()
        {
            At = at, _case = s.Case, _history = s.History, _registration = s.Registration, _drain = s.DrainLease, _conditions = s.Health.Conditions,
            _peers = s.Health.Peers, _refused = s.Refused, _sequence = s.Health.LastSequence, _admin = s.Admin, _effective = s.Effective, _health = s.Health.Health,
        };

        /// <summary>Anything a decision rests on changed since the write (health, conditions, the case, the history, operator state, registration).</summary>
        public bool Decisive(NodeState s) =>
            !ReferenceEquals(s.Case, _case) || !ReferenceEquals(s.History, _history) || !ReferenceEquals(s.Registration, _registration)
            || s.Admin != _admin || s.Effective != _effective || s.Health.Health != _health
            || !s.Health.Conditions.Select(c => c.Type).SequenceEqual(_conditions.Select(c => c.Type));

        /// <summary>Anything at all changed since the write: also reports' counters and samples, peers' views, refusals, a drain's lease.</summary>
        public bool Unsaved(NodeState s) => Decisive(s) || s.Health.LastSequence != _sequence || !ReferenceEquals(s.Health.Peers, _peers)
            || !ReferenceEquals(s.Refused, _refused) || !Equals(s.DrainLease, _drain);
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
            if (!(effective == judgedTo && _pending?.Any(r => r.Kind == DecisionKinds.HealthChanged) == true))
                Record(DecisionKinds.HealthChanged, $"Node {Id} is now {effective} (was {S.Effective}){PhaseNote(effective)}.", rule: RuleFor(effective));
            state.State = S with { Effective = effective, EffectiveSince = now };
            _dirty = true;
        }
        if (!moved && !force) return;
        await LoadPlacementsAsync(); // the domain's row carries the node's free room; the services hosted here are told
        if (S.Registration is { } reg)
        {
            // A retired node leaves its domain's inventory (placement, the storm brake's count); its status and trail stay.
            if (S.Admin == AdminState.Decommissioned) await Domain(reg.Domain).RemoveMemberAsync(Id);
            else await Domain(reg.Domain).ReportMemberAsync(Summary(reg));
        }
        if (moved) NotifyServices();
    }

    /// <summary>
    /// Asks the silo's <see cref="NodeWakeups"/> to wake this node when something falls due: for a node reporting on time
    /// with nothing open, the moment its silence would make it Suspect (or its report expire); for anything else — a
    /// silence, an open case, a drain — every report interval, as a timer would (reports do not put it off).
    /// </summary>
    private void ScheduleWakeup(DateTimeOffset now)
    {
        if (S.Registration is null || S.Admin == AdminState.Decommissioned)
        {
            wakeups.Cancel(Id);
            return;
        }
        var h = S.Health;
        var quiet = S.Case is null && S.DrainLease is null && S.Stage == LifecycleStage.Serving && h.Health is HealthState.Healthy or HealthState.Degraded or HealthState.Unknown
            && !h.Conditions.Any(c => c.Type is ConditionTypes.Silent or ConditionTypes.Stale or ConditionTypes.PeerReachable
                or ConditionTypes.PeerUnreachable or ConditionTypes.UnconfirmedSilence);
        if (!quiet)
        {
            wakeups.Schedule(Id, now + _policy.Telemetry.ReportInterval, noLater: true);
            return;
        }
        var lastHeard = h.LastReportAt is { } at && at > _watchingSince ? at : _watchingSince;
        var due = lastHeard + _policy.SilenceToSuspect;
        if (h.ReportExpiresAt is { } expires && expires < due) due = expires + TimeSpan.FromTicks(1);
        if (due < now) due = now + _policy.Telemetry.ReportInterval;
        wakeups.Schedule(Id, due);
    }

    private void Record(string kind, string reason, string? action = null, IReadOnlyDictionary<string, string>? evidence = null,
        string? rule = null, string? guardrail = null, string? outcome = null) =>
        Record(new RecordDraft(kind, reason, action, evidence, rule, guardrail, outcome, S.Case?.CaseId));

    private IDomainSupervisorGrain Domain(string name) => GrainReferences.Get<IDomainSupervisorGrain>(GrainFactory, name);

    private NodeStatus Status()
    {
        var r = S.Registration!;
        var c = S.Case;
        return WithLife(new NodeStatus(Id, r.Domain, S.Effective, S.Admin, S.Health.Conditions, S.Health.LastSequence, S.Health.LastReportAt,
            S.EffectiveSince, r.Capacity, r.Labels, S.Health.Forecast,
            c is null ? null : new RemediationView(c.CaseId, c.Phase.ToString(), c.Step, c.Action, c.LeaseId, c.Deadline,
                EscalationLadder.NextAllowedAt(S.History, time.GetUtcNow(), _policy.Remediation)),
            S.PolicyVersion, S.Health.LastReport is { Peers.IsDefault: true } old ? old with { Peers = [] } : S.Health.LastReport, RuntimeIdentity)
        {
            Placements = [.. Placement.Live(P.ByKey.Values, time.GetUtcNow()).OrderBy(p => p.Key, StringComparer.Ordinal)],
            RefusedReports = S.Refused.ToImmutableDictionary(kv => kv.Key.ToString(), kv => kv.Value),
            BootId = S.Health.BootId,
        });
    }

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

    [LoggerMessage(LogLevel.Warning, "Failed to write the last state of node {Node} on deactivation: {Error}")]
    private static partial void LogCheckpointFailed(ILogger logger, string node, string error);

    [LoggerMessage(LogLevel.Debug, "Ignored a stale or repeated outcome for node {Node} (key {Key})")]
    private static partial void LogStaleOutcome(ILogger logger, string node, string key);
}
