using Fleet.Abstractions.Policy;
using Fleet.Core.Policies;

namespace Fleet.Core.Tests.Policies;

public class PolicyParserTests
{
    [Fact]
    public void Parse_Empty_BuiltInDefault()
    {
        var r = PolicyParser.Parse("", 3);
        Assert.True(r.IsValid);
        Assert.Equal(3, r.Policy!.Version);
        Assert.Equal(FleetPolicy.Default.Guardrails, r.Policy.Guardrails);
    }

    [Fact]
    public void Write_Default_ParsesBackToSameDocument()
    {
        var text = PolicyWriter.Write(FleetPolicy.Default);
        var r = PolicyParser.Parse(text);
        Assert.True(r.IsValid, string.Join("\n", r.Problems));
        Assert.Equal(text, PolicyWriter.Write(r.Policy!));
        Assert.Equal(FleetPolicy.Default.Telemetry, r.Policy!.Telemetry);
        Assert.Equal(FleetPolicy.Default.Remediation.Ladder.ToArray(), r.Policy.Remediation.Ladder.ToArray());
    }

    [Fact]
    public void Parse_PartialDocument_OverridesOnlyWhatItNames()
    {
        var r = PolicyParser.Parse("""
            telemetry:
              reportInterval: 1s
            guardrails:
              maxConcurrentPerDomain: 2
            remediation:
              ladder:
                - action: restart-services
                  verifyWindow: 30s
                - action: human
            """);
        Assert.True(r.IsValid, string.Join("\n", r.Problems));
        Assert.Equal(TimeSpan.FromSeconds(1), r.Policy!.Telemetry.ReportInterval);
        Assert.Equal(FleetPolicy.Default.Telemetry.AllowedMisses, r.Policy.Telemetry.AllowedMisses);
        Assert.Equal(2, r.Policy.Guardrails.MaxConcurrentPerDomain);
        Assert.Equal(2, r.Policy.Remediation.Ladder.Length);
    }

    [Fact]
    public void Parse_ManyProblems_AllReportedWithPathsAndLines()
    {
        var r = PolicyParser.Parse("""
            telemetry:
              reportInterval: soon
              allowedMisses: 0
            health:
              cpuDegradedPercent: 150
              colour: blue
            remediation:
              ladder:
                - action: human
                - action: Reboot!
                  verifyWindow: 0s
            guardrails:
              stormThreshold: 2
            extra: 1
            """);
        Assert.False(r.IsValid);
        Assert.Null(r.Policy);
        var paths = r.Problems.Select(p => p.Path).ToHashSet();
        Assert.Contains("telemetry.reportInterval", paths);
        Assert.Contains("telemetry.allowedMisses", paths);
        Assert.Contains("health.cpuDegradedPercent", paths);
        Assert.Contains("health.colour", paths);
        Assert.Contains("remediation.ladder[0].action", paths);
        Assert.Contains("remediation.ladder[1].action", paths);
        Assert.Contains("remediation.ladder[1].verifyWindow", paths);
        Assert.Contains("guardrails.stormThreshold", paths);
        Assert.Contains("extra", paths);
        Assert.Equal(2, r.Problems.Single(p => p.Path == "telemetry.reportInterval").Line);
    }

    [Fact]
    public void Parse_BrokenYaml_OneSyntaxProblemWithLine()
    {
        var r = PolicyParser.Parse("telemetry:\n  reportInterval: [1s\n");
        Assert.False(r.IsValid);
        Assert.Equal("(document)", Assert.Single(r.Problems).Path);
    }

    [Fact]
    public void Parse_CrossFieldRules_Reported()
    {
        var r = PolicyParser.Parse("""
            forecast:
              minSamples: 10
              maxSamples: 5
            remediation:
              cooldown: 10m
              maxCooldown: 1m
            guardrails:
              leaseDuration: 1m
            """);
        var paths = r.Problems.Select(p => p.Path).ToArray();
        Assert.Contains("forecast.maxSamples", paths);
        Assert.Contains("remediation.maxCooldown", paths);
        Assert.Contains("guardrails.leaseDuration", paths);
    }

    [Fact]
    public void Parse_DiskAndCpuForecasts_ReadWrittenBackAndChecked()
    {
        var r = PolicyParser.Parse("""
            forecast:
              disk:
                limitPercent: 90
              cpu:
                enabled: false
                minFit: 0.5
                minSpan: 10m
              errors:
                limitPercent: 0.5
            """);
        Assert.True(r.IsValid, string.Join("; ", r.Problems.Select(p => p.ToString())));
        Assert.Equal(new ResourceForecastPolicy(true, 90, 0.5, TimeSpan.FromMinutes(1)), r.Policy!.Forecast.Disk);
        Assert.Equal(new ResourceForecastPolicy(false, 95, 0.5, TimeSpan.FromMinutes(10)), r.Policy.Forecast.Cpu);
        Assert.Equal(new ResourceForecastPolicy(true, 0.5, 0.8, TimeSpan.FromMinutes(3)), r.Policy.Forecast.Errors);
        var again = PolicyParser.Parse(PolicyWriter.Write(r.Policy));
        Assert.Equal(r.Policy.Forecast.Disk, again.Policy!.Forecast.Disk);
        Assert.Equal(r.Policy.Forecast.Cpu, again.Policy.Forecast.Cpu);
        Assert.Equal(r.Policy.Forecast.Errors, again.Policy.Forecast.Errors);

        var bad = PolicyParser.Parse("""
            forecast:
              disk:
                limitPercent: 150
                fullAt: 3
              cpu:
                minFit: 2
            """);
        var paths = bad.Problems.Select(p => p.Path).ToArray();
        Assert.Contains("forecast.disk.limitPercent", paths);
        Assert.Contains(paths, p => p.StartsWith("forecast.disk", StringComparison.Ordinal) && p.Contains("fullAt", StringComparison.Ordinal));
        Assert.Contains("forecast.cpu.minFit", paths);
    }

