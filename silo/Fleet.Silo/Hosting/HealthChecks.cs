using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Supervision;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fleet.Silo.Hosting;

/// <summary>The embedded store answers a read.</summary>
internal sealed class StoreHealthCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await grains.GetGrain<IAuditGrain>(0).QueryAsync(new AuditQuery(Limit: 1)).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return HealthCheckResult.Healthy("the audit store answers");
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy($"the audit store does not answer: {HealthCheckText.Short(e)}");
        }
    }
}

/// <summary>The silo answers a grain call (the fleet supervisor).</summary>
internal sealed class SiloHealthCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var status = await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return HealthCheckResult.Healthy(status.Frozen ? "the silo answers; the fleet is frozen" : "the silo answers");
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy($"the silo does not answer: {HealthCheckText.Short(e)}");
        }
    }
}

internal static class HealthCheckText
{
    /// <summary>The first sentence of an error: enough for a person, without a client library's whole state dump.</summary>
    public static string Short(Exception e) => e.Message.Split(" - ", 2)[0].Split('\n')[0].Trim();
}
