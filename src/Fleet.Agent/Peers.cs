using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Fleet.Abstractions.Nodes;

namespace Fleet.Agent;

/// <summary>Probes the configured peers (TCP connect to their probe address) so the cluster can tell a dead node from a broken path.</summary>
public sealed class PeerProber(AgentConfig config)
{
    public async Task<ImmutableArray<PeerProbe>> ProbeAsync(CancellationToken ct) =>
        [.. await Task.WhenAll(config.Peers.Select(p => ProbeOneAsync(p, ct)))];

    /// <summary>Probes one configured peer now (the cluster asks when the peer falls silent); null when it is not a peer of this agent.</summary>
    public async Task<PeerProbe?> ProbeAsync(string node, CancellationToken ct) =>
        config.Peers.FirstOrDefault(p => p.Node == node) is { } peer ? await ProbeOneAsync(peer, ct) : null;

    private static async Task<PeerProbe> ProbeOneAsync(AgentConfig.PeerSection p, CancellationToken ct)
    {
        var colon = p.Address.LastIndexOf(':');
        var error = await TcpProbe.ConnectAsync(p.Address[..colon], int.Parse(p.Address[(colon + 1)..]), TimeSpan.FromMilliseconds(500), ct);
        return new PeerProbe(p.Node, error is null, error);
    }
}

/// <summary>Listens on probe.listen and accepts every connection, so peers' probes succeed while this agent lives.</summary>
public sealed partial class ProbeListener(AgentConfig config, ILogger<ProbeListener> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (config.Probe.Listen is not { } listen) return;
        var colon = listen.LastIndexOf(':');
        var host = listen[..colon];
        var address = host is "localhost" or "" ? IPAddress.Loopback : IPAddress.Parse(host);
        var listener = new TcpListener(address, int.Parse(listen[(colon + 1)..]));
        listener.Start();
        LogListening(log, listen);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) { }
        finally { listener.Stop(); }
    }

    [LoggerMessage(LogLevel.Information, "Listening for peer probes on {Address}")]
    private static partial void LogListening(ILogger logger, string address);
}
