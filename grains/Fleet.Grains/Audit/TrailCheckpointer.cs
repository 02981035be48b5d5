using Fleet.Abstractions.Audit;
using Fleet.Core.Audit;
using Fleet.Core.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Audit;

/// <summary>
/// Writes a signed checkpoint of the trail (<see cref="TrailCheckpoint"/>) every <c>interval</c>, from each silo: the end of
/// every stream that moved since this silo's last checkpoint (every stream, in its first), signed with the cluster's action key. A silo whose own stream has not moved since its last
/// checkpoint writes none (an idle trail does not fill with checkpoints, and silos do not answer each other's).
/// </summary>
public sealed partial class TrailCheckpointer(IAuditStore store, ClusterKeys keys, TimeProvider time, TimeSpan interval, string actor,
    ILogger<TrailCheckpointer> log) : BackgroundService
{
    /// <summary>This writer's own stream's end just after its last checkpoint.</summary>
    private TrailCheckpoint.End? _vouched;

    /// <summary>Each stream's end as this writer's checkpoints last named it.</summary>
    private readonly Dictionary<string, TrailCheckpoint.End> _named = [];

    private PeriodicTimer? _timer;

    /// <summary>The interval starts when the host starts the service (not when its loop gets a thread, which .NET 10 runs later).</summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (interval > TimeSpan.Zero) _timer = new PeriodicTimer(interval, time);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timer is not { } timer) return;
        using (timer)
        {
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
    }

    /// <summary>How many times the checkpointer has looked (written a checkpoint or found nothing to vouch for).</summary>
    public int Looks => Volatile.Read(ref _looks);
    private int _looks;

    /// <summary>Writes a checkpoint now, unless this writer's stream has not moved since its last one; the record written, if any.</summary>
    public async Task<DecisionRecord?> CheckpointAsync()
    {
        Interlocked.Increment(ref _looks);
        var ends = await store.EndsAsync();
        if (ends.All.Count == 0 || ends.OwnEnd is { } own && own == _vouched) return null;
        // Every stream whose end moved since this writer last named it (all of them in its first checkpoint): a stream that
        // ended long ago is vouched for once per writer, not in every checkpoint for ever.
        var moved = ends.All.Where(e => !_named.TryGetValue(e.Stream, out var named) || named != e).ToList();
        var record = TrailCheckpoint.Make(keys.ActionSigning, keys.ActionKeyId, time.GetUtcNow(), moved, actor);
        await store.AppendAsync([record]);
        foreach (var e in moved) _named[e.Stream] = e;
        _vouched = (await store.EndsAsync()).OwnEnd;
        return record;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The trail's checkpoint could not be written: {Why}")]
    private static partial void LogFailed(ILogger logger, string why);
}
