using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Simulator;

namespace Fleet.Benchmarks;

/// <summary>
/// Registration rate over time: N nodes into one domain (a domain's member list must not cost more per member as it
/// grows), then N into many domains, on one in-process silo with the real SQLite store. Rate per tenth of the run.
/// </summary>
internal static class RegisterBenchmark
{
    private const string Policy = """
        telemetry:
          reportInterval: 60s
          allowedMisses: 10
        """;

    public static async Task RunAsync(BenchOptions o)
    {
        var n = o.Nodes == 10_000 ? 100_000 : o.Nodes;
        var domains = o.Sizes.Length > 0 ? o.Sizes : [1, Math.Max(1, n / 1000)];
        Console.WriteLine($"# register: {n:N0} nodes, 256 registrations in flight, one in-process silo (SQLite), 60 s report interval (Suspect after 10 min), {Environment.ProcessorCount} cores");
        var rows = new List<string>();
        var figures = new Dictionary<string, double> { ["nodesRegistered"] = n };
        foreach (var d in domains)
        {
            await using var host = await SimulationHost.StartAsync(realTime: true);
            var client = FleetClientHostingExtensions.Create(host.Grains, new FleetClientOptions { Retries = 1 });
            // The nodes register and do not report: a 60 s interval with 10 misses allowed keeps them from being judged
            // silent (and acted on, a storm of its own) before the last of a million has registered.
            var applied = await host.Grains.GetGrain<IPolicyGrain>(FleetNames.Default).ApplyAsync(Policy, "benchmark");
            if (!applied.Applied) throw new InvalidOperationException(string.Join("; ", applied.Problems));
            var before = GC.GetTotalMemory(true);
            var tenth = n / 10;
            var rates = new List<double>();
            var done = 0;
            var sw = Stopwatch.StartNew();
            var lastMark = TimeSpan.Zero;
            var mark = new object();
            await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, ct) =>
            {
                await client.RegisterNodeAsync(new NodeRegistration($"reg-{i:D7}", $"dom-{i % d:D4}", new NodeCapacity(8, 16L << 30, 100L << 30),
                    ImmutableDictionary<string, string>.Empty), ct);
                var count = Interlocked.Increment(ref done);
                if (count % tenth == 0)
                    lock (mark)
                    {
                        var now = sw.Elapsed;
                        rates.Add(tenth / (now - lastMark).TotalSeconds);
                        lastMark = now;
                        Console.Error.WriteLine($"  {d} domain(s): {count:N0} registered, {rates[^1]:N0}/s over the last {tenth:N0}");
                    }
            });
            var total = n / sw.Elapsed.TotalSeconds;
            var wall = sw.Elapsed;
            // Every node's grain is active and holds its state (registered, no report yet): the heap it costs.
            var heapBytes = (GC.GetTotalMemory(true) - before) / (double)n;
            var heap = heapBytes / 1024;
            var first = rates.Count > 0 ? rates[0] : total;
            var last = rates.Count > 0 ? rates[^1] : total;
            var row = $"| {n:N0} | {d:N0} | {total:N0} | {string.Join(" · ", rates.Select(r => r.ToString("N0")))} | {last / first:0.00} | {heap:0.00} | {wall.TotalSeconds:0} s |";
            Console.WriteLine(row);
            rows.Add(row);
            BenchOptions.AddRun(figures, d == 1 ? "1Domain" : $"{d}Domains", new Dictionary<string, double>
            {
                ["registrationPerSecond"] = total, ["firstTenthRegistrationPerSecond"] = first, ["lastTenthRegistrationPerSecond"] = last,
                ["lastToFirstTenthRatio"] = last / first, ["heapBytesPerNode"] = heapBytes, ["wallTimeSeconds"] = wall.TotalSeconds,
            });
        }
        Console.WriteLine();
        Console.WriteLine("| nodes | domains | registrations/s overall | rate per tenth of the run (/s) | last tenth / first tenth | heap KiB per registered node | wall time |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows) Console.WriteLine(r);
        o.WriteJson(figures);
    }
}
