using System.Collections.Immutable;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Policy;
using Fleet.Core.Lifecycle;
using Fleet.Core.Policies;

namespace Fleet.Core.Tests.Lifecycle;

/// <summary>The consolidation planner: which nodes a fragmented fleet can free, by which moves, and what it refuses and why.</summary>
public class ConsolidationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LongAgo = T0 - TimeSpan.FromDays(1);
    private static readonly ConsolidatePolicy Policy = ConsolidatePolicy.Default;
    private const long Gi = 1L << 30;

    private static PlannedInstance I(string service, string id, double cpu = 1, long memory = Gi, DateTimeOffset? since = null) => new(service, id, cpu, memory, since ?? LongAgo);

    private static PlannedNode N(string id, string domain, params PlannedInstance[] instances) => new(id, domain, 8, 32 * Gi, true, [.. instances]);

    private static Dictionary<string, PlannedService> Services(params PlannedService[] services) => services.ToDictionary(s => s.Name);

    private static PlannedService S(string name, bool spread = false, int maxMoves = 1, TimeSpan? start = null, bool busy = false) => new(name, spread, maxMoves, start, busy);

    [Fact]
    public void AnInstance_NeverMovesToANodeLackingALabelItsServiceAsksFor()
    {
        var gpu = ImmutableDictionary<string, string>.Empty.Add("gpu", "a100");
        var nodes = new[]
        {
            N("n1", "d", I("train", "t-1") with { Needs = gpu }) with { Labels = gpu },
            N("n2", "d", I("web", "w-1", 4)),
            N("n3", "d", I("web2", "w2-1", 4)) with { Labels = gpu },
        };
        var plan = Consolidation.Plan(nodes, Services(), Policy with { MaxNodesPerPlan = 10 }, T0);
        var move = plan.Moves.Single(m => m.Instance == "t-1");
        Assert.Equal("n3", move.To); // n2 is fuller and would be the best fit, but has no gpu label
    }

    [Fact]
    public void ACostlyShape_IsWorthFreeing_WhereACheapOneWithTheSameMovesIsNot()
    {
        var large = ImmutableDictionary<string, string>.Empty.Add("shape", "large");
        // Each of n1 and n2 carries one instance of a slow-starting service (20 min to start): freeing a node costs 20
        // instance-minutes. At 1 an hour (costPerNode) that is 0.05 a minute, under the 0.1 threshold; a large node at 4 an
        // hour clears it (0.2).
        var nodes = new[]
        {
            N("n1", "d", I("slow", "s-1", 1)),
            N("n2", "d", I("slow2", "s2-1", 1)) with { Labels = large },
            N("n3", "d", I("web", "w-1", 4)),
        };
        var services = Services(S("slow", start: TimeSpan.FromMinutes(20)), S("slow2", start: TimeSpan.FromMinutes(20)), S("web", start: TimeSpan.FromMinutes(20)));
        var policy = Policy with { MaxNodesPerPlan = 10, Costs = ImmutableDictionary<string, double>.Empty.Add("large", 4) };
        var plan = Consolidation.Plan(nodes, services, policy, T0);
        Assert.Equal(["n2"], plan.Freed.Select(c => c.NodeId).ToArray());
        var freed = plan.Candidates.Single(c => c.NodeId == "n2");
        Assert.Equal(4, freed.Saving);
        Assert.Contains("saves 4 per hour (a large node) against 20 instance-minute(s)", freed.Why);
        var kept = plan.Candidates.Single(c => c.NodeId == "n1");
        Assert.False(kept.Accepted);
        Assert.Contains("saves 1 per hour against 20 instance-minute(s) of starts (0.05 per minute, under the threshold 0.1)", kept.Why);
        // Without the shape's cost, neither is worth it.
        Assert.DoesNotContain(Consolidation.Plan(nodes, services, Policy with { MaxNodesPerPlan = 10 }, T0).Freed, c => c.Moves.Length > 0);
    }

    [Fact]
    public void AFragmentedFleet_FreesItsEmptiestNodes_BestFit_NoInstanceMovedTwice()
    {
        // Four nodes a quarter full each: two can be freed onto the other two (under 80%).
        var nodes = new[]
        {
            N("n1", "d", I("a", "a-1", 2), I("b", "b-1", 1)),
            N("n2", "d", I("c", "c-1", 2)),
            N("n3", "d", I("d", "d-1", 2), I("e", "e-1", 2)),
            N("n4", "d", I("f", "f-1", 2), I("g", "g-1", 1)),
        };
        var plan = Consolidation.Plan(nodes, Services(), Policy with { MaxNodesPerPlan = 10 }, T0);
        var freed = plan.Freed.Select(c => c.NodeId).ToArray();
        Assert.Equal(2, freed.Length);
        Assert.Equal("n2", freed[0]); // the fewest instances first
        Assert.Equal(plan.Moves.Count(), plan.Moves.Select(m => m.Instance).Distinct().Count()); // none moved twice
        Assert.All(plan.Moves, m => Assert.DoesNotContain(m.To, freed)); // nothing lands on a node being freed
        // The nodes kept stay under 80% allocated.
        foreach (var kept in nodes.Where(n => !freed.Contains(n.NodeId)))
        {
            var cpu = kept.CpuUsed + plan.Moves.Where(m => m.To == kept.NodeId).Sum(m => nodes.SelectMany(n => n.Instances).First(i => i.Instance == m.Instance).CpuCores);
            Assert.True(cpu / kept.CpuCores <= 0.8, $"{kept.NodeId} at {cpu} cores");
        }
        Assert.Contains($"{freed.Length} node(s) can be freed", plan.Summary);
    }

    [Fact]
    public void AnEmptyNode_IsFreedAsItIs_ForNothing()
    {
        var plan = Consolidation.Plan([N("busy", "d", I("a", "a-1", 5)), N("idle", "d")], Services(), Policy, T0);
        var idle = Assert.Single(plan.Freed);
        Assert.Equal("idle", idle.NodeId);
        Assert.Empty(idle.Moves);
        Assert.Equal("it runs nothing: it can be given back as it is", idle.Why);
    }

    [Fact]
    public void EmptyNodes_DoNotUseUpThePlansLimit()
    {
        var nodes = Enumerable.Range(1, 6).Select(i => N($"idle-{i}", "d")).Append(N("n1", "d", I("a", "a-1"))).Append(N("n2", "d", I("b", "b-1", 2))).ToList();
        var plan = Consolidation.Plan(nodes, Services(), Policy with { MaxNodesPerPlan = 1 }, T0);
        var withMoves = Assert.Single(plan.Freed, c => c.Moves.Length > 0);
        Assert.Equal("n1", withMoves.NodeId);
        Assert.Equal(6, plan.Freed.Count(c => c.Moves.IsEmpty));
    }

    [Fact]
    public void AMoveIsRefused_WhenItWouldCrowdASpreadService_OrLandBesideItsOwnReplica_OrPushANodeTooFull()
    {
        // Service a spreads over two domains: its instance on n1 (d1) cannot go to n2 in d2, where a-2 already is (d2 would hold 2, d1 held 1).
        var spread = Consolidation.Plan([N("n1", "d1", I("a", "a-1")), N("n2", "d2", I("a", "a-2")), N("n3", "d2", I("x", "x-1", 4))],
            Services(S("a", spread: true)), Policy, T0);
        var n1 = spread.Candidates.Single(c => c.NodeId == "n1");
        Assert.False(n1.Accepted);
        Assert.Contains("without crowding its spread", n1.Why);

        // Without spread it may go to another domain, but never beside its own replica (n2), and n3 would be 87% full: refused too.
        var packed = Consolidation.Plan([N("n1", "d1", I("a", "a-1")), N("n2", "d2", I("a", "a-2")), N("n3", "d2", I("x", "x-1", 6))],
            Services(S("a")), Policy, T0);
        Assert.False(packed.Candidates.Single(c => c.NodeId == "n1").Accepted);
        var roomy = Consolidation.Plan([N("n1", "d1", I("a", "a-1")), N("n2", "d2", I("a", "a-2")), N("n3", "d2", I("x", "x-1", 5))],
            Services(S("a")), Policy, T0);
        Assert.Equal("n3", roomy.Candidates.Single(c => c.NodeId == "n1").Moves.Single().To);
    }

    [Fact]
    public void RecentStarts_BusyServices_AndTheBudget_PinANode()
    {
        var fresh = Consolidation.Plan([N("n1", "d", I("a", "a-1", since: T0 - TimeSpan.FromMinutes(10))), N("n2", "d", I("b", "b-1"))], Services(), Policy, T0);
        Assert.Contains("within the move window", fresh.Candidates.Single(c => c.NodeId == "n1").Why);

        var busy = Consolidation.Plan([N("n1", "d", I("a", "a-1")), N("n2", "d", I("b", "b-1"))], Services(S("a", busy: true)), Policy, T0);
        Assert.Equal("service a is rolling out or healing", busy.Candidates.Single(c => c.NodeId == "n1").Why);

        // Service a may move one instance at a time: n1 (two of a's instances... one each on n1 and n2) frees only one of them.
        var budget = Consolidation.Plan([N("n1", "d", I("a", "a-1")), N("n2", "d", I("a", "a-2")), N("n3", "d", I("z", "z-1", 4)), N("n4", "d", I("y", "y-1", 4))],
            Services(S("a")), Policy with { MaxNodesPerPlan = 10 }, T0);
        Assert.Single(budget.Moves, m => m.Service == "a");
        Assert.Contains(budget.Candidates, c => !c.Accepted && c.Why.Contains("may have 1 instance(s) moving at once"));
    }

    [Fact]
    public void SlowStartingServices_CostMore_ThanANodeSaves_AtTheThreshold()
    {
        var nodes = new[] { N("n1", "d", I("slow", "s-1"), I("slow2", "s2-1")), N("n2", "d", I("x", "x-1", 2), I("w", "w-1", 2)) };
        // Two instances that take 10 min each to start: 20 instance-minutes for 1 node-hour = 0.05, under 0.1.
        var slow = Consolidation.Plan(nodes, Services(S("slow", start: TimeSpan.FromMinutes(10)), S("slow2", start: TimeSpan.FromMinutes(10))), Policy, T0);
        var n1 = slow.Candidates.Single(c => c.NodeId == "n1");
        Assert.False(n1.Accepted);
        Assert.Contains("under the threshold 0.1", n1.Why);
        Assert.Equal(20, n1.Disruption, 3);
        // Measured at 30 s each: 1 instance-minute, 1 per minute: freed.
        var quick = Consolidation.Plan(nodes, Services(S("slow", start: TimeSpan.FromSeconds(30)), S("slow2", start: TimeSpan.FromSeconds(30))), Policy, T0);
        Assert.True(quick.Candidates.Single(c => c.NodeId == "n1").Accepted);
    }

    [Fact]
    public void ThePolicySection_ParsesAndWrites()
    {
        var parsed = PolicyParser.Parse("lifecycle:\n  consolidate:\n    threshold: 0.5\n    maxUtilisation: 0.7\n    moveWindow: 2h\n    defaultStartTime: 45s\n    maxNodesPerPlan: 3\n");
        Assert.Empty(parsed.Problems);
        var c = parsed.Policy!.Lifecycle.Consolidate;
        Assert.Equal((0.5, 0.7, TimeSpan.FromHours(2), TimeSpan.FromSeconds(45), 3), (c.Threshold, c.MaxUtilisation, c.MoveWindow, c.DefaultStartTime, c.MaxNodesPerPlan));
        Assert.Equal(c, PolicyParser.Parse(PolicyWriter.Write(parsed.Policy)).Policy!.Lifecycle.Consolidate);
        Assert.Contains(PolicyParser.Parse("lifecycle:\n  consolidate:\n    maxUtilisation: 2\n").Problems, p => p.Path == "lifecycle.consolidate.maxUtilisation");
    }
}
