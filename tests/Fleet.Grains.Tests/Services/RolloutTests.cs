using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Services;

namespace Fleet.Grains.Tests.Services;

public sealed class RolloutCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        telemetry:
          reportInterval: 30s
        guardrails:
          fleetMaxConcurrent: 1000
          maxConcurrentPerDomain: 5
        services:
          rescheduleAfter: 0s
          reconcileInterval: 2s
        rollout:
          canaryShare: 0.25
          batchShare: 0.5
          stepDuration: 3m
          minSamples: 5
          minRequests: 100
          maxExtensions: 2
          watch: 2h
          watchWindow: 20m
          warmup: 1m
        """;
}

/// <summary>Rollouts on an in-process silo with injected time: judged canaries, rollback, extension and pause, promotion, the long-horizon watch.</summary>
public class RolloutTests(RolloutCluster f) : IClassFixture<RolloutCluster>
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(30);
    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);

    /// <summary>What an instance of a version reports: requests/s, error share, p99 and memory by the instance's age.</summary>
    private sealed record Behaviour(double Rps = 20, double ErrorShare = 0.01, double P99 = 200, Func<TimeSpan, long>? Memory = null);

    private async Task<string[]> SetUpAsync(string name, int nodes, int replicas)
    {
        var label = ImmutableDictionary<string, string>.Empty.Add("role", name);
        var ids = Enumerable.Range(1, nodes).Select(n => $"{name}-n{n}").ToArray();
        for (var n = 0; n < ids.Length; n++)
        {
            await f.RegisterAsync(ids[n], $"d-{name}-{n % 2}", label);
            await f.ReportAsync(ids[n]);
        }
        await Service(name).ApplyAsync(ServiceTests.Spec(name, replicas, labels: label), "alice");
        await FleetTestCluster.EventuallyAsync(async () => (await Service(name).GetAsync())!.Running == replicas, $"{replicas} instances of {name} run");
        return ids;
    }

    /// <summary>
    /// Moves the clock a report interval at a time: every node reports, every running instance reports as its version behaves,
    /// and the check runs after each step; stops when <paramref name="done"/> holds.
    /// </summary>
    private async Task RunUntilAsync(string name, string[] nodes, IReadOnlyDictionary<string, Behaviour> versions, Func<ServiceStatus, bool> done, TimeSpan within,
        string what, Action<ServiceStatus>? check = null)
    {
        var rng = new Random(11);
        for (var moved = TimeSpan.Zero; moved <= within; moved += Tick)
        {
            f.Time.Advance(Tick);
            foreach (var n in nodes) await f.ReportAsync(n);
            var now = f.Time.GetUtcNow();
            var status = (await Service(name).GetAsync())!;
            foreach (var i in status.Instances.Where(i => i.State == InstanceState.Running))
            {
                var b = versions[i.Version];
                var noise = 0.85 + rng.NextDouble() * 0.3;
                var memory = b.Memory?.Invoke(now - i.Since) ?? FleetTestCluster.Gi;
                await Service(name).ReportAsync(new InstanceReport(name, i.Id, i.Version, b.Rps, b.Rps * b.ErrorShare * noise, b.P99 / 3 * noise, b.P99 * noise,
                    memory + rng.Next(0, 1 << 20), true, null, now));
            }
            await Task.Delay(40);
            status = (await Service(name).GetAsync())!;
            check?.Invoke(status);
            if (done(status)) return;
        }
        var last = (await Service(name).GetAsync())!;
        var trail = await f.TrailAsync($"service/{name}");
        Assert.Fail($"Timed out waiting until {what} (within {within.TotalMinutes:0} min of simulated time). Rollout: {last.Rollout}; instances: " +
            string.Join(", ", last.Instances.Select(i => $"{i.Id} {i.Version} {i.State}{(i.Moving ? " moving" : "")} {i.Reason}")) + "\n" +
            string.Join("\n", trail.TakeLast(15).Select(x => $"{x.Time:HH:mm:ss} {x.Kind} {x.Reason}")));
    }

    private async Task<RolloutView> LastAsync(string name) => (await Service(name).GetRolloutsAsync()).First();

    [Fact]
    public async Task ACanaryWithFiveTimesTheErrors_IsRolledBack_WithItsFigures()
    {
        var nodes = await SetUpAsync("rb", 4, 4);
        var started = await Service("rb").DeployAsync("2.0", null, "bob");
        Assert.Equal(["canary", "batch 1", "batch 2"], started.Steps.Select(s => s.Name).ToArray());
        Assert.Equal([1, 3, 4], started.Steps.Select(s => s.Target).ToArray());

        var versions = new Dictionary<string, Behaviour> { ["1.0"] = new(ErrorShare: 0.01), ["2.0"] = new(ErrorShare: 0.05) };
        var sawCanaryAndBaseline = false;
        await RunUntilAsync("rb", nodes, versions, s => s.Rollout is null && s.Instances.All(i => i.Version == "1.0" && i.State == InstanceState.Running) && s.Running == 4,
            TimeSpan.FromMinutes(15), "the canary was rolled back",
            s => sawCanaryAndBaseline |= s.Instances.Count(i => i.Version == "2.0" && i.State == InstanceState.Running) == 1);
        Assert.True(sawCanaryAndBaseline, "one canary instance ran");

        var r = await LastAsync("rb");
        Assert.Equal(RolloutPhase.RolledBack, r.Phase);
        var j = Assert.Single(r.Judgements);
        Assert.Equal(Verdict.Fail, j.Verdict);
        Assert.Equal("a fresh baseline of 1.0 started with it", j.Baseline);
        Assert.Equal(Verdict.Fail, j.Metrics.Single(m => m.Metric == "errors").Verdict);
        Assert.Equal("failed", r.Steps[0].Outcome);
        Assert.Equal("1.0", (await Service("rb").GetAsync())!.Spec.Version);

        var trail = await f.TrailAsync("service/rb");
        var failed = Assert.Single(trail, x => x.Kind == DecisionKinds.Failed && x.Action == ActionNames.Rollout);
        Assert.Matches(@"canary 2\.0 failed against a fresh baseline of 1\.0 started with it: errors [4-6](\.\d+)? % on 2\.0 vs [01](\.\d+)? % on 1\.0, two-proportion test p [<=] 0\.\d+ over [\d,]+ and [\d,]+ requests", failed.Reason);
        Assert.Contains(trail, x => x.Kind == DecisionKinds.RolledBack && x.Reason.Contains("Rolled back service rb to 1.0"));
        Assert.Contains(trail, x => x.Kind == DecisionKinds.Permitted && x.Action == ActionNames.Rollout && x.Reason.Contains("by a fresh 1.0 baseline"));
        Assert.All(trail.Where(x => x.Action is ActionNames.Rollout or ActionNames.Rollback && x.Actor == "service/rb" && x.Kind != DecisionKinds.Operator), x => Assert.Equal($"rollout/rb/{r.Id}", x.IncidentId));
    }

    [Fact]
    public async Task ACanaryWithTooLittleTraffic_IsExtended_NotPassed_ThenHandedToAPerson()
    {
        var nodes = await SetUpAsync("lt", 4, 4);
        await Service("lt").DeployAsync("2.0", "canary", "bob");
        var quiet = new Dictionary<string, Behaviour> { ["1.0"] = new(Rps: 0.1), ["2.0"] = new(Rps: 0.1) };
        await RunUntilAsync("lt", nodes, quiet, s => s.Rollout?.Phase == RolloutPhase.Paused, TimeSpan.FromMinutes(20), "the rollout paused",
            s => Assert.True(s.Instances.Count(i => i.Version == "2.0") <= 1, "nothing passed beyond the canary"));
        var r = await LastAsync("lt");
        Assert.Equal(3, r.Judgements.Length);
        Assert.All(r.Judgements, j => Assert.Equal(Verdict.Inconclusive, j.Verdict));
        Assert.Contains("too little traffic to compare", r.PausedReason);
        var trail = await f.TrailAsync("service/lt");
        Assert.Equal(2, trail.Count(x => x.Kind == DecisionKinds.Judged && x.Outcome == "extended"));
        Assert.Single(trail, x => x.Kind == DecisionKinds.HandedToHuman && x.Reason.Contains("fleet services promote|resume|abort lt"));

        // A person passes the canary by hand; the rollout carries on with the batches.
        var promoted = await Service("lt").PromoteAsync("carol");
        Assert.Equal(1, promoted.Step);
        Assert.Equal(RolloutPhase.Progressing, promoted.Phase);
        Assert.Equal("promoted by carol", promoted.Steps[0].Outcome);
        var aborted = await Service("lt").AbortAsync("carol", "enough");
        Assert.Equal(RolloutPhase.RollingBack, aborted.Phase);
        await RunUntilAsync("lt", nodes, quiet, s => s.Rollout is null && s.Instances.All(i => i.Version == "1.0"), TimeSpan.FromMinutes(10), "the abort rolled back");
        Assert.Equal("aborted", (await LastAsync("lt")).Outcome);
    }

    [Fact]
    public async Task AGoodVersion_IsPromotedThroughEveryBatch_WithinBudget_ThenASlowLeakIsCaughtByTheWatchAnHourLater()
    {
        var nodes = await SetUpAsync("gv", 6, 4);
        // A spec whose version changed starts a rollout the same way.
        var applied = await Service("gv").ApplyAsync(ServiceTests.Spec("gv", 4, labels: ImmutableDictionary<string, string>.Empty.Add("role", "gv")) with { Version = "2.0" }, "alice");
        Assert.Equal("1.0", applied.Spec.Version);
        Assert.Equal("2.0", applied.Rollout!.To);

        // 2.0 leaks once an instance is an hour old: 1 GiB an hour from then on.
        long Leak(TimeSpan age) => FleetTestCluster.Gi + (age > TimeSpan.FromHours(1) ? (long)((age - TimeSpan.FromHours(1)).TotalHours * FleetTestCluster.Gi) : 0);
        var versions = new Dictionary<string, Behaviour> { ["1.0"] = new(), ["2.0"] = new(Memory: Leak) };
        var minUp = int.MaxValue;
        await RunUntilAsync("gv", nodes, versions, s => s.Rollout?.Phase == RolloutPhase.Watching, TimeSpan.FromMinutes(30), "2.0 was promoted",
            s => minUp = Math.Min(minUp, s.Up));
        Assert.True(minUp >= 3, $"the rollout kept the budget (maxUnavailable 1 of 4): at least 3 up at every step, saw {minUp}");
        var promoted = await LastAsync("gv");
        Assert.Equal(["passed", "passed", "passed"], promoted.Steps.Select(s => s.Outcome ?? "").ToArray());
        Assert.Equal("2.0", (await Service("gv").GetAsync())!.Spec.Version);
        var promotedAt = promoted.PromotedAt!.Value;

        await RunUntilAsync("gv", nodes, versions, s => s.Rollout?.Phase == RolloutPhase.RollingBack || s.Rollout is null, TimeSpan.FromMinutes(100), "the watch rolled 2.0 back");
        var caught = await LastAsync("gv");
        var failed = caught.Judgements.Last();
        Assert.Equal(Verdict.Fail, failed.Verdict);
        Assert.Equal(Verdict.Fail, failed.Metrics.Single(m => m.Metric == "memoryGrowth").Verdict);
        Assert.InRange(failed.At - promotedAt, TimeSpan.FromMinutes(60), TimeSpan.FromMinutes(100));
        await RunUntilAsync("gv", nodes, versions, s => s.Rollout is null && s.Instances.All(i => i.Version == "1.0") && s.Running == 4, TimeSpan.FromMinutes(10), "1.0 runs again");

        var trail = await f.TrailAsync("service/gv");
        Assert.Equal(3, trail.Count(x => x.Kind == DecisionKinds.Executed && x.Outcome == "step-ready"));
        Assert.Equal(3, trail.Count(x => x.Kind == DecisionKinds.Judged && x.Outcome == "passed"));
        Assert.Equal(3, trail.Count(x => x.Kind == DecisionKinds.Permitted && x.Action == ActionNames.Rollout));
        Assert.Single(trail, x => x.Kind == DecisionKinds.Verified && x.Outcome == "promoted");
        Assert.Single(trail, x => x.Kind == DecisionKinds.Failed && x.Reason.Contains("the long-horizon watch caught a regression") && x.Reason.Contains("memory grows"));
        Assert.Single(trail, x => x.Kind == DecisionKinds.RolledBack);
    }

    [Fact]
    public async Task AVersionThatDoesNotStart_IsRolledBackAtTheStepDeadline_AndTheStableInstancesKeepRunning()
    {
        var nodes = await SetUpAsync("ns", 4, 3);
        f.Actuator.Behaviour = r => r.Action == ActionNames.StartInstance && r.Parameters.GetValueOrDefault("version") == "9.9"
            ? new Fleet.Grains.Actuators.ActuatorResult(false, "exec format error") : null;
        try
        {
            await Service("ns").DeployAsync("9.9", null, "bob");
            var versions = new Dictionary<string, Behaviour> { ["1.0"] = new(), ["9.9"] = new() };
            var minUp = int.MaxValue;
            await RunUntilAsync("ns", nodes, versions, s => s.Rollout is null, TimeSpan.FromMinutes(15), "the rollout ended", s => minUp = Math.Min(minUp, s.Up));
            var r = await LastAsync("ns");
            Assert.Equal(RolloutPhase.RolledBack, r.Phase);
            Assert.Equal("failed", r.Steps[0].Outcome);
            var status = (await Service("ns").GetAsync())!;
            Assert.Equal(3, status.Running);
            Assert.All(status.Instances, i => Assert.Equal("1.0", i.Version));
            Assert.True(minUp >= 2, $"never below the budget: saw {minUp} up");
            var trail = await f.TrailAsync("service/ns");
            Assert.Contains(trail, x => x.Kind == DecisionKinds.Failed && x.Action == ActionNames.Rollout && x.Reason.Contains("9.9 failed to start on"));
            Assert.Contains(trail, x => x.Kind == DecisionKinds.RolledBack);
        }
        finally
        {
            f.Actuator.Behaviour = null;
        }
    }

    [Fact]
    public async Task Refusals_AreClear()
    {
        await SetUpAsync("rf", 2, 2);
        var same = await Assert.ThrowsAsync<RolloutRefusedException>(() => Service("rf").DeployAsync("1.0", null, "bob"));
        Assert.Equal("same-version", same.Code);
        var bad = await Assert.ThrowsAsync<RolloutRefusedException>(() => Service("rf").DeployAsync("2.0", "yolo", "bob"));
        Assert.Contains("accepted: canary, rolling", bad.Message);
        Assert.Equal("nothing-to-roll-back", (await Assert.ThrowsAsync<RolloutRefusedException>(() => Service("rf").RollbackAsync("bob", null))).Code);
        Assert.Equal("not-paused", (await Assert.ThrowsAsync<RolloutRefusedException>(() => Service("rf").ResumeAsync("bob"))).Code);
        await Service("rf").DeployAsync("2.0", null, "bob");
        Assert.Equal("rollout-active", (await Assert.ThrowsAsync<RolloutRefusedException>(() => Service("rf").DeployAsync("3.0", null, "bob"))).Code);
    }
}
