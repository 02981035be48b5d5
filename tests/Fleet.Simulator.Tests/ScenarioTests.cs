using Fleet.Abstractions.Policy;
using Fleet.Simulator;
using Xunit.Abstractions;

namespace Fleet.Simulator.Tests;

/// <summary>Every built-in scenario runs against real Fleet grains on simulated time, and its scorecard is asserted.</summary>
public class ScenarioTests(ITestOutputHelper output)
{
    private async Task<Scorecard> RunAsync(string name)
    {
        var card = await Simulation.RunAsync(ScenarioLoader.Load(name), realTime: false);
        output.WriteLine(card.ToTable());
        Assert.Equal(0, card.GuardrailViolations);
        return card;
    }

    [Fact]
    public async Task Crash_DetectedAndHealedByRestart()
    {
        var card = await RunAsync("crash");
        var f = Assert.Single(card.Faults);
        Assert.NotNull(f.DetectedAt);
        Assert.NotNull(f.RecoveredAt);
        Assert.Contains("restart-services", f.Actions[0]);
        Assert.True(f.TimeToDetect <= TimeSpan.FromSeconds(10), $"detected after {f.TimeToDetect}");
        Assert.True(f.TimeToRecover <= TimeSpan.FromMinutes(1), $"healed after {f.TimeToRecover}");
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task NodeLossWithServices_InstancesRescheduledElsewhere_LittleInstanceTimeLost()
    {
        var card = await RunAsync("node-loss-services");
        var sv = card.Services!;
        Assert.Equal(60, sv.InstancesWanted);
        Assert.NotNull(sv.ReadyAfter);
        Assert.True(sv.InstancesBack.Samples >= 1, "a hung node had instances");
        Assert.True(sv.InstancesBack.P99 <= 180, $"instances back after {sv.InstancesBack.P99} s");
        Assert.True(sv.InstanceAvailability >= 0.98, $"served {sv.InstanceAvailability:P2} of instance-time");
        Assert.Equal(0, sv.BudgetViolations);
        Assert.Equal(0, card.FalseActions);
        Assert.All(card.Faults, f => Assert.NotNull(f.RecoveredAt));
    }

    [Fact]
    public async Task RackDrainAgainstATightBudget_EveryDrainWaitsItsTurn_NoInstanceTimeLost()
    {
        var card = await RunAsync("rack-drain");
        var drains = card.Drains!;
        Assert.Equal(drains.Asked, drains.Done);
        Assert.True(drains.RefusedBy.GetValueOrDefault("service-min-healthy") > 0, "the services' budgets held some drains back");
        Assert.Equal(drains.RefusedBy.GetValueOrDefault("service-min-healthy"), card.Denials.GetValueOrDefault("service-min-healthy"));
        Assert.Equal(0, card.Services!.InstanceSecondsLost);
        Assert.Equal(0, card.Services.BudgetViolations);
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task BadDeploy_EveryCanaryJudgedAndRolledBackByItself_BeforeItLeavesTheCanaryStep()
    {
        var card = await RunAsync("bad-deploy");
        var ro = card.Rollouts!;
        Assert.Equal(10, ro.Deploys);
        Assert.Equal(10, ro.RolledBack);
        Assert.All(ro.Results, d => Assert.True(d.Bad && d.GoneAt is not null, $"{d.Service} {d.Version}: {d.Outcome}"));
        // One canary instance each (10 % of 8), judged after the 2 min step: back on version 1 within a few minutes.
        Assert.True(ro.TimeToRollback.P99 <= 300, $"rolled back after {ro.TimeToRollback.P99} s");
        Assert.True(ro.BadVersionInstanceSeconds <= 10 * 300, $"{ro.BadVersionInstanceSeconds} instance-seconds of the bad version");
        Assert.Equal(0, card.Services!.BudgetViolations);
        Assert.Equal(0, card.Services.InstanceSecondsLost);
    }

    [Fact]
    public async Task SlowLeakDeploy_PromotedThenRolledBackByTheLongHorizonWatch()
    {
        var card = await RunAsync("slow-leak-deploy");
        var d = Assert.Single(card.Rollouts!.Results);
        Assert.Equal("rolledBack", d.Outcome);
        Assert.NotNull(d.GoneAt);
        // It leaks only after an hour: every step passed, and the watch caught it after that hour.
        Assert.True(d.TimeToRollback > TimeSpan.FromHours(1), $"rolled back after {d.TimeToRollback}");
        Assert.True(d.TimeToRollback < TimeSpan.FromMinutes(110), $"rolled back after {d.TimeToRollback}");
        Assert.Equal(0, card.Services!.BudgetViolations);
    }

    [Fact]
    public async Task LinkCut_EveryFlowSwitchedToItsBackup_NoneDropped_NoOversubscription()
    {
        var nw = (await RunAsync("link-cut")).Network!;
        Assert.Equal(nw.Flows, nw.FlowsPlaced);
        Assert.True(nw.RerouteSeconds.Samples >= 3, $"only {nw.RerouteSeconds.Samples} flows lost their path: the cut hardly mattered");
        Assert.Equal(0, nw.Dropped);
        Assert.Equal(0, nw.ShiftsOntoBrokenPaths);
        Assert.Equal(0, nw.Oversubscriptions);
        Assert.True(nw.RerouteSeconds.P99 <= 1, $"reroute p99 {nw.RerouteSeconds.P99} s: the cut is judged at its first lost probe, and the flows switch in that step");
        // Each cut flow switched; those whose home path is at least returnGain faster went back once the link held for the hold-down.
        Assert.True(nw.Moves > nw.RerouteSeconds.Samples, $"{nw.Moves} moves for {nw.RerouteSeconds.Samples} switches: none returned home");
        Assert.Equal(0, nw.FlowSecondsWithoutPath);
    }

    [Fact]
    public async Task LinkFlap_TheLinkIsDamped_NoFlowDropped()
    {
        var nw = (await RunAsync("link-flap")).Network!;
        Assert.NotEmpty(nw.DampedLinks);
        Assert.Equal(0, nw.Dropped);
        Assert.Equal(0, nw.Oversubscriptions);
    }

    [Fact]
    public async Task SitePartition_FlowsThroughTheSiteMovedAround_OnlyItsOwnFlowsLost()
    {
        var nw = (await RunAsync("site-partition")).Network!;
        Assert.True(nw.DroppedUnavoidable >= 1, "some flows start or end at the cut site");
        Assert.Equal(0, nw.Dropped);
        Assert.Equal(0, nw.Oversubscriptions);
    }

    [Fact]
    public async Task Hang_RestartCannotReachIt_RebootHeals()
    {
        var card = await RunAsync("hang");
        var f = Assert.Single(card.Faults);
        Assert.NotNull(f.RecoveredAt);
        Assert.Contains(f.Actions, a => a.EndsWith("reboot"));
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task Leak_DrainedBeforeExhaustion()
    {
        var card = await RunAsync("leak");
        var f = Assert.Single(card.Faults);
        Assert.True(f.Prevented, "the leak was caught before memory ran out");
        Assert.Contains(f.Actions, a => a.EndsWith("drain"));
        Assert.True(f.RecoveredAt - f.InjectedAt < TimeSpan.FromMinutes(24), "before the 24 minutes to exhaustion");
    }

    [Theory]
    [InlineData("disk-fill", "DiskFullForecast")]
    [InlineData("cpu-ramp", "CpuSaturationForecast")]
    public async Task FillingDiskOrClimbingCpu_DrainedBeforeTheNodeFails(string scenario, string condition)
    {
        var card = await RunAsync(scenario);
        var f = Assert.Single(card.Faults);
        Assert.True(f.Prevented, $"the {scenario} was caught before the node failed ({condition})");
        Assert.Equal("drain", Assert.Single(f.Actions).Split(' ')[^1]);
        Assert.NotNull(f.DetectedAt);
        Assert.True(f.RecoveredAt - f.InjectedAt < TimeSpan.FromMinutes(10), $"drained {f.RecoveredAt - f.InjectedAt} after it began, long before the node would fail");
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task Consolidation_FreesNodesOfAFragmentedFleet_ZeroInstanceTimeLost_NoInstanceMovedTwice()
    {
        var card = await RunAsync("consolidate");
        var sv = card.Services!;
        var pk = card.Packing!;
        Assert.Equal(0, sv.InstanceSecondsLost);
        Assert.Equal(0, sv.BudgetViolations);
        Assert.True(pk.NodesUsedBefore >= 25, $"placement spread the 36 instances over {pk.NodesUsedBefore} nodes");
        Assert.True(pk.NodesUsedAfter <= pk.NodesUsedBefore - 10, $"nodes in use {pk.NodesUsedBefore} → {pk.NodesUsedAfter}");
        Assert.True(pk.NodesRetired >= 10, $"{pk.NodesRetired} retired");
        Assert.True(pk.PeakAfter <= 0.8 + 1e-9, $"no node allocated past maxUtilisation (80%): {pk.PeakAfter:P0}");
        Assert.True(pk.MeanAfter > pk.MeanBefore, $"the nodes in use are fuller: {pk.MeanBefore:P0} → {pk.MeanAfter:P0}");
        Assert.True(pk.Moves >= pk.NodesUsedBefore - pk.NodesUsedAfter, $"{pk.Moves} moves");
        Assert.Equal(0, pk.MovedWithinWindow);
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task Provision_PendingInstancesGetVirtualMachines_WhichBurnInAndTakeThem()
    {
        var card = await RunAsync("provision");
        var pv = card.Provisioning!;
        // 24 of the 30 two-core instances fit on six 8-core nodes; the other 6 need two 8-core machines of the default shape.
        Assert.Equal(2, pv.Machines);
        Assert.Equal(2, pv.Registered);
        Assert.Equal(1, pv.Requests);
        var sv = card.Services!;
        Assert.NotNull(sv.ReadyAfter); // every instance ran, on the machines that arrived
        Assert.True(sv.ReadyAfter < TimeSpan.FromMinutes(5), $"all 30 ran after {sv.ReadyAfter}");
        Assert.Equal(0, sv.InstanceSecondsLost);
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task RackLoss_NeverMoreActionsInFlightThanAllowed_StormBrakeHolds()
    {
        var card = await RunAsync("rack-loss");
        Assert.Equal(10, card.Faults.Length);
        Assert.True(card.MaxInFlightPerDomain <= FleetPolicy.Default.Guardrails.MaxConcurrentPerDomain);
        Assert.True(card.Denials.GetValueOrDefault("storm-brake") > 0, "the storm brake denied actions");
        Assert.True(card.Actions <= 1, $"at most the first node was acted on before the storm was seen, got {card.Actions}");
    }

    [Fact]
    public async Task MonitoringOutage_NoDisruptiveAction()
    {
        var card = await RunAsync("monitoring-outage");
        Assert.Equal(0, card.Actions);
        Assert.Equal(0, card.FalseActions);
        Assert.True(card.Denials.GetValueOrDefault("storm-brake") > 0, "silent nodes asked and were refused by the storm brake");
    }

    [Fact]
    public async Task Flapping_ActionsRespectCooldownAndBackoff()
    {
        var card = await RunAsync("flapping");
        var f = Assert.Single(card.Faults);
        var times = f.Actions.Select(a => TimeSpan.Parse("00:" + a.Split(' ')[0].PadLeft(5, '0'))).ToList();
        Assert.True(times.Count >= 3, $"several actions, got {string.Join(", ", f.Actions)}");
        var cooldown = FleetPolicy.Default.Remediation.Cooldown;
        for (var i = 1; i < times.Count; i++)
        {
            var least = TimeSpan.FromTicks((long)(cooldown.Ticks * Math.Pow(FleetPolicy.Default.Remediation.BackoffMultiplier, i - 1)));
            Assert.True(times[i] - times[i - 1] >= least, $"action {i + 1} came {times[i] - times[i - 1]} after the one before; cooldown then was {least}");
        }
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task SlowDrip_TwelveCrashesOverFourHours_AllHealed()
    {
        var card = await RunAsync("slow-drip");
        Assert.Equal(12, card.Faults.Length);
        Assert.All(card.Faults, f => Assert.NotNull(f.RecoveredAt));
        Assert.Equal(0, card.FalseActions);
    }

    [Fact]
    public async Task Mixed_AtScale_NoViolationNoFalseAction_CrashesHealed()
    {
        var card = await RunAsync("mixed");
        Assert.Equal(0, card.FalseActions);
        Assert.All(card.Faults.Where(f => f.Kind == "Crash"), f => Assert.NotNull(f.RecoveredAt));
        Assert.True(card.Availability > 0.99, $"availability {card.Availability:P2}");
    }

    [Fact]
    public void Loader_BadScenario_EveryProblemNamed()
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse("""
            nodes: 0
            reportInterval: often
            faults:
              - kind: meteor
              - kind: crash
                at: soon
            colour: red
            """));
        Assert.Contains(e.Problems, p => p.StartsWith("nodes:"));
        Assert.Contains(e.Problems, p => p.StartsWith("reportInterval:"));
        Assert.Contains(e.Problems, p => p.StartsWith("faults[0].kind:"));
        Assert.Contains(e.Problems, p => p.StartsWith("faults[1].at:"));
        Assert.Contains(e.Problems, p => p.StartsWith("colour:"));
    }

    [Fact]
    public void BuiltIns_AllParse()
    {
        Assert.Superset(new HashSet<string> { "crash", "hang", "leak", "rack-loss", "monitoring-outage", "flapping", "slow-drip", "mixed" }, ScenarioLoader.BuiltIn.ToHashSet());
        foreach (var name in ScenarioLoader.BuiltIn) Assert.Equal(name, ScenarioLoader.Load(name).Name);
    }
}
