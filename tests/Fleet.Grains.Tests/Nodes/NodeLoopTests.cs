using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Diagnostics;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Grains.Tests.Nodes;

public sealed class NodeLoopCluster : FleetTestCluster;

/// <summary>The whole loop on one silo: observe → judge → propose → permit → act → verify → record.</summary>
public class NodeLoopTests(NodeLoopCluster f) : IClassFixture<NodeLoopCluster>
{
    [Fact]
    public async Task SilentNode_SuspectUnhealthyRemediatedVerifiedProbationHealthy_TrailTellsTheStory()
    {
        await f.RegisterAsync("loop-1", "d-loop");
        await f.ReportAsync("loop-1");
        Assert.Equal(HealthState.Healthy, await f.HealthAsync("loop-1"));

        await f.AdvanceAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HealthState.Suspect, await f.HealthAsync("loop-1"));

        await f.AdvanceAsync(TimeSpan.FromSeconds(30));
        await FleetTestCluster.EventuallyAsync(async () => (await f.Node("loop-1").GetStatusAsync())!.Remediation?.Phase == "Verifying", "the restart ran");
        Assert.Equal(HealthState.Remediating, await f.HealthAsync("loop-1"));
        var action = Assert.Single(f.Actuator.History, a => a.Target == "loop-1");
        Assert.Equal(ActionNames.RestartServices, action.Action);

        f.Time.Advance(TimeSpan.FromSeconds(1));
        await f.ReportAsync("loop-1");
        await f.ReportAsync("loop-1");
        Assert.Equal(HealthState.Probation, await f.HealthAsync("loop-1"));

        await f.AdvanceAsync(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("loop-1"));
        Assert.Equal(HealthState.Healthy, await f.HealthAsync("loop-1"));
        Assert.Null((await f.Node("loop-1").GetStatusAsync())!.Remediation);

