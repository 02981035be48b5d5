using System.Collections.Immutable;
using System.Diagnostics;
using System.Net.Http.Json;
using Fleet.Abstractions.Nodes;
using Fleet.Client;
using Fleet.Cluster.Tests;
using Fleet.Silo.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fleet.Benchmarks;

/// <summary>
/// Telemetry intake through the SDK (separate client process, loopback) with the full judge path, against 1 embedded
/// silo, 1 Redis silo and 3 Redis silos in the same run; beside it the raw Orleans ceiling: a trivial grain method (IPingGrain) called through the same client.
/// </summary>
internal static class IntakeBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        Console.WriteLine($"# intake: {o.Nodes} nodes, {o.Seconds} s per run, {o.Concurrency} calls in flight, {Environment.ProcessorCount} cores");
        var rows = new List<string>();
        var figures = new Dictionary<string, double>();
        await using var redis = new RedisServer();
        await redis.StartAsync();

        foreach (var (label, silos, redisMode, variant) in new[] { ("1 silo, embedded SQLite", 1, false, "Embedded1Silo"), ("1 silo, Redis", 1, true, "Redis1Silo"), ("3 silos, Redis", 3, true, "Redis3Silos") })
        {
            await using var cluster = redisMode ? new ClusterSilos(redis.Connection) : null;
            SiloProcess? embedded = null;
            string? gateways = null;
            if (cluster is not null) await cluster.StartAsync(silos);
            else
            {
                embedded = await SiloProcess.StartAsync();
                gateways = embedded.Gateway;
            }
            try
            {
                using var host = await ClientAsync(redisMode ? redis.Connection : null, gateways, cluster?.ServiceId ?? "fleet", cluster?.AdminKey ?? embedded?.AdminKey);
                var client = host.Services.GetRequiredService<IFleetClient>();
                var grains = host.Services.GetRequiredService<IClusterClient>();
                await RegisterAsync(client, o.Nodes, o.Concurrency);
                // The four kinds of call take turns: a first round warms the silo (JIT tiers, each node's first reports settling
                // its health, the heap growing) and is shown but not counted — measured cold, single reports ran at about half
                // their warm rate here —, then two rounds, and each figure is the mean of its two passes, so none gains from
                // running after another. Batches of 1,000 reports (a few in flight, as an agent relay or the simulator sends
                // them): one message per batch.
                var http = (embedded?.Http ?? cluster?.Silos[0]?.Http)!;
                var batches = o with { Concurrency = BatchesInFlight };
                var kinds = new (string Name, BenchOptions Options, Func<int, long, Task> Call, int PerCall)[]
                {
                    ("single", o, async (i, seq) => await client.ReportAsync(Id(i), Report(seq)), 1),
                    ("ceiling", o, async (i, _) => await grains.GetGrain<Fleet.Abstractions.Diagnostics.IPingGrain>(i).PingAsync(), 1),
                    ("SDK batch", batches, async (i, seq) => await client.ReportBatchAsync(Batch(i, seq, o.Nodes)), BatchSize),
                    ("REST batch", batches, async (i, seq) =>
                    {
                        using var response = await http.PostAsJsonAsync("/api/v1/telemetry", RestBatch(i, seq, o.Nodes));
                        response.EnsureSuccessStatusCode();
                    }, BatchSize),
                };
                var passes = kinds.Select(_ => new List<Result>()).ToArray();
                for (var round = 0; round < 3; round++)
                {
                    var results = new List<string>();
                    for (var k = 0; k < kinds.Length; k++)
                    {
                        var r = await MeasureAsync(kinds[k].Options, kinds[k].Call, kinds[k].PerCall);
                        if (round > 0) passes[k].Add(r);
                        results.Add($"{kinds[k].Name} {r.PerSecond:N0}/s");
                    }
                    Console.Error.WriteLine($"  {(round == 0 ? "warm-up round, not counted" : $"round {round}")}: {string.Join(", ", results)}");
                }
                var (intake, ceiling, batch, rest) = (Result.Mean(passes[0]), Result.Mean(passes[1]), Result.Mean(passes[2]), Result.Mean(passes[3]));
                var row = $"| {label} | {intake.PerSecond:N0} | {intake.P50:0.0} | {intake.P99:0.0} | {batch.PerSecond:N0} | {rest.PerSecond:N0} | {ceiling.PerSecond:N0} | {intake.PerSecond / ceiling.PerSecond:P0} | {batch.PerSecond / ceiling.PerSecond:P0} | {rest.PerSecond / ceiling.PerSecond:P0} |";
                Console.WriteLine(row);
                rows.Add(row);
                BenchOptions.AddRun(figures, variant, new Dictionary<string, double>
                {
                    ["singleReportsPerSecond"] = intake.PerSecond, ["singleReportP50Ms"] = intake.P50, ["singleReportP99Ms"] = intake.P99,
                    ["sdkBatchReportsPerSecond"] = batch.PerSecond, ["restBatchReportsPerSecond"] = rest.PerSecond, ["ceilingCallsPerSecond"] = ceiling.PerSecond,
                    ["singleToCeilingRatio"] = intake.PerSecond / ceiling.PerSecond, ["sdkBatchToCeilingRatio"] = batch.PerSecond / ceiling.PerSecond,
                    ["restBatchToCeilingRatio"] = rest.PerSecond / ceiling.PerSecond,
                });
            }
            finally
            {
                if (embedded is not null) await embedded.DisposeAsync();
            }
        }
        Console.WriteLine();
        Console.WriteLine("| cluster | reports/s (SDK, one per call) | report p50 ms | report p99 ms | reports/s (SDK batch of 1,000) | reports/s (REST batch of 1,000) | trivial grain calls/s (raw ceiling) | single / ceiling | SDK batch / ceiling | REST batch / ceiling |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows) Console.WriteLine(r);
        o.WriteJson(figures);
    }

    internal static string Id(int i) => $"bench-{i:D6}";

    internal const int BatchSize = 1_000, BatchesInFlight = 4;

    /// <summary>The batch starting at node <paramref name="i"/> × 1,000 (wrapping), every report with its own fresh sequence.</summary>
    internal static (string NodeId, TelemetryReport Report)[] Batch(int i, long seq, int nodes) =>
        [.. Enumerable.Range(0, BatchSize).Select(k => (Id((int)(((long)i * BatchSize + k) % nodes)), Report(seq * BatchSize + k)))];

    private static object[] RestBatch(int i, long seq, int nodes) =>
        [.. Batch(i, seq, nodes).Select(b => new
        {
            nodeId = b.NodeId, sequence = b.Report.Sequence, ttlSeconds = 30, cpuPercent = 20, memoryUsedBytes = 2L << 30,
            memoryTotalBytes = 16L << 30, diskUsedPercent = 30, checks = new[] { new { name = "http", passed = true } },
        })];

    private static long _sequence;

    internal static TelemetryReport Report(long seq) => new(seq, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(30), 20, 2L << 30, 16L << 30, 30,
        [new CheckResult("http", true)]);

    internal static async Task<IHost> ClientAsync(string? redis, string? gateways, string serviceId, string? key)
    {
        var builder = Host.CreateApplicationBuilder(["--hostBuilder:reloadConfigOnChange=false"]);
        builder.Logging.ClearProviders();
        builder.AddFleetClient(c =>
        {
            c.Redis = redis;
            if (gateways is not null) c.Gateways = gateways;
            c.ServiceId = serviceId;
            c.ClusterId = serviceId;
            c.ResponseTimeout = TimeSpan.FromSeconds(30);
            c.Key = key;
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    internal static async Task RegisterAsync(IFleetClient client, int nodes, int concurrency)
    {
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, nodes), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, _) =>
            await client.RegisterNodeAsync(new NodeRegistration(Id(i), $"rack-{i % 50}", new NodeCapacity(8, 16L << 30, 100L << 30), ImmutableDictionary<string, string>.Empty)));
        Console.Error.WriteLine($"  registered {nodes} nodes in {sw.Elapsed.TotalSeconds:0.0} s");
    }

    internal sealed record Result(double PerSecond, double P50, double P99)
    {
        /// <summary>The mean rate of several passes of equal length; their latency percentiles averaged (each pass has as many calls as its rate).</summary>
        public static Result Mean(IReadOnlyList<Result> passes) =>
            new(passes.Average(p => p.PerSecond), passes.Average(p => p.P50), passes.Average(p => p.P99));
    }

    /// <summary>Calls per second × <paramref name="perCall"/> (reports per call), with the calls' latency percentiles.</summary>
    internal static async Task<Result> MeasureAsync(BenchOptions o, Func<int, long, Task> call, int perCall = 1)
    {
        // Warm-up, then the measured window.
        await RunForAsync(o, TimeSpan.FromSeconds(2), call, null);
        var latencies = new List<double>();
        var sw = Stopwatch.StartNew();
        var count = await RunForAsync(o, TimeSpan.FromSeconds(o.Seconds), call, latencies);
        var rate = count * perCall / sw.Elapsed.TotalSeconds;
        return new Result(rate, Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99));
    }

    private static async Task<long> RunForAsync(BenchOptions o, TimeSpan duration, Func<int, long, Task> call, List<double>? latencies)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long done = 0;
        var next = 0;
        var workers = Enumerable.Range(0, o.Concurrency).Select(async _ =>
        {
            var mine = new List<double>();
            while (Stopwatch.GetTimestamp() < until)
            {
                var i = Interlocked.Increment(ref next) % o.Nodes;
                var start = Stopwatch.GetTimestamp();
                await call(i, Interlocked.Increment(ref _sequence));
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                Interlocked.Increment(ref done);
            }
            if (latencies is not null) lock (latencies) latencies.AddRange(mine);
        });
        await Task.WhenAll(workers);
        return done;
    }
}
