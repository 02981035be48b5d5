using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Network;
using Fleet.Core.Text;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Supervision;

namespace Fleet.Grains.Links;

/// <summary>Capacity a flow holds on a link, in one direction: pending until committed (expires), or committed.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LinkHold")]
public sealed record LinkHold(
    [property: Id(0)] string Flow,
    [property: Id(1)] bool FromA,
    [property: Id(2)] double Mbps,
    [property: Id(3)] int Priority,
    [property: Id(4)] bool Backup,
    [property: Id(5)] DateTimeOffset? ExpiresAt)
{
    public bool Committed => ExpiresAt is null;

    public bool Live(DateTimeOffset now) => ExpiresAt is not { } e || e > now;
}

[GenerateSerializer, Alias("fleet.LinkGrainState")]
public sealed record LinkGrainState
{
    [Id(0)] public LinkSpec? Spec { get; init; }
    [Id(1)] public LinkHealth? Health { get; init; }
    [Id(2)] public ImmutableDictionary<string, LinkHold> Holds { get; init; } = ImmutableDictionary<string, LinkHold>.Empty;
    /// <summary>Flows moved off this link by its last failure: they may return once it is healthy for the hold-down.</summary>
    [Id(3)] public ImmutableHashSet<string> Displaced { get; init; } = [];
    /// <summary>The current failure (an incident id), and whether its flows were moved.</summary>
    [Id(4)] public string? Episode { get; init; }
    [Id(5)] public bool EpisodeDone { get; init; }
    /// <summary>What was last said of a held-back reroute this episode (a guardrail's name), so it is said once.</summary>
    [Id(6)] public string? Told { get; init; }
    [Id(7)] public DateTimeOffset? RetryAt { get; init; }
    [Id(8)] public LinkProbe? LastProbe { get; init; }
    [Id(9)] public DateTimeOffset? LastProbeAt { get; init; }
    /// <summary>Alerts firing on the link from the team's own alerting, by fingerprint (docs/intake.md).</summary>
    [Id(10)] public ImmutableDictionary<string, Fleet.Abstractions.Nodes.ExternalAlert> Alerts { get; init; } = ImmutableDictionary<string, Fleet.Abstractions.Nodes.ExternalAlert>.Empty;
    /// <summary>Alert episodes resolved, by fingerprint with their start (Fleet.Core.Intake.AlertBook).</summary>
    [Id(11)] public ImmutableDictionary<string, DateTimeOffset> ResolvedAlerts { get; init; } = ImmutableDictionary<string, DateTimeOffset>.Empty;
    /// <summary>A person is deleting the link (who and why): it takes no new flow while its flows move off.</summary>
    [Id(12)] public string? Deleting { get; init; }
    /// <summary>What the last deletion did: a repeat of the delete (a client's retry) is answered with it, not "not defined".</summary>
    [Id(13)] public string? Deleted { get; init; }
}

