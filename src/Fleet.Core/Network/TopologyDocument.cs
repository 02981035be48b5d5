using System.Collections.Immutable;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Policy;
using Fleet.Core.Documents;
using Fleet.Core.Validation;
using YamlDotNet.RepresentationModel;

namespace Fleet.Core.Network;

public sealed record TopologyParseResult(ImmutableArray<LinkSpec> Links, ImmutableArray<FlowSpec> Flows, ImmutableArray<PolicyProblem> Problems)
{
    public bool IsValid => Problems.IsEmpty;
}

/// <summary>
/// A topology file for <c>fleet links apply</c>: <c>links:</c> (id <c>a~b</c>, capacityMbps, latencyMs, failureDomain) and
/// <c>flows:</c> (id, source, destination, demandMbps, priority). Every problem by its path and line, all at once; a flow's
/// sites must be ends of a link in the file or in <paramref name="knownSites"/> (the fleet's).
/// </summary>
public static class TopologyDocument
{
    public static TopologyParseResult Parse(string text, Func<string, bool>? knownSites = null)
    {
        var problems = ImmutableArray.CreateBuilder<PolicyProblem>();
        var root = YamlReader.Load(text, "links and flows", problems, out var empty);
        if (empty) problems.Add(new PolicyProblem("(document)", "the file is empty; it needs links: and/or flows:"));
        if (root is null) return new([], [], problems.ToImmutable());
        var r = new YamlReader(problems);
        r.Known(root, "", "links", "flows");
        var links = ImmutableArray.CreateBuilder<LinkSpec>();
        var flows = ImmutableArray.CreateBuilder<FlowSpec>();
        foreach (var (item, path) in Items(r, root, "links"))
        {
            r.Known(item, path, "id", "capacityMbps", "latencyMs", "failureDomain");
            var id = r.Scalar(item, $"{path}.id", out var idNode) ?? "";
            InputRules.IsValidLinkId(id, out var a, out var b);
            var spec = new LinkSpec(id, a, b, r.Double(item, $"{path}.capacityMbps", 0, double.MinValue, double.MaxValue), r.Double(item, $"{path}.latencyMs", 0, double.MinValue, double.MaxValue),
                r.Scalar(item, $"{path}.failureDomain", out _) ?? "");
            foreach (var (field, messages) in InputRules.Check(spec, $"{path}."))
                foreach (var m in messages) r.Problem(YamlReader.Get(item, field[(path.Length + 1)..]) ?? idNode ?? item, field, m);
            if (links.Any(l => l.Id == id)) r.Problem(idNode, $"{path}.id", $"link {id} is already in the file");
            links.Add(spec);
        }
        var sites = links.SelectMany(l => new[] { l.A, l.B }).Where(s => s.Length > 0).ToHashSet();
        foreach (var (item, path) in Items(r, root, "flows"))
        {
            r.Known(item, path, "id", "source", "destination", "demandMbps", "priority");
            var spec = new FlowSpec(r.Scalar(item, $"{path}.id", out var idNode) ?? "", r.Scalar(item, $"{path}.source", out _) ?? "", r.Scalar(item, $"{path}.destination", out _) ?? "",
                r.Double(item, $"{path}.demandMbps", 0, double.MinValue, double.MaxValue), r.Int(item, $"{path}.priority", 0, int.MinValue, int.MaxValue));
            foreach (var (field, messages) in InputRules.Check(spec, s => sites.Contains(s) || knownSites?.Invoke(s) == true, $"{path}."))
                foreach (var m in messages) r.Problem(YamlReader.Get(item, field[(path.Length + 1)..]) ?? idNode ?? item, field, m);
            if (flows.Any(f => f.Id == spec.Id)) r.Problem(idNode, $"{path}.id", $"flow {spec.Id} is already in the file");
            flows.Add(spec);
        }
        return new(links.ToImmutable(), flows.ToImmutable(), problems.ToImmutable());
    }

    private static IEnumerable<(YamlMappingNode Item, string Path)> Items(YamlReader r, YamlMappingNode root, string key)
    {
        var node = YamlReader.Get(root, key);
        if (node is null or YamlScalarNode { Value: null or "" or "~" }) yield break;
        if (node is not YamlSequenceNode seq)
        {
            r.Problem(node, key, "must be a list");
            yield break;
        }
        for (var i = 0; i < seq.Children.Count; i++)
        {
            if (seq.Children[i] is YamlMappingNode map) yield return (map, $"{key}[{i}]");
            else r.Problem(seq.Children[i], $"{key}[{i}]", "must be a mapping of fields");
        }
    }
}
