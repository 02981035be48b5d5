using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Network;
using Fleet.Core.Text;
using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Supervision;

namespace Fleet.Grains.Links;

/// <summary>A path as a flow keeps it.</summary>
[GenerateSerializer, Immutable, Alias("fleet.FlowPath")]
public sealed record FlowPath([property: Id(0)] ImmutableArray<string> Sites, [property: Id(1)] ImmutableArray<string> Links, [property: Id(2)] double LatencyMs)
{
    public static FlowPath Of(NetPath p) => new(p.Sites, p.Links, p.LatencyMs);

    public override string ToString() => string.Join("–", Sites);
}

[GenerateSerializer, Alias("fleet.FlowGrainState")]
public sealed record FlowGrainState
{
    [Id(0)] public FlowSpec? Spec { get; init; }
    [Id(1)] public FlowState State { get; init; }
    [Id(2)] public FlowPath? Path { get; init; }
    [Id(3)] public FlowPath? Backup { get; init; }
    /// <summary>The best path when the flow was placed: where it returns when the network heals.</summary>
    [Id(4)] public FlowPath? Home { get; init; }
    [Id(5)] public DateTimeOffset Since { get; init; }
    [Id(6)] public string? Problem { get; init; }
    [Id(7)] public ImmutableArray<FlowEvent> History { get; init; } = [];
    [Id(8)] public long Moves { get; init; }
    /// <summary>What the last deletion did: a repeat of the delete (a client's retry) is answered with it, not "not defined".</summary>
    [Id(9)] public string? Deleted { get; init; }
}

