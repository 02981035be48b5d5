using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Text;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;

namespace Fleet.Grains.Links;

[GenerateSerializer, Alias("fleet.NetworkState")]
public sealed record NetworkState
{
    [Id(0)] public ImmutableDictionary<string, LinkSpec> Links { get; init; } = ImmutableDictionary<string, LinkSpec>.Empty;
    [Id(1)] public ImmutableSortedSet<string> Flows { get; init; } = [];
    [Id(2)] public ImmutableSortedSet<string> Waiting { get; init; } = [];
}

/// <summary>
/// The network supervisor: the registry of links and flows, the view every silo computes paths on (each link tells its
/// standing when it changes), the flows waiting for capacity (told to try again when a link recovers or capacity frees),
/// and the storm brake — a loss of probes on many links at once is suspect telemetry, not that many cuts.
/// </summary>
public sealed class NetworkGrain(
    [PersistentState("network", StorageNames.Fleet)] IPersistentState<NetworkState> state,
    PolicyCache policies, IAuditStore audit, TimeProvider time) : Grain, INetworkGrain
{
    private readonly Dictionary<string, LinkStatus> _status = [];
    private readonly Dictionary<string, DateTimeOffset> _lost = [];
    private DateTimeOffset? _brakeUntil;
    private string? _brakeNote;
    private long _version;
    private NetworkView? _view;
    private ImmutableArray<string> _flows = [];
    private long _retriedTick = long.MinValue / 2;
    private IGrainTimer? _retryTimer;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // The links tell their standing again (one-way, so no call waits on another here).
        foreach (var id in state.State.Links.Keys) GrainFactory.GetGrain<ILinkGrain>(id).AnnounceAsync().Ignore();
        ArmRetries();
        return Task.CompletedTask;
    }

    public Task<NetworkView> GetViewAsync()
    {
        if (_view is { } v && v.Version == _version) return Task.FromResult(v);
        var now = time.GetUtcNow();
        var links = state.State.Links.Values.Select(spec => _status.TryGetValue(spec.Id, out var s) ? s
            : new LinkStatus(spec, LinkState.Unknown, now, null, null, 0, null, 0, 0, 0, [], "not heard from since the network's supervisor started")).ToImmutableArray();
        // The flow list changes only when a flow is defined; the links' standing changes all the time.
        if (_flows.IsDefault || _flows.Length != state.State.Flows.Count) _flows = [.. state.State.Flows];
        _view = new NetworkView(_version, links, _flows, _brakeUntil > now ? _brakeNote : null);
        return Task.FromResult(_view);
    }

    public async Task LinkChangedAsync(LinkStatus status)
    {
        _status[status.Spec.Id] = status;
        _version++;
        if (status.State == LinkState.Up) _lost.Remove(status.Spec.Id); // a loss that ended no longer counts toward a storm
        if (!state.State.Links.TryGetValue(status.Spec.Id, out var known) || known != status.Spec)
        {
            state.State = state.State with { Links = state.State.Links.SetItem(status.Spec.Id, status.Spec) };
            await state.WriteOrResetAsync(DeactivateOnIdle);
        }
    }

    public async Task FlowDefinedAsync(string flow)
    {
        if (state.State.Flows.Contains(flow)) return;
        state.State = state.State with { Flows = state.State.Flows.Add(flow) };
        await state.WriteOrResetAsync(DeactivateOnIdle);
    }

    public async Task RemovedAsync(string? link, string? flow)
    {
        var s = state.State;
        if (link is not null)
        {
            s = s with { Links = s.Links.Remove(link) };
            _status.Remove(link);
            _lost.Remove(link);
        }
        if (flow is not null)
        {
            s = s with { Flows = s.Flows.Remove(flow), Waiting = s.Waiting.Remove(flow) };
            _flows = default;
        }
        _version++;
        state.State = s;
        await state.WriteOrResetAsync(DeactivateOnIdle);
        ArmRetries();
    }

    public async Task<string?> LinkLostAsync(string link)
    {
        var now = time.GetUtcNow();
        var p = policies.Current.Network;
        if (_brakeUntil > now) return _brakeNote;
        // The same loss told again (the link's reroute asking) keeps its first time.
        if (!_lost.TryGetValue(link, out var first) || now - first > p.StormWindow) _lost[link] = now;
        foreach (var old in _lost.Where(kv => now - kv.Value > p.StormWindow).Select(kv => kv.Key).ToList()) _lost.Remove(old);
        var total = Math.Max(1, state.State.Links.Count);
        if (_lost.Count < p.StormMinLinks || (double)_lost.Count / total < p.StormShare) return null;
        _brakeUntil = now + p.StormWindow;
        _brakeNote = $"the network's storm brake holds: {_lost.Count} of {total} links lost their probes within {Format.Duration(p.StormWindow)} " +
            $"(network.storm: at least {Format.Percent(p.StormShare * 100)} and {p.StormMinLinks} links) — until {_brakeUntil:HH:mm:ss} UTC, then judged again";
        _version++;
        await audit.AppendAsync([Decisions.Create(now, "network", "network/" + FleetNames.Default, DecisionKinds.Frozen,
            $"Engaged the network's storm brake: {_lost.Count} of {total} links lost their probes within {Format.Duration(p.StormWindow)} ({string.Join(", ", _lost.Keys.Order().Take(10))}); " +
            "that is suspect telemetry (a probe collector down, say) more likely than that many cuts, so no flow is moved for it.",
            policies.Current.Version, guardrail: "networkStormBrake", rule: "network.storm", incidentId: $"storm/network/{now:yyyyMMddTHHmmssZ}")]);
        return _brakeNote;
    }

    public async Task WaitingAsync(string flow, bool waiting)
    {
        if (waiting == state.State.Waiting.Contains(flow)) return;
        state.State = state.State with { Waiting = waiting ? state.State.Waiting.Add(flow) : state.State.Waiting.Remove(flow) };
        await state.WriteOrResetAsync(DeactivateOnIdle);
        ArmRetries();
    }

    private IGrainTimer? _periodic;

    /// <summary>While flows wait, they are also told to try again every six retry intervals (a failed verification frees no capacity).</summary>
    private void ArmRetries()
    {
        if (state.State.Waiting.IsEmpty)
        {
            _periodic?.Dispose();
            _periodic = null;
            return;
        }
        var every = policies.Current.Network.RetryInterval * 6;
        _periodic ??= this.RegisterGrainTimer(() => CapacityFreedAsync("flows waiting for a path try again"), new GrainTimerCreationOptions(every, every) { KeepAlive = true });
    }

    public Task CapacityFreedAsync(string why)
    {
        if (state.State.Waiting.IsEmpty) return Task.CompletedTask;
        // At most once a second: a burst of releases wakes the waiting flows once.
        if (Environment.TickCount64 - _retriedTick < 1000)
        {
            _retryTimer ??= this.RegisterGrainTimer(() =>
            {
                _retryTimer?.Dispose();
                _retryTimer = null;
                return CapacityFreedAsync(why);
            }, new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan) { KeepAlive = true });
            return Task.CompletedTask;
        }
        _retriedTick = Environment.TickCount64;
        foreach (var flow in state.State.Waiting) GrainFactory.GetGrain<IFlowGrain>(flow).RetryAsync(why).Ignore();
        return Task.CompletedTask;
    }
}
