using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;
using Fleet.Abstractions.Services;
using Fleet.Core.Guarding;
using Fleet.Core.Services;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Telemetry;

namespace Fleet.Grains.Supervision;

/// <summary>
/// A failure domain's supervisor: grants leases within the domain's budgets, runs the storm brake,
/// and keeps the domain's member list (the inventory the fleet view is built from) — a row per member in the
/// <see cref="IMemberStore"/>: a new member's row is written by the node as it registers, a health change with the next sweep.
/// A timer frees expired leases and ends the storm cool-down even when nobody calls.
/// </summary>
public sealed class DomainSupervisorGrain(
    [PersistentState("domain", StorageNames.Fleet)] IPersistentState<DomainGuardState> state,
    IMemberStore memberStore, PolicyCache policies, IAuditStore audit, FleetMetrics metrics, TimeProvider time) : Grain, IDomainSupervisorGrain, IRemindable
{
    /// <summary>The watchdog reminder: survives the silo (with durable reminders) and wakes every member's grain.</summary>
    public const string Watchdog = "watchdog";
    private static readonly TimeSpan WatchdogPeriod = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan SweepPeriod = TimeSpan.FromSeconds(5);
    private string Domain => this.GetPrimaryKeyString();
    private string Actor => $"domain-supervisor/{Domain}";
    private string Subject => $"domain/{Domain}";
    private IFleetSupervisorGrain Fleet => GrainFactory.GetGrain<IFleetSupervisorGrain>(FleetNames.Default);

    /// <summary>Members whose health changed since the last sweep wrote them.</summary>
    private readonly HashSet<string> _dirtyMembers = [];
    private bool _knownToFleet;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var members = await memberStore.LoadAsync(Domain);
        state.State = state.State with { Members = members.ToImmutableDictionary(m => m.NodeId) };
        this.RegisterGrainTimer(SweepAsync, new GrainTimerCreationOptions(SweepPeriod, SweepPeriod) { KeepAlive = false });
        if (!state.State.Members.IsEmpty) await this.RegisterOrUpdateReminder(Watchdog, WatchdogPeriod, WatchdogPeriod);
    }

    /// <summary>
    /// Wakes every member: a node whose grain was lost with its silo would otherwise never be judged again until it
    /// reports, and a node that never reports again must still turn Suspect. Pings are one-way, so no deadlock.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != Watchdog) return;
        foreach (var id in state.State.Members.Keys) GrainFactory.GetGrain<INodeGrain>(id).PingAsync().Ignore();
        await SweepAsync(CancellationToken.None);
    }

    public async Task<LeaseDecision> RequestLeaseAsync(LeaseRequest request)
    {
        var now = time.GetUtcNow();
        var policy = await policies.GetAsync();
        var records = new List<DecisionRecord>();
        var changed = await HousekeepAsync(now, records);

        if (state.State.Leases.TryGetValue(request.RequestId, out var existing))
        {
            await SaveAsync(changed, records);
            return new LeaseDecision(true, existing.LeaseId, existing.ExpiresAt, null, "the lease was already granted to this request");
        }

        var decision = DomainGuard.Decide(state.State, Domain, request, now, policy.Guardrails);
        if (request.DryRun)
        {
            // Shadow mode: every guardrail says what it would, nothing is held or counted.
            if (decision.Granted) decision = await Fleet.AcquireAsync(request, decision.ExpiresAt!.Value) is { Granted: false } no ? no : decision;
            await SaveAsync(changed, records);
            return decision;
        }
        if (decision.Granted)
        {
            var fleet = await Fleet.AcquireAsync(request, decision.ExpiresAt!.Value);
            if (!fleet.Granted) decision = fleet;
            else
            {
                state.State = DomainGuard.Grant(state.State, request, now, decision.ExpiresAt!.Value);
                changed = true;
            }
        }
        if (!decision.Granted && decision.Guardrail is { } g) metrics.Denial(g);
        await SaveAsync(changed, records);
        return decision;
    }

    public async Task ReleaseLeaseAsync(string leaseId, string outcome, bool quiet = false)
    {
        if (!state.State.Leases.TryGetValue(leaseId, out var lease)) return;
        var now = time.GetUtcNow();
        var policy = await policies.GetAsync();
        state.State = DomainGuard.Release(state.State, leaseId);
        await Fleet.ReleaseAsync(leaseId);
        await SaveAsync(true, quiet ? [] : [Decisions.Create(now, Actor, Subjects.Canonical(lease.Subject), DecisionKinds.Released,
            $"Released the lease for {lease.Action} on {Subjects.Short(lease.Subject)} ({outcome}); {Domain} now has {state.State.SlotsInUse} of {policy.Guardrails.MaxConcurrentPerDomain} action slots in use.",
            policy.Version, lease.Action, outcome: outcome, rule: "guardrails.maxConcurrentPerDomain")]);
    }

    /// <summary>
    /// A member's health is soft state (each node re-publishes it on every change), so a health change is written with
    /// the next sweep (within <see cref="SweepPeriod"/>), as one row per changed member. A new member's row was written by the
    /// node itself before it called (so registrations into one domain are written in parallel and group-committed, and this
    /// grain, which every member of the domain calls, never waits on storage for them); nothing here costs O(members).
    /// </summary>
    public async Task ReportMemberAsync(NodeSummary member)
    {
        var isNew = !state.State.Members.ContainsKey(member.NodeId);
        state.State = state.State.WithMember(member);
        // The node wrote its own row when it registered (many nodes at once, group-committed); the sweep writes it again.
        _dirtyMembers.Add(member.NodeId);
        // Once per activation (the member may already be in the rows this grain loaded: the node writes its row first).
        if (!_knownToFleet)
        {
            await Fleet.RegisterDomainAsync(Domain);
            _knownToFleet = true;
        }
        if (isNew && state.State.Members.Count == 1) await this.RegisterOrUpdateReminder(Watchdog, WatchdogPeriod, WatchdogPeriod);
        var records = new List<DecisionRecord>();
        var changed = await HousekeepAsync(time.GetUtcNow(), records);
        await SaveAsync(changed, records);
    }

    public async Task RemoveMemberAsync(string nodeId)
    {
        if (!state.State.Members.ContainsKey(nodeId)) return;
        state.State = state.State.WithoutMember(nodeId);
        _dirtyMembers.Remove(nodeId);
        await memberStore.RemoveAsync(Domain, nodeId);
        var records = new List<DecisionRecord>();
        var changed = await HousekeepAsync(time.GetUtcNow(), records);
        await SaveAsync(changed, records);
    }

    public Task<ImmutableArray<NodeSummary>> GetCandidatesAsync(PlacementAsk ask, int max) =>
        Task.FromResult(state.State.Members.Values.Where(m => Placement.MayFit(m, ask))
            .OrderByDescending(m => Placement.Room(Placement.FromSummary(m))).ThenBy(m => m.NodeId, StringComparer.Ordinal)
            .Take(max).ToImmutableArray());

    public Task<ImmutableArray<NodeSummary>> GetMembersAsync() =>
        Task.FromResult(state.State.Members.Values.OrderBy(m => m.NodeId, StringComparer.Ordinal).ToImmutableArray());

    public async Task<DomainStatus> GetStatusAsync()
    {
        var now = time.GetUtcNow();
        var s = state.State;
        var policy = await policies.GetAsync();
        return new DomainStatus(Domain, s.Members.Count, s.Troubled, s.Frozen(now), s.StormActive ? null : s.StormHeldUntil,
            [.. s.Leases.Values.Where(l => l.ExpiresAt > now)], s.ActionStarts.Count(t => now - t < policy.Guardrails.Window));
    }

    private async Task SweepAsync(CancellationToken _)
    {
        var records = new List<DecisionRecord>();
        var changed = await HousekeepAsync(time.GetUtcNow(), records);
        await SaveAsync(changed, records);
        await FlushMembersAsync();
    }

    /// <summary>Writes the members whose health changed since the last sweep, a row each.</summary>
    private async Task FlushMembersAsync()
    {
        if (_dirtyMembers.Count == 0) return;
        var changed = _dirtyMembers.Where(state.State.Members.ContainsKey).Select(id => state.State.Members[id]).ToList();
        _dirtyMembers.Clear();
        await memberStore.UpsertAsync(Domain, changed);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (reason.ReasonCode != DeactivationReasonCode.ApplicationError)
            try { await FlushMembersAsync(); } catch (Exception) { /* soft state: members re-publish on their next change */ }
    }

    /// <summary>Frees expired leases and moves the storm brake; says whether the state changed.</summary>
    private async Task<bool> HousekeepAsync(DateTimeOffset now, List<DecisionRecord> records)
    {
        var policy = await policies.GetAsync();
        var (pruned, expired) = DomainGuard.Prune(state.State, now, policy.Guardrails);
        var changed = !ReferenceEquals(pruned, state.State);
        state.State = pruned;
        foreach (var lease in expired)
        {
            await Fleet.ReleaseAsync(lease.LeaseId);
            records.Add(Decisions.Create(now, Actor, Subjects.Canonical(lease.Subject), DecisionKinds.Released,
                $"The lease for {lease.Action} on {Subjects.Short(lease.Subject)} expired unreleased after {Core.Text.Format.Duration(lease.ExpiresAt - lease.GrantedAt)}; its slot in {Domain} is free again.",
                policy.Version, lease.Action, outcome: "expired", rule: "guardrails.leaseDuration"));
        }

        var storm = DomainGuard.CheckStorm(state.State, now, policy.Guardrails);
        if (storm.Event != StormEvent.None)
        {
            var incident = storm.State.StormIncident(Domain) ?? state.State.StormIncident(Domain);
            state.State = storm.State;
            changed = true;
            var (kind, verb) = storm.Event switch
            {
                StormEvent.Started => (DecisionKinds.Frozen, "Froze disruptive actions in"),
                StormEvent.Ended => (DecisionKinds.Observed, "The storm ended in"),
                _ => (DecisionKinds.Thawed, "Lifted the storm freeze in"),
            };
            records.Add(Decisions.Create(now, Actor, Subject, kind, $"{verb} {Domain}: {storm.Reason}.", policy.Version,
                evidence: storm.Evidence, rule: "guardrails.stormThreshold", guardrail: Guardrails.StormBrake, incidentId: incident));
        }
        return changed;
    }

    private async Task SaveAsync(bool changed, IReadOnlyList<DecisionRecord> records)
    {
        if (changed) await state.WriteOrResetAsync(DeactivateOnIdle);
        await audit.AppendAsync(records);
    }
}
