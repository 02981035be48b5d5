using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Validation;

namespace Fleet.Core.Tests.Validation;

public class InputRulesTests
{
    [Theory]
    [InlineData("web-01", true)]
    [InlineData("zone-a:rack.3_b", true)]
    [InlineData("", false)]
    [InlineData("-lead", false)]
    [InlineData("has space", false)]
    [InlineData("semi;colon", false)]
    public void IsValidId_Table(string id, bool ok) => Assert.Equal(ok, InputRules.IsValidId(id));

    [Fact]
    public void Check_Registration_AllProblemsAtOnce()
    {
        var p = InputRules.Check(new NodeRegistration("bad id", "", new NodeCapacity(0, 0, -1), ImmutableDictionary<string, string>.Empty));
        Assert.Equal(["capacity.cpuCores", "capacity.diskBytes", "capacity.memoryBytes", "domain", "id"], p.Keys.Order());
    }

    [Fact]
    public void Check_Telemetry_UsedAboveTotal_Refused()
    {
        var t = new TelemetryReport(1, DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(30), 10, 200, 100, 10, []);
        Assert.Contains("memoryUsedBytes", InputRules.Check(t).Keys);
    }

    [Fact]
    public void Check_Telemetry_Valid_NoProblems()
    {
        var t = new TelemetryReport(1, DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(30), 10, 50, 100, 10, [new CheckResult("http", true)]);
        Assert.Empty(InputRules.Check(t));
    }
}
