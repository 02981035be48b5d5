using Fleet.Abstractions.Audit;
using Fleet.Core.Audit;
using Fleet.Core.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Audit;

/// <summary>
/// Writes a signed checkpoint of the trail (<see cref="TrailCheckpoint"/>) every <c>interval</c>, from each silo: every
/// stream's end at that moment, signed with the cluster's action key. A silo whose own stream has not moved since its last
/// checkpoint writes none (an idle trail does not fill with checkpoints, and silos do not answer each other's).
/// </summary>
public sealed partial class TrailCheckpointer(IAuditStore store, ClusterKeys keys, TimeProvider time, TimeSpan interval, string actor,
    ILogger<TrailCheckpointer> log) : BackgroundService
{
    /// <summary>This writer's own stream's end just after its last checkpoint.</summary>
    private TrailCheckpoint.End? _vouched;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (interval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try { await CheckpointAsync(); }
                catch (Exception e) when (e is not OperationCanceledException) { LogFailed(log, e.Message); }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    /// <summary>Writes a checkpoint now, unless this writer's stream has not moved since its last one; the record written, if any.</summary>
    public async Task<DecisionRecord?> CheckpointAsync()
    {
        var ends = await store.EndsAsync();
        if (ends.All.Count == 0 || ends.OwnEnd is { } own && own == _vouched) return null;
        var record = TrailCheckpoint.Make(keys.ActionSigning, keys.ActionKeyId, time.GetUtcNow(), ends.All, actor);
        await store.AppendAsync([record]);
        _vouched = (await store.EndsAsync()).OwnEnd;
        return record;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The trail's checkpoint could not be written: {Why}")]
    private static partial void LogFailed(ILogger logger, string why);
}