/// <summary>
/// One link (<c>a~b</c>): judges its probes (<see cref="LinkMonitor"/>: hysteresis, TTL, flap damping), grants capacity
/// per direction to flows in two phases (a reservation that expires unless committed; a flow's second reservation here is
/// shared with its first), and when it is cut, degraded or stale, moves every flow it carries: one lease for the event
/// (class reroute, honouring shadow mode and a freeze; the network's storm brake first), then its flows by priority, the
/// highest first, each moving itself make-before-break (<see cref="FlowGrain"/>). Once it has been healthy for the
/// hold-down, the flows it displaced are told they may return.
/// </summary>
[GrainType(Subjects.LinkKind)]
public sealed partial class LinkGrain(
    [PersistentState("link", StorageNames.Fleet)] IPersistentState<LinkGrainState> state,
    PolicyCache policies, IAuditStore audit, NetworkActivity activity, TimeProvider time) : Grain, ILinkGrain
{
    private readonly List<DecisionRecord> _pending = [];
    private IGrainTimer? _timer;
    private DateTimeOffset? _timerDue;
    private bool _pushPending;
    private bool _announced;

    private string Id => this.GetPrimaryKeyString();
    private string Actor => Subjects.Link(Id);
    private LinkGrainState S => state.State;
    private NetworkPolicy Net => policies.Current.Network;
    private INetworkGrain Network => GrainFactory.GetGrain<INetworkGrain>(FleetNames.Default);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Reservations not committed when the link's last activation ended are gone: their flows find out at commit. A deletion
        // cut short by the silo's end left the link in service (the flows that had moved stay moved); it is asked again.
        state.State = S with { Holds = S.Holds.RemoveRange(S.Holds.Where(kv => !kv.Value.Committed).Select(kv => kv.Key)), Deleting = null };
        foreach (var h in S.Holds.Values) _committed[Dir(h.FromA)] += h.Mbps;
        Arm();
        return Task.CompletedTask;
    }

    /// <summary>Committed capacity per direction (0: A→B, 1: B→A), kept as the holds change, so a reservation costs no scan of thousands of flows.</summary>
    private readonly double[] _committed = new double[2];

    /// <summary>Reservations waiting for their commit (also in the state's holds).</summary>
    private readonly Dictionary<string, LinkHold> _pendingHolds = [];

    private static int Dir(bool fromA) => fromA ? 0 : 1;

    public async Task<LinkStatus> DefineAsync(LinkSpec spec, string by)
    {
        var now = time.GetUtcNow();
        var previous = S.Spec;
        state.State = S with { Spec = spec, Health = S.Health ?? LinkHealth.Initial(now), Deleting = null, Deleted = null };
        var grew = previous is not null && spec.CapacityMbps > previous.CapacityMbps;
        Record(DecisionKinds.Operator, previous is null
            ? $"Defined link {Id} between {spec.A} and {spec.B} at the request of {by}: {Format.Num(spec.CapacityMbps)} Mbit/s each way, {Format.Num(spec.LatencyMs)} ms, failure domain {spec.FailureDomain}."
            : $"Updated link {Id} at the request of {by}: {Format.Num(spec.CapacityMbps)} Mbit/s each way (was {Format.Num(previous.CapacityMbps)}), {Format.Num(spec.LatencyMs)} ms, failure domain {spec.FailureDomain}.");
        await SaveAsync();
        await Network.LinkChangedAsync(Status()!);
        if (grew) await Network.CapacityFreedAsync($"link {Id} grew to {Format.Num(spec.CapacityMbps)} Mbit/s");
        return Status()!;
    }

    public Task<LinkStatus?> GetStatusAsync() => Task.FromResult(Status());

    public async Task AnnounceAsync()
    {
        if (S.Spec is not null) await PushAsync(time.GetUtcNow(), force: true);
    }

    public async Task<ProbeOutcome> ProbeAsync(LinkProbe probe)
    {
        if (S.Spec is not { } spec) return ProbeOutcome.UnknownLink;
        var now = time.GetUtcNow();
        var (health, change, outcome) = LinkMonitor.OnProbe(S.Health ?? LinkHealth.Initial(now), Judged(probe), spec.LatencyMs, now, Net);
        if (outcome != ProbeOutcome.Accepted) return outcome;
        state.State = S with { Health = health, LastProbe = probe, LastProbeAt = now } ;
        if (change is not null) await ChangedAsync(change, now);
        Arm();
        return outcome;
    }

    private int _wakesOwed;

    public async Task WakeAsync()
    {
        activity.Enter();
        try
        {
            await WakeCoreAsync();
        }
        finally
        {
            activity.Exit();
            // The wake this link sent itself after a change has come: its share of the activity is done too.
            if (_wakesOwed > 0)
            {
                _wakesOwed--;
                activity.Exit();
            }
        }
    }

    private async Task WakeCoreAsync()
    {
        if (S.Spec is null || S.Health is null) return;
        var now = time.GetUtcNow();
        var (health, change) = LinkMonitor.OnTick(S.Health, now, Net);
        if (change is not null)
        {
            state.State = S with { Health = health };
            await ChangedAsync(change, now);
        }
        await ActAsync(now);
        if (_pushPending || !_announced)
        {
            _announced = true;
            await PushAsync(now, force: true);
        }
        Arm();
    }

    private async Task ChangedAsync(LinkChange change, DateTimeOffset now)
    {
        // A failure opens an episode (the incident of its reroute); a worse failure in it moves whatever is still carried.
        if (change.To is LinkState.Down or LinkState.Degraded or LinkState.Unknown)
            state.State = S with { Episode = S.Episode ?? $"{Actor}/{now:yyyyMMddTHHmmssZ}", EpisodeDone = false, RetryAt = null };
        if (change.To is LinkState.Up) state.State = S with { Episode = null, EpisodeDone = false, Told = null, RetryAt = null };
        Record(DecisionKinds.HealthChanged, $"Judged link {Id} {change.To} (was {change.From}): {change.Reason}.",
            rule: change.To switch
            {
                LinkState.Down => "network.downAfterProbes",
                LinkState.Degraded => "network.degradedAfterProbes",
                LinkState.Damped => "network.damping",
                LinkState.Unknown => "probe ttl",
                _ => "network.upAfterProbes",
            }, evidence: ImmutableDictionary<string, string>.Empty.Add("flaps", S.Health!.Flaps.ToString())
                .Add("penalty", Format.Num(Math.Round(LinkMonitor.Decayed(S.Health, now, Net)))));
        await SaveAsync();
        await PushAsync(now, force: true);
        if (change.To == LinkState.Up) await Network.CapacityFreedAsync($"link {Id} is up");
        // Every loss of probes counts toward the network's storm brake, whether or not this link carries flows.
        if (change.To is LinkState.Down or LinkState.Unknown) await Network.LinkLostAsync(Id);
        // The moves happen in their own turn: the probe that told is answered at once.
        activity.Enter();
        _wakesOwed++;
        GrainFactory.GetGrain<ILinkGrain>(Id).WakeAsync().Ignore();
    }

    /// <summary>What the link's state asks for now: move its flows off (a failure), or let displaced flows return (healthy for the hold-down).</summary>
    private async Task ActAsync(DateTimeOffset now)
    {
        var h = S.Health!;
        if (h.State is LinkState.Down or LinkState.Unknown or LinkState.Degraded && !S.EpisodeDone && (S.RetryAt is null || S.RetryAt <= now))
        {
            var carried = S.Holds.Values.Where(x => x.Committed).ToList();
            if (carried.Count == 0)
            {
                state.State = S with { EpisodeDone = true };
                await SaveAsync();
                return;
            }
            await RerouteAsync(carried, h, now);
            return;
        }
        if (h.State == LinkState.Up && !S.Displaced.IsEmpty && now - h.Since >= Net.HoldDown)
        {
            var displaced = S.Displaced;
            state.State = S with { Displaced = [] };
            await SaveAsync();
            foreach (var flow in displaced) GrainFactory.GetGrain<IFlowGrain>(flow).RetryAsync($"link {Id} has been healthy for {Format.Duration(Net.HoldDown)}").Ignore();
        }
    }

    private async Task RerouteAsync(List<LinkHold> carried, LinkHealth h, DateTimeOffset now)
    {
        var spec = S.Spec!;
        var cut = h.State is LinkState.Down or LinkState.Unknown;
        var why = $"link {Id} {(h.State == LinkState.Degraded ? "degraded" : h.State == LinkState.Down ? "was cut" : "went stale")}: {h.Note}";
        var policy = policies.Current;
        if (cut && await Network.LinkLostAsync(Id) is { } storm)
        {
            await HeldBackAsync("network.storm", $"Held back rerouting {carried.Count} flow(s) off link {Id}: {storm}. A mass loss of probes is suspect telemetry, not that many cuts.",
                guardrail: "networkStormBrake", now);
            return;
        }
        // A cut loses traffic until its flows move: forced past the domain's concurrency and rate budgets (never past a freeze or
        // shadow mode), so links cut together in one domain do not wait on each other. A degraded link's moves wait their turn.
        var request = new LeaseRequest($"{Actor}/reroute/{S.Episode}", Actor, ActionNames.Reroute, policy.Version, [Subjects.Domain(spec.FailureDomain)],
            ActionClass.Reroute, Force: cut, Basis: ActionBasis.Reported) { Why = $"{why}; {carried.Count} flow(s) to move", Size = carried.Count };
        var decision = await GrainFactory.AcquireLeaseAsync(request);
        if (decision.Shadow is { } shadow)
        {
            await HeldBackAsync("shadow", $"Shadow mode ({shadow}): would reroute {carried.Count} flow(s) off link {Id} ({why}) and did nothing; {decision.Reason}.",
                guardrail: null, now, DecisionKinds.Shadowed);
            return;
        }
        if (!decision.Granted)
        {
            await HeldBackAsync(decision.Guardrail ?? "refused", $"Refused to reroute {carried.Count} flow(s) off link {Id}: {decision.Reason}; asking again every {Format.Duration(Net.RetryInterval)}.",
                decision.Guardrail, now);
            return;
        }
        Record(DecisionKinds.Permitted, $"Permitted rerouting {carried.Count} flow(s) off link {Id} ({why}): {decision.Reason}.", ActionNames.Reroute,
            rule: "network", incidentId: S.Episode);
        await FlushAsync();

        try
        {
            await MoveFlowsAsync(carried, cut, why);
        }
        finally
        {
            await GrainFactory.ReleaseLeaseAsync(request.RequestId, request.Scopes, "done");
        }
    }

    private async Task MoveFlowsAsync(List<LinkHold> carried, bool cut, string why)
    {
        var (lines, moved) = await AskFlowsAsync(carried, cut, why);
        int Count(string prefix) => lines.Count(l => l.StartsWith(prefix, StringComparison.Ordinal));
        state.State = S with { EpisodeDone = true, Displaced = S.Displaced.Union(moved), RetryAt = null, Told = null };
        Record(DecisionKinds.Executed, $"Rerouted the flows of link {Id} ({why}): {Count("moved")} moved make-before-break, {Count("switched")} switched to their backup at once, " +
            $"{Count("backup")} re-protected, {Count("no path")} without a path (escalated), {Count("failed")} failed.",
            ActionNames.Reroute, rule: "network", incidentId: S.Episode, evidence: Evidence(lines));
        await SaveAsync();
    }

    private static ImmutableDictionary<string, string> Evidence(List<string> lines) =>
        lines.Take(20).Select((l, i) => (l, i)).ToImmutableDictionary(p => $"flow{p.i + 1}", p => p.l);

    /// <summary>Tells each flow it carries (the highest priority first) that this link failed; their answers, and the flows whose path moved.</summary>
    private async Task<(List<string> Lines, List<string> Moved)> AskFlowsAsync(List<LinkHold> carried, bool cut, string why)
    {
        var lines = new List<string>();
        var moved = new List<string>();
        // The highest priority first: when capacity is short, it goes to them.
        foreach (var wave in carried.GroupBy(x => x.Priority).OrderByDescending(g => g.Key))
        {
            var results = await Task.WhenAll(wave.Select(async x =>
            {
                try { return (x, Line: await GrainFactory.GetGrain<IFlowGrain>(x.Flow).LinkFailedAsync(Id, cut, why)); }
                catch (Exception e) { return (x, Line: $"failed: flow {x.Flow}: {e.Message}"); }
            }));
            foreach (var (x, line) in results)
            {
                lines.Add(line);
                if (!x.Backup && line.StartsWith("moved", StringComparison.Ordinal) || line.StartsWith("switched", StringComparison.Ordinal)) moved.Add(x.Flow);
            }
        }
        return (lines, moved);
    }

    public async Task<string> DeleteAsync(string by, string? reason)
    {
        if (S.Spec is not { } spec) return S.Deleted ?? throw new TopologyNotFoundException($"Link {Id} is not defined.");
        var now = time.GetUtcNow();
        var policy = policies.Current;
        var asked = $"at the request of {by}" + (string.IsNullOrWhiteSpace(reason) ? "" : $": {reason}");
        var why = $"link {Id} is being deleted {asked}";
        var carried = S.Holds.Values.Where(h => h.Committed).ToList();
        LeaseRequest? request = null;
        if (carried.Count > 0)
        {
            // Moving the flows off is a reroute under a lease (the link's failure domain; a freeze holds it). A person's request: not gated by shadow mode.
            request = new LeaseRequest($"{Actor}/delete/{Guid.CreateVersion7(now):N}", Actor, ActionNames.Reroute, policy.Version, [Subjects.Domain(spec.FailureDomain)],
                ActionClass.Reroute, Basis: ActionBasis.Operator) { Why = $"{why}; {carried.Count} flow(s) to move off", Size = carried.Count };
            var decision = await GrainFactory.AcquireLeaseAsync(request);
            if (!decision.Granted)
            {
                Record(DecisionKinds.Denied, $"Refused to delete link {Id} {asked}: moving its {carried.Count} flow(s) off was refused: {decision.Reason}.", ActionNames.Reroute,
                    guardrail: decision.Guardrail, rule: $"guardrails.{decision.Guardrail}");
                await FlushAsync();
                throw new ActionRefusedException(decision.Guardrail ?? "refused", $"Deleting link {Id} was refused: {decision.Reason}.");
            }
            Record(DecisionKinds.Permitted, $"Permitted moving {carried.Count} flow(s) off link {Id} to delete it {asked}: {decision.Reason}.", ActionNames.Reroute, rule: "network");
        }
        List<string> lines = [];
        try
        {
            state.State = S with { Deleting = why };
            await SaveAsync();
            await PushAsync(now, force: true);
            if (carried.Count > 0) (lines, _) = await AskFlowsAsync(carried, cut: false, why);
        }
        finally
        {
            if (request is not null) await GrainFactory.ReleaseLeaseAsync(request.RequestId, request.Scopes, "done");
        }
        int Count(string prefix) => lines.Count(l => l.StartsWith(prefix, StringComparison.Ordinal));
        // A flow still holding capacity here (its path found no other way, or it did not answer) keeps the link.
        var left = S.Holds.Values.Where(h => h.Committed).Select(h => h.Flow).Distinct().Order(StringComparer.Ordinal).ToList();
        if (left.Count > 0)
        {
            // Flows moved off first: one with no other path keeps this link, and so the link stays.
            state.State = S with { Deleting = null };
            Record(DecisionKinds.Escalated, $"Did not delete link {Id} ({why}): {left.Count} flow(s) have no other path or did not answer ({string.Join(", ", left.Take(10))}); the link stays in service, " +
                $"and the {Count("moved")} flow(s) that could move moved off make-before-break.", ActionNames.Reroute, rule: "network.candidatePaths", evidence: Evidence(lines));
            await SaveAsync();
            await PushAsync(time.GetUtcNow(), force: true);
            // They were told this link failed: they keep their path on it, and are told so.
            foreach (var f in left) GrainFactory.GetGrain<IFlowGrain>(f).RetryAsync($"link {Id} stays in service").Ignore();
            throw new ActionRefusedException("no-path", $"Link {Id} was not deleted: flow(s) {string.Join(", ", left.Take(10))} have no other path (or did not answer); the other flows moved off. " +
                "Add a link or delete those flows first.");
        }
        var summary = $"Deleted link {Id} {asked}: {Count("moved")} flow(s) moved off make-before-break, {Count("backup")} backup(s) made again elsewhere; " +
            "it left the topology (its trail stays)";
        Record(DecisionKinds.Operator, summary + ".", ActionNames.Reroute, rule: "network", evidence: Evidence(lines));
        foreach (var (key, held) in S.Holds.ToList()) Forget(key, held); // reservations not yet committed: their flows find out at commit
        state.State = new LinkGrainState { Deleted = summary };
        _timer?.Dispose();
        _timer = null;
        _timerDue = null;
        await SaveAsync();
        await Network.RemovedAsync(Id, null);
        return summary;
    }

    private async Task HeldBackAsync(string what, string reason, string? guardrail, DateTimeOffset now, string kind = DecisionKinds.Denied)
    {
        if (S.Told != what)
            Record(kind, reason, ActionNames.Reroute, guardrail: guardrail, rule: guardrail is null ? "oversight.shadow" : $"guardrails.{guardrail}", incidentId: S.Episode);
        state.State = S with { Told = what, RetryAt = now + Net.RetryInterval };
        await SaveAsync();
    }

    public Task<LinkReservation> ReserveAsync(string flow, string fromSite, double mbps, int priority, bool backup)
    {
        if (S.Spec is not { } spec) return Task.FromResult(new LinkReservation(false, false, 0, $"link {Id} is not defined"));
        var now = time.GetUtcNow();
        if (fromSite != spec.A && fromSite != spec.B) return Task.FromResult(new LinkReservation(false, false, 0, $"{fromSite} is not an end of link {Id}"));
        var fromA = fromSite == spec.A;
        var key = Key(flow, backup);
        Prune(now);
        if (S.Holds.TryGetValue(key, out var held) && held.FromA == fromA)
        {
            if (!held.Committed)
            {
                var renewed = held with { ExpiresAt = now + Net.ReservationTtl };
                state.State = S with { Holds = S.Holds.SetItem(key, renewed) };
                _pendingHolds[key] = renewed;
            }
            return Task.FromResult(new LinkReservation(true, true, Free(fromA, now), "shared with what the flow holds here"));
        }
        if ((S.Health?.State ?? LinkState.Unknown) != LinkState.Up)
            return Task.FromResult(new LinkReservation(false, false, Free(fromA, now), $"link {Id} is {(S.Health?.State ?? LinkState.Unknown).ToString().ToLowerInvariant()}"));
        if (S.Deleting is not null) return Task.FromResult(new LinkReservation(false, false, Free(fromA, now), $"link {Id} is being deleted"));
        var free = Free(fromA, now);
        if (free + 1e-9 < mbps) return Task.FromResult(new LinkReservation(false, false, free, $"link {Id} has {Format.Num(Math.Round(free, 1))} of the {Format.Num(mbps)} Mbit/s needed free"));
        if (S.Holds.ContainsKey(key))
            return Task.FromResult(new LinkReservation(false, false, free, $"flow {flow} already crosses link {Id} the other way"));
        var hold = new LinkHold(flow, fromA, mbps, priority, backup, now + Net.ReservationTtl);
        state.State = S with { Holds = S.Holds.SetItem(key, hold) };
        _pendingHolds[key] = hold;
        return Task.FromResult(new LinkReservation(true, false, free - mbps, null));
    }

    public async Task<bool> PromoteAsync(string flow)
    {
        if (!S.Holds.TryGetValue(Key(flow, true), out var spare) || !spare.Committed || S.Deleting is not null) return false;
        // A backup link that failed too (a site cut whole) takes no traffic: the flow moves make-before-break instead.
        if (S.Health?.State != LinkState.Up) return false;
        Forget(Key(flow, true), spare);
        // Where the flow's path runs here too (a site's only link), the path's hold stays and the backup's goes: not counted twice.
        if (!(S.Holds.TryGetValue(Key(flow, false), out var primary) && primary.Committed && primary.FromA == spare.FromA && primary.Mbps >= spare.Mbps))
        {
            if (S.Holds.TryGetValue(Key(flow, false), out var replaced)) Forget(Key(flow, false), replaced);
            state.State = S with { Holds = S.Holds.SetItem(Key(flow, false), spare with { Backup = false }) };
            _committed[Dir(spare.FromA)] += spare.Mbps;
        }
        await SaveAsync();
        await PushAsync(time.GetUtcNow());
        return true;
    }

    public async Task<bool> CommitAsync(string flow, bool backup)
    {
        var now = time.GetUtcNow();
        if (!S.Holds.TryGetValue(Key(flow, backup), out var held) || !held.Live(now)) return false;
        if (held.Committed) return true;
        // A link that failed since the reservation takes no new traffic: its reroute may already have run. Nor does one being deleted.
        if (S.Health?.State != LinkState.Up || S.Deleting is not null)
        {
            Forget(Key(flow, backup), held);
            return false;
        }
        state.State = S with { Holds = S.Holds.SetItem(Key(flow, backup), held with { ExpiresAt = null }) };
        _pendingHolds.Remove(Key(flow, backup));
        _committed[Dir(held.FromA)] += held.Mbps;
        await SaveAsync();
        await PushAsync(now);
        return true;
    }

    public async Task ReleaseAsync(string flow, bool backup)
    {
        if (!S.Holds.TryGetValue(Key(flow, backup), out var held)) return;
        var now = time.GetUtcNow();
        Forget(Key(flow, backup), held);
        await SaveAsync();
        await PushAsync(now);
        if (S.Health?.State == LinkState.Up) Network.CapacityFreedAsync($"flow {flow} released capacity on link {Id}").Ignore();
    }

    public Task ActionCompletedAsync(ActionOutcome outcome) => Task.CompletedTask;

    private static string Key(string flow, bool backup) => backup ? flow + "|b" : flow + "|p";

    private double Reserved(bool fromA, DateTimeOffset now) =>
        _committed[Dir(fromA)] + _pendingHolds.Values.Where(x => x.FromA == fromA && x.Live(now)).Sum(x => x.Mbps);

    /// <summary>Drops a hold from the state and from the running counts.</summary>
    private void Forget(string key, LinkHold held)
    {
        state.State = S with { Holds = S.Holds.Remove(key) };
        if (held.Committed) _committed[Dir(held.FromA)] -= held.Mbps;
        else _pendingHolds.Remove(key);
    }

    private double Free(bool fromA, DateTimeOffset now) => (S.Spec?.CapacityMbps ?? 0) - Reserved(fromA, now);

    private void Prune(DateTimeOffset now)
    {
        foreach (var (key, held) in _pendingHolds.Where(kv => !kv.Value.Live(now)).ToList()) Forget(key, held);
    }

    private LinkStatus? Status()
    {
        if (S.Spec is not { } spec) return null;
        var now = time.GetUtcNow();
        var h = S.Health ?? LinkHealth.Initial(now);
        return new LinkStatus(spec, h.State, h.Since, S.LastProbe, S.LastProbeAt, Math.Round(LinkMonitor.Decayed(h, now, Net), 1), h.SuppressedUntil, h.Flaps,
            Reserved(true, now), Reserved(false, now), [.. S.Holds.Values.Where(x => x.Committed && !x.Backup).Select(x => x.Flow).Distinct().Order(StringComparer.Ordinal)], h.Note)
        {
            Alerts = [.. S.Alerts.Values.OrderBy(a => a.StartsAt)],
            Deleting = S.Deleting is not null,
        };
    }

    /// <summary>Tells the network the link's standing: at once on a change of state, at most every half second for capacity.</summary>
    private async Task PushAsync(DateTimeOffset now, bool force = false)
    {
        if (!force && Environment.TickCount64 - _pushedTick < 500)
        {
            _pushPending = true;
            Arm(soon: true);
            return;
        }
        _pushPending = false;
        _pushedTick = Environment.TickCount64;
        await Network.LinkChangedAsync(Status()!);
    }

    private long _pushedTick = long.MinValue / 2;

    /// <summary>One timer for whatever falls due next: a probe's TTL, the end of a suppression, a retry, the hold-down's end.</summary>
    private void Arm(bool soon = false)
    {
        if (S.Health is not { } h) return;
        var now = time.GetUtcNow();
        var due = LinkMonitor.NextDue(h);
        void Consider(DateTimeOffset? at) { if (at is { } a && (due is null || a < due)) due = a; }
        if (h.State is LinkState.Down or LinkState.Unknown or LinkState.Degraded && !S.EpisodeDone) Consider(S.RetryAt ?? now + Net.RetryInterval);
        if (h.State == LinkState.Up && !S.Displaced.IsEmpty) Consider(h.Since + Net.HoldDown);
        if (soon) Consider(now + TimeSpan.FromMilliseconds(500));
        if (due is not { } next) return;
        if (_timerDue == next && _timer is not null) return;
        _timer?.Dispose();
        _timerDue = next;
        var wait = next - now;
        _timer = this.RegisterGrainTimer(async () => { _timerDue = null; await WakeAsync(); },
            new GrainTimerCreationOptions(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private void Record(string kind, string reason, string? action = null, string? guardrail = null, string? rule = null,
        IReadOnlyDictionary<string, string>? evidence = null, string? incidentId = null) =>
        _pending.Add(Decisions.Create(time.GetUtcNow(), Actor, Actor, kind, reason, policies.Current.Version, action, evidence, rule: rule, guardrail: guardrail,
            incidentId: incidentId ?? S.Episode));

    private Task FlushAsync() => audit.FlushAsync(_pending);

    private async Task SaveAsync()
    {
        await PersistAsync();
        await FlushAsync();
    }

    private Task _lastWrite = Task.CompletedTask;
    private long _changes, _written;

    /// <summary>
    /// Writes the state, one write at a time: reservations interleave, and two writes in flight would race on the ETag.
    /// A write waits for the one before it and is skipped when that one already carried its change.
    /// </summary>
    private Task PersistAsync()
    {
        var change = ++_changes;
        var previous = _lastWrite;
        return _lastWrite = WriteAfterAsync(previous, change);
    }

    private async Task WriteAfterAsync(Task previous, long change)
    {
        try { await previous; } catch { /* the earlier write's caller saw its failure */ }
        if (_written >= change) return;
        var covers = _changes;
        await state.WriteOrResetAsync(DeactivateOnIdle);
        _written = covers;
    }
}
