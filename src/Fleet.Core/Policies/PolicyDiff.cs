using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using YamlDotNet.RepresentationModel;

namespace Fleet.Core.Policies;

/// <summary>One difference between two policies: the field's path, and its value before and after (null: absent).</summary>
public sealed record PolicyChange(string Path, string? Before, string? After)
{
    /// <summary>"guardrails.maxConcurrentPerDomain 1 → 2"; "security.approvalRequired[1] added: root-*".</summary>
    public override string ToString() =>
        Before is null ? $"{Path} added: {After}"
        : After is null ? $"{Path} removed (was {Before})"
        : $"{Path} {Before} → {After}";
}

/// <summary>
/// What changes between two policies, field by field, on their effective values (defaults filled in), so "nothing
/// changes" means the two behave the same whatever either document wrote out.
/// </summary>
public static class PolicyDiff
{
    public static ImmutableArray<PolicyChange> Compare(FleetPolicy before, FleetPolicy after)
    {
        var a = Flatten(PolicyWriter.Write(before));
        var b = Flatten(PolicyWriter.Write(after));
        var changes = ImmutableArray.CreateBuilder<PolicyChange>();
        foreach (var path in a.Keys.Union(b.Keys).Distinct())
        {
            var was = a.GetValueOrDefault(path);
            var now = b.GetValueOrDefault(path);
            if (was != now) changes.Add(new PolicyChange(path, was, now));
        }
        return changes.ToImmutable();
    }

    /// <summary>Every scalar of a YAML document by its path (<c>remediation.ladder[0].action</c>), in document order.</summary>
    private static Dictionary<string, string> Flatten(string yaml)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(yaml)) stream.Load(reader);
        var values = new Dictionary<string, string>();
        if (stream.Documents.Count > 0) Walk(stream.Documents[0].RootNode, "", values);
        return values;
    }

    private static void Walk(YamlNode node, string path, Dictionary<string, string> values)
    {
        switch (node)
        {
            case YamlMappingNode map:
                foreach (var (k, v) in map.Children) Walk(v, path.Length == 0 ? ((YamlScalarNode)k).Value! : $"{path}.{((YamlScalarNode)k).Value}", values);
                break;
            case YamlSequenceNode seq:
                for (var i = 0; i < seq.Children.Count; i++) Walk(seq.Children[i], $"{path}[{i}]", values);
                break;
            case YamlScalarNode scalar:
                values[path] = scalar.Value ?? "";
                break;
        }
    }
}
