using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Nodes;

public sealed class OperatorDrainCluster : FleetTestCluster;

/// <summary>An operator's drain goes through the same lease and budgets as any disruptive action.</summary>
public class OperatorDrainTests(OperatorDrainCluster f) : IClassFixture<OperatorDrainCluster>
{
    [Fact]
    public async Task Drain_WhileARemediationHoldsTheDomainsSlot_RefusedWithFigures_ForceWithReasonPasses()
    {
        foreach (var id in new[] { "od-a", "od-b", "od-c", "od-d", "od-e", "od-f", "od-g", "od-h" }) await f.RegisterAsync(id, "d-od");
        for (var i = 0; i < 3; i++) await f.ReportAsync("od-a", healthy: false);
        await FleetTestCluster.EventuallyAsync(async () => (await f.Node("od-a").GetStatusAsync())!.Remediation?.Phase == "Verifying", "od-a is being remediated");

        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => f.Node("od-b").DrainAsync("bob", "kernel upgrade"));
        Assert.Equal(Guardrails.MaxConcurrent, refused.Guardrail);
        Assert.Contains("d-od had 1 of 1 action slots in use (restart-services on od-a)", refused.Message);
        var status = (await f.Node("od-b").GetStatusAsync())!;
        Assert.Equal(AdminState.None, status.AdminState);
        var denied = (await f.TrailAsync("node/od-b")).Single(r => r.Kind == DecisionKinds.Denied);
        Assert.Equal("Refused to drain node od-b at the request of bob: d-od had 1 of 1 action slots in use (restart-services on od-a).", denied.Reason);

        var forced = await f.Node("od-b").DrainAsync("bob", "kernel upgrade, agreed with the on-call", force: true);
        Assert.Equal(AdminState.Draining, forced.AdminState);
        var trail = await f.TrailAsync("node/od-b");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Reason.Contains("(forced)") && r.Reason.Contains("forced past the concurrency and rate budgets"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Released && r.Outcome == "nothing left to move");
        Assert.Single((await f.Client.GetGrain<IDomainSupervisorGrain>("d-od").GetStatusAsync()).Leases); // only od-a's remediation
    }

    [Fact]
    public async Task Drain_DuringAFleetFreeze_RefusedEvenForced_CordonTakesNoLease()
    {
        await f.RegisterAsync("od-z", "d-od-z");
        var fleet = f.Client.GetGrain<IFleetSupervisorGrain>(FleetNames.Default);
        await fleet.FreezeAsync("alice", "quarter close");
        try
        {
            var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => f.Node("od-z").DrainAsync("bob", "disk", force: true));
            Assert.Equal(Guardrails.FleetFreeze, refused.Guardrail);
            Assert.Equal(AdminState.Cordoned, (await f.Node("od-z").CordonAsync("bob", "disk")).AdminState);
            Assert.Equal(AdminState.None, (await f.Node("od-z").UncordonAsync("bob", null)).AdminState);
        }
        finally
        {
            await fleet.UnfreezeAsync("alice", null);
        }
        Assert.Equal(AdminState.Draining, (await f.Node("od-z").DrainAsync("bob", "disk")).AdminState);
        await Assert.ThrowsAsync<NodeNotRegisteredException>(() => f.Node("od-never").DrainAsync("bob", null));
    }
}
