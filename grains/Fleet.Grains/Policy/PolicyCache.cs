using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Policy;

/// <summary>
/// The silo's copy of the current policy, so a telemetry report never costs a call to the policy grain.
/// Loaded on first use, refreshed in the background when older than <see cref="MaxAge"/>, and set at once by
/// the policy grain when a policy is applied on this silo.
/// </summary>
public sealed class PolicyCache(IGrainFactory grains)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);
    private volatile FleetPolicy? _current;
    private long _loadedAt;
    private int _refreshing;

    public FleetPolicy Current
    {
        get
        {
            if (_current is not null && Environment.TickCount64 - Interlocked.Read(ref _loadedAt) > MaxAge.TotalMilliseconds
                && Interlocked.Exchange(ref _refreshing, 1) == 0)
                _ = Task.Run(async () =>
                {
                    try { await RefreshAsync(); }
                    catch { /* keep the copy we have; the next read tries again */ }
                    finally { Volatile.Write(ref _refreshing, 0); }
                });
            return _current ?? FleetPolicy.Default;
        }
    }

    public async ValueTask<FleetPolicy> GetAsync()
    {
        if (_current is null) await RefreshAsync();
        return Current;
    }

    public void Set(FleetPolicy policy)
    {
        var current = _current;
        if (current is null || policy.Version >= current.Version) _current = policy;
        Interlocked.Exchange(ref _loadedAt, Environment.TickCount64);
    }

    private async Task RefreshAsync() => Set(await grains.GetGrain<IPolicyGrain>(FleetNames.Default).GetCurrentAsync());
}
