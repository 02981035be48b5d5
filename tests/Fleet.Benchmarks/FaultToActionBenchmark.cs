using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Fleet.Silo.Tests;

namespace Fleet.Benchmarks;

/// <summary>
/// Fault → action over REST, against a real silo process and a real webhook: 50 nodes report every 1 s (3-miss hold),
/// each with a TCP probe address the benchmark serves. A killed node stops both its reports and its probe listener; a
/// node cut off from the monitor stops only its reports. The clock runs from the kill to the webhook's first call for
/// that node. Then 60 % of the nodes are cut off at once, their probes still answering: the right number of actions is 0.
/// </summary>
internal static class FaultToActionBenchmark
{
    private sealed class FakeNode(string id, string domain)
    {
        public string Id { get; } = id;
        public string Domain { get; } = domain;
        public long Sequence;
        public volatile bool Reporting = true;
        public TcpListener? Probe;
        public int Port;

        public void Listen()
        {
            Probe = new TcpListener(IPAddress.Loopback, Port);
            Probe.Start();
            Port = ((IPEndPoint)Probe.LocalEndpoint).Port;
            var l = Probe;
            _ = Task.Run(async () =>
            {
                try { while (true) (await l.AcceptTcpClientAsync()).Dispose(); } catch (Exception) { /* stopped */ }
            });
        }

        public void Kill()
        {
            Reporting = false;
            Probe?.Stop();
            Probe = null;
        }
    }

    public static async Task RunAsync(BenchOptions o)
    {
        const int count = 50;
        var faults = o.Kills * 2;
        using var webhook = new HttpListener();
        var hookPort = Repo.FreePort();
        webhook.Prefixes.Add($"http://127.0.0.1:{hookPort}/actions/");
        webhook.Start();
        var calls = new ConcurrentQueue<(string Node, string Action, long At)>();
        _ = Task.Run(async () =>
        {
            while (webhook.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await webhook.GetContextAsync(); } catch { return; }
                var at = Stopwatch.GetTimestamp();
                using (var body = await JsonDocument.ParseAsync(ctx.Request.InputStream))
                    calls.Enqueue((body.RootElement.GetProperty("node").GetString() ?? "", body.RootElement.GetProperty("action").GetString() ?? "", at));
                ctx.Response.StatusCode = 200;
                ctx.Response.Close();
            }
        });

        Console.WriteLine($"# fault-to-action: one silo process, {count} nodes reporting over REST every 1 s, 3-miss hold, a TCP probe per node, webhook actuator; {faults} kills, then a 60% cut");
        await using var silo = await SiloProcess.StartAsync(extraArgs: ["--Fleet:Actuator:Kind=Webhook", $"--Fleet:Actuator:WebhookUrl=http://127.0.0.1:{hookPort}/actions/"]);
        var policy = "telemetry:\n  reportInterval: 1s\n  allowedMisses: 3\nhealth:\n  unhealthyAfterFailedReports: 2\nremediation:\n  cooldown: 0s\n  probation: 5s\nguardrails:\n  fleetMaxConcurrent: 100\n";
        (await silo.Http.PutAsync("/api/v1/policy?by=bench", new StringContent(policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();

        var nodes = Enumerable.Range(0, count).Select(i => new FakeNode($"f2a-{i:D2}", $"rack-{i % 10}")).ToArray();
        foreach (var n in nodes)
        {
            n.Listen();
            (await silo.Http.PostAsJsonAsync("/api/v1/nodes", new
            {
                id = n.Id, domain = n.Domain, capacity = new { cpuCores = 8, memoryBytes = 16L << 30, diskBytes = 100L << 30 },
                probe = new { kind = "tcp", address = $"127.0.0.1:{n.Port}", timeoutMs = 1000 },
            })).EnsureSuccessStatusCode();
        }
        using var stop = new CancellationTokenSource();
        var reporters = nodes.Select((n, i) => Task.Run(async () =>
        {
            await Task.Delay(i * 1000 / count); // spread over the second, like real reporters
            using var http = silo.HttpWith(silo.AdminKey);
            while (!stop.IsCancellationRequested)
            {
                if (n.Reporting)
                    try
                    {
                        await http.PostAsJsonAsync($"/api/v1/nodes/{n.Id}/telemetry", new
                        {
                            sequence = Interlocked.Increment(ref n.Sequence), ttlSeconds = 3, cpuPercent = 10, memoryUsedBytes = 4L << 30,
                            memoryTotalBytes = 16L << 30, checks = new[] { new { name = "app", passed = true } },
                        });
                    }
                    catch (HttpRequestException) { }
                try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
            }
        })).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(5)); // every node Healthy

        var samples = new List<double>();
        for (var k = 0; k < faults; k++)
        {
            var victim = nodes[(k * 7) % count];
            var killedAt = Stopwatch.GetTimestamp();
            victim.Kill();
            var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
            double? ms = null;
            while (Stopwatch.GetTimestamp() < until && ms is null)
            {
                if (calls.FirstOrDefault(c => c.Node == victim.Id && c.At >= killedAt) is { Node: not null } hit && hit.Node == victim.Id)
                    ms = Stopwatch.GetElapsedTime(killedAt, hit.At).TotalMilliseconds;
                await Task.Delay(20);
            }
            Console.Error.WriteLine($"  kill {k + 1}: {victim.Id} → {(ms is { } v ? $"action after {v:0} ms" : "no action in 30 s")}");
            if (ms is { } got) samples.Add(got);
            victim.Listen(); // the "restart": the probe answers and reports resume, so the case verifies and frees its slot
            victim.Reporting = true;
            await Task.Delay(TimeSpan.FromSeconds(4));
        }

        // A mass cut of the monitoring path: 60% stop reporting, their probes still answering.
        await Task.Delay(TimeSpan.FromSeconds(8));
        var cut = nodes.Where((_, i) => i % 5 < 3).ToArray();
        var cutAt = Stopwatch.GetTimestamp();
        foreach (var n in cut) n.Reporting = false;
        await Task.Delay(TimeSpan.FromSeconds(20));
        var cutActions = calls.Count(c => c.At >= cutAt && cut.Any(n => n.Id == c.Node));
        foreach (var n in cut) n.Reporting = true;
        stop.Cancel();
        await Task.WhenAll(reporters);
        foreach (var n in nodes) n.Kill();

        Console.WriteLine();
        Console.WriteLine("| measure | Fleet (this run) | Prometheus + Alertmanager (peer, measured on this machine: PEERS.md) |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine($"| node killed → action, p50 | {Stats.Percentile(samples, 50) / 1000:0.00} s | 4.05 s |");
        Console.WriteLine($"| node killed → action, p95 | {Stats.Percentile(samples, 95) / 1000:0.00} s | 4.52 s |");
        Console.WriteLine($"| kills acted on | {samples.Count} of {faults} | |");
        Console.WriteLine($"| actions when {cut.Length} of {count} nodes' reports are cut, probes answering (right answer 0) | {cutActions} | 30 of 30 |");
        Console.WriteLine("samples ms: " + string.Join(", ", samples.Select(s => s.ToString("0"))));
        o.WriteJson(new Dictionary<string, double>
        {
            ["killToActionP50Seconds"] = Stats.Percentile(samples, 50) / 1000, ["killToActionP95Seconds"] = Stats.Percentile(samples, 95) / 1000,
            ["killsActedOn"] = samples.Count, ["killsInjected"] = faults, ["nodesCut"] = cut.Length, ["actionsOnCut"] = cutActions,
        });
        webhook.Stop();
    }
}
