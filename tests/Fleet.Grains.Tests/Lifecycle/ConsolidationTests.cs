using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Tests.Services;

namespace Fleet.Grains.Tests.Lifecycle;

public sealed class ConsolidationCluster : FleetTestCluster
{
    protected override string PolicyYaml => ServicePolicy + """
        lifecycle:
          consolidate:
            enabled: true
            interval: 10s
            moveWindow: 5m
        """;
}

/// <summary>Consolidation carried out on an in-process silo with injected time: a fragmented fleet frees machines, nothing lost, nothing moved twice.</summary>
public class ConsolidationTests(ConsolidationCluster f) : IClassFixture<ConsolidationCluster>
{
    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);

    [Fact]
    public async Task AFragmentedFleet_FreesTwoOfFourNodes_OneAtATime_ZeroInstanceTimeLost_NoInstanceMovedTwice()
    {
        var nodes = new[] { "cn-1", "cn-2", "cn-3", "cn-4" };
        foreach (var n in nodes)
        {
            await f.RegisterAsync(n, "d-cn");
            await f.ReportAsync(n);
        }
        // Two services of two 1-core instances: placement spreads them, one a node — four nodes an eighth full each.
        foreach (var s in new[] { "cn-a", "cn-b" }) await Service(s).ApplyAsync(ServiceTests.Spec(s, 2, budget: new DisruptionBudget(null, 1)), "test");
        await FleetTestCluster.EventuallyAsync(async () => (await Service("cn-a").GetAsync())!.Running == 2 && (await Service("cn-b").GetAsync())!.Running == 2, "4 instances run");
        var originals = new List<string>();
        foreach (var s in new[] { "cn-a", "cn-b" }) originals.AddRange((await Service(s).GetAsync())!.Instances.Select(i => $"{s}/{i.Id}"));
        Assert.Equal(4, (await Task.WhenAll(nodes.Select(n => f.Node(n).GetStatusAsync()))).Count(n => n!.Placements.Length == 1));

        // The instances are pinned for the move window (5 min) after they started; then two nodes are freed, one at a time.
        var fewest = int.MaxValue;
        var retired = new HashSet<string>();
        var concurrent = 0;
        await f.AdvanceUntilAsync(async () =>
        {
            foreach (var s in new[] { "cn-a", "cn-b" })
                fewest = Math.Min(fewest, (await Service(s).GetAsync())!.Instances.Count(i => i.State == InstanceState.Running));
            var stages = await Task.WhenAll(nodes.Select(async n => (n, (await f.Node(n).GetStatusAsync())!.Stage)));
            concurrent = Math.Max(concurrent, stages.Count(x => x.Stage == LifecycleStage.Draining));
            foreach (var (n, stage) in stages) if (stage == LifecycleStage.Retired) retired.Add(n);
            return retired.Count == 2 && (await f.Client.GetGrain<ICapacityGrain>(FleetNames.Default).GetStatusAsync()) is not null
                && (await f.TrailAsync(Fleet.Core.Lifecycle.Provisioning.Subject)).Count(r => r.Outcome == "freed") == 2;
        }, "two nodes were freed", TimeSpan.FromMinutes(12), TimeSpan.FromSeconds(10), async () => { foreach (var n in nodes) await f.ReportAsync(n); });

        Assert.True(fewest >= 2, $"every service kept its 2 instances running throughout (fewest seen {fewest})");
        Assert.True(concurrent <= 1, "never two nodes draining at once");
        var trail = (await f.TrailAsync("service/cn-a")).Concat(await f.TrailAsync("service/cn-b")).ToList();
        Assert.DoesNotContain(trail, r => r.Kind == DecisionKinds.Rescheduled && r.Outcome == "lost");
        var moved = trail.Where(r => r.Kind == DecisionKinds.Rescheduled && r.Outcome == "moving").Select(r => string.Join(' ', r.Reason.Split(' ')[2..6])).ToList(); // "{instance} of service {name}"
        Assert.Equal(2, moved.Count); // the two freed nodes' instances, each once
        Assert.Equal(moved.Count, moved.Distinct().Count());
        foreach (var s in new[] { "cn-a", "cn-b" })
        {
            var status = (await Service(s).GetAsync())!;
            Assert.Equal(2, status.Running);
            Assert.All(status.Instances, i => Assert.False(retired.Contains(i.Node!), $"{i.Id} on retired node {i.Node}"));
        }
        var capacity = await f.TrailAsync(Fleet.Core.Lifecycle.Provisioning.Subject);
        Assert.Equal(2, capacity.Count(r => r.Kind == DecisionKinds.Permitted && r.Action == ActionNames.Consolidate));
        // One node at a time: each freeing is permitted only after the one before it was done.
        Assert.Equal(["permitted", "freed", "permitted", "freed"],
            capacity.Where(r => r.Kind == DecisionKinds.Permitted || r.Outcome == "freed").Select(r => r.Outcome ?? r.Kind).ToArray());
        Assert.All(capacity.Where(r => r.Outcome == "freed"), r => Assert.StartsWith("Freed node cn-", r.Reason));
        // Nothing started moving before the move window had passed since the instances started.
        var firstMove = trail.Where(r => r.Outcome == "moving").Min(r => r.Time);
        Assert.True(firstMove - FleetTestCluster.Start >= TimeSpan.FromMinutes(5), $"first move at {firstMove:HH:mm:ss}");
    }
}
