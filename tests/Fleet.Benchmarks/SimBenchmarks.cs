using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Nodes;
using Fleet.Grains.Actuators;
using Fleet.Simulator;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Benchmarks;

/// <summary>How far one silo on this machine goes with the whole loop, and how fast a crash heals.</summary>
internal static class SimBenchmarks
{
    /// <summary>
    /// Real time, 1 s reports, no faults: for each fleet size, does one step (every node's report) fit in the interval?
    /// Beside it: managed heap per node, and the raw ceiling of a read-only grain call on the same silo.
    /// </summary>
    public static async Task ScaleAsync(BenchOptions o)
    {
        int[] sizes = o.Sizes.Length > 0 ? o.Sizes : o.Nodes == 10_000 ? [5_000, 10_000, 25_000] : [o.Nodes];
        var interval = TimeSpan.FromSeconds(o.Interval > 0 ? o.Interval : 1);
        var seconds = Math.Max(o.Seconds, (int)interval.TotalSeconds * (o.Crashes > 0 ? 9 + o.Crashes : 3));
        // --crashes N: one node's process crashes every interval from the third on (fault → action at that load).
        ImmutableArray<FaultSpec> faults = o.Crashes > 0 ? [new FaultSpec(FaultKind.Crash, interval * 3, Every: interval, Times: o.Crashes)] : [];
        var clock = o.Simulated ? "simulated time (the clock waits for each interval's work)" : "real time";
        Console.WriteLine($"# sim-scale: one in-process silo, {clock}, {interval.TotalSeconds:0} s reports, {seconds} s per size, {Environment.ProcessorCount} cores");
        var rows = new List<string>();
        var figures = new Dictionary<string, double>();
        foreach (var n in sizes)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await using var host = await SimulationHost.StartAsync(realTime: !o.Simulated);
            var before = GC.GetTotalMemory(true);
            var scenario = new Scenario($"scale-{n}", "", n, Math.Max(1, n / 1000), interval, TimeSpan.FromSeconds(seconds), 1, null, faults);
            var sim = new Simulation(scenario, host.Grains, host.Services.GetRequiredService<SimulatedActuator>(),
                host.Services.GetRequiredService<ActionExecutor>(), host.Services.GetRequiredService<TimeProvider>(), host.Fake);
            var shown = Stopwatch.StartNew();
            var slowest = TimeSpan.Zero; // the longest step's work since the line before
            var card = await sim.RunAsync(new Progress<SimProgress>(p =>
            {
                lock (shown)
                {
                    if (p.SlowestStep > slowest) slowest = p.SlowestStep;
                    if (shown.Elapsed < TimeSpan.FromSeconds(30)) return;
                    shown.Restart();
                    Console.WriteLine($"#   {n:N0} nodes: {p.Simulated.TotalMinutes:0.0} of {p.Total.TotalMinutes:0.0} simulated min, {p.Reports:N0} reports, slowest step {slowest.TotalSeconds:0.0} s, heap {GC.GetTotalMemory(false) / 1048576.0:N0} MiB");
                    slowest = TimeSpan.Zero;
                }
            }));
            var after = GC.GetTotalMemory(true);
            var ceiling = await CeilingAsync(host.Grains, n);
            var limit = interval.TotalSeconds;
            var keptUp = card.ReportsUnanswered > 0 ? $"no ({card.ReportsUnanswered} reports unanswered)"
                : card.FalseActions > 0 ? $"no ({card.FalseActions} false actions: nodes judged silent)"
                : card.StepSeconds.P99 <= limit ? "yes" : card.StepSeconds.P50 <= limit ? "at p50 only" : "no";
            var acted = Percentiles.Of(card.Faults.Where(f => f.TimeToAct is not null).Select(f => f.TimeToAct!.Value.TotalSeconds));
            var heal = card.Faults.Length == 0 ? "" : $"{card.Mttd.P50:0.#} s / {acted.P50:0.#} s / {acted.P99:0.#} s / {card.Mttr.P50:0.#} s ({card.Faults.Count(f => f.RecoveredAt is not null)} of {card.Faults.Length} healed)";
            var row = $"| {n:N0} | {interval.TotalSeconds:0} s{(o.Simulated ? $", {seconds / 60.0:0.#} simulated min" : "")} | {card.StepSeconds.P50:0.00} | {card.StepSeconds.P99:0.00} | {keptUp} | {card.ReportLatencyMs.P50:0.0} | {card.ReportLatencyMs.P99:0.0} | {(after - before) / (double)n / 1024:0.00} | {ceiling:N0} | {heal} | {card.WallTime.TotalSeconds:0} s |";
            Console.WriteLine(row);
            rows.Add(row);
            var run = new Dictionary<string, double>
            {
                ["scaleStepWorkP50Seconds"] = card.StepSeconds.P50 ?? double.NaN, ["scaleStepWorkP99Seconds"] = card.StepSeconds.P99 ?? double.NaN,
                ["scaleReportBatchP50Ms"] = card.ReportLatencyMs.P50 ?? double.NaN, ["scaleReportBatchP99Ms"] = card.ReportLatencyMs.P99 ?? double.NaN,
                ["scaleReportsUnanswered"] = card.ReportsUnanswered, ["scaleFalseActions"] = card.FalseActions,
                ["scaleHeapBytesPerNode"] = (after - before) / (double)n, ["scaleCeilingCallsPerSecond"] = ceiling,
                ["scaleWallTimeSeconds"] = card.WallTime.TotalSeconds,
            };
            if (card.Faults.Length > 0)
            {
                run["scaleCrashToDetectedP50Seconds"] = card.Mttd.P50 ?? double.NaN;
                run["scaleCrashToFirstActionP50Seconds"] = acted.P50 ?? double.NaN;
                run["scaleCrashToFirstActionP99Seconds"] = acted.P99 ?? double.NaN;
                run["scaleCrashToHealedP50Seconds"] = card.Mttr.P50 ?? double.NaN;
                run["scaleCrashesHealed"] = card.Faults.Count(f => f.RecoveredAt is not null);
                run["scaleCrashes"] = card.Faults.Length;
            }
            BenchOptions.AddRun(figures, $"{n}Nodes", run);
        }
        Console.WriteLine();
        Console.WriteLine("| nodes | interval | step work p50 s | step work p99 s | keeps up | batch of 1,000 reports p50 ms | p99 ms | heap KiB per node | raw trivial grain calls/s, same silo | crash → detected p50 / → first action p50 / p99 / → healed p50 | wall time incl. registration |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows) Console.WriteLine(r);
        o.WriteJson(figures);
    }

    private static async Task<double> CeilingAsync(IGrainFactory grains, int nodes)
    {
        var sw = Stopwatch.StartNew();
        long calls = 0;
        var until = TimeSpan.FromSeconds(5);
        var workers = Enumerable.Range(0, 256).Select(async w =>
        {
            var i = w;
            while (sw.Elapsed < until)
            {
                await grains.GetGrain<Fleet.Abstractions.Diagnostics.IPingGrain>(i % nodes).PingAsync();
                i += 256;
                Interlocked.Increment(ref calls);
            }
        });
        await Task.WhenAll(workers);
        return calls / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Simulated time, 1 s reports: many crashes, each on its own node; crash → healed percentiles.</summary>
    public static async Task HealAsync(BenchOptions o)
    {
        var crashes = o.Kills * 6;
        var scenario = new Scenario("heal", "", 600, 30, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30 + crashes * 10 + 60), 11, null,
            [new FaultSpec(FaultKind.Crash, TimeSpan.FromSeconds(30), Every: TimeSpan.FromSeconds(10), Times: crashes)]);
        Console.WriteLine($"# sim-heal: {scenario.Nodes} nodes, 1 s reports, {crashes} crashes (one every 10 s), default policy, simulated time");
        var card = await Simulation.RunAsync(scenario, realTime: false);
        var healed = card.Faults.Count(f => f.RecoveredAt is not null);
        Console.WriteLine();
        Console.WriteLine("| measure | p50 | p95 | p99 | healed |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        Console.WriteLine($"| crash → detected | {card.Mttd.P50:0.#} s | {card.Mttd.P95:0.#} s | {card.Mttd.P99:0.#} s | |");
        Console.WriteLine($"| crash → healed (Fleet) | {card.Mttr.P50:0.#} s | {card.Mttr.P95:0.#} s | {card.Mttr.P99:0.#} s | {healed} of {card.Faults.Length} |");
        Console.WriteLine("| the same fault under Kubernetes defaults (peer figure) | ≥ 350 s | | | node-monitor-grace-period 50 s + not-ready toleration 300 s before eviction |");
        Console.WriteLine($"guardrail violations {card.GuardrailViolations}, false actions {card.FalseActions}, denials {string.Join(", ", card.Denials.Select(d => $"{d.Key} {d.Value}"))}");
        o.WriteJson(new Dictionary<string, double>
        {
            ["crashToDetectedP50Seconds"] = card.Mttd.P50 ?? double.NaN, ["crashToDetectedP95Seconds"] = card.Mttd.P95 ?? double.NaN,
            ["crashToDetectedP99Seconds"] = card.Mttd.P99 ?? double.NaN,
            ["crashToHealedP50Seconds"] = card.Mttr.P50 ?? double.NaN, ["crashToHealedP95Seconds"] = card.Mttr.P95 ?? double.NaN,
            ["crashToHealedP99Seconds"] = card.Mttr.P99 ?? double.NaN,
            ["crashesHealed"] = healed, ["crashesInjected"] = card.Faults.Length,
            ["guardrailViolations"] = card.GuardrailViolations, ["falseActions"] = card.FalseActions, ["denials"] = card.Denials.Values.Sum(),
        });
    }
}
