using System.Collections.Immutable;
using System.Reflection;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Security;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Validation;

namespace Fleet.Core.Tests.Validation;

public class ClientCallRulesTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-12-07T10:00:00Z");

    /// <summary>Every method a client may call (it names a role), on every grain interface Fleet has.</summary>
    public static TheoryData<string, string> ClientMethods()
    {
        var data = new TheoryData<string, string>();
        foreach (var type in typeof(RequiresRoleAttribute).Assembly.GetTypes().Where(t => t.IsInterface))
            foreach (var method in type.GetMethods().Where(m => m.GetCustomAttribute<RequiresRoleAttribute>() is not null))
                data.Add(type.Name, method.Name);
        return data;
    }

    private static MethodInfo Method(string type, string name) =>
        typeof(RequiresRoleAttribute).Assembly.GetTypes().Single(t => t.Name == type).GetMethod(name)!;

    [Theory]
    [MemberData(nameof(ClientMethods))]
    public void Covers_EveryParameterOfEveryClientReachableMethod(string type, string method)
    {
        foreach (var parameter in Method(type, method).GetParameters())
            Assert.True(ClientCallRules.Covers(parameter), $"{type}.{method}({parameter.ParameterType.Name} {parameter.Name}) has no input rule");
    }

    [Fact]
    public void ClientMethods_AreFound() => Assert.True(ClientMethods().Count() > 40);

    private static Dictionary<string, string[]> Check<T>(string method, string key, params object?[] args) =>
        ClientCallRules.Check(typeof(T).GetMethod(method)!, key, i => args[i], Now);

    [Fact]
    public void Check_AReasonPastItsBound_IsRefused_AByIsNotChecked()
    {
        Assert.Contains("reason", Check<IFleetSupervisorGrain>(nameof(IFleetSupervisorGrain.FreezeAsync), FleetNames.Default, new string('x', 100_000), new string('r', 513)).Keys);
        Assert.Empty(Check<IFleetSupervisorGrain>(nameof(IFleetSupervisorGrain.FreezeAsync), FleetNames.Default, new string('x', 100_000), "window"));
    }

    [Fact]
    public void Check_ASecondCapacitySupervisorUnderAnotherKey_AndABatchOutOfRange_AreRefused()
    {
        var retire = nameof(Fleet.Abstractions.Lifecycle.ICapacityGrain.RetireDomainAsync);
        Assert.Empty(Check<Fleet.Abstractions.Lifecycle.ICapacityGrain>(retire, FleetNames.Default, "rack-b", "x", "refresh", 1, false));
        Assert.Contains("(grain key)", Check<Fleet.Abstractions.Lifecycle.ICapacityGrain>(retire, "shadow-capacity", "rack-b", "x", "refresh", 1, false).Keys);
        Assert.Contains("(grain key)", Check<INetworkGrain>(nameof(INetworkGrain.GetViewAsync), "other").Keys);
        Assert.Contains("batch", Check<Fleet.Abstractions.Lifecycle.ICapacityGrain>(retire, FleetNames.Default, "rack-b", "x", null, 0, false).Keys);
        Assert.Contains("batch", Check<Fleet.Abstractions.Lifecycle.ICapacityGrain>(retire, FleetNames.Default, "rack-b", "x", null, InputRules.MaxTrainBatch + 1, false).Keys);
        Assert.Contains("domain", Check<Fleet.Abstractions.Lifecycle.ICapacityGrain>(retire, FleetNames.Default, "rack b!", "x", null, 1, false).Keys);
    }

    [Fact]
    public void Check_ABatchPastTheLimit_IsRefusedWithoutReadingEachReport()
    {
        var report = new TelemetryReport(1, Now, TimeSpan.FromSeconds(30), 10, 1, 2, 0, []);
        var batch = Enumerable.Range(0, InputRules.MaxBatch + 1).Select(i => new NodeReport($"n{i}", report)).ToImmutableArray();
        var problems = Check<ITelemetryIntakeGrain>(nameof(ITelemetryIntakeGrain.ReportBatchAsync), "0", batch);
        Assert.Equal(["(body)"], problems.Keys);
    }

    [Fact]
    public void Check_AReportTheSdkWouldRefuse_IsRefused()
    {
        var bad = new TelemetryReport(1, Now, TimeSpan.FromDays(400), 10, 1, 2, 0, [new CheckResult("http", false, new string('d', 5000))], new string('s', 1000))
        {
            Peers = [.. Enumerable.Range(0, 100).Select(i => new PeerProbe($"p{i}", true))],
        };
        var problems = Check<INodeGrain>(nameof(INodeGrain.ReportAsync), "web-01", bad);
        Assert.Equal(["checks[0].detail", "peers", "source", "ttlSeconds"], problems.Keys.Order());
    }

    [Theory]
    [InlineData("web 01")]
    [InlineData("")]
    [InlineData("-x")]
    public void Check_AGrainKeyThatIsNotAnId_IsRefused(string key) =>
        Assert.Contains("(grain key)", Check<INodeGrain>(nameof(INodeGrain.GetStatusAsync), key).Keys);

    [Fact]
    public void Check_ALinkProbe_ByItsRules_AndALinkKey()
    {
        var probe = new LinkProbe("a~b", true, -5, 0, 1, TimeSpan.FromSeconds(10));
        Assert.Contains("[0].latencyMs", Check<ILinkGrain>(nameof(ILinkGrain.ProbeAsync), "a~b", probe).Keys);
        Assert.Contains("(grain key)", Check<ILinkGrain>(nameof(ILinkGrain.ProbeAsync), "b~a", probe with { LatencyMs = 1 }).Keys);
        Assert.Empty(Check<ILinkGrain>(nameof(ILinkGrain.ProbeAsync), "a~b", probe with { LatencyMs = 1 }));
    }

    [Fact]
    public void Check_AMissingDocument_IsRefused_NotThrown()
    {
        Assert.Contains("registration", Check<INodeGrain>(nameof(INodeGrain.RegisterAsync), "web-01", [null]).Keys);
    }
}
