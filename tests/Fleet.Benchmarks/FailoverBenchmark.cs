using System.Diagnostics;
using Fleet.Client;
using Fleet.Cluster.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Benchmarks;

/// <summary>
/// Kill-to-recovery over repeated SIGKILLs of a silo in a 3-silo Redis cluster with the tuned membership: the time from
/// the signal to the first successful SDK call to a node whose grain lived on the killed silo (so it had to move).
/// </summary>
internal static class FailoverBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        const int nodes = 300;
        Console.WriteLine($"# failover: 3 silos on Redis, {o.Kills} SIGKILLs, fast failure detection on");
        await using var redis = new RedisServer();
        await redis.StartAsync();
        await using var cluster = new ClusterSilos(redis.Connection);
        await cluster.StartAsync(3);
        using var host = await IntakeBenchmark.ClientAsync(redis.Connection, null, cluster.ServiceId, cluster.AdminKey);
        var client = host.Services.GetRequiredService<IFleetClient>();
        await IntakeBenchmark.RegisterAsync(client, nodes, 32);

        var samples = new List<double>();
        for (var k = 0; k < o.Kills; k++)
        {
            var victim = k % 3;
            // A node whose grain is on the victim right now.
            string? target = null;
            for (var i = 0; i < nodes && target is null; i++)
            {
                var s = await client.GetNodeAsync($"bench-{i:D6}");
                if (s?.HostedOn is { } h && cluster.IndexOfHost(h) == victim) target = s.NodeId;
            }
            if (target is null) { Console.Error.WriteLine($"  kill {k + 1}: no node on silo {victim}; skipped"); continue; }

            var sw = Stopwatch.StartNew();
            await cluster.Silos[victim]!.KillAsync();
            while (true)
            {
                try
                {
                    var s = await client.GetNodeAsync(target);
                    if (s?.HostedOn is { } h && cluster.IndexOfHost(h) != victim) break;
                }
                catch (Exception) { }
                if (sw.Elapsed > TimeSpan.FromSeconds(60)) break;
            }
            var ms = sw.Elapsed.TotalMilliseconds;
            samples.Add(ms);
            Console.Error.WriteLine($"  kill {k + 1}: silo {victim}, node {target} answered from another silo after {ms:0} ms");
            await cluster.Silos[victim]!.DisposeAsync();
            cluster.Silos[victim] = null;
            await cluster.StartOneAsync(victim);
            await Task.Delay(TimeSpan.FromSeconds(3)); // let membership settle before the next kill
        }

        Console.WriteLine();
        Console.WriteLine("| kills | min ms | p50 ms | p90 ms | max ms |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        Console.WriteLine($"| {samples.Count} | {samples.Min():0} | {Stats.Percentile(samples, 50):0} | {Stats.Percentile(samples, 90):0} | {samples.Max():0} |");
        Console.WriteLine("samples ms: " + string.Join(", ", samples.Select(s => s.ToString("0"))));
        o.WriteJson(new Dictionary<string, double>
        {
            ["killsMeasured"] = samples.Count, ["killToRecoveryMinMs"] = samples.Min(), ["killToRecoveryP50Ms"] = Stats.Percentile(samples, 50),
            ["killToRecoveryP90Ms"] = Stats.Percentile(samples, 90), ["killToRecoveryMaxMs"] = samples.Max(),
        });
    }
}
