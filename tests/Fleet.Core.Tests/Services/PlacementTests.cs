using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Core.Services;

namespace Fleet.Core.Tests.Services;

public class PlacementTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private const long Gi = 1L << 30;
    private static readonly ImmutableDictionary<string, string> Web = ImmutableDictionary<string, string>.Empty.Add("role", "web");

    private static NodeRegistration Node(string id, string domain = "rack-a", ImmutableDictionary<string, string>? labels = null) =>
        new(id, domain, new NodeCapacity(8, 16 * Gi, 100 * Gi), labels ?? Web);

    private static PlacementAsk Ask(double cpu = 2, long memory = 2 * Gi, ImmutableDictionary<string, string>? labels = null) =>
        new("api", "api-9", cpu, memory, labels ?? Web, TimeSpan.FromMinutes(2));

    private static NodePlacement Held(string instance, double cpu, bool confirmed = true, DateTimeOffset? expires = null) =>
        new("api", instance, cpu, (long)cpu * Gi, confirmed, T0, expires);

    [Fact]
    public void Offer_FreeIsCapacityMinusReservations_ExpiredOnesDoNotCount()
    {
        var offer = Placement.Offer(Node("n1"), HealthState.Healthy, AdminState.None,
            [Held("api-1", 3), Held("api-2", 2, confirmed: false, T0.AddMinutes(1)), Held("api-3", 2, confirmed: false, T0.AddSeconds(-1))], Ask(), T0);
        Assert.True(offer.Accepts);
        Assert.Equal(3, offer.FreeCpu);
        Assert.Equal(11 * Gi, offer.FreeMemory);
    }

    [Fact]
    public void Offer_AConsolidationMove_IsTakenOnlyUnderItsShare_AndRanksTheFullestUnderItFirst()
    {
        // 8 cores, 16 GiB: 4 cores held; a 2-core ask makes it 75 % — under 80 %; with 5 held, 87.5 % — over it.
        var capped = Ask() with { MaxShare = 0.8 };
        Assert.True(Placement.Offer(Node("n1"), HealthState.Healthy, AdminState.None, [Held("api-1", 4)], capped, T0).Accepts);
        var over = Placement.Offer(Node("n1"), HealthState.Healthy, AdminState.None, [Held("api-1", 5)], capped, T0);
        Assert.False(over.Accepts);
        Assert.Equal("n1 would be 87.5% allocated, over the 80% a consolidation move may fill", over.Refusal);
        Assert.True(Placement.Offer(Node("n1"), HealthState.Healthy, AdminState.None, [Held("api-1", 5)], Ask(), T0).Accepts); // no cap: any room

        // Ranked for packing: the fullest node that stays under the cap first, then the emptier, the one over the cap last;
        // without packing, the least allocated first.
        CapacityOffer O(string id, double free) => new(id, "rack-a", free, (long)(free * 2) * Gi, 8, 16 * Gi, HealthState.Healthy, true, null);
        var offers = new[] { O("empty", 8), O("half", 4), O("nearly", 1.5), O("quarter", 6) };
        var perDomain = new Dictionary<string, int>();
        Assert.Equal(["half", "quarter", "empty", "nearly"], Placement.Rank(offers, perDomain, false, packUnder: 0.8, ask: Ask()).Select(o => o.NodeId).ToArray());
        Assert.Equal(["empty", "quarter", "half", "nearly"], Placement.Rank(offers, perDomain, false).Select(o => o.NodeId).ToArray());
    }

    [Theory]
    [InlineData(HealthState.Unhealthy, AdminState.None, "n1 is Unhealthy")]
    [InlineData(HealthState.Suspect, AdminState.None, "n1 is Suspect")]
    [InlineData(HealthState.Unknown, AdminState.None, "n1 has not reported yet")]
    [InlineData(HealthState.Healthy, AdminState.Cordoned, "n1 is cordoned")]
    [InlineData(HealthState.Draining, AdminState.Draining, "n1 is draining")]
    public void Offer_NodeThatShouldTakeNoWork_Refuses(HealthState health, AdminState admin, string refusal)
    {
        var offer = Placement.Offer(Node("n1"), health, admin, [], Ask(), T0);
        Assert.False(offer.Accepts);
        Assert.Equal(refusal, offer.Refusal);
    }

    [Fact]
    public void Offer_Full_OrLackingALabel_RefusesWithFigures()
    {
        var full = Placement.Offer(Node("n1"), HealthState.Healthy, AdminState.None, [Held("api-1", 7)], Ask(), T0);
        Assert.Equal("n1 is full (1 of 8 cores and 9 GiB of 16 GiB free; 2 cores and 2 GiB needed)", full.Refusal);
        var unlabelled = Placement.Offer(Node("n2", labels: ImmutableDictionary<string, string>.Empty), HealthState.Healthy, AdminState.None, [], Ask(), T0);
        Assert.Equal("n2 lacks the label role=web", unlabelled.Refusal);
    }

    [Fact]
    public void Offer_SameInstanceAskingAgain_NotCountedAgainstItself()
    {
        var offer = Placement.Offer(Node("n1"), HealthState.Healthy, AdminState.None, [Held("api-9", 7, confirmed: false, T0.AddMinutes(1))], Ask(cpu: 7), T0);
        Assert.True(offer.Accepts);
    }

    private static CapacityOffer O(string node, string domain, double freeCpu, long freeMemory = 16 * Gi, bool accepts = true) =>
        new(node, domain, freeCpu, freeMemory, 8, 16 * Gi, HealthState.Healthy, accepts, accepts ? null : "full");

    [Fact]
    public void Rank_SpreadFirst_ThenLeastAllocated_ThenId_RefusingAndAvoidedLeftOut()
    {
        var perDomain = new Dictionary<string, int> { ["a"] = 2, ["b"] = 1 };
        var ranked = Placement.Rank(
            [O("a1", "a", 8), O("b1", "b", 2), O("b2", "b", 6), O("c1", "c", 1), O("c3", "c", 8, accepts: false), O("d1", "d", 8)],
            perDomain, spread: true, avoid: new HashSet<string> { "d1" });
        Assert.Equal(["c1", "b2", "b1", "a1"], ranked.Select(o => o.NodeId).ToArray());
        var packed = Placement.Rank([O("a1", "a", 8, 32 * Gi), O("b1", "b", 2, 32 * Gi), O("b2", "b", 6, 32 * Gi)], perDomain, spread: false);
        Assert.Equal(["a1", "b2", "b1"], packed.Select(o => o.NodeId).ToArray());
    }

    [Fact]
    public void Rank_EqualOffers_InstancesPlacedTogetherSpreadOverThem()
    {
        var offers = Enumerable.Range(0, 8).Select(i => O($"n{i}", "a", 8)).ToArray();
        var firsts = Enumerable.Range(0, 40).Select(i => Placement.Rank(offers, new Dictionary<string, int>(), spread: true, instance: $"svc-{i}-1")[0].NodeId).ToHashSet();
        Assert.True(firsts.Count >= 5, $"40 instances placed at once from one inventory chose only {firsts.Count} distinct nodes");
        Assert.Equal(Placement.Rank(offers, new Dictionary<string, int>(), true, instance: "x")[0], Placement.Rank(offers, new Dictionary<string, int>(), true, instance: "x")[0]);
    }

    [Fact]
    public void Rank_WithinADomain_NodesHoldingFewerOfTheServiceFirst()
    {
        var ranked = Placement.Rank([O("a1", "a", 8), O("a2", "a", 2)], new Dictionary<string, int> { ["a"] = 1 }, spread: true,
            instancesPerNode: new Dictionary<string, int> { ["a1"] = 1 });
        Assert.Equal(["a2", "a1"], ranked.Select(o => o.NodeId).ToArray());
    }

    [Fact]
    public void Rank_LeastAllocated_IsTheScarcerOfCpuAndMemory()
    {
        var ranked = Placement.Rank([O("cpu-rich", "a", 8, 2 * Gi), O("balanced", "a", 4, 16 * Gi)], new Dictionary<string, int>(), spread: true);
        Assert.Equal("balanced", ranked[0].NodeId);
    }

    [Fact]
    public void MayFit_UsesTheInventoryRow()
    {
        var row = new NodeSummary("n1", "a", HealthState.Healthy, T0) { FreeCpu = 4, FreeMemory = 4 * Gi, Labels = Web };
        Assert.True(Placement.MayFit(row, Ask()));
        Assert.False(Placement.MayFit(row with { Admin = AdminState.Cordoned }, Ask()));
        Assert.False(Placement.MayFit(row with { Health = HealthState.Suspect }, Ask()));
        Assert.False(Placement.MayFit(row, Ask(cpu: 5)));
        Assert.False(Placement.MayFit(row with { Labels = null }, Ask()));
        Assert.False(Placement.MayFit(new NodeSummary("old", "a", HealthState.Healthy, T0), Ask()));
    }
}
