using Fleet.Abstractions.Links;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Network;

namespace Fleet.Grains.Links;

/// <summary>
/// The silo's copy of the network view, for path computation: read from the network grain at most every
/// <see cref="MaxAge"/> (or at once when a flow's candidates were all refused). The capacity it shows is advisory;
/// a link's grain grants capacity.
/// </summary>
public sealed class TopologyCache(IGrainFactory grains)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromMilliseconds(500);
    private (NetworkView View, Topology Topology, long At)? _current;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<Topology> GetAsync(bool fresh = false)
    {
        // Real time, not the grains' clock: the view ages with the machine's work, whatever a simulation does to time.
        if (!fresh && _current is { } c && Environment.TickCount64 - c.At < MaxAge.TotalMilliseconds) return c.Topology;
        await _gate.WaitAsync();
        try
        {
            if (!fresh && _current is { } again && Environment.TickCount64 - again.At < MaxAge.TotalMilliseconds) return again.Topology;
            var view = await grains.GetGrain<INetworkGrain>(FleetNames.Default).GetViewAsync();
            var topology = _current is { } old && old.View.Version == view.Version ? old.Topology : new Topology(view.Links);
            _current = (view, topology, Environment.TickCount64);
            return topology;
        }
        finally
        {
            _gate.Release();
        }
    }
}
