using System.Net.Http.Json;
using Fleet.Client;
using Fleet.Silo.Intake;
using Fleet.Silo.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Benchmarks;

/// <summary>
/// Prometheus remote-write intake against the REST batch intake, on one embedded silo in the same run (issue 33). Each
/// remote-write request carries what one scrape of 1,000 node_exporters sends Fleet's mapping (up, memory total and
/// available, two CPU counters: 5,000 samples), snappy-compressed protobuf as Prometheus sends it; each REST batch carries
/// 1,000 reports. Both make one report per node through the same judge path; the figure that matters is reports/s.
/// </summary>
internal static class RemoteWriteBenchmark
{
    private const int NodesPerRequest = IntakeBenchmark.BatchSize, SeriesPerNode = 5;

    public static async Task RunAsync(BenchOptions o)
    {
        Console.WriteLine($"# remote-write: {o.Nodes} nodes, {o.Seconds} s per pass, {IntakeBenchmark.BatchesInFlight} requests in flight, {Environment.ProcessorCount} cores");
        await using var silo = await SiloProcess.StartAsync();
        using var host = await IntakeBenchmark.ClientAsync(null, silo.Gateway, "fleet", silo.AdminKey);
        await IntakeBenchmark.RegisterAsync(host.Services.GetRequiredService<IFleetClient>(), o.Nodes, o.Concurrency);
        var http = silo.Http;
        var batches = o with { Concurrency = IntakeBenchmark.BatchesInFlight };
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var kinds = new (string Name, Func<int, long, Task> Call)[]
        {
            ("REST batch", async (i, seq) =>
            {
                using var response = await http.PostAsJsonAsync("/api/v1/telemetry", IntakeBenchmark.Batch(i, seq, o.Nodes / 2).Select(b => new
                {
                    nodeId = b.NodeId, sequence = b.Report.Sequence, ttlSeconds = 30, cpuPercent = 20, memoryUsedBytes = 2L << 30,
                    memoryTotalBytes = 16L << 30, diskUsedPercent = 30, checks = new[] { new { name = "http", passed = true } },
                }).ToArray());
                response.EnsureSuccessStatusCode();
            }),
            ("remote-write", async (i, seq) =>
            {
                // Each request's samples are 1 ms later than any before, so every node it names has something new to report.
                using var body = new ByteArrayContent(Scrape(i, start + seq, o.Nodes));
                using var response = await http.PostAsync("/api/v1/write", body);
                response.EnsureSuccessStatusCode();
            }),
        };
        var passes = kinds.Select(_ => new List<IntakeBenchmark.Result>()).ToArray();
        for (var round = 0; round < 3; round++)
        {
            var results = new List<string>();
            for (var k = 0; k < kinds.Length; k++)
            {
                var r = await IntakeBenchmark.MeasureAsync(batches, kinds[k].Call, NodesPerRequest);
                if (round > 0) passes[k].Add(r);
                results.Add($"{kinds[k].Name} {r.PerSecond:N0} reports/s");
            }
            Console.Error.WriteLine($"  {(round == 0 ? "warm-up round, not counted" : $"round {round}")}: {string.Join(", ", results)}");
        }
        var (rest, write) = (IntakeBenchmark.Result.Mean(passes[0]), IntakeBenchmark.Result.Mean(passes[1]));
        var fleet = host.Services.GetRequiredService<IFleetClient>();
        foreach (var id in new[] { IntakeBenchmark.Id(0), IntakeBenchmark.Id(o.Nodes / 2) })
            Console.Error.WriteLine($"  {id}: last report from {(await fleet.GetNodeAsync(id))?.LastReport?.Source}, sequence {(await fleet.GetNodeAsync(id))?.LastSequence}");
        Console.WriteLine();
        Console.WriteLine("| intake | reports/s | samples/s | request p50 ms | request p99 ms | / REST batch |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        Console.WriteLine($"| REST batch of 1,000 reports (JSON) | {rest.PerSecond:N0} | — | {rest.P50:0.0} | {rest.P99:0.0} | 100 % |");
        Console.WriteLine($"| remote-write of 1,000 nodes × {SeriesPerNode} series (snappy protobuf) | {write.PerSecond:N0} | {write.PerSecond * SeriesPerNode:N0} | {write.P50:0.0} | {write.P99:0.0} | {write.PerSecond / rest.PerSecond:P0} |");
        o.WriteJson(new Dictionary<string, double>
        {
            ["restBatchReportsPerSecond"] = rest.PerSecond,
            ["remoteWriteReportsPerSecond"] = write.PerSecond,
            ["remoteWriteSamplesPerSecond"] = write.PerSecond * SeriesPerNode,
            ["remoteWriteToRestBatch"] = write.PerSecond / rest.PerSecond,
            ["restBatchRequestP50Ms"] = rest.P50, ["restBatchRequestP99Ms"] = rest.P99,
            ["remoteWriteRequestP50Ms"] = write.P50, ["remoteWriteRequestP99Ms"] = write.P99,
        });
    }

    /// <summary>One scrape of 1,000 nodes (wrapping) at one time, as remote-write sends it.</summary>
    private static byte[] Scrape(int i, long at, int nodes)
    {
        var request = new WriteRequest();
        for (var k = 0; k < NodesPerRequest; k++)
        {
            // The second half of the nodes: the REST batches report the first half (their sequences are counters, these times).
            var node = IntakeBenchmark.Id(nodes / 2 + (int)(((long)i * NodesPerRequest + k) % (nodes / 2)));
            void Add(string name, double value, params (string, string)[] labels) => request.Timeseries.Add(new TimeSeries
            {
                Labels = [new() { Name = "__name__", Value = name }, new() { Name = "instance", Value = node + ":9100" }, new() { Name = "job", Value = "node" },
                    .. labels.Select(l => new PromLabel { Name = l.Item1, Value = l.Item2 })],
                Samples = [new() { Value = value, Timestamp = at }],
            });
            Add("up", 1);
            Add("node_memory_MemTotal_bytes", 16L << 30);
            Add("node_memory_MemAvailable_bytes", 14L << 30);
            Add("node_cpu_seconds_total", at / 1000.0, ("cpu", "0"), ("mode", "idle"));
            Add("node_cpu_seconds_total", at / 4000.0, ("cpu", "0"), ("mode", "user"));
        }
        using var raw = new MemoryStream();
        ProtoBuf.Serializer.Serialize(raw, request);
        return Snappier.Snappy.CompressToArray(raw.ToArray());
    }
}
