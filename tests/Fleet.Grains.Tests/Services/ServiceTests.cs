using System.Collections.Immutable;
using CsCheck;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Services;

public sealed class ServiceCluster : FleetTestCluster
{
    protected override string PolicyYaml => ServicePolicy;
}

/// <summary>Services on an in-process silo with injected time: placement by negotiation, failover, the disruption budget, delete.</summary>
public class ServiceTests(ServiceCluster f) : IClassFixture<ServiceCluster>
{
    private static readonly ImmutableDictionary<string, string> Web = ImmutableDictionary<string, string>.Empty.Add("role", "web");

    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);

    internal static ServiceSpec Spec(string name, int replicas, double cpu = 1, long memory = FleetTestCluster.Gi, ImmutableDictionary<string, string>? labels = null,
        DisruptionBudget? budget = null, ScalingSpec? scaling = null) =>
        new(name, replicas, "1.0", new InstanceResources(cpu, memory), new PlacementSpec(true, labels ?? ImmutableDictionary<string, string>.Empty),
            budget ?? DisruptionBudget.Default, scaling);

    private async Task NodesAsync(params (string Id, string Domain, bool Web)[] nodes)
    {
        foreach (var n in nodes)
        {
            await f.RegisterAsync(n.Id, n.Domain, n.Web ? Web : null);
            await f.ReportAsync(n.Id);
        }
    }

    private async Task<ServiceStatus> EventuallyRunningAsync(string name, int running, string? what = null)
    {
        ServiceStatus? s = null;
        await FleetTestCluster.EventuallyAsync(async () => (s = await Service(name).GetAsync())!.Running == running, what ?? $"{running} instance(s) of {name} run");
        return s!;
    }

    /// <summary>Moves the fake clock in 2 s steps, the named nodes reporting healthy at each (so silence never judges them), until the condition holds.</summary>
    private Task AdvanceReportingUntilAsync(Func<Task<bool>> condition, string what, TimeSpan within, params string[] nodes) =>
        f.AdvanceUntilAsync(condition, what, within, TimeSpan.FromSeconds(2), async () => { foreach (var n in nodes) await f.ReportAsync(n); });

    [Fact]
    public async Task Apply_PlacesOnLabelledNodesSpreadAcrossDomains_WithinCapacity_PendingUntilCapacityFrees()
    {
        await NodesAsync(("sp-a1", "d-sp-a", true), ("sp-a2", "d-sp-a", true), ("sp-b1", "d-sp-b", true), ("sp-b2", "d-sp-b", false), ("sp-c1", "d-sp-c", false));
        var status = await Service("sp-api").ApplyAsync(Spec("sp-api", 2, cpu: 3, memory: 4 * FleetTestCluster.Gi, labels: Web), "alice");
        Assert.Equal(2, status.DesiredReplicas);
        status = await EventuallyRunningAsync("sp-api", 2);
        Assert.Equal(["d-sp-a", "d-sp-b"], status.Instances.Select(i => i.Domain!).Order().ToArray());
        Assert.All(status.Instances, i => Assert.Contains(i.Node, new[] { "sp-a1", "sp-a2", "sp-b1" }));

        // Three labelled nodes of 8 cores hold two 3-core instances each: the seventh cannot be placed.
        await Service("sp-api").ScaleAsync(7, "alice");
        status = await EventuallyRunningAsync("sp-api", 6);
        var pending = Assert.Single(status.Instances, i => i.State == InstanceState.Pending);
        Assert.Contains("has 3 cores and 4 GiB free, takes work and has the labels role=web", pending.Reason);
        foreach (var node in new[] { "sp-a1", "sp-a2", "sp-b1" })
        {
            var placements = (await f.Node(node).GetStatusAsync())!.Placements;
            Assert.True(placements.Sum(p => p.CpuCores) <= 8, $"{node} holds no more than its capacity");
        }
        Assert.Empty((await f.Node("sp-b2").GetStatusAsync())!.Placements);
        Assert.Empty((await f.Node("sp-c1").GetStatusAsync())!.Placements);
        var trail = await f.TrailAsync("service/sp-api");
        Assert.Single(trail, r => r.Kind == DecisionKinds.Escalated && r.Reason.Contains($"Could not place instance {pending.Id}") && r.Reason.Contains("placed as soon as capacity frees"));
        Assert.Equal(6, trail.Count(r => r.Kind == DecisionKinds.Placed));
        Assert.Equal(6, trail.Count(r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.StartInstance));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Operator && r.Reason.Contains("Applied the spec of service sp-api (generation 1) at the request of alice"));

        // Capacity frees: a new labelled node joins, and the pending instance lands there on the next pass.
        await NodesAsync(("sp-d1", "d-sp-d", true));
        // The next reconcile pass (every 2 s here) places it: the clock moves until one has, within a few passes.
        await AdvanceReportingUntilAsync(async () => (status = await Service("sp-api").GetAsync())!.Running == 7,
            "the pending instance was placed once capacity freed", TimeSpan.FromSeconds(20), "sp-a1", "sp-a2", "sp-b1", "sp-d1");
        Assert.Equal("sp-d1", status.Instances.Single(i => i.Id == pending.Id).Node);
        Assert.Contains(f.Actuator.History, a => a.Action == ActionNames.StartInstance && a.Parameters["instance"] == pending.Id && a.Target == "sp-d1");
    }

    [Fact]
    public async Task ConcurrentReservations_RandomInterleavings_NeverOversubscribeANode()
    {
        var run = 0;
        await Gen.Select(Gen.Int[1, 5].Array[2, 10], Gen.Int[0, 3].Array[10]).SampleAsync(async (sizes, releases) =>
        {
            var node = $"cc-{Interlocked.Increment(ref run)}";
            await NodesAsync((node, "d-cc", false));
            var grain = f.Node(node);
            // Every ask races every other; some are released again while the others are still being decided.
            var tasks = sizes.Select(async (cpu, i) =>
            {
                var ask = new PlacementAsk($"svc-{i % 3}", $"i{i}", cpu, cpu * FleetTestCluster.Gi, ImmutableDictionary<string, string>.Empty, TimeSpan.FromMinutes(2));
                var result = await grain.ReserveAsync(ask);
                if (result.Accepted && releases[i % releases.Length] == 0) await grain.ReleasePlacementAsync(ask.Service, ask.Instance);
                else if (result.Accepted && releases[i % releases.Length] == 1) await grain.ConfirmAsync(ask.Service, ask.Instance);
                return result;
            }).ToList();
            var results = await Task.WhenAll(tasks);
            var held = (await grain.GetStatusAsync())!.Placements;
            Assert.True(held.Sum(p => p.CpuCores) <= 8 + 1e-9, $"{node} holds {held.Sum(p => p.CpuCores)} of 8 cores: oversubscribed");
            Assert.True(held.Sum(p => p.MemoryBytes) <= 16 * FleetTestCluster.Gi, $"{node}: memory oversubscribed");
            Assert.All(results.Where(r => !r.Accepted), r => Assert.Contains("full", r.Offer.Refusal));
            Assert.True(results.Count(r => r.Accepted) >= Math.Min(sizes.Length, 1), "the first ask always fits");
        }, iter: 25, threads: 1);
    }

    [Fact]
    public async Task PlacementsReadOnFirstUse_SurviveReactivation_AndStillCount()
    {
        await NodesAsync(("lz-1", "d-lz", false), ("lz-2", "d-lz", false));
        var grain = f.Node("lz-1");
        var ask = new PlacementAsk("svc-lz", "i0", 3, 4 * FleetTestCluster.Gi, ImmutableDictionary<string, string>.Empty, TimeSpan.FromMinutes(2));
        Assert.True((await grain.ReserveAsync(ask)).Accepted);
        Assert.True(await grain.ConfirmAsync("svc-lz", "i0"));
        // Nodes that never held a placement share one empty row in memory: the first node's write is its own alone.
        Assert.Empty((await f.Node("lz-2").GetStatusAsync())!.Placements);
        Assert.True((await f.Node("lz-2").OfferAsync(ask with { Instance = "i1", CpuCores = 6 })).Accepts, "lz-2 holds nothing");

        // A new activation reads the node's state, not its placements; a plain report does not need them either.
        await grain.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        await f.ReportAsync("lz-1");
        var offer = await grain.OfferAsync(ask with { Instance = "i1", CpuCores = 6 });
        Assert.False(offer.Accepts, "the confirmed instance's 3 cores still count after reactivation: 6 more do not fit in 8");
        Assert.Contains("full", offer.Refusal);
        var held = Assert.Single((await grain.GetStatusAsync())!.Placements);
        Assert.Equal(("svc-lz", "i0", 3.0, true), (held.Service, held.Instance, held.CpuCores, held.Confirmed));

        // Read first by a status query after another reactivation, then released and written back.
        await grain.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        Assert.Single((await grain.GetStatusAsync())!.Placements);
        await grain.ReleasePlacementAsync("svc-lz", "i0");
        await grain.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        Assert.True((await grain.OfferAsync(ask with { Instance = "i1", CpuCores = 6 })).Accepts, "released: the room is free after reactivation");
        Assert.Empty((await grain.GetStatusAsync())!.Placements);
    }

    [Fact]
    public async Task TwoServicesRacingForTheLastRoom_OnlyOneGetsIt()
    {
        // Their own label: the loser stays Pending for good, and must not take a node another test adds later.
        var race = ImmutableDictionary<string, string>.Empty.Add("role", "race");
        await f.RegisterAsync("race-1", "d-race", race);
        await f.ReportAsync("race-1");
        var applied = await Task.WhenAll(
            Service("race-x").ApplyAsync(Spec("race-x", 1, cpu: 6, labels: race), "test"),
            Service("race-y").ApplyAsync(Spec("race-y", 1, cpu: 6, labels: race), "test"));
        await FleetTestCluster.EventuallyAsync(async () =>
            (await Service("race-x").GetAsync())!.Instances.Concat((await Service("race-y").GetAsync())!.Instances).Count(i => i.State == InstanceState.Running) == 1,
            "one of the two runs");
        Assert.True((await f.Node("race-1").GetStatusAsync())!.Placements.Sum(p => p.CpuCores) <= 8);
        var loser = (await Service("race-x").GetAsync())!.Running == 1 ? "race-y" : "race-x";
        Assert.Contains((await Service(loser).GetAsync())!.Instances, i => i.State == InstanceState.Pending && i.Reason is not null);
    }

    [Fact]
    public async Task NodeTurnsUnhealthy_ItsInstancesAreRescheduledElsewhere_WithTheReason()
    {
        await NodesAsync(("fo-1", "d-fo-a", false), ("fo-2", "d-fo-a", false), ("fo-3", "d-fo-b", false), ("fo-4", "d-fo-b", false));
        await Service("fo-api").ApplyAsync(Spec("fo-api", 2), "test");
        var before = await EventuallyRunningAsync("fo-api", 2);
        var victim = before.Instances[0];
        // The instance itself still says it serves (a fresh healthy report): it moves once the node has been Unhealthy past services.rescheduleAfter.
        await Service("fo-api").ReportAsync(new InstanceReport("fo-api", victim.Id, "1.0", 10, 0, 5, 20, FleetTestCluster.Gi, true, 5, f.Time.GetUtcNow()) { Ttl = TimeSpan.FromMinutes(5) });
        for (var i = 0; i < 3; i++) await f.ReportAsync(victim.Node!, healthy: false);

        ServiceStatus? after = null;
        await FleetTestCluster.EventuallyAsync(async () =>
        {
            after = await Service("fo-api").GetAsync();
            return after!.Running == 2 && after.Instances.All(i => i.Node != victim.Node);
        }, "the lost instance runs elsewhere");
        var replacement = after!.Instances.Single(i => i.Replaces == victim.Id || i.Id != before.Instances[1].Id);
        Assert.NotEqual(victim.Node, replacement.Node);
        Assert.Empty((await f.Node(victim.Node!).GetStatusAsync())!.Placements);
        var rescheduled = (await f.TrailAsync("service/fo-api")).Single(r => r.Kind == DecisionKinds.Rescheduled);
        Assert.Contains($"Rescheduled instance {victim.Id} of service fo-api off node {victim.Node}: node {victim.Node} has been Unhealthy", rescheduled.Reason);
        Assert.Contains("services.rescheduleAfter", rescheduled.Reason);
        Assert.Contains("the instance is fenced there", rescheduled.Reason);
        Assert.Contains(f.Actuator.History, r => r.Action == ActionNames.StopInstance && r.Parameters.GetValueOrDefault("instance") == victim.Id); // stopped where it stood
    }

    [Fact]
    public async Task Drain_ThatWouldBreachMinHealthy_Refused_CountingACrashedInstance_ThenMovesMakeBeforeBreak()
    {
        var nodes = new[] { ("dr-1", "d-dr-1", false), ("dr-2", "d-dr-2", false), ("dr-3", "d-dr-3", false), ("dr-4", "d-dr-4", false) };
        await NodesAsync(nodes);
        await Service("dr-db").ApplyAsync(Spec("dr-db", 3, budget: new DisruptionBudget(null, 1)), "test");
        var status = await EventuallyRunningAsync("dr-db", 3);
        var first = status.Instances[0];
        var second = status.Instances[1];

        // One instance crashed (it reports unhealthy): a drain of another instance's node would leave 1 of 3; the budget needs 2.
        await Service("dr-db").ReportAsync(new InstanceReport("dr-db", second.Id, "1.0", 0, 50, 5, 900, FleetTestCluster.Gi, false, 5, f.Time.GetUtcNow()));
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => f.Node(first.Node!).DrainAsync("bob", "kernel"));
        Assert.Equal(Guardrails.MinHealthy, refused.Guardrail);
        Assert.Contains("dr-db would have 1 of 3 instances running; it needs 2 (maxUnavailable 1)", refused.Message);
        Assert.Contains($"1 already down: {second.Id} (reports unhealthy)", refused.Message);
        Assert.Equal(AdminState.None, (await f.Node(first.Node!).GetStatusAsync())!.AdminState);
        Assert.Contains(await f.TrailAsync("service/dr-db"), r => r.Kind == DecisionKinds.Denied && r.Guardrail == Guardrails.MinHealthy);
        await Assert.ThrowsAsync<ActionRefusedException>(() => f.Node(first.Node!).DrainAsync("bob", "kernel", force: true));

        // Healthy again: the drain is permitted; the instance moves (its replacement runs before it stops) and the lease is freed.
        await Service("dr-db").ReportAsync(new InstanceReport("dr-db", second.Id, "1.0", 10, 0, 5, 20, FleetTestCluster.Gi, true, 5, f.Time.GetUtcNow()));
        var drained = await f.Node(first.Node!).DrainAsync("bob", "kernel");
        Assert.Equal(AdminState.Draining, drained.AdminState);
        await FleetTestCluster.EventuallyAsync(async () =>
        {
            var s = await Service("dr-db").GetAsync();
            return s!.Running == 3 && s.Instances.All(i => i.Node != first.Node);
        }, "the instance moved off the drained node");
        await AdvanceReportingUntilAsync(async () => (await f.Client.GetGrain<IDomainSupervisorGrain>(first.Domain!).GetStatusAsync()).Leases.IsEmpty,
            "the drain's lease was freed", TimeSpan.FromSeconds(30), nodes.Select(n => n.Item1).ToArray());
        var trail = await f.TrailAsync("service/dr-db");
        var moving = trail.Single(r => r.Kind == DecisionKinds.Rescheduled && r.Outcome == "moving");
        var stopped = trail.Single(r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.StopInstance);
        var replacementStarted = trail.Last(r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.StartInstance);
        Assert.True(replacementStarted.Time <= stopped.Time && trail.ToList().IndexOf(replacementStarted) < trail.ToList().IndexOf(stopped), "make before break");
        Assert.Contains($"off node {first.Node}", moving.Reason);
        var nodeTrail = await f.TrailAsync($"node/{first.Node}");
        Assert.Contains(nodeTrail, r => r.Kind == DecisionKinds.Permitted && r.Reason.Contains("dr-db would keep 2 of 3 instances running (it needs 2)"));
    }

    [Fact]
    public async Task Delete_StopsEveryInstance_FreesTheRoom_AndForgetsTheService()
    {
        await NodesAsync(("del-1", "d-del", false), ("del-2", "d-del", false));
        await Service("del-api").ApplyAsync(Spec("del-api", 2), "test");
        var running = await EventuallyRunningAsync("del-api", 2);
        await Service("del-api").DeleteAsync("carol");
        await FleetTestCluster.EventuallyAsync(async () => await Service("del-api").GetAsync() is null, "the service is gone");
        Assert.Empty((await f.Node("del-1").GetStatusAsync())!.Placements);
        Assert.Empty((await f.Node("del-2").GetStatusAsync())!.Placements);
        Assert.Equal(2, f.Actuator.History.Count(a => a.Action == ActionNames.StopInstance && a.Parameters["service"] == "del-api"));
        Assert.DoesNotContain("del-api", await f.Client.GetGrain<IServiceDirectoryGrain>("default").ListAsync());
        var trail = await f.TrailAsync("service/del-api");
        Assert.Contains(trail, r => r.Reason.StartsWith("Deleting service del-api at the request of carol: stopping its 2 placed instance(s)"));
        Assert.Contains(trail, r => r.Reason == "Deleted service del-api: every instance has stopped and its reservation is freed.");
        await Assert.ThrowsAsync<ServiceNotFoundException>(() => Service("del-api").ScaleAsync(3, "carol"));
        Assert.Equal(InstanceReportOutcome.UnknownService,
            await Service("del-api").ReportAsync(new InstanceReport("del-api", running.Instances[0].Id, "1.0", 0, 0, 0, 0, 0, true, null, f.Time.GetUtcNow())));
    }
}

