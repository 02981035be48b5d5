using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Health;

namespace Fleet.Core.Tests.Health;

/// <summary>What many nodes send alike is kept once; what differs, and what a node says, is kept as it came.</summary>
public class SharedPartsTests
{
    // Each call makes fresh strings and objects, as deserializing one message per node does.
    private static string Fresh(string s) => new(s.AsSpan());

    private static NodeRegistration Registration(string id, string rack = "rack-a") => new(Fresh(id), Fresh("zone-shared-test"),
        new NodeCapacity(8, 16L << 30, 500L << 30),
        ImmutableDictionary<string, string>.Empty.Add(Fresh("rack"), Fresh(rack)).Add(Fresh("role"), Fresh("db")))
    { Address = Fresh($"{id}.example") };

    [Fact]
    public void Registrations_ShareDomainCapacityAndEqualLabels_KeepTheirOwnIdentity()
    {
        var a = SharedParts.Registration(Registration("node-a"));
        var b = SharedParts.Registration(Registration("node-b"));
        Assert.Same(a.Domain, b.Domain);
        Assert.Same(a.Capacity, b.Capacity);
        Assert.Same(a.Labels, b.Labels);
        Assert.Equal("node-b", b.NodeId);
        Assert.Equal("node-b.example", b.Address);
        Assert.Equal("db", b.Labels["role"]);

        // Labels that differ are not shared, and keep their own values.
        var c = SharedParts.Registration(Registration("node-c", rack: "rack-b"));
        Assert.NotSame(a.Labels, c.Labels);
        Assert.Equal("rack-b", c.Labels["rack"]);
        Assert.Same(a.Domain, c.Domain);

        // Already shared: the same object back, nothing new made.
        Assert.Same(b, SharedParts.Registration(b));
    }

    [Fact]
    public void Labels_WithAnotherComparer_AreNotShared()
    {
        var ignoringCase = ImmutableDictionary.Create<string, string>(StringComparer.OrdinalIgnoreCase).Add("Rack", "rack-a");
        var plain = ImmutableDictionary<string, string>.Empty.Add("Rack", "rack-a");
        var first = SharedParts.Registration(new NodeRegistration("n1", "d", new NodeCapacity(1, 1, 1), plain));
        var second = SharedParts.Registration(new NodeRegistration("n2", "d", new NodeCapacity(1, 1, 1), ignoringCase));
        Assert.Same(ignoringCase, second.Labels);
        Assert.True(second.Labels.ContainsKey("rack"), "a case-blind lookup still works");
        Assert.False(first.Labels.ContainsKey("rack"));
    }

    [Fact]
    public void Checks_OnlyAllPassingWithoutDetail_AreShared()
    {
        ImmutableArray<CheckResult> Passing() => [new CheckResult(Fresh("shared-check-1"), true), new CheckResult(Fresh("shared-check-2"), true)];
        Assert.True(SharedParts.Checks(Passing()) == SharedParts.Checks(Passing()));
        ImmutableArray<CheckResult> failing = [new CheckResult("shared-check-1", false, "refused")];
        Assert.True(SharedParts.Checks(failing) == failing);
        Assert.True(SharedParts.Checks(default).IsEmpty);
    }
}
