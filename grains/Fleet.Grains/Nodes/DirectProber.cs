using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Health;
using Fleet.Core.Text;
using Fleet.Grains.Policy;

namespace Fleet.Grains.Nodes;

/// <summary>
/// The silo's own probe of a silent node: a TCP connect, or an HTTP GET (any answer, whatever its status, means the host
/// lives; a redirect is an answer, never followed). It goes only where <see cref="ProbeRules"/> lets it — checked on the
/// addresses a name resolves to, at the moment it connects, so a name that later points at a loopback or metadata address
/// is not followed there. Bounded by the probe's timeout; what it saw comes back as one line for the record.
/// </summary>
public sealed class DirectProber
{
    private readonly PolicyCache _policies;
    private readonly ProbeRules.Own _own;
    private readonly HttpClient _http;

    public DirectProber(PolicyCache policies, ProbeRules.Own own)
    {
        _policies = policies;
        _own = own;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectCallback = async (context, ct) => new NetworkStream(await ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct), ownsSocket: true),
        }) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Why a node's registration names a probe or address the silo will not probe (field and sentence), or null.</summary>
    public (string Field, string Why)? Refusal(NodeRegistration registration) =>
        ProbeRules.Refusal(registration, _policies.Current.Probes.AllowedNetworks, _own);

    public async Task<(bool Reachable, string Detail)> ProbeAsync(NodeProbe target, TimeSpan timeout)
    {
        // As the record names it: an http probe's URL with any credential in it redacted.
        var probe = target.Kind == ProbeKind.Http ? $"http {Redact.Url(target.Address)}" : target.ToString();
        var watch = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            if (target.Kind == ProbeKind.Tcp)
            {
                if (!ProbeRules.TryHostPort(target, out var host, out var port)) return (false, $"{probe}: not host:port");
                using var socket = await ConnectAsync(host, port, cts.Token);
                return (true, $"{probe}: connected in {Ms(watch)}");
            }
            using var response = await _http.GetAsync(target.Address, HttpCompletionOption.ResponseHeadersRead, cts.Token);
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
        catch (ProbeRefusedException e)
        {
            return (false, $"{probe}: not probed: {e.Message}");
        }
        catch (HttpRequestException e)
        {
            return (false, $"{probe}: {e.InnerException switch { SocketException s => Describe(s.SocketErrorCode), ProbeRefusedException r => $"not probed: {r.Message}", _ => e.Message }}");
        }
    }

    /// <summary>Resolves the host and connects to the first of its addresses the rules allow; none allowed is a refusal.</summary>
    private async Task<Socket> ConnectAsync(string host, int port, CancellationToken ct)
    {
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = _policies.Current.Probes.AllowedNetworks;
        var usable = addresses.Where(a => ProbeRules.Forbidden(a, port, allowed, _own) is null).ToList();
        if (usable.Count == 0)
            throw new ProbeRefusedException(addresses.Length == 0 ? $"{host} resolves to no address"
                : $"{host} resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}: {ProbeRules.Forbidden(addresses[0], port, allowed, _own)} (probes.allowedNetworks names none of them)");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(usable.Select(a => new IPEndPoint(a, port)).First(), ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private sealed class ProbeRefusedException(string message) : Exception(message);

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
