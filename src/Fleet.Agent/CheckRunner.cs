using System.Collections.Immutable;
using System.Diagnostics;
using System.Net.Sockets;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Policies;

namespace Fleet.Agent;

/// <summary>Runs the configured checks: a supervised process alive, an HTTP GET (status and latency), a TCP connect.</summary>
public sealed class CheckRunner(AgentConfig config, ProcessSupervisor supervisor)
{
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<ImmutableArray<CheckResult>> RunAsync(CancellationToken ct) =>
        [.. await Task.WhenAll(config.Checks.Select(c => RunAsync(c, ct)))];

    private async Task<CheckResult> RunAsync(AgentConfig.CheckSection c, CancellationToken ct)
    {
        if (c.Process is { } name)
            return new CheckResult(c.Name, supervisor.IsRunning(name, out var detail), detail);
        if (c.Http is { } h)
        {
            var timeout = D(h.Timeout);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            var sw = Stopwatch.StartNew();
            try
            {
                using var r = await _http.GetAsync(h.Url, HttpCompletionOption.ResponseHeadersRead, cts.Token);
                var ms = sw.Elapsed.TotalMilliseconds;
                if ((int)r.StatusCode != h.ExpectStatus) return new CheckResult(c.Name, false, $"answered {(int)r.StatusCode}, expected {h.ExpectStatus}");
                if (h.MaxLatency is { } ml && sw.Elapsed > D(ml)) return new CheckResult(c.Name, false, $"answered in {ms:0} ms, slower than {ml}");
                return new CheckResult(c.Name, true, $"{(int)r.StatusCode} in {ms:0} ms");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return new CheckResult(c.Name, false, $"no answer within {h.Timeout}");
            }
            catch (HttpRequestException e)
            {
                return new CheckResult(c.Name, false, e.Message);
            }
        }
        var t = c.Tcp!;
        return await TcpProbe.ConnectAsync(t.Host, t.Port, D(t.Timeout), ct) is { } error
            ? new CheckResult(c.Name, false, error)
            : new CheckResult(c.Name, true, "connected");
    }

    private static TimeSpan D(string text) => Durations.TryParse(text, out var d) ? d : TimeSpan.FromSeconds(1);
}

internal static class TcpProbe
{
    /// <summary>Null when the connection opened in time; otherwise why not.</summary>
    public static async Task<string?> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        using var client = new TcpClient();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await client.ConnectAsync(host, port, cts.Token);
            return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return $"no connection within {timeout.TotalMilliseconds:0} ms"; }
        catch (SocketException e) { return e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : e.Message; }
    }
}
