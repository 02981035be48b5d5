using System.Collections.Immutable;
using System.Globalization;
using System.Numerics;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Core.Documents;
using Fleet.Core.Validation;
using YamlDotNet.RepresentationModel;

namespace Fleet.Core.Services;

public sealed record ServiceSpecParseResult(ServiceSpec? Spec, ImmutableArray<PolicyProblem> Problems)
{
    public bool IsValid => Spec is not null && Problems.IsEmpty;
}

/// <summary>
/// Reads a service spec, in YAML or JSON (JSON is YAML). Fields are typed here; their rules are
/// <see cref="InputRules.Check(ServiceSpec)"/>'s (the SDK checks a spec it is handed by the same rules). Every problem is
/// reported by its path, with its line where the document has one, all at once — exactly like a policy.
/// </summary>
public static class ServiceSpecParser
{
    public static ServiceSpecParseResult Parse(string text, string? nameFromPath = null)
    {
        var problems = ImmutableArray.CreateBuilder<PolicyProblem>();
        var root = YamlReader.Load(text, "fields (name, replicas, version, resources, placement, minHealthy or maxUnavailable, scaling)", problems, out var empty);
        if (empty) problems.Add(new PolicyProblem("(document)", "the spec is empty; it needs at least a name (or the URL's) and resources"));
        if (root is null) return new(null, problems.ToImmutable());

        var r = new YamlReader(problems);
        var lines = new Dictionary<string, int?>();
        r.Known(root, "", "name", "replicas", "version", "resources", "placement", "minHealthy", "maxUnavailable", "scaling");

        string? Text(YamlMappingNode? map, string path)
        {
            var value = r.Scalar(map, path, out var node);
            lines[path] = YamlReader.Line(node);
            return value;
        }
        // Typed here, bounded by InputRules: any number of the type is taken, and a word is refused by its path.
        T Parsed<T>(YamlMappingNode? map, string path, T fallback, NumberStyles style, string what) where T : INumberBase<T>
        {
            var value = Text(map, path);
            if (value is null) return fallback;
            if (T.TryParse(value, style, CultureInfo.InvariantCulture, out var parsed)) return parsed;
            r.Problem(YamlReader.Get(map, path[(path.LastIndexOf('.') + 1)..]), path, $"'{value}' is not {what}");
            return fallback;
        }
        double Number(YamlMappingNode? map, string path, double fallback) => Parsed(map, path, fallback, NumberStyles.Float, "a number");
        int Whole(YamlMappingNode? map, string path, int fallback) => Parsed(map, path, fallback, NumberStyles.Integer, "a whole number");

        var name = Text(root, "name");
        if (name is null && nameFromPath is not null) name = nameFromPath;
        else if (name is not null && nameFromPath is not null && name != nameFromPath)
            r.Problem(YamlReader.Get(root, "name"), "name", $"'{name}' differs from the service named in the URL ('{nameFromPath}')");

        var res = r.Section(root, "resources");
        r.Known(res, "resources", "cpuCores", "memoryBytes");
        if (res is null) r.Problem(root, "resources", "is required (cpuCores, memoryBytes)");
        var cpu = Number(res, "resources.cpuCores", 0);
        var memoryText = Text(res, "resources.memoryBytes");
        long memory = 0;
        if (memoryText is not null && !TryBytes(memoryText, out memory))
            r.Problem(YamlReader.Get(res, "memoryBytes"), "resources.memoryBytes", $"'{memoryText}' is not a size; write bytes (536870912) or with a unit (512Mi, 2Gi)");

        var pl = r.Section(root, "placement");
        r.Known(pl, "placement", "spread", "labels");
        var placement = new PlacementSpec(r.Bool(pl, "placement.spread", true), r.StringMap(pl, "labels", "placement.labels"));

        var minHealthyText = Text(root, "minHealthy");
        double? share = null;
        if (minHealthyText is not null)
        {
            var t = minHealthyText.Trim();
            var percent = t.EndsWith('%');
            if (double.TryParse(percent ? t[..^1] : t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) share = percent ? v / 100 : v;
            else r.Problem(YamlReader.Get(root, "minHealthy"), "minHealthy", $"'{minHealthyText}' is not a share; write 0.66 or 66%");
        }
        int? maxUnavailable = Text(root, "maxUnavailable") is null ? null : Whole(root, "maxUnavailable", 1);
        if (share is not null && maxUnavailable is not null)
            r.Problem(YamlReader.Get(root, "maxUnavailable"), "maxUnavailable", "give minHealthy or maxUnavailable, not both");
        var budget = share is null && maxUnavailable is null ? DisruptionBudget.Default : new DisruptionBudget(share, maxUnavailable);

        ScalingSpec? scaling = null;
        if (r.Section(root, "scaling") is { } sc)
        {
            r.Known(sc, "scaling", "enabled", "min", "max", "metric", "target", "tolerance", "cooldown");
            scaling = new ScalingSpec(r.Bool(sc, "scaling.enabled", true), Whole(sc, "scaling.min", 1), Whole(sc, "scaling.max", 10),
                r.Enum(sc, "scaling.metric", ScalingMetric.Cpu, null), Number(sc, "scaling.target", 60), Number(sc, "scaling.tolerance", 0.1),
                r.Duration(sc, "scaling.cooldown", TimeSpan.FromMinutes(2), TimeSpan.Zero, TimeSpan.FromHours(6)));
        }

        var spec = new ServiceSpec(name ?? "", Whole(root, "replicas", scaling?.Min ?? 1), Text(root, "version") ?? "1",
            new InstanceResources(cpu, memory), placement, budget, scaling);
        foreach (var (path, messages) in InputRules.Check(spec))
            foreach (var m in messages) problems.Add(new PolicyProblem(path, m, lines.GetValueOrDefault(path)));
        return problems.Count > 0 ? new(null, problems.ToImmutable()) : new(spec, []);
    }

    /// <summary>Bytes, plain or with a binary unit: <c>536870912</c>, <c>512Mi</c>, <c>2Gi</c>, <c>1Ti</c>.</summary>
    public static bool TryBytes(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        var units = new (string Suffix, long Factor)[] { ("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30), ("Ti", 1L << 40) };
        foreach (var (suffix, factor) in units)
            if (text.EndsWith(suffix, StringComparison.Ordinal))
            {
                if (!double.TryParse(text[..^2], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v * factor > long.MaxValue) return false;
                bytes = (long)(v * factor);
                return true;
            }
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out bytes);
    }
}
