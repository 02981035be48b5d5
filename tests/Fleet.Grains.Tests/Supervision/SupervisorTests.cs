using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Supervision;

public sealed class SupervisorCluster : FleetTestCluster;

public class SupervisorTests(SupervisorCluster f) : IClassFixture<SupervisorCluster>
{
    [Fact]
    public async Task ManyNodesReportingFailuresAtOnce_StormBrakeFreezesDomain_RecordsWhy_ReportedFailuresGoOnWithinTheBudget()
    {
        foreach (var i in Enumerable.Range(1, 5)) await f.RegisterAsync($"st-{i}", "d-storm");
        foreach (var i in Enumerable.Range(1, 3))
            for (var r = 0; r < 3; r++) await f.ReportAsync($"st-{i}", healthy: false);

        var domainTrail = await f.TrailAsync("domain/d-storm");
        var frozen = Assert.Single(domainTrail, r => r.Kind == DecisionKinds.Frozen);
        Assert.Equal(Guardrails.StormBrake, frozen.Guardrail);
        Assert.Contains("2 of 5 members (40%)", frozen.Reason);
        Assert.Contains("telemetry itself is suspected", frozen.Reason);

        // The nodes report their own failures (positive evidence): the brake, which holds actions on unconfirmed silence,
        // lets them through to the domain's budget — one action slot — and every denial says the storm is on.
        var denials = new List<DecisionRecord>();
        foreach (var i in Enumerable.Range(2, 2)) denials.AddRange((await f.TrailAsync($"node/st-{i}")).Where(r => r.Kind == DecisionKinds.Denied));
        Assert.NotEmpty(denials);
        Assert.All(denials, d => Assert.Equal(Guardrails.MaxConcurrent, d.Guardrail));
        Assert.Contains(denials, d => d.Reason.Contains("the storm brake is on in d-storm") && d.Reason.Contains("holds only actions on unconfirmed silence"));
        Assert.Contains(denials, d => d.Evidence.ContainsKey("storm"));
        var status = await f.Client.GetGrain<IDomainSupervisorGrain>("d-storm").GetStatusAsync();
        Assert.True(status.StormBrakeOn);
        Assert.Equal(3, status.UnhealthyOrSuspect);
        Assert.True(f.Actuator.History.Count(a => a.Target!.StartsWith("st-")) <= 1, "at most the first node was acted on before the storm was seen");
    }

    [Fact]
    public async Task Lease_HolderNeverReleases_ExpiresAndFreesTheSlot()
    {
        var domain = f.Client.GetGrain<IDomainSupervisorGrain>("d-lease");
        foreach (var id in new[] { "ls-1", "ls-2", "ls-3", "ls-4" })
            await domain.ReportMemberAsync(new NodeSummary(id, "d-lease", HealthState.Healthy, f.Time.GetUtcNow()));
        var first = await domain.RequestLeaseAsync(new LeaseRequest("ls-1/a", "node/ls-1", "reboot", 1, ["domain/d-lease"]));
        Assert.True(first.Granted);
        var again = await domain.RequestLeaseAsync(new LeaseRequest("ls-1/a", "node/ls-1", "reboot", 1, ["domain/d-lease"]));
        Assert.Equal(first.LeaseId, again.LeaseId);
        Assert.Equal(Guardrails.MaxConcurrent, (await domain.RequestLeaseAsync(new LeaseRequest("ls-2/a", "node/ls-2", "reboot", 1, ["domain/d-lease"]))).Guardrail);

        await f.AdvanceAsync(FleetPolicy.Default.Guardrails.LeaseDuration + TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
        await FleetTestCluster.EventuallyAsync(async () => (await domain.GetStatusAsync()).Leases.IsEmpty, "the lease expired");
        Assert.True((await domain.RequestLeaseAsync(new LeaseRequest("ls-2/b", "node/ls-2", "reboot", 1, ["domain/d-lease"]))).Granted);
        Assert.Contains(await f.TrailAsync("node/ls-1"), r => r.Kind == DecisionKinds.Released && r.Outcome == "expired");
    }

    [Fact]
    public async Task Policy_InvalidRefusedWholly_ValidGetsNextVersion()
    {
        var policy = f.Client.GetGrain<IPolicyGrain>(FleetNames.Default);
        var before = await policy.GetCurrentAsync();
        var bad = await policy.ApplyAsync("telemetry:\n  reportInterval: often\nguardrails:\n  maxConcurrentPerDomain: -1\n", "test");
        Assert.False(bad.Applied);
        Assert.Equal(2, bad.Problems.Length);
        Assert.Equal(before.Version, (await policy.GetCurrentAsync()).Version);

        var good = await policy.ApplyAsync("guardrails:\n  fleetMaxConcurrent: 999\n", "carol");
        Assert.True(good.Applied);
        Assert.Equal(before.Version + 1, good.Version);
        Assert.Equal(999, (await policy.GetCurrentAsync()).Guardrails.FleetMaxConcurrent);
        var history = await policy.GetHistoryAsync();
        Assert.Equal(good.Version, history[0].Version);
        Assert.Equal("carol", history[0].AppliedBy);
        Assert.Contains(await f.TrailAsync("policy"), r => r.Kind == DecisionKinds.PolicyApplied && r.PolicyVersion == good.Version);
    }
}
