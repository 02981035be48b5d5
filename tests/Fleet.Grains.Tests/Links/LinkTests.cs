using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Actuators;

namespace Fleet.Grains.Tests.Links;

/// <summary>A network fast enough for a test: two probes make a state, a 10 s hold-down, retries every 2 s, one verify probe.</summary>
public class LinkCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        guardrails:
          fleetMaxConcurrent: 1000
          maxConcurrentPerDomain: 50
          maxActionsPerWindow: 1000
        network:
          downAfterProbes: 2
          upAfterProbes: 2
          degradedAfterProbes: 2
          holdDown: 10s
          verifyProbes: 1
          retryInterval: 2s
          damping: {penalty: 1000, suppressAbove: 2000, reuseBelow: 750, halfLife: 1m, maxSuppress: 5m}
        """;

    private readonly Dictionary<string, long> _probeSeq = [];

    public ILinkGrain Link(string id) => Client.GetGrain<ILinkGrain>(id);

    public IFlowGrain Flow(string id) => Client.GetGrain<IFlowGrain>(id);

    /// <summary>Defines the links (a~b style ids) and probes them up.</summary>
    public async Task DefineAsync(string domain, params (string Id, double Capacity, double Latency)[] links)
    {
        foreach (var (id, capacity, latency) in links)
        {
            var ends = id.Split('~');
            await Link(id).DefineAsync(new LinkSpec(id, ends[0], ends[1], capacity, latency, domain), "test");
        }
        for (var i = 0; i < 2; i++) await ProbeAsync(links.Select(l => l.Id), up: true);
    }

    public async Task ProbeAsync(IEnumerable<string> links, bool up, double loss = 0, double latency = 5)
    {
        foreach (var id in links)
        {
            var seq = _probeSeq[id] = _probeSeq.GetValueOrDefault(id) + 1;
            await Link(id).ProbeAsync(new LinkProbe(id, up, latency, up ? loss : 100, seq, TimeSpan.FromSeconds(30)));
        }
    }

    public Task<FlowStatus> AddFlowAsync(string id, string from, string to, double mbps, int priority = 0) =>
        Flow(id).DefineAsync(new FlowSpec(id, from, to, mbps, priority), "test");

    public async Task<FlowStatus> FlowAsync(string id) => (await Flow(id).GetStatusAsync())!;

    public static string PathOf(FlowStatus f) => string.Join("–", f.Path);
}

public class LinkTests(LinkCluster f) : IClassFixture<LinkCluster>
{
    [Fact]
    public async Task ACutLink_SwitchesEveryFlowToItsBackupAtOnce_ThenTheyAreReOptimised_NonePathless()
    {
        // a–b–c (20 ms) is home; a–d–c (30 ms) and a–e–c (40 ms) are the other ways.
        await f.DefineAsync("metro-1", ("ca~cb", 100, 10), ("cb~cc", 100, 10), ("ca~cd", 100, 15), ("cc~cd", 100, 15), ("ca~ce", 100, 20), ("cc~ce", 100, 20));
        for (var i = 0; i < 6; i++) await f.AddFlowAsync($"cf-{i}", "ca", "cc", 10, priority: i % 2);
        var placed = await f.FlowAsync("cf-0");
        Assert.Equal(FlowState.Active, placed.State);
        Assert.Equal("ca–cb–cc", LinkCluster.PathOf(placed));
        Assert.Equal(["ca~cd", "cc~cd"], placed.BackupLinks.ToArray());
        Assert.Equal(60, (await f.Link("cb~cc").GetStatusAsync())!.ReservedAB);
        Assert.Equal(60, (await f.Link("ca~cd").GetStatusAsync())!.ReservedAB); // the backups are pre-reserved

        await f.ProbeAsync(["cb~cc"], up: false);
        await f.ProbeAsync(["cb~cc"], up: false);
        await FleetTestCluster.EventuallyAsync(async () => (await f.TrailAsync("link/cb~cc")).Any(r => r.Kind == DecisionKinds.Executed), "the link's flows were moved");
        for (var i = 0; i < 6; i++)
        {
            var id = $"cf-{i}";
            await FleetTestCluster.EventuallyAsync(async () => (await f.FlowAsync(id)).State == FlowState.Active, $"{id} was re-optimised");
            var flow = await f.FlowAsync(id);
            Assert.DoesNotContain("cb~cc", flow.Links);
            Assert.Contains(flow.History, e => e.What.StartsWith("switched to backup ca–cd–cc"));
        }
        Assert.Equal(0, (await f.Link("cb~cc").GetStatusAsync())!.ReservedAB);
        var summary = (await f.TrailAsync("link/cb~cc")).Single(r => r.Kind == DecisionKinds.Executed);
        Assert.Contains("6 switched to their backup at once", summary.Reason);
        Assert.Contains("0 without a path", summary.Reason);
        var switched = (await f.TrailAsync("flow/cf-0")).First(r => r.Kind == DecisionKinds.Executed && r.Reason.StartsWith("Switched"));
        Assert.Contains("Switched flow cf-0 from ca–cb–cc to its backup path ca–cd–cc at once: link cb~cc was cut", switched.Reason);
        // The moves went through the actuator: shift-flow from the old links to the new.
        Assert.Contains(f.Actuator.History, a => a.Action == ActionNames.ShiftFlow && a.Parameters["flow"] == "cf-0" && a.Parameters["to"] == "ca~cd,cc~cd");
        // Re-optimised in a turn of its own, and re-protected: a new backup, disjoint from the new path.
        await FleetTestCluster.EventuallyAsync(async () => (await f.FlowAsync("cf-0")).BackupLinks.SequenceEqual(["ca~ce", "cc~ce"]), "the flow was protected again");
        // One lease for the whole event, released.
        Assert.Single(await f.TrailAsync("link/cb~cc"), r => r.Kind == DecisionKinds.Permitted);
        Assert.Empty((await f.Client.GetGrain<IDomainSupervisorGrain>("metro-1").GetStatusAsync()).Leases);
    }

    [Fact]
    public async Task ADegradedLink_MovesItsFlowsMakeBeforeBreak_AndAFailedVerificationFallsBackToTheNextCandidate()
    {
        await f.DefineAsync("metro-2", ("da~db", 100, 10), ("db~dc", 100, 10), ("da~dd", 100, 15), ("dc~dd", 100, 15), ("da~de", 100, 20), ("dc~de", 100, 20));
        await f.AddFlowAsync("df-1", "da", "dc", 10);
        Assert.Equal("da–db–dc", LinkCluster.PathOf(await f.FlowAsync("df-1")));
        // The second-best path fails its probes (an actuator that reports the probe failed).
        f.Actuator.Behaviour = r => r.Action == ActionNames.ProbePath && r.Parameters.GetValueOrDefault("path") == "da–dd–dc" ? new ActuatorResult(false, "3 of 3 probes lost on dd~dc") : null;
        try
        {
            await f.ProbeAsync(["db~dc"], up: true, loss: 20);
            await f.ProbeAsync(["db~dc"], up: true, loss: 20);
            await FleetTestCluster.EventuallyAsync(async () => (await f.TrailAsync("link/db~dc")).Any(r => r.Kind == DecisionKinds.Executed), "the degraded link's flows were moved");
        }
        finally
        {
            f.Actuator.Behaviour = null;
        }
        var flow = await f.FlowAsync("df-1");
        Assert.Equal("da–de–dc", LinkCluster.PathOf(flow));
        var trail = await f.TrailAsync("flow/df-1");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Failed && r.Reason.Contains("Candidate path da–dd–dc for flow df-1 failed its probes (3 of 3 probes lost on dd~dc)"));
        var moved = trail.Last(r => r.Kind == DecisionKinds.Executed && r.Reason.StartsWith("Moved"));
        Assert.Contains("Moved flow df-1 from da–db–dc to da–de–dc: link db~dc degraded", moved.Reason);
        Assert.Contains("da~de had 100", moved.Reason);
        Assert.Contains("the new path passed 1 probes", moved.Reason);
        // Make-before-break: traffic never left the degraded path before the new one was reserved and verified.
        Assert.Equal(0, (await f.Link("db~dc").GetStatusAsync())!.ReservedAB);
        Assert.Equal(10, (await f.Link("da~de").GetStatusAsync())!.ReservedAB);
    }

    [Fact]
    public async Task AFleetFreezeHoldsTheReroute_ItRunsOnceThawed_AndShadowModeRecordsWithoutMoving()
    {
        await f.DefineAsync("metro-6", ("za~zb", 100, 10), ("zb~zc", 100, 10), ("za~zd", 100, 15), ("zc~zd", 100, 15));
        await f.AddFlowAsync("zf-1", "za", "zc", 10);
        var fleet = f.Client.GetGrain<IFleetSupervisorGrain>(FleetNames.Default);
        await fleet.FreezeAsync("ops", "change window");
        try
        {
            await f.ProbeAsync(["zb~zc"], up: true, loss: 10);
            await f.ProbeAsync(["zb~zc"], up: true, loss: 10);
            await FleetTestCluster.EventuallyAsync(async () => (await f.TrailAsync("link/zb~zc")).Any(r => r.Kind == DecisionKinds.Denied), "the reroute was refused");
            var denied = (await f.TrailAsync("link/zb~zc")).Single(r => r.Kind == DecisionKinds.Denied);
            Assert.Equal("fleet-freeze", denied.Guardrail);
            Assert.Contains("the fleet is frozen by ops", denied.Reason);
            Assert.Equal("za–zb–zc", LinkCluster.PathOf(await f.FlowAsync("zf-1")));
        }
        finally
        {
            await fleet.UnfreezeAsync("ops", "window over");
        }
        await f.AdvanceUntilAsync(async () => LinkCluster.PathOf(await f.FlowAsync("zf-1")) == "za–zd–zc", "the flow moved once thawed", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));

        // Shadow mode for reroutes: the would-have decision is recorded, nothing moves.
        await f.Client.GetGrain<IOversightGrain>(FleetNames.Default).SetShadowAsync(true, null, ActionNames.Reroute, "ops", "trying the network policy");
        try
        {
            await f.ProbeAsync(["za~zd"], up: true, loss: 10);
            await f.ProbeAsync(["za~zd"], up: true, loss: 10);
            await FleetTestCluster.EventuallyAsync(async () => (await f.TrailAsync("link/za~zd")).Any(r => r.Kind == DecisionKinds.Shadowed), "the reroute was shadowed");
            Assert.Contains("would reroute 1 flow(s) off link za~zd", (await f.TrailAsync("link/za~zd")).Single(r => r.Kind == DecisionKinds.Shadowed).Reason);
            Assert.Equal("za–zd–zc", LinkCluster.PathOf(await f.FlowAsync("zf-1")));
        }
        finally
        {
            await f.Client.GetGrain<IOversightGrain>(FleetNames.Default).SetShadowAsync(false, null, ActionNames.Reroute, "ops", "done");
        }
    }

    [Fact]
    public async Task AReservationIsNotCommittedOnceTheLinkFailed_NorMadeTheOtherWayForTheSameFlow()
    {
        await f.DefineAsync("metro-7", ("ka~kb", 100, 5));
        var link = f.Link("ka~kb");
        Assert.True((await link.ReserveAsync("kf-1", "ka", 10, 0, backup: false)).Granted);
        var otherWay = await link.ReserveAsync("kf-1", "kb", 10, 0, backup: false);
        Assert.False(otherWay.Granted);
        Assert.Contains("already crosses link ka~kb the other way", otherWay.Why);
        Assert.True((await link.ReserveAsync("kf-1", "ka", 10, 0, backup: false)).Shared);
        await f.ProbeAsync(["ka~kb"], up: false);
        await f.ProbeAsync(["ka~kb"], up: false);
        Assert.False(await link.CommitAsync("kf-1", backup: false));
        var status = (await link.GetStatusAsync())!;
        Assert.Equal(0, status.ReservedAB);
        Assert.Empty(status.Flows);
    }

    [Fact]
    public async Task AFlowWithoutAPath_IsEscalatedWithItsReason_AndPlacedWhenCapacityFrees()
    {
        await f.DefineAsync("metro-3", ("na~nb", 20, 5));
        await f.AddFlowAsync("nf-1", "na", "nb", 15);
        var second = await f.AddFlowAsync("nf-2", "na", "nb", 15);
        Assert.Equal(FlowState.NoPath, second.State);
        // Said by the link when it refuses the reservation, or by the path search when the flow's view of the links already
        // counts nf-1's share (which one depends on how soon that view is refreshed): either way the link, its 5 Mbit/s free, and the 15 needed.
        Assert.Matches(@"na~nb has 5 (of the 15 Mbit/s needed free|Mbit/s free na→nb and \d+ nb→na of the 15 needed)", second.Problem);
        Assert.Contains(f.Actuator.History, a => a.Action == ActionNames.ShiftFlow && a.Parameters["flow"] == "nf-1");
        Assert.DoesNotContain(f.Actuator.History, a => a.Action == ActionNames.ShiftFlow && a.Parameters["flow"] == "nf-2");
        var escalated = (await f.TrailAsync("flow/nf-2")).Single(r => r.Kind == DecisionKinds.Escalated);
        Assert.Contains("No feasible path for flow nf-2", escalated.Reason);
        Assert.Contains("it waits for capacity", escalated.Reason);
        // Capacity frees: the link is made bigger.
        await f.Link("na~nb").DefineAsync(new LinkSpec("na~nb", "na", "nb", 40, 5, "metro-3"), "test");
        await f.AdvanceUntilAsync(async () => (await f.FlowAsync("nf-2")).State == FlowState.Active, "the waiting flow was placed", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        Assert.Equal(30, (await f.Link("na~nb").GetStatusAsync())!.ReservedAB);
    }

    [Fact]
    public async Task AFlappingLinkIsDamped_AndFlowsReturnHomeOnlyAfterTheHoldDown()
    {
        await f.DefineAsync("metro-4", ("ra~rb", 100, 10), ("rb~rc", 100, 10), ("ra~rd", 100, 20), ("rc~rd", 100, 20));
        await f.AddFlowAsync("rf-1", "ra", "rc", 10);
        Assert.Equal("ra–rb–rc", LinkCluster.PathOf(await f.FlowAsync("rf-1")));

        // Cut once, recover: the flow is on its backup, then returns home only after the link has been up for the 10 s hold-down.
        await f.ProbeAsync(["rb~rc"], up: false);
        await f.ProbeAsync(["rb~rc"], up: false);
        await FleetTestCluster.EventuallyAsync(async () => LinkCluster.PathOf(await f.FlowAsync("rf-1")) == "ra–rd–rc", "the flow switched to its backup");
        await f.ProbeAsync(["rb~rc"], up: true);
        await f.ProbeAsync(["rb~rc"], up: true);
        Assert.Equal(LinkState.Up, (await f.Link("rb~rc").GetStatusAsync())!.State);
        f.Time.Advance(TimeSpan.FromSeconds(5));
        await FleetTestCluster.Settle();
        Assert.Equal("ra–rd–rc", LinkCluster.PathOf(await f.FlowAsync("rf-1"))); // not yet: the hold-down
        await f.AdvanceUntilAsync(async () => LinkCluster.PathOf(await f.FlowAsync("rf-1")) == "ra–rb–rc", "the flow returned home", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));

        // Two more flaps in quick succession: the penalty passes 2,000 and the link is damped — good probes leave it unused.
        for (var flap = 0; flap < 2; flap++)
        {
            await f.ProbeAsync(["rb~rc"], up: false);
            await f.ProbeAsync(["rb~rc"], up: false);
            await f.ProbeAsync(["rb~rc"], up: true);
            await f.ProbeAsync(["rb~rc"], up: true);
        }
        var link = (await f.Link("rb~rc").GetStatusAsync())!;
        Assert.Equal(LinkState.Damped, link.State);
        Assert.True(link.Penalty > 2000, $"penalty {link.Penalty}");
        Assert.Contains((await f.TrailAsync("link/rb~rc")), r => r.Kind == DecisionKinds.HealthChanged && r.Reason.Contains("Damped") && r.Reason.Contains("suppressed until"));
        await FleetTestCluster.EventuallyAsync(async () => LinkCluster.PathOf(await f.FlowAsync("rf-1")) == "ra–rd–rc", "the flow left the damped link");
        // Within the suppression the flow stays away; after it (the penalty halves every minute) the link comes back.
        f.Time.Advance(TimeSpan.FromSeconds(20));
        await f.ProbeAsync(["rb~rc"], up: true);
        Assert.Equal(LinkState.Damped, (await f.Link("rb~rc").GetStatusAsync())!.State);
        await f.AdvanceUntilAsync(async () => (await f.Link("rb~rc").GetStatusAsync())!.State == LinkState.Up, "the suppression ended", TimeSpan.FromMinutes(6), TimeSpan.FromSeconds(10),
            async () => await f.ProbeAsync(["rb~rc"], up: true));
    }
}

/// <summary>The storm brake on a cluster of its own: it holds for its window, and other tests' links must not count toward it.</summary>
public class LinkStormCluster : LinkCluster;

public class LinkStormTests(LinkStormCluster f) : IClassFixture<LinkStormCluster>
{
    [Fact]
    public async Task AMassLossOfProbes_IsSuspectTelemetry_TheStormBrakeMovesNothing()
    {
        var ids = Enumerable.Range(0, 6).Select(i => $"sa~sb{i}").ToArray();
        await f.DefineAsync("metro-5", [.. ids.Select(id => (id, 100.0, 5.0)), .. ids.Select(id => ($"sb{id[^1]}~sc", 100.0, 5.0))]);
        await f.AddFlowAsync("sf-1", "sa", "sc", 10);
        // The flow's own link loses its probes last, as the sixth of twelve within the storm window.
        var mine = (await f.FlowAsync("sf-1")).Links[0];
        var order = ids.Where(id => id != mine).Append(mine).ToArray();
        foreach (var id in order)
        {
            await f.ProbeAsync([id], up: false);
            await f.ProbeAsync([id], up: false);
        }
        try
        {
            await FleetTestCluster.EventuallyAsync(async () => (await f.TrailAsync("link/" + mine)).Any(r => r.Kind == DecisionKinds.Denied), "the reroute was held back");
        }
        catch (Exception e)
        {
            var all = new List<string>();
            foreach (var id in order) all.AddRange((await f.TrailAsync("link/" + id)).Select(r => $"{r.Subject} {r.Kind}: {r.Reason}"));
            all.AddRange((await f.TrailAsync("flow/sf-1")).Select(r => $"{r.Subject} {r.Kind}: {r.Reason}"));
            throw new Exception(e.Message + "\n" + string.Join("\n", all));
        }
        var held = (await f.TrailAsync("link/" + mine)).First(r => r.Kind == DecisionKinds.Denied);
        Assert.Equal(mine, (await f.FlowAsync("sf-1")).Links[0]);
        Assert.Contains("network's storm brake holds", held.Reason);
        Assert.Contains("suspect telemetry", held.Reason);
        Assert.DoesNotContain(f.Actuator.History, a => a.Action == ActionNames.ShiftFlow && a.Parameters["flow"] == "sf-1" && a.Parameters["fromPath"] != "");
    }
}
