using System.Collections.Immutable;
using Fleet.Abstractions.Links;
using Fleet.Core.Network;
using Fleet.Core.Validation;

namespace Fleet.Core.Tests.Network;

public class TopologyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private static LinkStatus L(string a, string b, double latency, double capacity = 100, LinkState state = LinkState.Up, double usedAB = 0, double usedBA = 0) =>
        new(new LinkSpec(Topology.LinkId(a, b), string.CompareOrdinal(a, b) < 0 ? a : b, string.CompareOrdinal(a, b) < 0 ? b : a, capacity, latency, "metro"),
            state, T0, null, null, 0, null, 0, usedAB, usedBA, [], "");

    // a–b–c (20 ms), a–d–c (30 ms), a–e–f–c (45 ms), and a direct a–c that is down.
    private static Topology Net(double usedBc = 0) => new([
        L("a", "b", 10), L("b", "c", 10, usedAB: usedBc), L("a", "d", 15), L("c", "d", 15), L("a", "e", 15), L("e", "f", 15), L("c", "f", 15), L("a", "c", 1, state: LinkState.Down),
    ]);

    [Fact]
    public void Candidates_AreTheKShortestSimplePaths_OverUsableLinks_InOrder()
    {
        var paths = Net().Candidates("a", "c", 3);
        Assert.Equal(["a–b–c", "a–d–c", "a–e–f–c"], paths.Select(p => p.ToString()).ToArray());
        Assert.Equal(["a~b", "b~c"], paths[0].Links.ToArray());
        Assert.Equal(20, paths[0].LatencyMs);
        Assert.Single(Net().Candidates("a", "c", 1));
        Assert.Empty(Net().Candidates("a", "a", 3));
        Assert.Empty(Net().Candidates("a", "zz", 3));
    }

    [Fact]
    public void Candidates_AvoidALink_AndSkipLinksWithoutRoomInTheDirectionOfTravel_UnlessShared()
    {
        Assert.Equal("a–d–c", Net().Candidates("a", "c", 1, avoid: new HashSet<string> { "b~c" })[0].ToString());
        // b→c has 95 of 100 used: no room for 10 from a to c, but room from c to a (the other direction).
        var full = Net(usedBc: 95);
        Assert.Equal("a–d–c", full.Candidates("a", "c", 1, demandMbps: 10)[0].ToString());
        Assert.Equal("c–b–a", full.Candidates("c", "a", 1, demandMbps: 10)[0].ToString());
        // The flow's own reservation on b~c is shared: it counts as room.
        Assert.Equal("a–b–c", full.Candidates("a", "c", 1, demandMbps: 10, shared: new HashSet<string> { "b~c" })[0].ToString());
    }

    [Fact]
    public void WhyNoPath_NamesTheLinksDownAndTheLinksFull()
    {
        var t = new Topology([L("a", "b", 1, state: LinkState.Down), L("b", "c", 1, capacity: 10, usedAB: 8)]);
        Assert.Empty(t.Candidates("a", "c", 2, demandMbps: 5));
        var why = t.WhyNoPath("a", "c", 5);
        Assert.Contains("a~b down", why);
        Assert.Contains("b~c has", why);
        Assert.Contains("site zz has no links", t.WhyNoPath("zz", "c", 5));
    }

    [Fact]
    public void LinkIds_AreBothEndsInOrder()
    {
        Assert.Equal("a~b", Topology.LinkId("b", "a"));
        Assert.True(InputRules.IsValidLinkId("dc1~dc2", out var a, out var b));
        Assert.Equal(("dc1", "dc2"), (a, b));
        Assert.False(InputRules.IsValidLinkId("b~a", out _, out _));
        Assert.False(InputRules.IsValidLinkId("a~a", out _, out _));
        Assert.False(InputRules.IsValidLinkId("a~b~c", out _, out _));
        Assert.False(InputRules.IsValidLinkId("a b~c", out _, out _));
        Assert.Contains("write it a~b", InputRules.Check(new LinkSpec("b~a", "b", "a", 10, 1, "m"))["id"][0]);
    }

    [Fact]
    public void ATopologyFile_WithEveryProblemByItsPathAndLine()
    {
        var doc = TopologyDocument.Parse("""
            links:
              - id: a~b
                capacityMbps: 100
                latencyMs: 5
                failureDomain: metro
              - id: c~b
                capacityMbps: -4
                latencyMs: 5
                failureDomain: metro
                colour: red
            flows:
              - id: f1
                source: a
                destination: zz
                demandMbps: 10
            """);
        Assert.False(doc.IsValid);
        var text = doc.Problems.Select(p => p.ToString()).ToList();
        Assert.Contains(text, t => t.StartsWith("links[1].id (line 6)") && t.Contains("write it b~c"));
        Assert.Contains(text, t => t.StartsWith("links[1].capacityMbps (line 7)"));
        Assert.Contains(text, t => t.StartsWith("links[1].colour"));
        Assert.Contains(text, t => t.StartsWith("flows[0].destination (line 14)") && t.Contains("site 'zz' is unknown"));

        var ok = TopologyDocument.Parse("links:\n  - {id: a~b, capacityMbps: 100, latencyMs: 5, failureDomain: metro}\nflows:\n  - {id: f1, source: a, destination: b, demandMbps: 10, priority: 5}\n");
        Assert.True(ok.IsValid, string.Join("; ", ok.Problems));
        Assert.Equal(5, ok.Flows.Single().Priority);
    }
}