/// <summary>
/// One flow. It places and moves itself make-before-break: candidates from the k shortest paths over usable links with
/// room (<see cref="Topology"/>), capacity reserved on each link of a candidate by asking the link (a refusal releases
/// what was reserved and tries the next; links shared with the current path are not counted twice), the candidate
/// verified by probes through the actuator (<c>probe-path</c>; a failure falls back to the next), the traffic shifted
/// (<c>shift-flow</c>), then the old path's capacity released. It keeps a pre-reserved, verified backup path disjoint from
/// its path, and switches to it at once when a link of its path is cut. Without a feasible path it is escalated with
/// the reason and tries again when capacity frees.
/// </summary>
[GrainType(Subjects.FlowKind)]
public sealed class FlowGrain(
    [PersistentState("flow", StorageNames.Fleet)] IPersistentState<FlowGrainState> state,
    PolicyCache policies, IAuditStore audit, ActionExecutor executor, TopologyCache topologies, NetworkActivity activity, TimeProvider time) : Grain, IFlowGrain
{
    public const int HistoryKept = 50;
    private readonly List<DecisionRecord> _pending = [];

    private string Id => this.GetPrimaryKeyString();
    private string Actor => Subjects.Flow(Id);
    private FlowGrainState S => state.State;
    private NetworkPolicy Net => policies.Current.Network;

    public async Task<FlowStatus> DefineAsync(FlowSpec spec, string by)
    {
        var now = time.GetUtcNow();
        var previous = S.Spec;
        var rerouteNeeded = previous is not null && (previous.Source != spec.Source || previous.Destination != spec.Destination || spec.DemandMbps > previous.DemandMbps);
        state.State = S with { Spec = spec, Since = previous is null ? now : S.Since, Deleted = null };
        Record(DecisionKinds.Operator, $"{(previous is null ? "Defined" : "Updated")} flow {Id} at the request of {by}: {Format.Num(spec.DemandMbps)} Mbit/s from {spec.Source} to {spec.Destination}, priority {spec.Priority}.");
        Event(now, $"{(previous is null ? "defined" : "updated")} by {by}");
        await SaveAsync();
        await GrainFactory.GetGrain<INetworkGrain>(FleetNames.Default).FlowDefinedAsync(Id);
        if (S.Path is null || rerouteNeeded)
        {
            if (rerouteNeeded) await DropPathAsync();
            await MoveAsync(None, "placing it", now, minGain: 0, placing: true);
        }
        return Status()!;
    }

    public Task<FlowStatus?> GetStatusAsync() => Task.FromResult(Status());

    public async Task<string> DeleteAsync(string by, string? reason)
    {
        if (S.Spec is null) return S.Deleted ?? throw new TopologyNotFoundException($"Flow {Id} is not defined.");
        var links = (S.Path?.Links ?? []).Concat(S.Backup?.Links ?? []).Distinct().Order(StringComparer.Ordinal).ToList();
        await DropPathAsync();
        var summary = $"Deleted flow {Id} at the request of {by}" + (string.IsNullOrWhiteSpace(reason) ? "" : $": {reason}") +
            (links.Count == 0 ? "; it held no capacity" : $"; its capacity on {string.Join(", ", links)} (path and backup) is released") +
            "; it left the network's registry (its trail stays)";
        Record(DecisionKinds.Operator, summary + ".");
        state.State = new FlowGrainState { Deleted = summary };
        await SaveAsync();
        await GrainFactory.GetGrain<INetworkGrain>(FleetNames.Default).RemovedAsync(null, Id);
        return summary;
    }

    public Task ActionCompletedAsync(ActionOutcome outcome) => Task.CompletedTask;

    public async Task<string> LinkFailedAsync(string link, bool cut, string why)
    {
        var now = time.GetUtcNow();
        if (S.Spec is null) return $"kept: flow {Id} is not defined";
        if (S.Path is { } path && path.Links.Contains(link))
        {
            if (cut && S.Backup is { } backup && !backup.Links.Contains(link) && await UsableAsync(backup))
            {
                var line = await SwitchToBackupAsync(path, backup, why, now);
                if (line is not null)
                {
                    // Then re-optimised make-before-break, in a turn of its own: the link moves on to its next flows at once.
                    GrainFactory.GetGrain<IFlowGrain>(Id).RetryAsync($"re-optimising after {why}").Ignore();
                    return line;
                }
            }
            return await MoveAsync(new HashSet<string> { link }, why, now, minGain: 0, placing: false);
        }
        if (S.Backup is { } b && b.Links.Contains(link))
        {
            await ReleaseAllAsync(b, backup: true);
            state.State = S with { Backup = null };
            await ProtectAsync(now, new HashSet<string> { link });
            await SaveAsync();
            return S.Backup is { } remade ? $"backup re-made for flow {Id}: {remade}" : $"unprotected: flow {Id} has no other backup path";
        }
        return $"kept: flow {Id} no longer uses link {link}";
    }

    public async Task RetryAsync(string why)
    {
        activity.Enter();
        try { await RetryCoreAsync(why); }
        finally { activity.Exit(); }
    }

    private async Task RetryCoreAsync(string why)
    {
        if (S.Spec is null) return;
        var now = time.GetUtcNow();
        if (S.State is FlowState.NoPath or FlowState.Pending || S.Path is null)
        {
            await MoveAsync(None, $"trying again: {why}", now, minGain: 0, placing: S.Home is null);
            return;
        }
        if (S.State == FlowState.OnBackup)
        {
            await MoveAsync(None, $"re-optimising: {why}", now, minGain: 0, placing: false);
            return;
        }
        if (!Net.Reoptimize) return;
        // The way back: only to a path at least returnGain better, under a lease, so nothing ping-pongs.
        var known = await topologies.GetAsync();
        var best = known.Candidates(S.Spec.Source, S.Spec.Destination, 1, null, S.Spec.DemandMbps, new HashSet<string>(S.Path.Links)).FirstOrDefault();
        if (best is null || best.LatencyMs * (1 + Net.ReturnGain) > S.Path.LatencyMs) return;
        var request = new LeaseRequest($"{Actor}/return/{S.Moves + 1}", Actor, ActionNames.ShiftFlow, policies.Current.Version,
            [.. best.Links.Select(l => Subjects.Domain(known.Links[l].Spec.FailureDomain))], ActionClass.Reroute, Basis: ActionBasis.Reported) { Why = $"return flow {Id} to {best}: {why}" };
        var decision = await GrainFactory.AcquireLeaseAsync(request);
        if (!decision.Granted)
        {
            Record(decision.Shadow is null ? DecisionKinds.Denied : DecisionKinds.Shadowed,
                $"{(decision.Shadow is null ? "Refused" : $"Shadow mode ({decision.Shadow}): would have")} returned flow {Id} to {best} ({why}): {decision.Reason}.", ActionNames.ShiftFlow,
                guardrail: decision.Guardrail, rule: decision.Guardrail is { } g ? $"guardrails.{g}" : "network.reoptimize");
            await FlushAsync();
            return;
        }
        try { await MoveAsync(None, $"returning: {why}", now, minGain: Net.ReturnGain, placing: false); }
        finally { await GrainFactory.ReleaseLeaseAsync(request.RequestId, request.Scopes, "done"); }
    }

    private static readonly IReadOnlySet<string> None = new HashSet<string>();


    private async Task<bool> UsableAsync(FlowPath p)
    {
        var topology = await topologies.GetAsync(fresh: true);
        return p.Links.All(l => topology.Links.TryGetValue(l, out var s) && s.State == LinkState.Up);
    }

    /// <summary>A cut: the traffic moves to the pre-reserved, verified backup at once (its capacity becomes the path's).</summary>
    private async Task<string?> SwitchToBackupAsync(FlowPath from, FlowPath backup, string why, DateTimeOffset now)
    {
        var spec = S.Spec!;
        var promoted = new List<string>();
        async Task<string?> GiveBackAsync()
        {
            // The switch did not happen: what was promoted on links the path does not use is released, and the backup is gone.
            foreach (var l in promoted.Except(from.Links)) await GrainFactory.GetGrain<ILinkGrain>(l).ReleaseAsync(Id, backup: false);
            await ReleaseAllAsync(backup, backup: true);
            state.State = S with { Backup = null };
            await SaveAsync();
            return null;
        }
        foreach (var l in backup.Links)
        {
            if (!await GrainFactory.GetGrain<ILinkGrain>(l).PromoteAsync(Id)) return await GiveBackAsync();
            promoted.Add(l);
        }
        var shifted = await RunAsync(ActionNames.ShiftFlow, $"switch flow {Id} to its backup {backup}: {why}",
            ("from", string.Join(",", from.Links)), ("to", string.Join(",", backup.Links)), ("fromPath", from.ToString()), ("toPath", backup.ToString()));
        if (!shifted.Succeeded)
        {
            Record(DecisionKinds.Failed, $"Could not switch flow {Id} to its backup {backup}: {shifted.Detail}.", ActionNames.ShiftFlow, outcome: "failed");
            return await GiveBackAsync();
        }
        foreach (var l in from.Links.Except(backup.Links)) await GrainFactory.GetGrain<ILinkGrain>(l).ReleaseAsync(Id, backup: false);
        state.State = S with { Path = backup, Backup = null, State = FlowState.OnBackup, Since = now, Problem = null };
        Record(DecisionKinds.Executed, $"Switched flow {Id} from {from} to its backup path {backup} at once: {why}; the backup was reserved and verified beforehand.",
            ActionNames.ShiftFlow, rule: "network (fast reroute)");
        Event(now, $"switched to backup {backup}: {why}");
        await SaveAsync();
        return $"switched: flow {Id} {from} → {backup}";
    }

    /// <summary>
    /// Make-before-break: the first candidate whose every link grants the capacity and whose probes pass gets the traffic;
    /// then the old path's capacity is released. <paramref name="minGain"/> &gt; 0 moves only to a path that much faster.
    /// </summary>
    private async Task<string> MoveAsync(IReadOnlySet<string> avoid, string why, DateTimeOffset now, double minGain, bool placing)
    {
        var spec = S.Spec!;
        var current = S.Path;
        var shared = new HashSet<string>(current?.Links ?? []);
        var refused = new HashSet<string>(avoid);
        var tried = new List<string>();
        Topology topology = null!;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            topology = await topologies.GetAsync(fresh: attempt > 0);
            // A second look avoids the links that just refused for want of room (the view's capacity is advisory and may lag).
            var candidates = topology.Candidates(spec.Source, spec.Destination, Net.CandidatePaths, attempt == 0 ? avoid : refused, spec.DemandMbps, shared);
            foreach (var candidate in candidates)
            {
                if (current is not null && candidate.Links.SequenceEqual(current.Links))
                {
                    if (S.State is FlowState.OnBackup or FlowState.NoPath)
                    {
                        // Its path is whole again (or its backup is the best there is): it stays, and is protected again.
                        var wasWaiting = S.State == FlowState.NoPath;
                        state.State = S with { State = FlowState.Active, Since = now, Problem = null };
                        Event(now, $"kept {current}: the best path with room ({why})");
                        await ProtectAsync(now, avoid);
                        await SaveAsync();
                        if (wasWaiting) await GrainFactory.GetGrain<INetworkGrain>(FleetNames.Default).WaitingAsync(Id, false);
                    }
                    return $"kept: flow {Id} stays on {current}";
                }
                if (minGain > 0 && current is not null && candidate.LatencyMs * (1 + minGain) > current.LatencyMs) return $"kept: flow {Id} stays on {current}";
                var (granted, figures, refusal, refuser) = await ReserveAllAsync(candidate, backup: false);
                if (!granted)
                {
                    tried.Add($"{candidate}: {refusal}");
                    if (refuser is not null) refused.Add(refuser);
                    continue;
                }
                if (Net.VerifyProbes > 0)
                {
                    var probe = await RunAsync(ActionNames.ProbePath, $"verify {candidate} for flow {Id} before traffic moves",
                        ("path", candidate.ToString()), ("links", string.Join(",", candidate.Links)), ("count", Net.VerifyProbes.ToString()));
                    if (!probe.Succeeded)
                    {
                        await ReleaseNewAsync(candidate, shared, backup: false);
                        Record(DecisionKinds.Failed, $"Candidate path {candidate} for flow {Id} failed its probes ({probe.Detail}); trying the next.", ActionNames.ProbePath, outcome: "failed");
                        tried.Add($"{candidate}: failed its probes ({probe.Detail})");
                        continue;
                    }
                }
                var committed = true;
                foreach (var l in candidate.Links) committed &= await GrainFactory.GetGrain<ILinkGrain>(l).CommitAsync(Id, backup: false);
                if (!committed)
                {
                    await ReleaseNewAsync(candidate, shared, backup: false);
                    tried.Add($"{candidate}: a reservation expired before it was committed");
                    continue;
                }
                var shifted = await RunAsync(ActionNames.ShiftFlow, $"move flow {Id} to {candidate}: {why}",
                    ("from", string.Join(",", current?.Links ?? [])), ("to", string.Join(",", candidate.Links)), ("fromPath", current?.ToString() ?? ""), ("toPath", candidate.ToString()));
                if (!shifted.Succeeded)
                {
                    await ReleaseNewAsync(candidate, shared, backup: false);
                    Record(DecisionKinds.Failed, $"Could not shift flow {Id} to {candidate}: {shifted.Detail}; trying the next.", ActionNames.ShiftFlow, outcome: "failed");
                    tried.Add($"{candidate}: the shift failed ({shifted.Detail})");
                    continue;
                }
                if (current is not null)
                    foreach (var l in current.Links.Except(candidate.Links)) await GrainFactory.GetGrain<ILinkGrain>(l).ReleaseAsync(Id, backup: false);
                var path = FlowPath.Of(candidate);
                state.State = S with { Path = path, State = FlowState.Active, Since = now, Problem = null, Home = placing || S.Home is null ? path : S.Home };
                var verified = Net.VerifyProbes > 0 ? $"; the new path passed {Net.VerifyProbes} probes" : "";
                Record(DecisionKinds.Executed, current is null
                    ? $"Placed flow {Id} on {candidate} ({Format.Num(spec.DemandMbps)} Mbit/s, {Format.Num(candidate.LatencyMs)} ms): {figures}{verified}."
                    : $"Moved flow {Id} from {current} to {candidate}: {why}; {figures}{verified}.", ActionNames.ShiftFlow, rule: "network.candidatePaths");
                Event(now, current is null ? $"placed on {candidate}" : $"moved {current} → {candidate}: {why}");
                if (S.Backup is { } old && old.Links.Intersect(candidate.Links).Any())
                {
                    await ReleaseAllAsync(old, backup: true);
                    state.State = S with { Backup = null };
                }
                await ProtectAsync(now, avoid);
                await SaveAsync();
                await GrainFactory.GetGrain<INetworkGrain>(FleetNames.Default).WaitingAsync(Id, false);
                return current is null ? $"placed: flow {Id} on {candidate}" : $"moved: flow {Id} {current} → {candidate}";
            }
            if (minGain > 0) return $"kept: flow {Id} stays on {current}";
        }
        // Nothing feasible: escalated with the reason, and picked up again when capacity frees.
        var reason = topology.WhyNoPath(spec.Source, spec.Destination, spec.DemandMbps, avoid);
        var detail = tried.Count == 0 ? reason : $"{reason}; tried {string.Join("; ", tried.Take(6))}";
        var stranded = current is not null && current.Links.Any(avoid.Contains);
        state.State = S with { State = FlowState.NoPath, Problem = detail, Since = now };
        Record(DecisionKinds.Escalated, $"No feasible path for flow {Id} ({Format.Num(spec.DemandMbps)} Mbit/s from {spec.Source} to {spec.Destination}, {why}): {detail}. " +
            (stranded ? "Its traffic is on a failed path; " : "") + "it waits for capacity and tries again when a link recovers or capacity frees.",
            ActionNames.ShiftFlow, rule: "network.candidatePaths");
        Event(now, $"no path: {detail}");
        await SaveAsync();
        await GrainFactory.GetGrain<INetworkGrain>(FleetNames.Default).WaitingAsync(Id, true);
        return $"no path: flow {Id}: {detail}";
    }

    /// <summary>A backup path link-disjoint from the path, reserved and verified now so a cut can switch to it at once.</summary>
    private async Task ProtectAsync(DateTimeOffset now, IReadOnlySet<string> avoid)
    {
        if (S.Path is not { } path || S.Backup is not null) return;
        var spec = S.Spec!;
        var topology = await topologies.GetAsync();
        // Link-disjoint from the path when the network allows it; else around the path's interior links only (a site with a
        // single link cannot be protected from that link's loss, but everything past it can).
        var disjoint = topology.Candidates(spec.Source, spec.Destination, Net.CandidatePaths, new HashSet<string>(path.Links.Concat(avoid)), spec.DemandMbps);
        var candidates = !disjoint.IsEmpty || path.Links.Length < 3 ? disjoint
            : topology.Candidates(spec.Source, spec.Destination, Net.CandidatePaths, new HashSet<string>(path.Links[1..^1].Concat(avoid)), spec.DemandMbps);
        foreach (var candidate in candidates.Where(c => !c.Links.SequenceEqual(path.Links)))
        {
            var (granted, _, _, _) = await ReserveAllAsync(candidate, backup: true);
            if (!granted) continue;
            if (Net.VerifyProbes > 0 && !(await RunAsync(ActionNames.ProbePath, $"verify backup {candidate} for flow {Id}",
                    ("path", candidate.ToString()), ("links", string.Join(",", candidate.Links)), ("count", Net.VerifyProbes.ToString()))).Succeeded)
            {
                await ReleaseAllAsync(FlowPath.Of(candidate), backup: true);
                continue;
            }
            var committed = true;
            foreach (var l in candidate.Links) committed &= await GrainFactory.GetGrain<ILinkGrain>(l).CommitAsync(Id, backup: true);
            if (!committed)
            {
                await ReleaseAllAsync(FlowPath.Of(candidate), backup: true);
                continue;
            }
            state.State = S with { Backup = FlowPath.Of(candidate) };
            Event(now, $"backup {candidate} reserved and verified");
            return;
        }
        Event(now, "no backup path with room: a cut of its path waits for a make-before-break move");
    }

    private async Task<(bool Granted, string Figures, string? Refusal, string? Refuser)> ReserveAllAsync(NetPath candidate, bool backup)
    {
        var spec = S.Spec!;
        var free = new List<string>();
        var fresh = new List<string>();
        for (var i = 0; i < candidate.Links.Length; i++)
        {
            var r = await GrainFactory.GetGrain<ILinkGrain>(candidate.Links[i]).ReserveAsync(Id, candidate.Sites[i], spec.DemandMbps, spec.Priority, backup);
            if (!r.Granted)
            {
                // Only what this candidate reserved goes back: a hold the flow already had here (shared) stays with its traffic.
                foreach (var l in fresh) await GrainFactory.GetGrain<ILinkGrain>(l).ReleaseAsync(Id, backup);
                return (false, "", r.Why ?? "refused", candidate.Links[i]);
            }
            if (!r.Shared) fresh.Add(candidate.Links[i]);
            free.Add(r.Shared ? $"{candidate.Links[i]} shared with its current reservation" : $"{candidate.Links[i]} had {Format.Num(Math.Round(r.FreeMbps + spec.DemandMbps, 1))}");
        }
        return (true, $"{string.Join(", ", free)} Mbit/s free of the {Format.Num(spec.DemandMbps)} needed", null, null);
    }

    /// <summary>Gives back what a failed candidate reserved, keeping what the flow held before (shared links).</summary>
    private async Task ReleaseNewAsync(NetPath candidate, IReadOnlySet<string> keep, bool backup)
    {
        foreach (var l in candidate.Links.Where(l => !keep.Contains(l))) await GrainFactory.GetGrain<ILinkGrain>(l).ReleaseAsync(Id, backup);
    }

    private async Task ReleaseAllAsync(FlowPath p, bool backup)
    {
        foreach (var l in p.Links) await GrainFactory.GetGrain<ILinkGrain>(l).ReleaseAsync(Id, backup);
    }

    private async Task DropPathAsync()
    {
        if (S.Path is { } p) await ReleaseAllAsync(p, backup: false);
        if (S.Backup is { } b) await ReleaseAllAsync(b, backup: true);
        state.State = S with { Path = null, Backup = null, Home = null, State = FlowState.Pending };
    }

    private async Task<ActionOutcome> RunAsync(string action, string reason, params (string Key, string Value)[] parameters)
    {
        state.State = S with { Moves = S.Moves + 1 };
        // A key of its own per attempt: a flow never resumes an action after a restart (it judges again), so a reused key must not find an old outcome.
        var request = new ActionRequest($"{Actor}/{action}/{S.Moves}/{Guid.CreateVersion7(time.GetUtcNow()):N}", null, action, reason, null, Actor)
        {
            Parameters = parameters.Aggregate(ImmutableDictionary<string, string>.Empty.Add("flow", Id), (d, p) => d.SetItem(p.Key, p.Value)),
        };
        return await executor.RunAsync(request);
    }

    private void Event(DateTimeOffset at, string what)
    {
        var history = S.History.Add(new FlowEvent(at, what));
        if (history.Length > HistoryKept) history = history.RemoveRange(0, history.Length - HistoryKept);
        state.State = S with { History = history };
    }

    private FlowStatus? Status() => S.Spec is not { } spec ? null
        : new FlowStatus(spec, S.State, S.Path?.Sites ?? [], S.Path?.Links ?? [], S.Backup?.Sites ?? [], S.Backup?.Links ?? [], S.Since, S.Problem, S.History);

    private void Record(string kind, string reason, string? action = null, string? guardrail = null, string? rule = null, string? outcome = null) =>
        _pending.Add(Decisions.Create(time.GetUtcNow(), Actor, Actor, kind, reason, policies.Current.Version, action, rule: rule, guardrail: guardrail, outcome: outcome));

    private Task FlushAsync() => audit.FlushAsync(_pending);

    private async Task SaveAsync()
    {
        await state.WriteOrResetAsync(DeactivateOnIdle);
        await FlushAsync();
    }
}
