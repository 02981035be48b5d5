using System.Collections.Immutable;
using Fleet.Abstractions.Agents;
using Fleet.Abstractions.Nodes;
using Fleet.Client;

namespace Fleet.Agent;

/// <summary>
/// Every interval: read the host, run the checks, probe the peers, and report. While the cluster is unreachable the
/// reports wait in a bounded buffer (the oldest dropped first) and go out in order once it answers again.
/// The agent registers its node and attaches itself (to receive actions) whenever it (re)connects. Checks that have not
/// passed yet since the agent started go out as starting while its start grace lasts (<see cref="StartGrace"/>).
/// </summary>
public sealed partial class AgentLoop(
    AgentConfig config, HostMetrics metrics, CheckRunner checks, StartGrace grace, PeerProber peers, ProcessSupervisor supervisor,
    AgentActions actions, IServiceProvider services, ILogger<AgentLoop> log) : BackgroundService
{
    private readonly Queue<TelemetryReport> _buffer = new();
    private readonly string _agentId = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";
    private IAgentObserver? _observerRef;
    private bool _registered;
    private long _sequence = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private bool _wasDown;

    public int Buffered => _buffer.Count;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        supervisor.StartAll();
        metrics.Read();
        using var timer = new PeriodicTimer(config.Interval);
        do
        {
            try
            {
                await ReportOnceAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogLoopFailed(log, e.Message);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await supervisor.StopAllAsync();
    }

    private async Task ReportOnceAsync(CancellationToken ct)
    {
        var m = metrics.Read();
        var report = new TelemetryReport(++_sequence, DateTimeOffset.UtcNow, config.Interval * 3, m.CpuPercent, m.MemoryUsedBytes, m.MemoryTotalBytes,
            m.DiskUsedPercent, grace.Apply(await checks.RunAsync(ct)), "fleet-agent") { Peers = await peers.ProbeAsync(ct) };
        _buffer.Enqueue(report);
        while (_buffer.Count > config.BufferSize) _buffer.Dequeue();

        var cluster = services.GetService<IClusterClient>();
        var client = services.GetService<IFleetClient>();
        if (cluster is null || client is null) return;
        try
        {
            if (!_registered)
            {
                var (cores, memory, disk) = metrics.Capacity();
                await client.RegisterNodeAsync(new NodeRegistration(config.Node.Id, config.Node.Domain, new NodeCapacity(cores, memory, disk),
                    config.Node.Labels.ToImmutableDictionary()), ct);
                _registered = true;
            }
            if (_observerRef is null)
            {
                _observerRef = cluster.CreateObjectReference<IAgentObserver>(actions);
                LogAttached(log, config.Node.Id, _observerRef.GetGrainId().ToString());
            }
            await cluster.GetGrain<IAgentGrain>(config.Node.Id).AttachAsync(_observerRef, _agentId);
            var sent = 0;
            while (_buffer.TryPeek(out var next))
            {
                await client.ReportAsync(config.Node.Id, next, ct);
                _buffer.Dequeue();
                sent++;
            }
            if (_wasDown) LogCaughtUp(log, sent);
            _wasDown = false;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (!_wasDown) LogClusterDown(log, e.Message.Split('\n')[0], _buffer.Count);
            _wasDown = true;
            _registered = false;
        }
    }

    [LoggerMessage(LogLevel.Warning, "The cluster did not take a report ({Error}); {Buffered} report(s) wait in the buffer")]
    private static partial void LogClusterDown(ILogger logger, string error, int buffered);

    [LoggerMessage(LogLevel.Information, "The cluster answers again; sent {Sent} buffered report(s) in order")]
    private static partial void LogCaughtUp(ILogger logger, int sent);

    [LoggerMessage(LogLevel.Information, "Attached to the cluster for node {Node}; actions reach this agent as {Observer}")]
    private static partial void LogAttached(ILogger logger, string node, string observer);

    [LoggerMessage(LogLevel.Error, "The report loop failed: {Error}")]
    private static partial void LogLoopFailed(ILogger logger, string error);
}
