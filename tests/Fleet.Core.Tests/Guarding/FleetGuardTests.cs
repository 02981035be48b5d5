using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Guarding;

namespace Fleet.Core.Tests.Guarding;

public class FleetGuardTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly GuardrailPolicy Policy = FleetPolicy.Default.Guardrails with { FleetMaxConcurrent = 2 };

    private static LeaseRequest Req(string id, ActionClass actionClass = ActionClass.Disruptive, int cost = 1, bool force = false) =>
        new(id, "node/n1", "reboot", 1, ["domain/rack-a"], actionClass, cost, force);

    [Fact]
    public void Acquire_Frozen_DeniedWithReason()
    {
        var s = FleetGuardState.Empty with { Frozen = true, FrozenBy = "alice", FreezeReason = "release day", FrozenAt = T0 };
        var (_, d) = FleetGuard.Acquire(s, Req("L1"), T0.AddMinutes(5), T0, Policy);
        Assert.Equal(Guardrails.FleetFreeze, d.Guardrail);
        Assert.Contains("alice", d.Reason);
        Assert.Contains("release day", d.Reason);
    }

    [Fact]
    public void Acquire_AtCap_Denied_ExpiredLeasesDoNotCount()
    {
        var s = FleetGuardState.Empty;
        (s, _) = FleetGuard.Acquire(s, Req("L1"), T0.AddMinutes(1), T0, Policy);
        (s, _) = FleetGuard.Acquire(s, Req("L2"), T0.AddMinutes(10), T0, Policy);
        Assert.Equal(Guardrails.FleetMaxConcurrent, FleetGuard.Acquire(s, Req("L3"), T0.AddMinutes(10), T0, Policy).Decision.Guardrail);
        Assert.True(FleetGuard.Acquire(s, Req("L3"), T0.AddMinutes(10), T0.AddMinutes(2), Policy).Decision.Granted);
    }

    [Fact]
    public void Acquire_SameLeaseTwice_Idempotent()
    {
        var (s, _) = FleetGuard.Acquire(FleetGuardState.Empty, Req("L1"), T0.AddMinutes(1), T0, Policy);
        var (s2, d) = FleetGuard.Acquire(s, Req("L1"), T0.AddMinutes(1), T0, Policy);
        Assert.True(d.Granted);
        Assert.Single(s2.Leases);
    }

    [Fact]
    public void Acquire_Frozen_ContainmentStillPasses_RerouteAndRolloutHeld()
    {
        var s = FleetGuardState.Empty with { Frozen = true, FrozenBy = "alice", FreezeReason = "release day", FrozenAt = T0 };
        Assert.Equal(Guardrails.FleetFreeze, FleetGuard.Acquire(s, Req("L1", ActionClass.Reroute), T0.AddMinutes(5), T0, Policy).Decision.Guardrail);
        Assert.True(FleetGuard.Acquire(s, Req("L2", ActionClass.Containment), T0.AddMinutes(5), T0, Policy).Decision.Granted);
        Assert.Equal(Guardrails.FleetFreeze, FleetGuard.Acquire(s, Req("L3", ActionClass.Rollout), T0.AddMinutes(5), T0, Policy).Decision.Guardrail);
    }

    [Fact]
    public void Acquire_CostCountsSlots_ForcePassesTheCap()
    {
        var (s, d) = FleetGuard.Acquire(FleetGuardState.Empty, Req("L1", cost: 2), T0.AddMinutes(5), T0, Policy);
        Assert.True(d.Granted);
        Assert.Equal(2, s.SlotsInUse);
        var denied = FleetGuard.Acquire(s, Req("L2"), T0.AddMinutes(5), T0, Policy).Decision;
        Assert.Equal(Guardrails.FleetMaxConcurrent, denied.Guardrail);
        Assert.Contains("2 of 2 actions in flight", denied.Reason);
        Assert.True(FleetGuard.Acquire(s, Req("L2", force: true), T0.AddMinutes(5), T0, Policy).Decision.Granted);
        Assert.Equal(0, FleetGuard.Release(s, "L1").SlotsInUse);
    }
}
