using System.Collections.Immutable;
using System.Net;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Health;

namespace Fleet.Core.Tests.Health;

public class ProbeRulesTests
{
    private static readonly ProbeRules.Own Silo = new(new HashSet<IPAddress> { IPAddress.Parse("10.0.0.1") }, new HashSet<int> { 30000, 11111, 5080 });

    private static NodeRegistration Node(string? address, ProbeKind kind, string probe) =>
        new("web-01", "rack-a", new NodeCapacity(4, 8L << 30, 0), ImmutableDictionary<string, string>.Empty) { Address = address, Probe = new NodeProbe(kind, probe) };

    [Theory]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "10.0.0.9:22", null)]
    [InlineData("web-01.internal", ProbeKind.Http, "http://web-01.internal:8080/health", null)]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "127.0.0.1:22", "a loopback address")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "[::1]:22", "a loopback address")]
    [InlineData("10.0.0.9", ProbeKind.Http, "http://169.254.169.254/latest/meta-data/", "a link-local address")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "[fe80::1]:22", "a link-local address")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "0.0.0.0:22", "the unspecified address")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "10.0.0.10:22", "neither the node's registered address")]
    [InlineData("10.0.0.9", ProbeKind.Http, "http://evil.example.com/", "not the node's registered address")]
    [InlineData("192.0.2.9", ProbeKind.Tcp, "10.0.0.1:30000", "one of the silo's own ports")]
    [InlineData("10.0.0.1", ProbeKind.Tcp, "10.0.0.1:6379", "one of the silo's own addresses")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "[64:ff9b::a9fe:a9fe]:80", "a link-local address")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "[fd00:ec2::254]:80", "a cloud's metadata address")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "100.100.100.200:80", "a cloud's metadata address")]
    [InlineData("10.0.0.9", ProbeKind.Tcp, "0.1.2.3:80", "the unspecified address")]
    [InlineData("169.254.169.254", ProbeKind.Tcp, "169.254.169.254:80", "a link-local address")]
    public void Refusal_OnlyTheRegisteredAddress_NeverLoopbackLinkLocalOrTheSilosOwnPorts(string address, ProbeKind kind, string probe, string? says)
    {
        var refusal = ProbeRules.Refusal(Node(address, kind, probe), [], Silo);
        if (says is null) Assert.Null(refusal);
        else Assert.Contains(says, refusal?.Why);
    }

    [Fact]
    public void Refusal_AnAllowedNetwork_OpensWhatItNames_AndNothingElse()
    {
        ImmutableArray<string> allowed = ["127.0.0.0/8", "192.168.0.0/16"];
        Assert.Null(ProbeRules.Refusal(Node("10.0.0.9", ProbeKind.Tcp, "127.0.0.1:22"), allowed, Silo));
        Assert.Null(ProbeRules.Refusal(Node("10.0.0.9", ProbeKind.Tcp, "192.168.7.7:22"), allowed, Silo));
        Assert.NotNull(ProbeRules.Refusal(Node("10.0.0.9", ProbeKind.Tcp, "169.254.169.254:80"), allowed, Silo));
        Assert.NotNull(ProbeRules.Forbidden(IPAddress.Parse("::ffff:127.0.0.1"), 22, [], Silo));
        Assert.Null(ProbeRules.Forbidden(IPAddress.Parse("::ffff:127.0.0.1"), 22, allowed, Silo));
    }
}
