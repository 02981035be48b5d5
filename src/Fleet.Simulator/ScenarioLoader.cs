using System.Collections.Immutable;
using System.Globalization;
using Fleet.Abstractions.Policy;
using Fleet.Core.Policies;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Fleet.Simulator;

/// <summary>Reads scenario YAML (the built-in ones are embedded in this assembly); every problem is reported by its path.</summary>
public static class ScenarioLoader
{
    public static IReadOnlyList<string> BuiltIn { get; } = typeof(ScenarioLoader).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("scenarios.", StringComparison.Ordinal))
        .Select(n => n["scenarios.".Length..^".yaml".Length]).Order().ToArray();

    public static string BuiltInText(string name)
    {
        using var stream = typeof(ScenarioLoader).Assembly.GetManifestResourceStream($"scenarios.{name}.yaml")
            ?? throw new ScenarioException([$"no built-in scenario '{name}'; built in: {string.Join(", ", BuiltIn)}"]);
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>A built-in scenario by name, or a YAML file by path.</summary>
    public static Scenario Load(string nameOrPath) =>
        BuiltIn.Contains(nameOrPath) ? Parse(BuiltInText(nameOrPath)) :
        File.Exists(nameOrPath) ? Parse(File.ReadAllText(nameOrPath)) :
        throw new ScenarioException([$"'{nameOrPath}' is neither a built-in scenario ({string.Join(", ", BuiltIn)}) nor a file"]);

    public static Scenario Parse(string yaml)
    {
        if (Fleet.Core.Documents.DocumentLimits.Check(yaml) is { } limit) throw new ScenarioException([$"the scenario is past a limit ({limit.Limit}): {limit}"]);
        var problems = new List<string>();
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m ? m : throw new ScenarioException(["the scenario must be a YAML mapping"]);
        }
        catch (YamlException e)
        {
            throw new ScenarioException([$"not valid YAML (line {e.Start.Line}): {e.InnerException?.Message ?? e.Message}"]);
        }

        string? Text(YamlMappingNode map, string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? (v as YamlScalarNode)?.Value : null;
        int Int(YamlMappingNode map, string path, string key, int fallback, int min, int max)
        {
            var t = Text(map, key);
            if (t is null) return fallback;
            if (int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
            problems.Add($"{path}{key}: '{t}' must be a whole number from {min} to {max}");
            return fallback;
        }
        double Num(YamlMappingNode map, string path, string key, double fallback, double min, double max)
        {
            var t = Text(map, key);
            if (t is null) return fallback;
            if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
            problems.Add($"{path}{key}: '{t}' must be a number from {min} to {max}");
            return fallback;
        }
        TimeSpan? Dur(YamlMappingNode map, string path, string key, TimeSpan? fallback)
        {
            var t = Text(map, key);
            if (t is null) return fallback;
            if (Durations.TryParse(t, out var d) && d >= TimeSpan.Zero) return d;
            problems.Add($"{path}{key}: '{t}' is not a duration (e.g. 30s, 5m, 2h)");
            return fallback;
        }
        void Known(YamlMappingNode map, string path, params string[] keys)
        {
            foreach (var k in map.Children.Keys.Select(k => (k as YamlScalarNode)?.Value ?? "?"))
                if (!keys.Contains(k)) problems.Add($"{path}{k}: unknown field; accepted: {string.Join(", ", keys)}");
        }

        Known(root, "", "name", "description", "nodes", "domains", "reportInterval", "duration", "seed", "policy", "faults", "services", "deploys", "network");
        var name = Text(root, "name") ?? "unnamed";
        var nodes = Int(root, "", "nodes", 50, 1, 1_000_000);
        var domains = Int(root, "", "domains", 5, 1, 100_000);
        if (domains > nodes) problems.Add($"domains: {domains} is more than the {nodes} nodes");
        var interval = Dur(root, "", "reportInterval", TimeSpan.FromSeconds(10))!.Value;
        if (interval < TimeSpan.FromMilliseconds(100)) problems.Add("reportInterval: must be at least 100ms");
        var duration = Dur(root, "", "duration", TimeSpan.FromMinutes(15))!.Value;
        if (duration < interval) problems.Add("duration: must be at least one reportInterval");
        var policy = Text(root, "policy");
        if (policy is not null)
            foreach (var p in PolicyParser.Parse(policy).Problems) problems.Add($"policy.{p.Path}: {p.Message}");

        var faults = ImmutableArray.CreateBuilder<FaultSpec>();
        if (root.Children.TryGetValue(new YamlScalarNode("faults"), out var faultsNode))
        {
            if (faultsNode is not YamlSequenceNode seq) problems.Add("faults: must be a list");
            else
                for (var i = 0; i < seq.Children.Count; i++)
                {
                    var path = $"faults[{i}].";
                    if (seq.Children[i] is not YamlMappingNode f) { problems.Add($"faults[{i}]: must be a mapping"); continue; }
                    Known(f, path, "kind", "at", "count", "node", "domain", "share", "duration", "leakMiBPerMinute", "flaps", "flapAfter", "every", "times", "link", "site", "percentPerMinute");
                    var kindText = Text(f, "kind");
                    if (!Enum.TryParse<FaultKind>(kindText?.Replace("-", ""), true, out var kind))
                    {
                        problems.Add($"{path}kind: '{kindText}' is not one of crash, hang, leak, disk-fill, cpu-ramp, outage, flap, rack-loss, drain, link-cut, link-flap, site-partition");
                        continue;
                    }
                    faults.Add(new FaultSpec(kind, Dur(f, path, "at", TimeSpan.Zero)!.Value, Int(f, path, "count", 1, 1, 1_000_000),
                        Text(f, "node"), Text(f, "domain"), Num(f, path, "share", 0.5, 0.0001, 1), Dur(f, path, "duration", null),
                        Num(f, path, "leakMiBPerMinute", 512, 1, 1_000_000), Int(f, path, "flaps", 3, 1, 1000), Dur(f, path, "flapAfter", null),
                        Dur(f, path, "every", null), Int(f, path, "times", 1, 1, 100_000), Text(f, "link"), Text(f, "site"),
                        Num(f, path, "percentPerMinute", 2, 0.01, 100)));
                }
        }
        var services = ImmutableArray.CreateBuilder<ServiceShape>();
        if (root.Children.TryGetValue(new YamlScalarNode("services"), out var servicesNode))
        {
            if (servicesNode is not YamlSequenceNode seq) problems.Add("services: must be a list");
            else
                for (var i = 0; i < seq.Children.Count; i++)
                {
                    var path = $"services[{i}].";
                    if (seq.Children[i] is not YamlMappingNode sv) { problems.Add($"services[{i}]: must be a mapping"); continue; }
                    Known(sv, path, "name", "count", "replicas", "cpuCores", "memoryBytes", "minHealthy", "maxUnavailable", "spread");
                    var svName = Text(sv, "name") ?? $"svc{i}";
                    if (!Fleet.Core.Validation.InputRules.IsValidId(svName + "-000")) problems.Add($"{path}name: '{svName}' is not a service name");
                    var memoryText = Text(sv, "memoryBytes") ?? "1Gi";
                    if (!Fleet.Core.Services.ServiceSpecParser.TryBytes(memoryText, out var memory) || memory <= 0) problems.Add($"{path}memoryBytes: '{memoryText}' is not a size (e.g. 512Mi, 2Gi)");
                    var minHealthy = Text(sv, "minHealthy") is null ? (double?)null : Num(sv, path, "minHealthy", 0.5, 0, 1);
                    var maxUnavailable = Text(sv, "maxUnavailable") is null ? (int?)null : Int(sv, path, "maxUnavailable", 1, 0, 10_000);
                    services.Add(new ServiceShape(svName, Int(sv, path, "count", 1, 1, 100_000), Int(sv, path, "replicas", 3, 0, 10_000),
                        Num(sv, path, "cpuCores", 1, 0.001, 1024), memory, minHealthy, maxUnavailable, Text(sv, "spread") != "false"));
                }
        }
        var deploys = ImmutableArray.CreateBuilder<DeploySpec>();
        if (root.Children.TryGetValue(new YamlScalarNode("deploys"), out var deploysNode))
        {
            if (deploysNode is not YamlSequenceNode seq) problems.Add("deploys: must be a list");
            else
                for (var i = 0; i < seq.Children.Count; i++)
                {
                    var path = $"deploys[{i}].";
                    if (seq.Children[i] is not YamlMappingNode d) { problems.Add($"deploys[{i}]: must be a mapping"); continue; }
                    Known(d, path, "service", "at", "version", "rps", "errorShare", "p99Ms", "leakMiBPerHour", "leakAfter");
                    var service = Text(d, "service");
                    if (service is null || services.All(x => x.Name != service)) problems.Add($"{path}service: '{service}' names no service of the scenario");
                    var version = Text(d, "version") ?? "2";
                    if (Fleet.Core.Validation.InputRules.CheckVersion("version", version).Count > 0 || version == "1") problems.Add($"{path}version: '{version}' must be a version other than the stable \"1\" (1 to 64 characters, no spaces)");
                    var stable = VersionBehaviour.Stable;
                    deploys.Add(new DeploySpec(service ?? "", Dur(d, path, "at", TimeSpan.Zero)!.Value, version,
                        new VersionBehaviour(Num(d, path, "rps", stable.Rps, 0, 1_000_000), Num(d, path, "errorShare", stable.ErrorShare, 0, 1),
                            Num(d, path, "p99Ms", stable.P99Ms, 0, 3_600_000), Num(d, path, "leakMiBPerHour", 0, 0, 1_000_000), Dur(d, path, "leakAfter", TimeSpan.Zero)!.Value)));
                }
        }
        NetworkShape? network = null;
        if (root.Children.TryGetValue(new YamlScalarNode("network"), out var networkNode))
        {
            if (networkNode is not YamlMappingNode n) problems.Add("network: must be a mapping");
            else
            {
                Known(n, "network.", "sites", "capacityMbps", "flows", "demandMbps", "maxDemandMbps");
                var min = Num(n, "network.", "demandMbps", 10, 0.001, 1e7);
                network = new NetworkShape(Int(n, "network.", "sites", 8, 3, 10_000), Num(n, "network.", "capacityMbps", 1000, 1, 1e7), Int(n, "network.", "flows", 40, 0, 1_000_000),
                    min, Num(n, "network.", "maxDemandMbps", min, min, 1e7));
            }
        }
        foreach (var (f, i) in faults.Select((f, i) => (f, i)))
            if (f.Kind is FaultKind.LinkCut or FaultKind.LinkFlap or FaultKind.SitePartition && network is null)
                problems.Add($"faults[{i}].kind: {f.Kind} needs a network: section");
        if (problems.Count > 0) throw new ScenarioException(problems);
        return new Scenario(name, Text(root, "description") ?? "", nodes, domains, interval, duration, Int(root, "", "seed", 1, 0, int.MaxValue), policy, faults.ToImmutable())
        {
            Services = services.ToImmutable(),
            Deploys = deploys.ToImmutable(),
            Network = network,
        };
    }
}

public sealed class ScenarioException(IReadOnlyList<string> problems) : Exception("The scenario is not valid: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