        var trail = await f.TrailAsync("node/loop-1");
        var kinds = trail.Select(r => r.Kind).ToList();
        AssertInOrder(kinds, DecisionKinds.Registered, DecisionKinds.HealthChanged, DecisionKinds.Proposed, DecisionKinds.Permitted,
            DecisionKinds.Executed, DecisionKinds.Verified, DecisionKinds.Released);
        var proposed = trail.Single(r => r.Kind == DecisionKinds.Proposed);
        Assert.Contains("Proposed restart-services for node loop-1", proposed.Reason);
        Assert.Contains("no report for", proposed.Reason);
        Assert.Contains("policy ladder step 1 of 5, v1", proposed.Reason);
        Assert.Equal(1, proposed.PolicyVersion);
        Assert.Equal("remediation.ladder[0]", proposed.PolicyRule);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.HealthChanged && r.Reason.Contains("Suspect") && r.Reason.Contains("path to it"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Reason.Contains("d-loop had 0 of 1 action slots in use"));
        Assert.All(trail, r => Assert.False(string.IsNullOrWhiteSpace(r.Reason)));
        Assert.Equal(HealthState.Healthy, (await f.Client.GetGrain<IDomainSupervisorGrain>("d-loop").GetMembersAsync()).Single().Health);
    }

    [Fact]
    public async Task Report_DuplicateSequence_Dropped_UnknownNode_NotRegistered()
    {
        await f.RegisterAsync("dup-1", "d-dup");
        var node = f.Node("dup-1");
        var report = new TelemetryReport(7, f.Time.GetUtcNow(), TimeSpan.FromSeconds(30), 10, FleetTestCluster.Gi, 16 * FleetTestCluster.Gi, 10, []);
        Assert.Equal(ReportOutcome.Accepted, (await node.ReportAsync(report)).Outcome);
        Assert.Equal(ReportOutcome.DuplicateOrOutOfOrder, (await node.ReportAsync(report)).Outcome);
        Assert.Equal(ReportOutcome.DuplicateOrOutOfOrder, (await node.ReportAsync(report with { Sequence = 3 })).Outcome);
        Assert.Equal(ReportOutcome.NotRegistered, (await f.Node("never-registered").ReportAsync(report)).Outcome);
        Assert.Null(await f.Node("never-registered").GetStatusAsync());
    }

    [Fact]
    public async Task TwoSickNodes_MaxConcurrentOne_SecondDeniedThenPermittedWhenFirstReleases()
    {
        foreach (var id in new[] { "mc-a", "mc-b", "mc-c", "mc-d", "mc-e", "mc-f", "mc-g", "mc-h" }) await f.RegisterAsync(id, "d-mc");
        for (var i = 0; i < 3; i++) await f.ReportAsync("mc-a", healthy: false);
        await FleetTestCluster.EventuallyAsync(async () => (await f.Node("mc-a").GetStatusAsync())!.Remediation?.Phase == "Verifying", "mc-a is being remediated");

        for (var i = 0; i < 3; i++) await f.ReportAsync("mc-b", healthy: false);
        var denied = (await f.TrailAsync("node/mc-b")).Single(r => r.Kind == DecisionKinds.Denied);
        Assert.Equal(Guardrails.MaxConcurrent, denied.Guardrail);
        Assert.Contains("d-mc had 1 of 1 action slots in use (restart-services on mc-a)", denied.Reason);
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "mc-b");

        f.Time.Advance(TimeSpan.FromSeconds(1));
        await f.ReportAsync("mc-a");
        await f.ReportAsync("mc-a");
        Assert.Equal(HealthState.Probation, await f.HealthAsync("mc-a"));

        await f.ReportAsync("mc-b", healthy: false);
        await FleetTestCluster.EventuallyAsync(() => Task.FromResult(f.Actuator.History.Any(a => a.Target == "mc-b")), "mc-b's restart ran");
        Assert.Contains(await f.TrailAsync("node/mc-b"), r => r.Kind == DecisionKinds.Permitted);
    }

    [Fact]
    public async Task RisingMemory_DrainedBeforeExhaustion()
    {
        await f.RegisterAsync("leak-1", "d-leak");
        var used = 4.0 * FleetTestCluster.Gi;
        await f.ReportAsync("leak-1", memoryUsed: (long)used);
        // 1 GiB a minute on 16 GiB: about 12 minutes from exhaustion, inside the 30-minute horizon.
        for (var i = 0; i < 12 && (await f.Node("leak-1").GetStatusAsync())!.AdminState != AdminState.Draining; i++)
        {
            f.Time.Advance(TimeSpan.FromSeconds(10));
            used += FleetTestCluster.Gi / 6.0;
            await f.ReportAsync("leak-1", memoryUsed: (long)used);
            await FleetTestCluster.Settle();
        }
        await FleetTestCluster.EventuallyAsync(async () => (await f.Node("leak-1").GetStatusAsync())!.AdminState == AdminState.Draining, "the node was drained");

        Assert.True(used < 16 * FleetTestCluster.Gi, "drained before memory ran out");
        Assert.Equal(ActionNames.Drain, Assert.Single(f.Actuator.History, a => a.Target == "leak-1").Action);
        var trail = await f.TrailAsync("node/leak-1");
        AssertInOrder(trail.Select(r => r.Kind).ToList(), DecisionKinds.Predicted, DecisionKinds.Proposed, DecisionKinds.Permitted, DecisionKinds.Executed, DecisionKinds.Verified);
        Assert.Contains("memory will run out in about", trail.Single(r => r.Kind == DecisionKinds.Predicted).Reason);
        Assert.Equal("prevented", trail.Single(r => r.Kind == DecisionKinds.Verified).Outcome);
        Assert.Equal(HealthState.Draining, await f.HealthAsync("leak-1"));
    }

    [Fact]
    public async Task FleetFrozen_ActionDeniedWithFreezeGuardrail_UnfreezeLetsItThrough()
    {
        var fleet = f.Client.GetGrain<IFleetSupervisorGrain>(FleetNames.Default);
        await fleet.FreezeAsync("alice", "database migration");
        try
        {
            await f.RegisterAsync("fz-1", "d-freeze");
            for (var i = 0; i < 3; i++) await f.ReportAsync("fz-1", healthy: false);
            var denied = (await f.TrailAsync("node/fz-1")).Single(r => r.Kind == DecisionKinds.Denied);
            Assert.Equal(Guardrails.FleetFreeze, denied.Guardrail);
            Assert.Contains("alice", denied.Reason);
            Assert.Contains("database migration", denied.Reason);
        }
        finally
        {
            await fleet.UnfreezeAsync("alice", "migration done");
        }
        await f.ReportAsync("fz-1", healthy: false);
        await FleetTestCluster.EventuallyAsync(() => Task.FromResult(f.Actuator.History.Any(a => a.Target == "fz-1")), "fz-1's restart ran after the thaw");
        var fleetTrail = await f.TrailAsync("fleet/default");
        Assert.Contains(fleetTrail, r => r.Kind == DecisionKinds.Frozen && r.Reason.Contains("database migration"));
        Assert.Contains(fleetTrail, r => r.Kind == DecisionKinds.Thawed);
    }

    [Fact]
    public async Task FailingAgainInProbation_Escalates_CooldownHoldsTheNextAction()
    {
        await f.RegisterAsync("flap-1", "d-flap");
        for (var i = 0; i < 3; i++) await f.ReportAsync("flap-1", healthy: false);
        await FleetTestCluster.EventuallyAsync(async () => (await f.Node("flap-1").GetStatusAsync())!.Remediation?.Phase == "Verifying", "the restart ran");
        var firstActionAt = f.Time.GetUtcNow();
        f.Time.Advance(TimeSpan.FromSeconds(1));
        await f.ReportAsync("flap-1");
        await f.ReportAsync("flap-1");
        Assert.Equal(HealthState.Probation, await f.HealthAsync("flap-1"));

        f.Time.Advance(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 3; i++) await f.ReportAsync("flap-1", healthy: false);
        var trail = await f.TrailAsync("node/flap-1");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Escalated && r.Reason.Contains("from restart-services to reboot") && r.Reason.Contains("probation"));
        var held = trail.Single(r => r.Kind == DecisionKinds.Denied);
        Assert.Equal("cooldown", held.Guardrail);
        Assert.Single(f.Actuator.History, a => a.Target == "flap-1");

        await f.AdvanceAsync(TimeSpan.FromSeconds(70), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("flap-1", healthy: false));
        await FleetTestCluster.EventuallyAsync(() => Task.FromResult(f.Actuator.History.Count(a => a.Target == "flap-1") == 2), "the reboot ran");
        Assert.Equal(ActionNames.Reboot, f.Actuator.History.Last(a => a.Target == "flap-1").Action);
        var permits = (await f.TrailAsync("node/flap-1")).Where(r => r.Kind == DecisionKinds.Permitted).ToList();
        Assert.Equal(2, permits.Count);
        Assert.True(permits[1].Time - firstActionAt >= TimeSpan.FromMinutes(1), "the second action waited out the 1-minute cooldown");
    }

    internal static void AssertInOrder(IList<string> kinds, params string[] expected)
    {
        var at = 0;
        foreach (var kind in expected)
        {
            var found = -1;
            for (var i = at; i < kinds.Count; i++)
                if (kinds[i] == kind) { found = i; break; }
            Assert.True(found >= 0, $"expected '{kind}' after position {at} in [{string.Join(", ", kinds)}]");
            at = found + 1;
        }
    }

    [Fact]
    public async Task References_WithoutPerCallTypeResolution_AreTheSameGrains()
    {
        await f.RegisterAsync("ref-1", "ref-a");
        // The first reference through a factory resolves the type; the later ones are built from it: same ids, same grains.
        foreach (var grains in new IGrainFactory[] { f.Client, f.Cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainFactory>() })
            for (var round = 0; round < 2; round++)
            {
                var node = GrainReferences.Get<INodeGrain>(grains, "ref-1");
                Assert.Equal(grains.GetGrain<INodeGrain>("ref-1").GetGrainId(), node.GetGrainId());
                Assert.Equal("ref-a", (await node.GetStatusAsync())!.Domain);
                Assert.Null(await GrainReferences.Get<INodeGrain>(grains, "ref-unknown").GetStatusAsync());
                var domain = GrainReferences.Get<IDomainSupervisorGrain>(grains, "ref-a");
                Assert.Equal(grains.GetGrain<IDomainSupervisorGrain>("ref-a").GetGrainId(), domain.GetGrainId());
                Assert.Contains(await domain.GetMembersAsync(), m => m.NodeId == "ref-1");
                var intake = GrainReferences.Get<ITelemetryIntakeGrain>(grains, 0);
                Assert.Equal(grains.GetGrain<ITelemetryIntakeGrain>(0).GetGrainId(), intake.GetGrainId());
            }
    }
}
