using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Links;

/// <summary>Deleting links and flows: the flows move off first, make-before-break; nothing is deleted out from under a flow.</summary>
public class DeleteTests(LinkCluster f) : IClassFixture<LinkCluster>
{
    [Fact]
    public async Task DeletingALink_MovesItsFlowsOffMakeBeforeBreak_RemakesTheBackups_ThenItLeavesTheTopology()
    {
        // xa–xb–xc (20 ms) is home; xa–xd–xc (30 ms) and xa–xe–xc (40 ms) are the other ways.
        await f.DefineAsync("metro-del", ("xa~xb", 100, 10), ("xb~xc", 100, 10), ("xa~xd", 100, 15), ("xc~xd", 100, 15), ("xa~xe", 100, 20), ("xc~xe", 100, 20));
        for (var i = 0; i < 3; i++) await f.AddFlowAsync($"xf-{i}", "xa", "xc", 10);
        Assert.Equal("xa–xb–xc", LinkCluster.PathOf(await f.FlowAsync("xf-0")));
        Assert.Equal(["xa~xd", "xc~xd"], (await f.FlowAsync("xf-0")).BackupLinks.ToArray());

        // The backup's link goes first: each flow's backup is made again over the third way; the paths do not move.
        var summary = await f.Link("xa~xd").DeleteAsync("nina", "circuit returned");
        Assert.StartsWith("Deleted link xa~xd at the request of nina: circuit returned: 0 flow(s) moved off make-before-break, 3 backup(s) made again elsewhere", summary);
        Assert.Null(await f.Link("xa~xd").GetStatusAsync());
        for (var i = 0; i < 3; i++)
        {
            var flow = await f.FlowAsync($"xf-{i}");
            Assert.Equal("xa–xb–xc", LinkCluster.PathOf(flow));
            Assert.Equal(["xa~xe", "xc~xe"], flow.BackupLinks.ToArray());
        }
        Assert.Equal(0, (await f.Link("xc~xd").GetStatusAsync())!.ReservedBA); // the half of the old backup on the other link is released too

        // Then a link of the path: each flow moves to the next best path before the old one is let go.
        var shifts = f.Actuator.History.Count(a => a.Action == ActionNames.ShiftFlow);
        summary = await f.Link("xb~xc").DeleteAsync("nina", null);
        Assert.StartsWith("Deleted link xb~xc at the request of nina: 3 flow(s) moved off make-before-break", summary);
        for (var i = 0; i < 3; i++)
        {
            var flow = await f.FlowAsync($"xf-{i}");
            Assert.Equal(FlowState.Active, flow.State);
            Assert.Equal("xa–xe–xc", LinkCluster.PathOf(flow));
        }
        Assert.Equal(shifts + 3, f.Actuator.History.Count(a => a.Action == ActionNames.ShiftFlow));
        Assert.Equal(0, (await f.Link("xa~xb").GetStatusAsync())!.ReservedAB);
        var view = await f.Client.GetGrain<INetworkGrain>(FleetNames.Default).GetViewAsync();
        Assert.DoesNotContain(view.Links, l => l.Spec.Id is "xb~xc" or "xa~xd");
        var moved = (await f.TrailAsync("flow/xf-0")).Last(r => r.Kind == DecisionKinds.Executed);
        Assert.StartsWith("Moved flow xf-0 from xa–xb–xc to xa–xe–xc: link xb~xc is being deleted at the request of nina", moved.Reason);
        Assert.Contains(await f.TrailAsync("link/xb~xc"), r => r.Kind == DecisionKinds.Permitted && r.Action == ActionNames.Reroute);
        Assert.Empty((await f.Client.GetGrain<IDomainSupervisorGrain>("metro-del").GetStatusAsync()).Leases);

        // Deleting it again (a client's retry) answers what was done; a link never defined is not found; defined again, it starts afresh.
        Assert.Equal(summary, await f.Link("xb~xc").DeleteAsync("nina", null));
        await Assert.ThrowsAsync<TopologyNotFoundException>(() => f.Link("xb~xz").DeleteAsync("nina", null));
        await f.DefineAsync("metro-del", ("xb~xc", 100, 10));
        Assert.Empty((await f.Link("xb~xc").GetStatusAsync())!.Flows);
    }

    [Fact]
    public async Task ALinkAFlowCannotLeave_IsNotDeleted_TheFlowKeepsItsPath_UntilTheFlowIsDeletedFirst()
    {
        // ya–yb is the only way to yb; ya–yc–yd and ya–yd both reach yd.
        await f.DefineAsync("metro-nd", ("ya~yb", 100, 10), ("ya~yd", 100, 10), ("ya~yc", 100, 10), ("yc~yd", 100, 10));
        await f.AddFlowAsync("yf-only", "ya", "yb", 10);
        await f.AddFlowAsync("yf-d", "ya", "yd", 10);
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => f.Link("ya~yb").DeleteAsync("oscar", "tidy"));
        Assert.Equal("no-path", refused.Guardrail);
        Assert.Contains("yf-only", refused.Message);
        var link = (await f.Link("ya~yb").GetStatusAsync())!;
        Assert.False(link.Deleting);
        Assert.Equal(["yf-only"], link.Flows.ToArray());
        await FleetTestCluster.EventuallyAsync(async () => (await f.FlowAsync("yf-only")).State == FlowState.Active, "the flow keeps its path, active");
        Assert.Equal("ya–yb", LinkCluster.PathOf(await f.FlowAsync("yf-only")));
        Assert.Contains(await f.TrailAsync("link/ya~yb"), r => r.Kind == DecisionKinds.Escalated && r.Reason.StartsWith("Did not delete link ya~yb"));

        // Deleting the flow first releases its capacity; then the link goes.
        var summary = await f.Flow("yf-only").DeleteAsync("oscar", "moved to the new site");
        Assert.Contains("its capacity on ya~yb (path and backup) is released", summary);
        Assert.Null(await f.Flow("yf-only").GetStatusAsync());
        Assert.DoesNotContain("yf-only", (await f.Client.GetGrain<INetworkGrain>(FleetNames.Default).GetViewAsync()).Flows);
        Assert.Equal(0, (await f.Link("ya~yb").GetStatusAsync())!.ReservedAB);
        await f.Link("ya~yb").DeleteAsync("oscar", "tidy");
        Assert.Null(await f.Link("ya~yb").GetStatusAsync());
        Assert.Equal(summary, await f.Flow("yf-only").DeleteAsync("oscar", null)); // a retry answers what was done
        await Assert.ThrowsAsync<TopologyNotFoundException>(() => f.Flow("yf-never").DeleteAsync("oscar", null));
        Assert.Contains(await f.TrailAsync("flow/yf-only"), r => r.Kind == DecisionKinds.Operator && r.Reason.StartsWith("Deleted flow yf-only at the request of oscar"));
    }
}
