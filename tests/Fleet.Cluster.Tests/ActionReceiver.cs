using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Fleet.Silo.Tests;

namespace Fleet.Cluster.Tests;

/// <summary>
/// The far end of the webhook actuator, as a real HTTP server on loopback: it applies each idempotency key once
/// (as a real receiver must), counts every call, and can hold its answer to keep an action in flight.
/// </summary>
public sealed class ActionReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    public int Port { get; } = Repo.FreePort();
    public string Url => $"http://127.0.0.1:{Port}/actions/";
    public ConcurrentDictionary<string, int> Calls { get; } = new();
    public ConcurrentDictionary<string, string> Applied { get; } = new();
    public TaskCompletionSource<string> FirstCallForHeldNode { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The first call for this node is answered only after <see cref="Hold"/>.</summary>
    public string? HoldNode { get; set; }
    public TimeSpan Hold { get; set; } = TimeSpan.FromSeconds(5);

    public ActionReceiver()
    {
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); } catch { return; }
            _ = Task.Run(() => HandleAsync(ctx));
        }
    }

    private async Task HandleAsync(HttpListenerContext ctx)
    {
        try
        {
            var key = ctx.Request.Headers["Idempotency-Key"] ?? "";
            var body = await JsonDocument.ParseAsync(ctx.Request.InputStream);
            var node = body.RootElement.GetProperty("node").GetString()!;
            var action = body.RootElement.GetProperty("action").GetString()!;
            var calls = Calls.AddOrUpdate(key, 1, (_, n) => n + 1);
            var first = Applied.TryAdd(key, $"{action} on {node}");
            if (first && node == HoldNode && calls == 1)
            {
                FirstCallForHeldNode.TrySetResult(key);
                await Task.Delay(Hold);
            }
            ctx.Response.StatusCode = 200;
            ctx.Response.Close();
        }
        catch
        {
            try { ctx.Response.Abort(); } catch { }
        }
    }

    public void Dispose() => _listener.Close();
}
