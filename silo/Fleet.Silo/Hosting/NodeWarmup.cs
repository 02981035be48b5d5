using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;

namespace Fleet.Silo.Hosting;

/// <summary>
/// After a start, wakes the capacity supervisor (a maintenance train, provisioning or consolidation under way carries on
/// without anyone asking) and every registered node's grain (found through the fleet and domain supervisors), so a node
/// that stays silent after a restart is still watched by its timer and turns Suspect, instead of being forgotten.
/// </summary>
internal sealed partial class NodeWarmup(IGrainFactory grains, IHostApplicationLifetime lifetime, ILogger<NodeWarmup> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using var _ = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(stoppingToken);
        try
        {
            await grains.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).GetStatusAsync();
            var fleet = await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync();
            var count = 0;
            foreach (var domain in fleet.Domains)
            {
                var members = await grains.GetGrain<IDomainSupervisorGrain>(domain).GetMembersAsync();
                foreach (var chunk in members.Chunk(256))
                {
                    await Task.WhenAll(chunk.Select(m => grains.GetGrain<INodeGrain>(m.NodeId).GetStatusAsync()));
                    count += chunk.Length;
                }
            }
            LogWarmed(log, count, fleet.Domains.Length);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogWarmupFailed(log, e.Message);
        }
    }

    [LoggerMessage(LogLevel.Information, "Woke {Nodes} registered nodes in {Domains} domains")]
    private static partial void LogWarmed(ILogger logger, int nodes, int domains);

    [LoggerMessage(LogLevel.Warning, "Failed to wake registered nodes after start: {Error}")]
    private static partial void LogWarmupFailed(ILogger logger, string error);
}