public sealed class ScalingCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        guardrails:
          fleetMaxConcurrent: 1000
          maxConcurrentPerDomain: 5
        services:
          reconcileInterval: 5s
        """;
}

/// <summary>Autoscaling and prevention on injected time.</summary>
public class ServiceScalingTests(ScalingCluster f) : IClassFixture<ScalingCluster>
{
    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);

    [Fact]
    public async Task LoadSineWave_ScalesUpToCoverThePeaks_DoesNotFlap_ManualScalePausesIt()
    {
        var nodes = Enumerable.Range(1, 4).Select(i => $"sc-{i}").ToArray();
        foreach (var n in nodes)
        {
            await f.RegisterAsync(n, $"d-sc-{n}");
            await f.ReportAsync(n);
        }
        var scaling = new ScalingSpec(true, 2, 8, ScalingMetric.Cpu, 50, 0.1, TimeSpan.FromMinutes(2));
        var spec = ServiceTests.Spec("sc-api", 2, scaling: scaling);
        await Service("sc-api").ApplyAsync(spec, "test");
        await FleetTestCluster.EventuallyAsync(async () => (await Service("sc-api").GetAsync())!.Running == 2, "two instances run");

        // Total demand of 200 CPU-percent, swinging ±40% every 4 minutes, shared by whatever instances run; 20 minutes of it.
        var start = f.Time.GetUtcNow();
        var sizes = new List<int>();
        for (var step = 0; step < 120; step++)
        {
            var t = (f.Time.GetUtcNow() - start).TotalSeconds;
            var demand = 200 * (1 + 0.4 * Math.Sin(2 * Math.PI * t / 240));
            var s = (await Service("sc-api").GetAsync())!;
            var running = s.Instances.Where(i => i.State == InstanceState.Running).ToList();
            foreach (var i in running)
                await Service("sc-api").ReportAsync(new InstanceReport("sc-api", i.Id, "1.0", 100, 0, 5, 40, FleetTestCluster.Gi, true, Math.Min(100, demand / running.Count), f.Time.GetUtcNow()));
            foreach (var n in nodes) await f.ReportAsync(n);
            sizes.Add(s.DesiredReplicas);
            f.Time.Advance(TimeSpan.FromSeconds(10));
            await FleetTestCluster.Settle();
        }
        var scaled = (await f.TrailAsync("service/sc-api")).Where(r => r.Kind == DecisionKinds.Scaled).ToList();
        Assert.True(scaled.Count is >= 1 and <= 3, string.Join("\n", scaled.Select(r => $"{r.Time:HH:mm:ss} {r.Reason}")));
        Assert.All(scaled, r => Assert.Equal("up", r.Outcome));
        Assert.Contains("CPU averaged", scaled[0].Reason);
        Assert.True(sizes[^1] >= 4, $"ended with {sizes[^1]} replicas for a peak of 280 CPU-percent at a target of 50%");

        var manual = await Service("sc-api").ScaleAsync(3, "dave");
        Assert.True(manual.AutoscalePaused);
        Assert.Equal(3, manual.DesiredReplicas);
        Assert.Contains((await f.TrailAsync("service/sc-api")), r => r.Kind == DecisionKinds.Scaled && r.Outcome == "manual" && r.Reason.Contains("autoscaling is paused until the spec turns it on again"));
        for (var step = 0; step < 30; step++)
        {
            var s = (await Service("sc-api").GetAsync())!;
            foreach (var i in s.Instances.Where(i => i.State == InstanceState.Running))
                await Service("sc-api").ReportAsync(new InstanceReport("sc-api", i.Id, "1.0", 100, 0, 5, 40, FleetTestCluster.Gi, true, 95, f.Time.GetUtcNow()));
            foreach (var n in nodes) await f.ReportAsync(n);
            f.Time.Advance(TimeSpan.FromSeconds(10));
            await FleetTestCluster.Settle();
        }
        Assert.Equal(3, (await Service("sc-api").GetAsync())!.DesiredReplicas);

        var resumed = await Service("sc-api").ApplyAsync(spec, "dave");
        Assert.False(resumed.AutoscalePaused);
    }

    /// <summary>Memory running out, the disk filling, the CPU climbing to saturation: each foreseen, each moves the workload first.</summary>
    [Theory]
    [InlineData("memory", "Predicted memory exhaustion")]
    [InlineData("disk", "Predicted the disk filling")]
    [InlineData("cpu", "Predicted CPU saturation")]
    public async Task ForecastOnANodeWithInstances_MovedAwayBeforeItFails_WithinTheBudget(string resource, string predicted)
    {
        var p = resource[..2];
        var service = $"pv{p}-api";
        var all = new[] { $"pv{p}-1", $"pv{p}-2", $"pv{p}-3" };
        foreach (var n in all)
        {
            await f.RegisterAsync(n, $"d-{n}");
            await f.ReportAsync(n, cpu: 30, disk: 40);
        }
        await Service(service).ApplyAsync(ServiceTests.Spec(service, 2), "test");
        await FleetTestCluster.EventuallyAsync(async () => (await Service(service).GetAsync())!.Running == 2, "two instances run");
        var leaking = (await Service(service).GetAsync())!.Instances[0].Node!;
        var others = all.Where(n => n != leaking).ToArray();

        // Memory 1 GiB a minute from 4 of 16 GiB; the disk 6 % a minute from 40 %; CPU 6 % a minute from 30 %: each fails in
        // 10–12 minutes, inside the 30-minute horizon once six samples are in.
        var used = 4.0 * FleetTestCluster.Gi;
        double disk = 40, cpu = 30;
        for (var i = 0; i < 40 && (await f.Node(leaking).GetStatusAsync())!.AdminState != AdminState.Draining; i++)
        {
            f.Time.Advance(TimeSpan.FromSeconds(10));
            if (resource == "memory") used += FleetTestCluster.Gi / 6.0;
            if (resource == "disk") disk += 1;
            if (resource == "cpu") cpu += 1;
            await f.ReportAsync(leaking, memoryUsed: (long)used, cpu: cpu, disk: disk);
            foreach (var n in others) await f.ReportAsync(n, cpu: 30, disk: 40);
            await FleetTestCluster.Settle();
        }
        Assert.True(used < 16 * FleetTestCluster.Gi && disk < 100 && cpu < 95, "acted before the node failed");
        await FleetTestCluster.EventuallyAsync(async () =>
        {
            var s = await Service(service).GetAsync();
            return s!.Running == 2 && s.Instances.All(i => i.Node != leaking);
        }, $"the instance moved off the node whose {resource} was forecast to fail");
        var nodeTrail = await f.TrailAsync($"node/{leaking}");
        Assert.Contains(nodeTrail, r => r.Kind == DecisionKinds.Predicted && r.Reason.StartsWith(predicted, StringComparison.Ordinal));
        Assert.Contains(nodeTrail, r => r.Kind == DecisionKinds.Permitted && r.Reason.Contains($"{service} would keep 1 of 2 instances running (it needs 1)"));
        Assert.Contains(await f.TrailAsync($"service/{service}"), r => r.Kind == DecisionKinds.Rescheduled && r.Outcome == "moving");
    }
}
