using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fleet.Silo.Tests;
using Xunit.Abstractions;

namespace Fleet.Cluster.Tests;

/// <summary>Three silo processes on one Redis; a silo is killed with SIGKILL in the middle of a remediation.</summary>
public class FailoverTests(SharedRedis redis, ITestOutputHelper output) : IClassFixture<SharedRedis>
{
    private const int Nodes = 1000;
    private const string Policy = """
        telemetry:
          reportInterval: 2s
          allowedMisses: 3
        health:
          unhealthyAfterFailedReports: 2
        remediation:
          cooldown: 0s
          ladder:
            - action: restart-services
              verifyWindow: 60s
            - action: human
        guardrails:
          stormMinMembers: 1000
          leaseDuration: 2m
        """;

    private static string Id(int i) => $"n-{i:D4}";
    private static string Domain(int i) => $"d-{i % 10}";

    [Fact]
    public async Task KillHostOfNodeMidRemediation_ReactivatesElsewhere_ActionOnce_LeaseFreed_AuditIntact()
    {
        using var receiver = new ActionReceiver { HoldNode = Id(7), Hold = TimeSpan.FromSeconds(4) };
        await using var cluster = new ClusterSilos(redis.Connection, "--Fleet:Actuator:Kind=Webhook", $"--Fleet:Actuator:WebhookUrl={receiver.Url}",
            "--Fleet:Actuator:AttemptTimeout=00:00:10", "--Fleet:Actuator:RetryDelay=00:00:00.200");
        await cluster.StartAsync(3);
        var api = cluster.Any();
        (await api.Http.PutAsync("/api/v1/policy?by=test", new StringContent(Policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
        await RegisterAllAsync(api);

        // Every node reports every second through whichever silo is up; n-0007 reports a failing check.
        var sick = true;
        using var stop = new CancellationTokenSource();
        var load = Task.Run(() => ReportLoopAsync(cluster, i => i == 7 && Volatile.Read(ref sick), stop.Token));
        try
        {
            var key = await receiver.FirstCallForHeldNode.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var status = await ClusterSilos.GetAsync(api, $"/api/v1/nodes/{Id(7)}");
            var host = cluster.IndexOfHost(status.GetProperty("hostedOn").GetString()!);
            Assert.True(host >= 0, "the node's host silo is one of ours");
            Volatile.Write(ref sick, false);

            var survivor = cluster.Any(except: host);
            var killedAt = Stopwatch.StartNew();
            await cluster.Silos[host]!.KillAsync();
            await cluster.Silos[host]!.DisposeAsync();
            cluster.Silos[host] = null;

            // Fleet queries answer again: measure the gap.
            var recovered = await FirstSuccessAsync(async () =>
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                var r = await survivor.Http.GetAsync($"/api/v1/nodes/{Id(7)}", cts.Token);
                return r.StatusCode == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(60));
            var queryRecovery = killedAt.Elapsed;
            output.WriteLine($"kill → first successful node query on a survivor: {queryRecovery.TotalMilliseconds:0} ms");
            Assert.True(recovered, "queries answered again after the kill");

            // The node's grain reactivates on a survivor and carries its case on: verified, lease released.
            await WaitUntilAsync(async () =>
            {
                var trail = await TrailAsync(survivor, Id(7));
                return trail.Any(r => r.GetProperty("kind").GetString() == "verified");
            }, TimeSpan.FromSeconds(90), "the restart was verified after failover");
            var now = await ClusterSilos.GetAsync(survivor, $"/api/v1/nodes/{Id(7)}");
            Assert.NotEqual(status.GetProperty("hostedOn").GetString(), now.GetProperty("hostedOn").GetString());

            Assert.Single(receiver.Applied, kv => kv.Value.EndsWith($"on {Id(7)}"));
            output.WriteLine($"calls for {key}: {receiver.Calls[key]} (applied once)");
            var nodeTrail = await TrailAsync(survivor, Id(7));
            Assert.Single(nodeTrail, r => r.GetProperty("kind").GetString() == "executed");
            Assert.Single(nodeTrail, r => r.GetProperty("kind").GetString() == "permitted");

            await WaitUntilAsync(async () =>
            {
                var fleet = await ClusterSilos.GetAsync(survivor, "/api/v1/fleet");
                return fleet.GetProperty("domains").EnumerateArray().All(d => d.GetProperty("leases").GetArrayLength() == 0);
            }, TimeSpan.FromSeconds(30), "no lease is left held");

            var registered = await AllAsync(survivor, "/api/v1/audit?kind=registered&limit=1000");
            Assert.Equal(Nodes, registered.Count);
            Assert.Equal(Nodes, registered.Select(r => r.GetProperty("subject").GetString()).Distinct().Count());
            var all = await AllAsync(survivor, "/api/v1/audit?limit=1000");
            Assert.Equal(all.Count, all.Select(r => r.GetProperty("id").GetString()).Distinct().Count());
            Assert.Equal(Nodes, (await ClusterSilos.GetAsync(survivor, "/api/v1/nodes")).GetArrayLength());

            // The case is an incident: the trail in Redis finds its records by their incident id.
            var proposed = all.First(r => r.GetProperty("kind").GetString() == "proposed");
            var incident = proposed.GetProperty("incidentId").GetString()!;
            var ofIncident = await AllAsync(survivor, $"/api/v1/audit?incident={Uri.EscapeDataString(incident)}&limit=1000");
            Assert.Contains(ofIncident, r => r.GetProperty("kind").GetString() == "proposed");
            Assert.Contains(ofIncident, r => r.GetProperty("kind").GetString() == "executed");
            Assert.All(ofIncident, r => Assert.Equal(incident, r.GetProperty("incidentId").GetString()));
            Assert.Equal(all.Count(r => r.TryGetProperty("incidentId", out var i) && i.GetString() == incident), ofIncident.Count);
            await cluster.AssertNoCallOfTheClusterWasRefusedAsync();
        }
        finally
        {
            stop.Cancel();
            await load;
        }
    }

    [Fact]
    public async Task RollingRestartUnderLoad_NoStateOrAuditLost()
    {
        await using var cluster = new ClusterSilos(redis.Connection);
        await cluster.StartAsync(3);
        await RegisterAllAsync(cluster.Any());

        var acked = new long[Nodes];
        using var stop = new CancellationTokenSource();
        var load = Task.Run(() => ReportLoopAsync(cluster, _ => false, stop.Token, acked));
        for (var i = 0; i < 3; i++)
        {
            await cluster.Silos[i]!.StopAsync();
            await cluster.Silos[i]!.DisposeAsync();
            cluster.Silos[i] = null;
            await Task.Delay(TimeSpan.FromSeconds(2));
            await cluster.StartOneAsync(i);
        }
        await Task.Delay(TimeSpan.FromSeconds(2));
        stop.Cancel();
        await load;

        var api = cluster.Any();
        var nodes = await ClusterSilos.GetAsync(api, "/api/v1/nodes");
        Assert.Equal(Nodes, nodes.GetArrayLength());
        var lost = 0;
        for (var i = 0; i < Nodes; i += 25)
        {
            var n = await ClusterSilos.GetAsync(api, $"/api/v1/nodes/{Id(i)}");
            if (n.GetProperty("lastSequence").GetInt64() < acked[i]) lost++;
        }
        Assert.Equal(0, lost);
        Assert.True(acked.Min() > 3, $"every node had several reports taken (min {acked.Min()})");
        var registered = await AllAsync(api, "/api/v1/audit?kind=registered&limit=1000");
        Assert.Equal(Nodes, registered.Count);
        await cluster.AssertNoCallOfTheClusterWasRefusedAsync();
    }

    internal static async Task RegisterAllAsync(SiloProcess api)
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, Nodes), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var r = await api.Http.PostAsJsonAsync("/api/v1/nodes",
                new { id = Id(i), domain = Domain(i), capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 100L << 30 } }, ct);
            r.EnsureSuccessStatusCode();
        });
    }

    /// <summary>Sends every node a report each second through a live silo; remembers the highest sequence each node had accepted.</summary>
    internal static async Task ReportLoopAsync(ClusterSilos cluster, Func<int, bool> failing, CancellationToken ct, long[]? acked = null)
    {
        var seq = 0L;
        while (!ct.IsCancellationRequested)
        {
            seq++;
            var batch = Enumerable.Range(0, Nodes).Select(i => new
            {
                nodeId = Id(i), sequence = seq, cpuPercent = 10, memoryUsedBytes = 1L << 30, memoryTotalBytes = 8L << 30,
                checks = new[] { new { name = "http", passed = !failing(i) } },
            }).ToArray();
            foreach (var silo in cluster.Silos.ToArray())
            {
                if (silo is null || silo.HasExited) continue;
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(8));
                    var r = await silo.Http.PostAsJsonAsync("/api/v1/telemetry", batch, cts.Token);
                    if (!r.IsSuccessStatusCode) continue;
                    if (acked is not null)
                        foreach (var item in (await r.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray())
                            if (item.GetProperty("outcome").GetString() == "Accepted")
                            {
                                var i = int.Parse(item.GetProperty("nodeId").GetString()![2..]);
                                acked[i] = Math.Max(acked[i], item.GetProperty("lastSequence").GetInt64());
                            }
                    break;
                }
                catch (Exception) when (!ct.IsCancellationRequested) { }
                catch (OperationCanceledException) { return; }
            }
            try { await Task.Delay(1000, ct); } catch (OperationCanceledException) { return; }
        }
    }

    internal static async Task<List<JsonElement>> TrailAsync(SiloProcess api, string node) =>
        await AllAsync(api, $"/api/v1/audit?subject=node/{node}&limit=1000");

    internal static async Task<List<JsonElement>> AllAsync(SiloProcess api, string path)
    {
        var all = new List<JsonElement>();
        long? before = null;
        do
        {
            var page = await ClusterSilos.GetAsync(api, before is null ? path : $"{path}&before={before}");
            all.AddRange(page.GetProperty("records").EnumerateArray().Select(e => e.Clone()));
            before = page.TryGetProperty("nextBefore", out var n) && n.ValueKind == JsonValueKind.Number ? n.GetInt64() : null;
        } while (before is not null);
        return all;
    }

    internal static async Task<bool> FirstSuccessAsync(Func<Task<bool>> attempt, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            try { if (await attempt()) return true; } catch (Exception) { }
            await Task.Delay(50);
        }
        return false;
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        if (!await FirstSuccessAsync(condition, timeout)) Assert.Fail($"Timed out waiting until {what}.");
    }
}
