using Fleet.Simulator;

namespace Fleet.Benchmarks;

/// <summary>
/// Twenty bad canaries on simulated time (20 services deploying a version that fails 5 % of its requests against 1 %
/// for the stable one): from the first bad instance's start to the last one's stop, and the bad version's instance-time —
/// beside what Flagger's documented example settings would give (computed: interval 1 m × threshold 5).
/// </summary>
internal static class RolloutBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        const int services = 20, replicas = 10;
        var rows = new List<string>();
        var figures = new Dictionary<string, double>();
        foreach (var step in new[] { TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(5) })
        {
            var scenario = new Scenario("rollout-bench", "", 60, 6, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(20), 31,
                $"rollout:\n  stepDuration: {(int)step.TotalMinutes}m\n", [])
            {
                Services = [new ServiceShape("svc", services, replicas, 0.5, 512L << 20, null, 1, true)],
                Deploys = [new DeploySpec("svc", TimeSpan.FromMinutes(2), "2", VersionBehaviour.Stable with { ErrorShare = 0.05 })],
            };
            var card = await Simulation.RunAsync(scenario, realTime: false);
            var ro = card.Rollouts!;
            var perRollout = ro.BadVersionInstanceSeconds / Math.Max(1, ro.Deploys);
            rows.Add($"| Fleet, rollout.stepDuration {(int)step.TotalMinutes}m (canary 10 % = 1 of {replicas}) | {ro.RolledBack} of {ro.Deploys} | {ro.TimeToRollback.P50:0} s | {ro.TimeToRollback.P99:0} s | {perRollout:0} instance-s | {card.Services!.BudgetViolations} | {card.WallTime.TotalSeconds:0} s |");
            Console.WriteLine(rows[^1]);
            BenchOptions.AddRun(figures, $"Step{(int)step.TotalMinutes}m", new Dictionary<string, double>
            {
                ["rolledBack"] = ro.RolledBack, ["deploys"] = ro.Deploys,
                ["timeToRollbackP50Seconds"] = ro.TimeToRollback.P50 ?? double.NaN, ["timeToRollbackP99Seconds"] = ro.TimeToRollback.P99 ?? double.NaN,
                ["badVersionInstanceSecondsPerRollout"] = perRollout, ["budgetViolations"] = card.Services!.BudgetViolations,
                ["simulationWallTimeSeconds"] = card.WallTime.TotalSeconds,
            });
        }
        // Flagger (docs' example: interval 1m, threshold 5, stepWeight 10): a failing canary is rolled back after 5 failed checks, one a minute,
        // from the first check a minute after the canary is ready; its canary Deployment runs as many pods as the primary while it is analysed.
        const double flaggerSeconds = 60 + 5 * 60;
        rows.Add($"| Flagger, documented example (interval 1m × threshold 5), computed | — | ≥ {flaggerSeconds:0} s | ≥ {flaggerSeconds:0} s | ≥ {flaggerSeconds * replicas:0} instance-s (canary scaled like the primary, {replicas} pods) | — | — |");
        Console.WriteLine();
        Console.WriteLine($"# rollouts: {services} services × {replicas} instances deploy a version failing 5 % of requests (stable: 1 %), simulated time, one in-process silo, {Environment.ProcessorCount} cores");
        Console.WriteLine("| settings | rolled back | first bad instance → last bad instance stopped p50 | p99 | bad-version instance-time per rollout | budget violations | wall time |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows) Console.WriteLine(r);
        o.WriteJson(figures);
    }
}
