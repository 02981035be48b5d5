using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fleet.Abstractions.Supervision;
using Fleet.Abstractions.Tracing;
using Fleet.Core.Replay;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Tracing;

/// <summary>Where a silo keeps trace files (the embedded store's folder on a silo; a temporary folder elsewhere).</summary>
public sealed class TraceOptions
{
    public string Directory { get; set; } = Path.Combine(Path.GetTempPath(), "fleet-traces");
}

/// <summary>
/// A silo's side of the input trace: while the fleet records, grains hand it what they receive (a line each), and
/// <see cref="TraceFlusher"/> sends the lines to the trace grain about once a second. When nothing records, a grain's
/// only cost is one volatile read.
/// </summary>
public sealed class TraceRecorder
{
    /// <summary>Lines kept waiting for the trace grain at most; beyond that they are counted as dropped (the trace grain lagging).</summary>
    public const int MaxQueued = 500_000;

    private volatile bool _on;
    private readonly ConcurrentQueue<string> _lines = new();
    private int _queued;
    private long _dropped;

    public bool On => _on;

    public long Dropped => Interlocked.Read(ref _dropped);

    public void Switch(bool on)
    {
        _on = on;
        if (!on) while (_lines.TryDequeue(out _)) Interlocked.Decrement(ref _queued);
    }

    public void Add(TraceEntry entry)
    {
        if (!_on) return;
        if (Interlocked.Increment(ref _queued) > MaxQueued)
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _dropped);
            return;
        }
        _lines.Enqueue(entry.ToLine());
    }

    public ImmutableArray<string> Take(int max)
    {
        var taken = ImmutableArray.CreateBuilder<string>();
        while (taken.Count < max && _lines.TryDequeue(out var line))
        {
            Interlocked.Decrement(ref _queued);
            taken.Add(line);
        }
        return taken.ToImmutable();
    }
}

/// <summary>Sends a silo's recorded lines to the trace grain each second, and learns from its answer whether the fleet still records.</summary>
public sealed partial class TraceFlusher(TraceRecorder recorder, IGrainFactory grains, ILogger<TraceFlusher> log) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private const int Batch = 20_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, TimeProvider.System);
        var failures = 0;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var trace = grains.GetGrain<ITraceGrain>(FleetNames.Default);
                ImmutableArray<string> lines;
                do
                {
                    lines = recorder.Take(Batch);
                    var status = await trace.AppendAsync(lines);
                    recorder.Switch(status.Recording);
                } while (lines.Length == Batch && recorder.On);
                failures = 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The silo is starting or stopping, or the trace grain's silo is gone: try again next second.
                if (++failures == 10) LogUnreachable(log, e.Message);
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Could not reach the trace grain for 10 s: {Message}; recorded lines wait (up to 500,000)")]
    private static partial void LogUnreachable(ILogger logger, string message);
}
