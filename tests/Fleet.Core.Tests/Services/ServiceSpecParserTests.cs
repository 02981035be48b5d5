using Fleet.Abstractions.Services;
using Fleet.Core.Services;

namespace Fleet.Core.Tests.Services;

public class ServiceSpecParserTests
{
    [Fact]
    public void Parse_Yaml_EveryField()
    {
        var r = ServiceSpecParser.Parse("""
            name: api
            replicas: 3
            version: "1.4.2"
            resources:
              cpuCores: 0.5
              memoryBytes: 512Mi
            placement:
              spread: false
              labels: {role: web}
            minHealthy: 66%
            scaling:
              min: 2
              max: 8
              metric: requests
              target: 300
              tolerance: 0.2
              cooldown: 90s
            """);
        Assert.True(r.IsValid, string.Join("\n", r.Problems));
        var s = r.Spec!;
        Assert.Equal(("api", 3, "1.4.2"), (s.Name, s.Replicas, s.Version));
        Assert.Equal(new InstanceResources(0.5, 512L << 20), s.Resources);
        Assert.False(s.Placement.Spread);
        Assert.Equal("web", s.Placement.Labels["role"]);
        Assert.Equal(0.66, s.Budget.MinHealthyShare);
        Assert.Equal(new ScalingSpec(true, 2, 8, ScalingMetric.Requests, 300, 0.2, TimeSpan.FromSeconds(90)), s.Scaling);
    }

    [Fact]
    public void Parse_Json_IsTheSameSpec_NameFromTheUrl()
    {
        var r = ServiceSpecParser.Parse("""{"replicas": 2, "resources": {"cpuCores": 1, "memoryBytes": 1073741824}, "maxUnavailable": 1}""", "db");
        Assert.True(r.IsValid, string.Join("\n", r.Problems));
        Assert.Equal("db", r.Spec!.Name);
        Assert.Equal(1, r.Spec.Budget.MaxUnavailable);
        Assert.True(r.Spec.Placement.Spread);
    }

    [Fact]
    public void Parse_BadSpec_EveryProblemByPathAndLine()
    {
        var r = ServiceSpecParser.Parse("""
            name: "bad name"
            replicas: lots
            resources:
              cpuCores: -1
              memoryBytes: 12 bananas
              gpu: 1
            minHealthy: 2%x
            maxUnavailable: 1
            scaling:
              min: 5
              max: 2
              metric: vibes
            colour: blue
            """, "other");
        Assert.False(r.IsValid);
        var paths = r.Problems.Select(p => p.Path).ToHashSet();
        foreach (var path in new[] { "name", "replicas", "resources.cpuCores", "resources.memoryBytes", "resources.gpu", "minHealthy", "scaling.max", "scaling.metric", "colour" })
            Assert.Contains(path, paths);
        Assert.Contains(r.Problems, p => p.Path == "name" && p.Message.Contains("differs from the service named in the URL"));
        Assert.Contains(r.Problems, p => p.Path == "resources.cpuCores" && p.Line == 4);
        Assert.Contains(r.Problems, p => p.Path == "scaling.metric" && p.Message.Contains("accepted: cpu, requests"));
    }

    [Fact]
    public void Parse_NotYaml_OrEmpty_OrNoResources_Refused()
    {
        Assert.Contains(ServiceSpecParser.Parse("name: [unclosed").Problems, p => p.Message.StartsWith("not valid YAML"));
        Assert.Contains(ServiceSpecParser.Parse("").Problems, p => p.Path == "(document)");
        Assert.Contains(ServiceSpecParser.Parse("name: api").Problems, p => p.Path == "resources");
        Assert.Contains(ServiceSpecParser.Parse("- a\n- b").Problems, p => p.Message.Contains("must be a mapping"));
    }
}
