using System.Diagnostics;
using System.Net.Sockets;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Text;

namespace Fleet.Grains.Nodes;

/// <summary>
/// The silo's own probe of a silent node: a TCP connect, or an HTTP GET (any answer, whatever its status, means the host
/// lives). Bounded by the probe's timeout; what it saw comes back as one line for the record.
/// </summary>
public sealed class DirectProber
{
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<(bool Reachable, string Detail)> ProbeAsync(NodeProbe probe, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            if (probe.Kind == ProbeKind.Tcp)
            {
                var colon = probe.Address.LastIndexOf(':');
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(probe.Address[..colon].Trim('[', ']'), int.Parse(probe.Address[(colon + 1)..]), cts.Token);
                return (true, $"{probe}: connected in {Ms(watch)}");
            }
            using var response = await _http.GetAsync(probe.Address, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            return (true, $"{probe}: HTTP {(int)response.StatusCode} in {Ms(watch)}");
        }
        catch (OperationCanceledException)
        {
            return (false, $"{probe}: no answer within {Format.Duration(timeout)}");
        }
        catch (SocketException e)
        {
            return (false, $"{probe}: {Describe(e.SocketErrorCode)}");
        }
        catch (HttpRequestException e)
        {
            return (false, $"{probe}: {(e.InnerException is SocketException s ? Describe(s.SocketErrorCode) : e.Message)}");
        }
    }

    private static string Ms(Stopwatch w) => $"{Math.Max(1, (int)w.Elapsed.TotalMilliseconds)} ms";

    private static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
        SocketError.TimedOut => "timed out",
        SocketError.HostNotFound or SocketError.NoData => "host not found",
        _ => error.ToString(),
    };
}
