using System.Threading.RateLimiting;

namespace Fleet.Grains.Security;

/// <summary>
/// Per-credential rate limits of the gateway, as the REST API has them: a token bucket per key (System.Threading.RateLimiting),
/// <see cref="AccessSettings.GatewayRequestsPerSecond"/> a second with bursts of <see cref="AccessSettings.GatewayBurst"/>. A batch
/// is one call. A silo keeps its own buckets: a client spread over N gateways may send N times the rate.
/// </summary>
public sealed class GatewayRateLimits(AccessSettings settings) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = settings.GatewayBurst, TokensPerPeriod = settings.GatewayRequestsPerSecond, ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0, AutoReplenishment = true,
        }));

    /// <summary>Takes one call from the credential's bucket; false with the wait before the next one is taken when it is empty.</summary>
    public bool TryTake(FleetCaller caller, out TimeSpan retryAfter)
    {
        using var lease = _limiter.AttemptAcquire(caller.KeyId ?? "name:" + caller.Name);
        retryAfter = lease.IsAcquired ? TimeSpan.Zero
            : lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
