using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Tests.Services;

namespace Fleet.Grains.Tests.Lifecycle;

public sealed class MaintenanceTrainCluster : FleetTestCluster
{
    protected override string PolicyYaml => ServicePolicy;
}

/// <summary>A domain retired by a maintenance train on an in-process silo with injected time.</summary>
public class MaintenanceTrainTests(MaintenanceTrainCluster f) : IClassFixture<MaintenanceTrainCluster>
{
    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);
    private ICapacityGrain Capacity => f.Client.GetGrain<ICapacityGrain>(FleetNames.Default);

    /// <summary>Each test's nodes carry a pool label its services ask for, so the tests' fleets do not mix.</summary>
    private static ImmutableDictionary<string, string> Pool(string pool) => ImmutableDictionary<string, string>.Empty.Add("pool", pool);

    private async Task NodesAsync(string pool, params (string Id, string Domain)[] nodes)
    {
        foreach (var (id, domain) in nodes)
        {
            await f.RegisterAsync(id, domain, Pool(pool));
            await f.ReportAsync(id);
        }
    }

    /// <summary>A recorded trace holds the train as a person asked for it, and none of the train's own cordons.</summary>
    [Fact]
    public async Task ARecordedTrace_HoldsTheTrainsLine_NotItsCordons()
    {
        var trace = f.Client.GetGrain<Fleet.Abstractions.Tracing.ITraceGrain>(FleetNames.Default);
        await trace.StartAsync(TimeSpan.FromHours(1), 64L << 20, "test");
        await Task.Delay(1500); // the silo learns within a second that the fleet records
        var nodes = new[] { ("tt-a1", "d-tt-a"), ("tt-a2", "d-tt-a"), ("tt-b1", "d-tt-b") };
        await NodesAsync("tt", nodes);
        await f.Node("tt-b1").CordonAsync("bob", "a person's own cordon"); // an input: it is a line
        await Capacity.RetireDomainAsync("d-tt-a", "erin", "rack refresh", batch: 1);
        await f.AdvanceUntilAsync(async () => (await Capacity.GetStatusAsync()).Train is { Running: false }, "the train arrived", TimeSpan.FromMinutes(5),
            TimeSpan.FromSeconds(5), async () => { foreach (var (n, _) in nodes) await f.ReportAsync(n); });
        await Task.Delay(2500); // the last second's lines reach the trace
        await trace.StopAsync("test");
        var text = new System.Text.StringBuilder();
        for (long? offset = 0; offset is { } o;)
        {
            var chunk = await trace.ReadAsync(o, 1 << 20);
            if (chunk is null) break;
            text.Append(chunk.Text);
            offset = chunk.Next;
        }
        var lines = Fleet.Core.Replay.InputTrace.Read(new StringReader(text.ToString())).Entries;
        var line = Assert.Single(lines, e => e.Kind == Fleet.Core.Replay.TraceKinds.RetireDomain);
        Assert.Equal(("d-tt-a", "erin", "rack refresh", 1), (line.Domain, line.By, line.Reason, line.Batch));
        Assert.Contains(lines, e => e.Kind == Fleet.Core.Replay.TraceKinds.Cordon && e.Node == "tt-b1");
        Assert.DoesNotContain(lines, e => e.Kind == Fleet.Core.Replay.TraceKinds.Cordon && e.Node is "tt-a1" or "tt-a2");
        foreach (var id in new[] { "tt-a1", "tt-a2" }) Assert.Equal(LifecycleStage.Retired, (await f.Node(id).GetStatusAsync())!.Stage);
    }

    [Fact]
    public async Task ADomainRetiredByATrain_OneNodeAtATime_ThroughTheBudgets_NothingLands_NothingLost()
    {
        var nodes = new[] { ("mt-a1", "d-mt-a"), ("mt-a2", "d-mt-a"), ("mt-b1", "d-mt-b"), ("mt-b2", "d-mt-b"), ("mt-c1", "d-mt-c"), ("mt-c2", "d-mt-c") };
        await NodesAsync("mt", nodes);
        var ids = nodes.Select(n => n.Item1).ToArray();
        var retiring = new[] { "mt-b1", "mt-b2" };
        // Three replicas spread over three domains (one in d-mt-b), at most one of them away at a time; four more of another service.
        await Service("mt-db").ApplyAsync(ServiceTests.Spec("mt-db", 3, labels: Pool("mt"), budget: new DisruptionBudget(null, 1)), "test");
        await Service("mt-web").ApplyAsync(ServiceTests.Spec("mt-web", 4, labels: Pool("mt"), budget: new DisruptionBudget(null, 1)), "test");
        await FleetTestCluster.EventuallyAsync(async () => (await Service("mt-db").GetAsync())!.Running == 3 && (await Service("mt-web").GetAsync())!.Running == 4, "7 instances run");
        var onB = 0;
        foreach (var id in retiring) onB += (await f.Node(id).GetStatusAsync())!.Placements.Length;
        Assert.True(onB > 0, "the domain carries instances");

        var run = await Capacity.RetireDomainAsync("d-mt-b", "erin", "rack refresh");
        Assert.Equal("d-mt-b", run.Domain);
        Assert.Equal(2, run.Nodes);
        Assert.True(run.Running);
        // Asking again for the same domain changes nothing; another domain waits for this train.
        Assert.Equal(run.Since, (await Capacity.RetireDomainAsync("d-mt-b", "erin", "again")).Since);
        var busy = await Assert.ThrowsAsync<ActionRefusedException>(() => Capacity.RetireDomainAsync("d-mt-c", "erin", "too"));
        Assert.Equal("maintenance-train", busy.Guardrail);
        Assert.Contains("retiring d-mt-b", busy.Message);
        // Every node of the domain is cordoned at once: nothing new lands in it.
        foreach (var id in retiring) Assert.NotEqual(AdminState.None, (await f.Node(id).GetStatusAsync())!.AdminState);

        var fewest = (Db: 3, Web: 4);
        var draining = 0;
        await f.AdvanceUntilAsync(async () =>
        {
            var db = (await Service("mt-db").GetAsync())!;
            var web = (await Service("mt-web").GetAsync())!;
            fewest = (Math.Min(fewest.Db, db.Instances.Count(i => i.State == InstanceState.Running)), Math.Min(fewest.Web, web.Instances.Count(i => i.State == InstanceState.Running)));
            var stages = await Task.WhenAll(retiring.Select(async n => (await f.Node(n).GetStatusAsync())!.Stage));
            draining = Math.Max(draining, stages.Count(s => s == LifecycleStage.Draining));
            return (await Capacity.GetStatusAsync()).Train is { Running: false };
        }, "the train arrived", TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(5), async () => { foreach (var n in ids) await f.ReportAsync(n); });

        Assert.True(fewest.Db >= 2 && fewest.Web >= 3, $"never below minHealthy (fewest running: db {fewest.Db} of 3, web {fewest.Web} of 4)");
        Assert.True(draining <= 1, "one node of the domain drained at a time");
        foreach (var id in retiring)
        {
            var s = (await f.Node(id).GetStatusAsync())!;
            Assert.Equal(LifecycleStage.Retired, s.Stage);
            Assert.Empty(s.Placements);
        }
        Assert.Empty(await f.Client.GetGrain<IDomainSupervisorGrain>("d-mt-b").GetMembersAsync());
        foreach (var name in new[] { "mt-db", "mt-web" })
        {
            var s = (await Service(name).GetAsync())!;
            Assert.Equal(s.DesiredReplicas, s.Running);
            Assert.All(s.Instances, i => Assert.DoesNotContain(i.Node, retiring));
            var trail = await f.TrailAsync($"service/{name}");
            Assert.DoesNotContain(trail, r => r.Kind == DecisionKinds.Rescheduled && r.Outcome == "lost"); // no instance-time lost
        }
        var train = (await Capacity.GetStatusAsync()).Train!;
        Assert.StartsWith("arrived: 2 node(s) retired", train.Progress);
        Assert.Equal(retiring, train.Started.Order().ToArray());

        var domainTrail = await f.TrailAsync("domain/d-mt-b");
        Assert.Contains(domainTrail, r => r.Kind == DecisionKinds.Operator && r.Reason.StartsWith("Maintenance train for domain d-mt-b started by erin: rack refresh"));
        Assert.Contains(domainTrail, r => r.Kind == DecisionKinds.Verified && r.Outcome == "retired" && r.Reason.Contains("arrived: 2 node(s) retired"));
        foreach (var id in retiring)
        {
            var trail = await f.TrailAsync($"node/{id}");
            Assert.Contains(trail, r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.Decommission && r.PolicyRule == "maintenance train");
            Assert.Contains(trail, r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.Decommission && r.Outcome == "retired");
        }
        // With the train arrived, the next domain may go.
        var stopAfter = await Assert.ThrowsAsync<ActionRefusedException>(() => Capacity.StopTrainAsync("d-mt-b", "erin", null));
        Assert.Equal("no-train", stopAfter.Guardrail);
    }

    [Fact]
    public async Task ATrainHeldByABudget_AsksAgain_RecordsTheHoldOnce_AndCanBeStopped()
    {
        await NodesAsync("mh", ("mh-a1", "d-mh-a"), ("mh-b1", "d-mh-b"));
        // Two replicas that must both stay up: the node in d-mh-b may not be drained while its instance has nowhere to go but is needed.
        await Service("mh-one").ApplyAsync(ServiceTests.Spec("mh-one", 2, labels: Pool("mh"), budget: new DisruptionBudget(2, null)), "test");
        await FleetTestCluster.EventuallyAsync(async () => (await Service("mh-one").GetAsync())!.Running == 2, "2 instances run");

        var run = await Capacity.RetireDomainAsync("d-mh-b", "frank", "power work", force: true);
        await f.AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), async () => { await f.ReportAsync("mh-a1"); await f.ReportAsync("mh-b1"); });
        var status = (await Capacity.GetStatusAsync()).Train!;
        Assert.True(status.Running);
        Assert.Equal($"mh-b1:{Guardrails.MinHealthy}", status.HeldBy);
        Assert.Empty(status.Started);
        Assert.Equal(AdminState.Cordoned, (await f.Node("mh-b1").GetStatusAsync())!.AdminState);
        var held = (await f.TrailAsync("domain/d-mh-b")).Where(r => r.Kind == DecisionKinds.Denied).ToList();
        Assert.Single(held); // asked every reconcile interval, recorded once
        Assert.Contains("may not retire node mh-b1 yet", held[0].Reason);
        Assert.DoesNotContain(await f.TrailAsync("node/mh-b1"), r => r.Kind == DecisionKinds.Denied);

        var stopped = await Capacity.StopTrainAsync("d-mh-b", "frank", "window over");
        Assert.False(stopped.Running);
        Assert.StartsWith("stopped by frank (window over)", stopped.Progress);
        Assert.EndsWith("uncordoned mh-b1", stopped.Progress); // what the train cordoned and never asked takes work again
        Assert.Equal(AdminState.None, (await f.Node("mh-b1").GetStatusAsync())!.AdminState);
        Assert.Equal(run.Since, stopped.Since);
        Assert.Contains(await f.TrailAsync("domain/d-mh-b"), r => r.Kind == DecisionKinds.Operator && r.Outcome == "stopped");
        await f.AdvanceAsync(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(5), async () => { await f.ReportAsync("mh-a1"); await f.ReportAsync("mh-b1"); });
        Assert.Equal(LifecycleStage.Serving, (await f.Node("mh-b1").GetStatusAsync())!.Stage);
    }

    [Fact]
    public async Task ASilentNodeInTheDomain_IsCordonedOnce_ItsRowSaysSo_AndItIsRetiredInItsTurn()
    {
        await NodesAsync("ms", ("ms-a1", "d-ms-a"), ("ms-b1", "d-ms-b"), ("ms-b2", "d-ms-b"));
        // ms-b2 goes silent: Suspect once its last report's TTL has passed (its shown health hides its admin state).
        await f.AdvanceUntilAsync(async () => (await f.Node("ms-b2").GetStatusAsync())!.Health == HealthState.Suspect, "ms-b2 is Suspect",
            TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(5), async () => { await f.ReportAsync("ms-a1"); await f.ReportAsync("ms-b1"); });

        await Capacity.RetireDomainAsync("d-ms-b", "hana", "old rack");
        // The cordon reached the domain's row although the shown health did not change: the train sees it.
        var row = (await f.Client.GetGrain<IDomainSupervisorGrain>("d-ms-b").GetMembersAsync()).Single(m => m.NodeId == "ms-b2");
        Assert.NotEqual(AdminState.None, row.Admin);

        await f.AdvanceUntilAsync(async () => (await Capacity.GetStatusAsync()).Train is { Running: false }, "the train arrived",
            TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(5), async () => { await f.ReportAsync("ms-a1"); });
        var train = (await Capacity.GetStatusAsync()).Train!;
        Assert.StartsWith("arrived: 2 node(s) retired", train.Progress);
        Assert.Empty(train.Skipped);
        Assert.Equal(LifecycleStage.Retired, (await f.Node("ms-b2").GetStatusAsync())!.Stage);
        Assert.Single(await f.TrailAsync("node/ms-b2"), r => r.Kind == DecisionKinds.Operator && r.Reason.StartsWith("Cordoned node ms-b2"));
    }

    [Fact]
    public async Task ADomainWhoseWorkFitsNowhereElse_IsRefused_NothingChanged_UnlessForcedWithAReason()
    {
        await f.RegisterAsync("mr-big", "d-mr-big", cpu: 64, memory: 256 * FleetTestCluster.Gi);
        await f.ReportAsync("mr-big");
        await Service("mr-huge").ApplyAsync(ServiceTests.Spec("mr-huge", 1, cpu: 40, memory: 100 * FleetTestCluster.Gi), "test");
        await FleetTestCluster.EventuallyAsync(async () => (await Service("mr-huge").GetAsync())!.Running == 1, "the instance runs");

        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => Capacity.RetireDomainAsync("d-mr-big", "gail", null));
        Assert.Equal("capacity", refused.Guardrail);
        Assert.Contains("no room for 1 of its 1 instance(s)", refused.Message);
        Assert.Equal(AdminState.None, (await f.Node("mr-big").GetStatusAsync())!.AdminState);
        Assert.True((await Capacity.GetStatusAsync()).Train is null or { Running: false });
        Assert.Contains(await f.TrailAsync("domain/d-mr-big"), r => r.Kind == DecisionKinds.Denied && r.Guardrail == "capacity");
        var noReason = await Assert.ThrowsAsync<ActionRefusedException>(() => Capacity.RetireDomainAsync("d-mr-big", "gail", null, force: true));
        Assert.Contains("needs a reason", noReason.Message);

        await Assert.ThrowsAsync<DomainNotFoundException>(() => Capacity.RetireDomainAsync("d-nowhere", "gail", null));
    }
}
