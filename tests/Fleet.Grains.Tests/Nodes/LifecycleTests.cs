using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Tests.Services;

namespace Fleet.Grains.Tests.Nodes;

public sealed class LifecycleCluster : FleetTestCluster
{
    protected override string PolicyYaml => ServicePolicy + """
        lifecycle:
          burnIn: 2m
          burnInReports: 3
        oversight:
          shadow:
            domains: [d-lc-shadow]
        """;
}

/// <summary>A node's life on an in-process silo with injected time: burn-in before it serves, quarantine, decommission through the budgets.</summary>
public class LifecycleTests(LifecycleCluster f) : IClassFixture<LifecycleCluster>
{
    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);

    /// <summary>Moves the clock in 10 s steps, the nodes reporting (healthy unless named in <paramref name="failing"/>), until the condition holds.</summary>
    private Task ReportingUntilAsync(Func<Task<bool>> condition, string what, TimeSpan within, string[] nodes, params string[] failing) =>
        f.AdvanceUntilAsync(condition, what, within, TimeSpan.FromSeconds(10), async () =>
        {
            foreach (var n in nodes) await f.ReportAsync(n, healthy: !failing.Contains(n));
        });

    private async Task<NodeStatus> StatusAsync(string id) => (await f.Node(id).GetStatusAsync())!;

    /// <summary>Registers the nodes and reports them through their burn-in until each serves.</summary>
    private async Task ServingAsync(params (string Id, string Domain)[] nodes)
    {
        foreach (var (id, domain) in nodes) await f.RegisterAsync(id, domain);
        var ids = nodes.Select(n => n.Id).ToArray();
        await ReportingUntilAsync(async () =>
        {
            foreach (var id in ids) if ((await StatusAsync(id)).Stage != LifecycleStage.Serving) return false;
            return true;
        }, "every node passed its burn-in", TimeSpan.FromMinutes(4), ids);
    }

    [Fact]
    public async Task ANewNode_TakesNoWorkDuringItsBurnIn_ThenIsAdmitted_AndTheWaitingInstanceLands()
    {
        var registeredAt = f.Time.GetUtcNow();
        await f.RegisterAsync("bi-1", "d-bi");
        var status = await StatusAsync("bi-1");
        Assert.Equal(LifecycleStage.BurnIn, status.Stage);
        await f.ReportAsync("bi-1");
        status = await StatusAsync("bi-1");
        Assert.Equal(HealthState.BurnIn, status.Health); // healthy, but not yet serving
        Assert.Equal(1, status.BurnInReports);
        Assert.Equal(registeredAt + TimeSpan.FromMinutes(2), status.BurnInUntil);

        await Service("bi-api").ApplyAsync(ServiceTests.Spec("bi-api", 1), "test");
        await FleetTestCluster.EventuallyAsync(async () => (await Service("bi-api").GetAsync())!.Instances.Any(i => i.State == InstanceState.Pending), "the instance waits");
        Assert.Empty((await StatusAsync("bi-1")).Placements);

        await ReportingUntilAsync(async () => (await StatusAsync("bi-1")).Stage == LifecycleStage.Serving, "bi-1 passed its burn-in", TimeSpan.FromMinutes(3), ["bi-1"]);
        Assert.True(f.Time.GetUtcNow() >= registeredAt + TimeSpan.FromMinutes(2), "not before the soak is over");
        await ReportingUntilAsync(async () => (await Service("bi-api").GetAsync())!.Running == 1, "the instance landed on bi-1", TimeSpan.FromMinutes(1), ["bi-1"]);
        Assert.Equal("bi-1", (await Service("bi-api").GetAsync())!.Instances.Single().Node);
        var trail = await f.TrailAsync("node/bi-1");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Observed && r.Reason.StartsWith("Node bi-1 is burning in"));
        var admitted = Assert.Single(trail, r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.Admit);
        Assert.Contains("it passed its burn-in", admitted.Reason);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Released && r.Outcome == "admitted"); // under a lease, given back at once
        Assert.Empty((await f.Client.GetGrain<IDomainSupervisorGrain>("d-bi").GetStatusAsync()).Leases);
    }

    [Fact]
    public async Task ANodeThatFailsItsBurnIn_IsQuarantined_NeverServed_NeverRemediated_UntilAPersonAdmitsIt()
    {
        await f.RegisterAsync("bq-1", "d-bq");
        await ReportingUntilAsync(async () => (await StatusAsync("bq-1")).Stage == LifecycleStage.Quarantined, "bq-1 quarantined", TimeSpan.FromMinutes(1), ["bq-1"], "bq-1");
        var status = await StatusAsync("bq-1");
        Assert.Equal(HealthState.Quarantined, status.Health);
        Assert.Contains("failed its burn-in", status.StageReason);

        // Healthy again for long past the soak: it stays out, no case opens on it, nothing runs on it.
        await f.AdvanceAsync(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("bq-1"));
        status = await StatusAsync("bq-1");
        Assert.Equal(LifecycleStage.Quarantined, status.Stage);
        Assert.Null(status.Remediation);
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "bq-1");
        var offer = await f.Node("bq-1").OfferAsync(new PlacementAsk("x", "x-1", 1, FleetTestCluster.Gi, System.Collections.Immutable.ImmutableDictionary<string, string>.Empty, TimeSpan.FromMinutes(1)));
        Assert.False(offer.Accepts);
        Assert.Contains("Quarantined", offer.Refusal);

        status = await f.Node("bq-1").AdmitAsync("alice", "memory replaced");
        Assert.Equal(LifecycleStage.Serving, status.Stage);
        await f.ReportAsync("bq-1");
        Assert.Equal(HealthState.Healthy, (await StatusAsync("bq-1")).Health);
        Assert.Contains(await f.TrailAsync("node/bq-1"), r => r.Kind == DecisionKinds.Operator && r.Reason == "Admitted node bq-1 into service from quarantined at the request of alice: memory replaced.");
    }

    [Fact]
    public async Task ShadowMode_HoldsTheAdmission_TheTrailSaysWhatWouldHaveRun()
    {
        await f.RegisterAsync("bs-1", "d-lc-shadow");
        await ReportingUntilAsync(async () => (await f.TrailAsync("node/bs-1")).Any(r => r.Kind == DecisionKinds.Shadowed), "the admission was shadowed", TimeSpan.FromMinutes(3), ["bs-1"]);
        await f.AdvanceAsync(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("bs-1"));
        Assert.Equal(LifecycleStage.BurnIn, (await StatusAsync("bs-1")).Stage);
        var shadowed = Assert.Single(await f.TrailAsync("node/bs-1"), r => r.Kind == DecisionKinds.Shadowed);
        Assert.StartsWith("Shadow mode (oversight.shadow.domains (d-lc-shadow", shadowed.Reason);
        Assert.Contains("would admit node bs-1", shadowed.Reason);
    }

    [Fact]
    public async Task Decommission_WithATightBudget_MovesEveryInstanceMakeBeforeBreak_NeverBelowMinHealthy_ThenRetires()
    {
        var nodes = new[] { ("dc-1", "d-dc-1"), ("dc-2", "d-dc-2"), ("dc-3", "d-dc-3"), ("dc-4", "d-dc-4") };
        await ServingAsync(nodes);
        var ids = nodes.Select(n => n.Item1).ToArray();
        await Service("dc-db").ApplyAsync(ServiceTests.Spec("dc-db", 3, budget: new DisruptionBudget(null, 1)), "test");
        await ReportingUntilAsync(async () => (await Service("dc-db").GetAsync())!.Running == 3, "3 instances run", TimeSpan.FromMinutes(1), ids);
        var victim = (await Service("dc-db").GetAsync())!.Instances[0];

        var status = await f.Node(victim.Node!).DecommissionAsync("carol", "end of lease");
        Assert.Equal(LifecycleStage.Draining, status.Stage);
        Assert.Equal(AdminState.Draining, status.AdminState);
        var again = await f.Node(victim.Node!).DecommissionAsync("carol", "again"); // asking again changes nothing
        Assert.Equal((status.Stage, status.StageReason, status.StageSince), (again.Stage, again.StageReason, again.StageSince));

        var fewest = 3;
        await ReportingUntilAsync(async () =>
        {
            var s = (await Service("dc-db").GetAsync())!;
            fewest = Math.Min(fewest, s.Instances.Count(i => i.State == InstanceState.Running && i.Healthy != false));
            return (await StatusAsync(victim.Node!)).Stage == LifecycleStage.Retired;
        }, "the node retired", TimeSpan.FromMinutes(3), ids);
        Assert.True(fewest >= 2, $"never below minHealthy (2 of 3); the fewest seen running was {fewest}");

        status = await StatusAsync(victim.Node!);
        Assert.Equal(HealthState.Decommissioned, status.Health);
        Assert.Equal(AdminState.Decommissioned, status.AdminState);
        Assert.Empty(status.Placements);
        var service = (await Service("dc-db").GetAsync())!;
        Assert.Equal(3, service.Running);
        Assert.All(service.Instances, i => Assert.NotEqual(victim.Node, i.Node));
        var serviceTrail = await f.TrailAsync("service/dc-db");
        Assert.DoesNotContain(serviceTrail, r => r.Kind == DecisionKinds.Rescheduled && r.Outcome == "lost"); // no instance-time lost
        var moving = serviceTrail.Single(r => r.Kind == DecisionKinds.Rescheduled && r.Outcome == "moving");
        var stopped = serviceTrail.Single(r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.StopInstance);
        var started = serviceTrail.Last(r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.StartInstance);
        Assert.True(serviceTrail.ToList().IndexOf(started) < serviceTrail.ToList().IndexOf(stopped), "make before break");
        Assert.Contains($"off node {victim.Node}", moving.Reason);

        var trail = await f.TrailAsync($"node/{victim.Node}");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Action == ActionNames.Decommission && r.Reason.Contains("dc-db would keep 2 of 3 instances running"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.Decommission && r.Outcome == "retired");
        Assert.Empty((await f.Client.GetGrain<IDomainSupervisorGrain>(victim.Domain!).GetStatusAsync()).Leases);
        Assert.DoesNotContain((await f.Client.GetGrain<IDomainSupervisorGrain>(victim.Domain!).GetMembersAsync()), m => m.NodeId == victim.Node);
        Assert.Equal(ReportOutcome.Decommissioned, (await f.ReportAsync(victim.Node!)).Outcome);

        // A retired node is not drained, cordoned or registered again until a person admits it back (through a burn-in).
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => f.RegisterAsync(victim.Node!, victim.Domain!));
        Assert.Contains("Admit it back first", refused.Message);
        await Assert.ThrowsAsync<ActionRefusedException>(() => f.Node(victim.Node!).CordonAsync("bob", null));
        status = await f.Node(victim.Node!).AdmitAsync("dave", "re-imaged");
        Assert.Equal(LifecycleStage.BurnIn, status.Stage);
        Assert.Equal(AdminState.None, status.AdminState);
    }

    [Fact]
    public async Task ADecommissionRefusedByABudget_ChangesNothing_AndAnEmptyNodeRetiresAtOnce()
    {
        var nodes = new[] { ("dr-1", "d-dr2-1"), ("dr-2", "d-dr2-2") };
        await ServingAsync(nodes);
        await Service("dr-one").ApplyAsync(ServiceTests.Spec("dr-one", 2, budget: new DisruptionBudget(2, null)), "test");
        await ReportingUntilAsync(async () => (await Service("dr-one").GetAsync())!.Running == 2, "2 instances run", TimeSpan.FromMinutes(1), ["dr-1", "dr-2"]);
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => f.Node("dr-1").DecommissionAsync("carol", "old"));
        Assert.Equal(Guardrails.MinHealthy, refused.Guardrail);
        Assert.StartsWith("Decommissioning node dr-1 was refused", refused.Message);
        var status = await StatusAsync("dr-1");
        Assert.Equal(LifecycleStage.Serving, status.Stage);
        Assert.Equal(AdminState.None, status.AdminState);

        await ServingAsync(("dr-empty", "d-dr2-3"));
        status = await f.Node("dr-empty").DecommissionAsync("carol", "spare");
        Assert.Equal(LifecycleStage.Retired, status.Stage);
        Assert.Equal(HealthState.Decommissioned, status.Health);
    }
}