    [Fact]
    public void Parse_ShapeCosts_ReadWrittenBackAndChecked()
    {
        var r = PolicyParser.Parse("""
            lifecycle:
              consolidate:
                costs:
                  large: 3.5
                  small: 0.5
            """);
        Assert.True(r.IsValid, string.Join("; ", r.Problems.Select(p => p.ToString())));
        Assert.Equal(3.5, r.Policy!.Lifecycle.Consolidate.Costs["large"]);
        Assert.Equal(3.5, r.Policy.Lifecycle.Consolidate.CostOf(System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("shape", "large")));
        Assert.Equal(1, r.Policy.Lifecycle.Consolidate.CostOf(null)); // no shape: costPerNode
        Assert.Equal(1, r.Policy.Lifecycle.Consolidate.CostOf(System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("shape", "tiny")));
        var again = PolicyParser.Parse(PolicyWriter.Write(r.Policy));
        Assert.Equal(r.Policy.Lifecycle.Consolidate.Costs.OrderBy(c => c.Key).ToArray(), again.Policy!.Lifecycle.Consolidate.Costs.OrderBy(c => c.Key).ToArray());

        var bad = PolicyParser.Parse("""
            lifecycle:
              consolidate:
                costs:
                  large: lots
                  "bad shape": 2
                  free: 0
            """);
        var paths = bad.Problems.Select(p => p.Path).ToArray();
        Assert.Contains("lifecycle.consolidate.costs.large", paths);
        Assert.Contains("lifecycle.consolidate.costs.bad shape", paths);
        Assert.Contains("lifecycle.consolidate.costs.free", paths);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("10s", 10_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("00:00:02", 2_000)]
    public void Durations_TryParse_Accepted(string text, long ms)
    {
        Assert.True(Durations.TryParse(text, out var d));
        Assert.Equal(ms, (long)d.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("5 minutes")]
    [InlineData("-1s")]
    public void Durations_TryParse_Refused(string text) => Assert.False(Durations.TryParse(text, out _));

    [Fact]
    public void Parse_ActionsSection_AddsCatalogueRows_AndWritesBack()
    {
        var r = PolicyParser.Parse("""
            actions:
              flush-cache:
                verb: Flushed the cache
                class: preventive
                actuator: webhook
              reboot:
                verb: Power-cycled
                effect: reset
            """);
        Assert.True(r.IsValid, string.Join("\n", r.Problems));
        var catalogue = Fleet.Core.Actions.ActionCatalogue.For(r.Policy!);
        Assert.Equal(new Fleet.Abstractions.Actions.ActionSpec("flush-cache", "Flushed the cache", Fleet.Abstractions.Supervision.ActionClass.Preventive,
            Fleet.Abstractions.Actions.AdminEffect.None, "webhook"), catalogue["flush-cache"]);
        Assert.Equal("Power-cycled", catalogue["reboot"].Verb);
        Assert.Equal("Drained", catalogue["drain"].Verb);
        Assert.Equal("Ran restart-nginx", catalogue["restart-nginx"].Verb);
        var again = PolicyParser.Parse(PolicyWriter.Write(r.Policy!));
        Assert.True(again.IsValid, string.Join("\n", again.Problems));
        Assert.Equal(r.Policy!.Actions.ToArray(), again.Policy!.Actions.ToArray());
    }

    [Fact]
    public void Parse_BadActionsSection_EveryProblemByPath()
    {
        var r = PolicyParser.Parse("""
            actions:
              Flush:
                verb: x
              purge:
                class: explosive
                effect: sideways
                actuator: carrier-pigeon
                colour: red
              human:
                verb: y
            """);
        Assert.False(r.IsValid);
        var paths = r.Problems.Select(p => p.Path).ToArray();
        Assert.Contains("actions.Flush", paths);
        Assert.Contains("actions.purge.class", paths);
        Assert.Contains("actions.purge.effect", paths);
        Assert.Contains("actions.purge.actuator", paths);
        Assert.Contains("actions.purge.colour", paths);
        Assert.Contains("actions.human", paths);
        Assert.Contains(r.Problems, p => p.Path == "actions.purge.class" && p.Message.Contains("accepted: disruptive, preventive, containment, rollout, reroute"));
    }
}
