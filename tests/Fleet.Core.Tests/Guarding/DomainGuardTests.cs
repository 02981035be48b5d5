using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Guarding;

namespace Fleet.Core.Tests.Guarding;

public class DomainGuardTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly GuardrailPolicy Policy = FleetPolicy.Default.Guardrails with { MaxConcurrentPerDomain = 1, MaxActionsPerWindow = 2 };

    private static LeaseRequest Req(string node, string id = "r", ActionClass actionClass = ActionClass.Disruptive, int cost = 1, bool force = false,
        ActionBasis basis = ActionBasis.UnconfirmedSilence) =>
        new($"{node}/{id}", $"node/{node}", "reboot", 1, ["domain/rack-a"], actionClass, cost, force, basis);

    private static DomainGuardState WithMembers(int healthy, int unhealthy)
    {
        var members = ImmutableDictionary<string, NodeSummary>.Empty;
        for (var i = 0; i < healthy; i++) members = members.Add($"h{i}", new NodeSummary($"h{i}", "rack-a", HealthState.Healthy, T0));
        for (var i = 0; i < unhealthy; i++) members = members.Add($"u{i}", new NodeSummary($"u{i}", "rack-a", HealthState.Unhealthy, T0));
        return DomainGuardState.Empty with { Members = members };
    }

    [Fact]
    public void WithMember_KeepsTheTroubledCountEqualToARecount_OverRandomChanges()
    {
        var rng = new Random(7);
        var states = new[] { HealthState.Unknown, HealthState.Healthy, HealthState.Suspect, HealthState.Unhealthy };
        var s = WithMembers(3, 2);
        Assert.Equal(2, s.Troubled);
        for (var i = 0; i < 500; i++)
        {
            var id = $"n{rng.Next(20)}";
            s = rng.Next(5) == 0 ? s.WithoutMember(id) : s.WithMember(new NodeSummary(id, "rack-a", states[rng.Next(states.Length)], T0));
            Assert.Equal(s.Members.Values.Count(m => DomainGuard.CountsTowardStorm(m.Health)), s.Troubled);
        }
        var copy = s with { StormActive = true };
        Assert.Equal(s.Troubled, copy.Troubled);
    }

    [Fact]
    public void Decide_FreeSlot_Granted()
    {
        var d = DomainGuard.Decide(WithMembers(9, 1), "rack-a", Req("u0"), T0, Policy);
        Assert.True(d.Granted);
        Assert.Contains("0 of 1 action slots in use", d.Reason);
    }

    [Fact]
    public void Decide_SlotTaken_DeniedByMaxConcurrent()
    {
        var s = DomainGuard.Grant(WithMembers(9, 1), Req("u0"), T0, T0.AddMinutes(15));
        var d = DomainGuard.Decide(s, "rack-a", Req("u1"), T0, Policy);
        Assert.False(d.Granted);
        Assert.Equal(Guardrails.MaxConcurrent, d.Guardrail);
        Assert.Contains("reboot on u0", d.Reason);
    }

    [Fact]
    public void Decide_RateWindowFull_DeniedByRateLimit_ThenFreeAfterWindow()
    {
        var s = WithMembers(10, 0);
        s = DomainGuard.Release(DomainGuard.Grant(s, Req("a"), T0, T0.AddMinutes(15)), "a/r");
        s = DomainGuard.Release(DomainGuard.Grant(s, Req("b"), T0, T0.AddMinutes(15)), "b/r");
        Assert.Equal(Guardrails.RateLimit, DomainGuard.Decide(s, "rack-a", Req("c"), T0.AddMinutes(1), Policy).Guardrail);
        var (pruned, _) = DomainGuard.Prune(s, T0 + Policy.Window, Policy);
        Assert.True(DomainGuard.Decide(pruned, "rack-a", Req("c"), T0 + Policy.Window, Policy).Granted);
    }

    [Fact]
    public void Prune_ExpiredLease_FreesSlot()
    {
        var s = DomainGuard.Grant(WithMembers(5, 0), Req("a"), T0, T0.AddMinutes(15));
        var (pruned, expired) = DomainGuard.Prune(s, T0.AddMinutes(15), Policy);
        Assert.Single(expired);
        Assert.Empty(pruned.Leases);
    }

    [Fact]
    public void CheckStorm_ShareAtThreshold_StartsAndDeniesDisruptive()
    {
        var s = WithMembers(7, 3); // 30%
        var storm = DomainGuard.CheckStorm(s, T0, Policy);
        Assert.Equal(StormEvent.Started, storm.Event);
        Assert.Contains("3 of 10 members (30%)", storm.Reason);
        var d = DomainGuard.Decide(storm.State, "rack-a", Req("u0"), T0, Policy);
        Assert.Equal(Guardrails.StormBrake, d.Guardrail);
    }

    [Fact]
    public void CheckStorm_BelowThreshold_NoStorm()
    {
        Assert.Equal(StormEvent.None, DomainGuard.CheckStorm(WithMembers(8, 2), T0, Policy).Event);
    }

    [Fact]
    public void CheckStorm_OneSickNodeInSmallDomain_NotAStorm()
    {
        Assert.Equal(StormEvent.None, DomainGuard.CheckStorm(WithMembers(2, 1), T0, Policy).Event);
        Assert.Equal(StormEvent.Started, DomainGuard.CheckStorm(WithMembers(1, 2), T0, Policy).Event);
    }

    [Fact]
    public void CheckStorm_SmallDomain_NeverTrips()
    {
        Assert.Equal(StormEvent.None, DomainGuard.CheckStorm(WithMembers(0, 2), T0, Policy).Event);
    }

    [Fact]
    public void CheckStorm_AfterStorm_HoldsForCooldownThenThaws()
    {
        var s = DomainGuard.CheckStorm(WithMembers(5, 5), T0, Policy).State;
        var calm = s with { Members = WithMembers(10, 0).Members };
        var ended = DomainGuard.CheckStorm(calm, T0.AddMinutes(1), Policy);
        Assert.Equal(StormEvent.Ended, ended.Event);
        Assert.True(ended.State.Frozen(T0.AddMinutes(5)));
        Assert.Equal(Guardrails.StormBrake, DomainGuard.Decide(ended.State, "rack-a", Req("h0"), T0.AddMinutes(5), Policy).Guardrail);
        var thawed = DomainGuard.CheckStorm(ended.State, T0.AddMinutes(1) + Policy.StormCooldown, Policy);
        Assert.Equal(StormEvent.Thawed, thawed.Event);
        Assert.False(thawed.State.Frozen(T0.AddMinutes(1) + Policy.StormCooldown));
    }

    [Fact]
    public void Decide_StormBrake_HoldsDisruptiveAndRollout_NotRerouteOrContainment()
    {
        var storm = DomainGuard.CheckStorm(WithMembers(5, 5), T0, Policy).State;
        Assert.Equal(Guardrails.StormBrake, DomainGuard.Decide(storm, "rack-a", Req("u0", actionClass: ActionClass.Rollout), T0, Policy).Guardrail);
        Assert.Equal(Guardrails.StormBrake, DomainGuard.Decide(storm, "rack-a", Req("u0", actionClass: ActionClass.Preventive), T0, Policy).Guardrail);
        Assert.True(DomainGuard.Decide(storm, "rack-a", Req("u0", actionClass: ActionClass.Reroute), T0, Policy).Granted);
        Assert.True(DomainGuard.Decide(storm, "rack-a", Req("u0", actionClass: ActionClass.Containment), T0, Policy).Granted);
        Assert.Equal(Guardrails.StormBrake, DomainGuard.Decide(storm, "rack-a", Req("u0", force: true), T0, Policy).Guardrail);
    }

    [Fact]
    public void Decide_ForcedRequest_PassesConcurrencyAndRate_SaysSo()
    {
        var s = DomainGuard.Grant(WithMembers(9, 1), Req("u0"), T0, T0.AddMinutes(15));
        Assert.Equal(Guardrails.MaxConcurrent, DomainGuard.Decide(s, "rack-a", Req("h1"), T0, Policy).Guardrail);
        var forced = DomainGuard.Decide(s, "rack-a", Req("h1", force: true), T0, Policy);
        Assert.True(forced.Granted);
        Assert.Contains("1 of 1 action slots in use", forced.Reason);
        Assert.Contains("forced past the concurrency and rate budgets", forced.Reason);
    }

    [Fact]
    public void Decide_CostLargerThanFreeSlots_Denied()
    {
        var wide = Policy with { MaxConcurrentPerDomain = 3 };
        var s = DomainGuard.Grant(WithMembers(9, 1), Req("u0", cost: 2), T0, T0.AddMinutes(15));
        Assert.Equal(2, s.SlotsInUse);
        Assert.True(DomainGuard.Decide(s, "rack-a", Req("h1"), T0, wide).Granted);
        Assert.Equal(Guardrails.MaxConcurrent, DomainGuard.Decide(s, "rack-a", Req("h1", cost: 2), T0, wide).Guardrail);
    }

    [Fact]
    public void Decide_StormBrake_LetsPositiveEvidenceThroughWithinTheBudget_AndSaysSo()
    {
        var storm = DomainGuard.CheckStorm(WithMembers(5, 5), T0, Policy).State;
        var silent = DomainGuard.Decide(storm, "rack-a", Req("u0"), T0, Policy);
        Assert.Equal(Guardrails.StormBrake, silent.Guardrail);
        Assert.Contains("it holds actions resting on silence nothing has confirmed, as this one does", silent.Reason);
        Assert.Equal("5 of 10 troubled (50%), threshold 30%", silent.Evidence["storm"]);

        var crashed = DomainGuard.Decide(storm, "rack-a", Req("u1", basis: ActionBasis.Reported), T0, Policy);
        Assert.True(crashed.Granted);
        Assert.Contains("the storm brake is on in rack-a (5 of 10 troubled) but holds only actions on unconfirmed silence, and this one rests on what the node itself reports (a failed check)", crashed.Reason);
        Assert.True(DomainGuard.Decide(storm, "rack-a", Req("u2", basis: ActionBasis.ConfirmedSilence), T0, Policy).Granted);

        var taken = DomainGuard.Grant(storm, Req("u1", basis: ActionBasis.Reported), T0, T0.AddMinutes(15));
        var next = DomainGuard.Decide(taken, "rack-a", Req("u2", basis: ActionBasis.Reported), T0, Policy);
        Assert.Equal(Guardrails.MaxConcurrent, next.Guardrail);
        Assert.Contains("but holds only actions on unconfirmed silence", next.Reason);

        var strict = Policy with { StormBrakeHolds = StormBrakeHolds.AllDisruptive };
        var held = DomainGuard.Decide(storm, "rack-a", Req("u1", basis: ActionBasis.Reported), T0, strict);
        Assert.Equal(Guardrails.StormBrake, held.Guardrail);
        Assert.Contains("it holds every disruptive action", held.Reason);
    }
}
