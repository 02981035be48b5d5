using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Guarding;

namespace Fleet.Core.Tests.Guarding;

public class FleetGuardTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly GuardrailPolicy Policy = FleetPolicy.Default.Guardrails with { FleetMaxConcurrent = 2 };

    [Fact]
    public void Acquire_Frozen_DeniedWithReason()
    {
        var s = FleetGuardState.Empty with { Frozen = true, FrozenBy = "alice", FreezeReason = "release day", FrozenAt = T0 };
        var (_, d) = FleetGuard.Acquire(s, "L1", T0.AddMinutes(5), T0, Policy);
        Assert.Equal(Guardrails.FleetFreeze, d.Guardrail);
        Assert.Contains("alice", d.Reason);
        Assert.Contains("release day", d.Reason);
    }

    [Fact]
    public void Acquire_AtCap_Denied_ExpiredLeasesDoNotCount()
    {
        var s = FleetGuardState.Empty;
        (s, _) = FleetGuard.Acquire(s, "L1", T0.AddMinutes(1), T0, Policy);
        (s, _) = FleetGuard.Acquire(s, "L2", T0.AddMinutes(10), T0, Policy);
        Assert.Equal(Guardrails.FleetMaxConcurrent, FleetGuard.Acquire(s, "L3", T0.AddMinutes(10), T0, Policy).Decision.Guardrail);
        Assert.True(FleetGuard.Acquire(s, "L3", T0.AddMinutes(10), T0.AddMinutes(2), Policy).Decision.Granted);
    }

    [Fact]
    public void Acquire_SameLeaseTwice_Idempotent()
    {
        var (s, _) = FleetGuard.Acquire(FleetGuardState.Empty, "L1", T0.AddMinutes(1), T0, Policy);
        var (s2, d) = FleetGuard.Acquire(s, "L1", T0.AddMinutes(1), T0, Policy);
        Assert.True(d.Granted);
        Assert.Single(s2.Leases);
    }
}
