using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Client;
using Fleet.Simulator;

namespace Fleet.Benchmarks;

/// <summary>Services at scale: how fast instances are placed by negotiation, and how fast a lost node's instances run elsewhere.</summary>
internal static class ServiceBenchmarks
{
    public static async Task RunAsync(BenchOptions o)
    {
        var services = o.Nodes == 10_000 ? 1000 : o.Nodes;
        const int nodes = 300, domains = 10, replicas = 3;
        Console.WriteLine($"# services: {services} services × {replicas} instances over {nodes} nodes in {domains} domains, one in-process silo, {Environment.ProcessorCount} cores");
        var placement = await PlacementAsync(services, nodes, domains, replicas);
        var figures = new Dictionary<string, double>
        {
            ["placementPerSecond"] = services * replicas / placement.TotalSeconds, ["placementSeconds"] = placement.TotalSeconds,
            ["instancesPlaced"] = services * replicas,
        };

        var rows = new List<string>();
        foreach (var (label, variant, policy) in o.PlacementOnly ? [] : new (string, string, string?)[]
                 {
                     ("default grace (the first rung must fail first)", "DefaultGrace", null),
                     ("services.rescheduleAfter: 0s", "RescheduleAfter0s", "services:\n  rescheduleAfter: 0s\n"),
                 })
        {
            var scenario = new Scenario("services-failover", "", nodes, domains, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(8), 21, policy,
                [new FaultSpec(FaultKind.Hang, TimeSpan.FromSeconds(60), Every: TimeSpan.FromSeconds(20), Times: o.Kills * 2)])
            {
                Services = [new ServiceShape("svc", services, replicas, 0.25, 256L << 20, null, 1, true)],
            };
            var card = await Simulation.RunAsync(scenario, realTime: false);
            var sv = card.Services!;
            rows.Add($"| {label} | {sv.InstancesBack.P50:0.#} s | {sv.InstancesBack.P99:0.#} s | {sv.InstancesBack.Samples} | {sv.InstanceAvailability:P3} | {sv.BudgetViolations} | {card.WallTime.TotalSeconds:0} s |");
            Console.WriteLine(rows[^1]);
            BenchOptions.AddRun(figures, variant, new Dictionary<string, double>
            {
                ["instancesBackP50Seconds"] = sv.InstancesBack.P50 ?? double.NaN, ["instancesBackP99Seconds"] = sv.InstancesBack.P99 ?? double.NaN,
                ["nodeFailuresWithInstances"] = sv.InstancesBack.Samples, ["instanceAvailabilityRatio"] = sv.InstanceAvailability,
                ["budgetViolations"] = sv.BudgetViolations, ["simulationWallTimeSeconds"] = card.WallTime.TotalSeconds,
            });
        }
        Console.WriteLine();
        Console.WriteLine($"Placement: {services * replicas:N0} instances placed and started in {placement.TotalSeconds:0.0} s wall = {services * replicas / placement.TotalSeconds:N0} placement decisions/s (offers from every domain's inventory, a reservation on the node, a start action through the executor)");
        Console.WriteLine();
        if (o.PlacementOnly)
        {
            o.WriteJson(figures);
            return;
        }
        Console.WriteLine("| rescheduling rule | node hangs → all its instances running elsewhere p50 (simulated) | p99 | node failures with instances | instance-time served | budget violations | wall time |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows) Console.WriteLine(r);
        Console.WriteLine("| Kubernetes defaults (peer figure) | ≥ 340 s | | | | | node-monitor-grace-period 40–50 s + not-ready/unreachable toleration 300 s before pods are evicted and rescheduled |");
        o.WriteJson(figures);
    }

    /// <summary>Wall time from the first apply until every instance runs (simulated clock held still: only the negotiation and the starts count).</summary>
    private static async Task<TimeSpan> PlacementAsync(int services, int nodes, int domains, int replicas)
    {
        await using var host = await SimulationHost.StartAsync(realTime: false);
        var client = FleetClientHostingExtensions.Create(host.Grains, new FleetClientOptions { Retries = 1 }, (TimeProvider)host.Services.GetService(typeof(TimeProvider))!);
        var now = host.Fake!.GetUtcNow();
        await Parallel.ForEachAsync(Enumerable.Range(0, nodes), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            var id = $"n-{i:D4}";
            await client.RegisterNodeAsync(new NodeRegistration(id, $"d-{i % domains:D2}", new NodeCapacity(8, 16L << 30, 500L << 30), ImmutableDictionary<string, string>.Empty), ct);
            await client.ReportAsync(id, new TelemetryReport(1, now, TimeSpan.FromMinutes(10), 10, 4L << 30, 16L << 30, 20, []), ct);
        });
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(1, services), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
            await client.ApplyServiceAsync(new ServiceSpec($"svc-{i:D4}", replicas, "1", new InstanceResources(0.25, 256L << 20), PlacementSpec.Default, DisruptionBudget.Default), "bench", ct));
        while (true)
        {
            var list = await client.ListServicesAsync();
            if (list.Sum(s => s.Running) >= services * replicas) return sw.Elapsed;
            if (sw.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException($"only {list.Sum(s => s.Running)} of {services * replicas} instances ran after 10 minutes");
            await Task.Delay(100);
        }
    }
}
