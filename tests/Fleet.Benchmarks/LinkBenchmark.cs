using System.Collections.Concurrent;
using System.Diagnostics;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Core.Network;
using Fleet.Grains.Actuators;
using Fleet.Simulator;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Benchmarks;

/// <summary>
/// A core link carrying 10,000 flows fails, in a topology of 1,001 links: two hubs joined by the core link and by five
/// spine sites, 495 edge sites on each hub. Every flow runs from an edge of one hub to an edge of the other; its backup
/// is pre-reserved through a spine. Measured on one in-process silo in real time: how long until every flow runs on a
/// verified path after the cut is judged (per flow p50/p99, and the last), and path computations per second over the
/// same topology (Yen, k = 4).
/// </summary>
internal static class LinkBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        var flows = o.Nodes == 10_000 ? 10_000 : o.Nodes;
        const int edgesPerHub = 495, spines = 5;
        var links = new List<LinkSpec>();
        LinkSpec L(string a, string b, double capacity, double latency) =>
            string.CompareOrdinal(a, b) < 0 ? new LinkSpec($"{a}~{b}", a, b, capacity, latency, "core") : new LinkSpec($"{b}~{a}", b, a, capacity, latency, "core");
        links.Add(L("h0", "h1", 100_000, 1));
        for (var s = 0; s < spines; s++)
        {
            links.Add(L("h0", $"m{s}", 10_000, 2));
            links.Add(L($"m{s}", "h1", 10_000, 2));
        }
        for (var e = 0; e < edgesPerHub; e++)
        {
            links.Add(L($"a{e:D3}", "h0", 1_000, 1));
            links.Add(L($"b{e:D3}", "h1", 1_000, 1));
        }
        var random = new Random(42);
        var specs = Enumerable.Range(0, flows).Select(i => new FlowSpec($"f{i:D5}", $"a{random.Next(edgesPerHub):D3}", $"b{random.Next(edgesPerHub):D3}", 1, random.Next(3))).ToList();

        // Path computations per second on the same topology (pure: no grain, no capacity question).
        var topology = new Topology(links.Select(l => new LinkStatus(l, LinkState.Up, DateTimeOffset.UtcNow, null, null, 0, null, 0, 0, 0, [], "")));
        var computations = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            var f = specs[computations % specs.Count];
            topology.Candidates(f.Source, f.Destination, 4, demandMbps: 1);
            computations++;
        }
        var perSecond = computations / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"path computations: {perSecond:N0}/s (k = 4 over {links.Count} links, one thread)");

        await using var host = await SimulationHost.StartAsync(realTime: true);
        var grains = host.Grains;
        var client = FleetClientHostingExtensions.Create(grains, new FleetClientOptions { Retries = 1 });
        var applied = await grains.GetGrain<IPolicyGrain>(FleetNames.Default).ApplyAsync("""
            guardrails:
              maxActionsPerWindow: 100000
            network:
              downAfterProbes: 1
              upAfterProbes: 1
              verifyProbes: 1
              reservationTtl: 60s
            """, "bench");
        if (!applied.Applied) throw new InvalidOperationException(string.Join("; ", applied.Problems));
        foreach (var l in links) await client.ApplyLinkAsync(l, "bench");
        long seq = 0;
        await client.ReportProbesAsync([.. links.Select(l => new LinkProbe(l.Id, true, l.LatencyMs, 0, ++seq, TimeSpan.FromHours(1)))]);

        clock.Restart();
        var placed = 0;
        await Parallel.ForEachAsync(specs, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (f, ct) =>
        {
            if ((await client.ApplyFlowAsync(f, "bench", ct)).State == FlowState.Active) Interlocked.Increment(ref placed);
            var n = Interlocked.Increment(ref _defined);
            if (n % 1000 == 0) Console.Error.WriteLine($"  {n:N0} flows placed ({clock.Elapsed.TotalSeconds:0} s)");
        });
        var placing = clock.Elapsed;
        var withBackup = 0;
        foreach (var chunk in specs.Chunk(500))
            withBackup += (await Task.WhenAll(chunk.Select(f => client.GetFlowAsync(f.Id)))).Count(s => s is { BackupLinks.IsEmpty: false });
        Console.WriteLine($"placed {placed:N0} of {flows:N0} flows in {placing.TotalSeconds:0.0} s ({placed / placing.TotalSeconds:N0}/s), {withBackup:N0} with a pre-reserved backup");

        // The cut: one probe says the core link is down (downAfterProbes 1); from then, each flow's shift onto a verified path is timed.
        var actuator = host.Services.GetRequiredService<SimulatedActuator>();
        var shifted = new ConcurrentDictionary<string, double>();
        var cut = Stopwatch.StartNew();
        actuator.Executed += r =>
        {
            if (r.Action == ActionNames.ShiftFlow && r.Parameters.TryGetValue("flow", out var f) && r.Parameters.GetValueOrDefault("from")?.Contains("h0~h1") == true)
                shifted.TryAdd(f, cut.Elapsed.TotalSeconds);
        };
        cut.Restart();
        await client.ReportProbesAsync([new LinkProbe("h0~h1", false, 1, 100, ++seq, TimeSpan.FromHours(1))]);
        var deadline = TimeSpan.FromMinutes(15);
        while (shifted.Count < placed && cut.Elapsed < deadline)
        {
            await Task.Delay(250);
            if ((int)cut.Elapsed.TotalSeconds % 10 == 0) Console.Error.Write($"\r  {shifted.Count:N0} of {placed:N0} flows on a verified path ({cut.Elapsed.TotalSeconds:0} s)");
        }
        Console.Error.WriteLine();
        var times = shifted.Values.ToList();
        var core = (await client.GetLinkAsync("h0~h1"))!;
        var spinesHeld = (await client.ListLinksAsync()).Where(l => l.Spec.Id.Contains('m')).Max(l => Math.Max(l.ReservedAB, l.ReservedBA) / l.Spec.CapacityMbps);
        Console.WriteLine();
        Console.WriteLine($"# links: a core link carrying {placed:N0} flows is cut, {links.Count:N0} links, one in-process silo, real time, {Environment.ProcessorCount} cores");
        Console.WriteLine("| flows moved | time until every flow is on a verified path | per flow p50 | p99 | path computations/s | placement | fullest spine after |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        Console.WriteLine($"| {times.Count:N0} of {placed:N0} | {(times.Count == 0 ? double.NaN : times.Max()):0.0} s | {Stats.Percentile(times, 50):0.0} s | {Stats.Percentile(times, 99):0.0} s | {perSecond:N0} | {placed / placing.TotalSeconds:N0} flows/s | {spinesHeld:P0} |");
        Console.WriteLine($"core link: {core.State}, carrying {core.Flows.Length} flows");
        o.WriteJson(new Dictionary<string, double>
        {
            ["switchoverP99Seconds"] = Stats.Percentile(times, 99), ["switchoverP50Seconds"] = Stats.Percentile(times, 50),
            ["switchoverMaxSeconds"] = times.Count == 0 ? double.NaN : times.Max(),
            ["flows"] = flows, ["flowsPlaced"] = placed, ["flowsMoved"] = times.Count, ["flowsWithBackup"] = withBackup,
            ["flowPlacementPerSecond"] = placed / placing.TotalSeconds, ["flowPlacementSeconds"] = placing.TotalSeconds,
            ["pathComputationsPerSecond"] = perSecond, ["fullestSpineRatio"] = spinesHeld, ["links"] = links.Count,
            ["coreLinkFlowsAfter"] = core.Flows.Length,
        });
    }

    private static int _defined;
}
