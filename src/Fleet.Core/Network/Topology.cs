using System.Collections.Immutable;
using Fleet.Abstractions.Links;
using QuikGraph;
using QuikGraph.Algorithms;
using QuikGraph.Algorithms.ShortestPath;

namespace Fleet.Core.Network;

/// <summary>A path through the network: the sites in order, the links between them, and its latency.</summary>
public sealed record NetPath(ImmutableArray<string> Sites, ImmutableArray<string> Links, double LatencyMs)
{
    public override string ToString() => string.Join("–", Sites);
}

/// <summary>
/// The network as a graph (QuikGraph), for path choice: each usable link is an edge in each direction, weighed by its
/// latency. Candidates are the k shortest loopless paths (Yen's algorithm), from links that are Up and, where asked, have
/// room for the demand in the direction of travel; the capacity itself is the links' to grant (a reservation).
/// </summary>
public sealed class Topology
{
    private readonly ImmutableDictionary<string, LinkStatus> _links;

    public Topology(IEnumerable<LinkStatus> links) => _links = links.ToImmutableDictionary(l => l.Spec.Id);

    public IReadOnlyDictionary<string, LinkStatus> Links => _links;

    public bool HasSite(string site) => _links.Values.Any(l => l.Spec.A == site || l.Spec.B == site);

    /// <summary>Free capacity on a link in the direction that leaves <paramref name="from"/>.</summary>
    public static double Free(LinkStatus l, string from) => from == l.Spec.A ? l.FreeAB : l.FreeBA;

    /// <summary>The link id of two sites: both ends, ordered (ordinal), joined by '~'.</summary>
    public static string LinkId(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? $"{a}~{b}" : $"{b}~{a}";

    /// <summary>
    /// Up to <paramref name="k"/> shortest simple paths from <paramref name="from"/> to <paramref name="to"/> over usable
    /// links not in <paramref name="avoid"/>; with <paramref name="demandMbps"/>, only links with that much free in the
    /// direction of travel — or links in <paramref name="shared"/> (the flow's own reservations there are shared).
    /// </summary>
    public ImmutableArray<NetPath> Candidates(string from, string to, int k, IReadOnlySet<string>? avoid = null, double? demandMbps = null, IReadOnlySet<string>? shared = null)
    {
        if (from == to || k < 1) return [];
        // The directions of travel each usable link allows for this demand.
        var edges = new List<(string From, string To, LinkStatus Link)>();
        var neighbours = new Dictionary<string, HashSet<string>>();
        void Allow(string a, string b, LinkStatus l)
        {
            edges.Add((a, b, l));
            (neighbours.TryGetValue(a, out var na) ? na : neighbours[a] = []).Add(b);
            (neighbours.TryGetValue(b, out var nb) ? nb : neighbours[b] = []).Add(a);
        }
        foreach (var l in _links.Values)
        {
            if (l.State != LinkState.Up || l.Deleting || avoid?.Contains(l.Spec.Id) == true) continue;
            var mine = shared?.Contains(l.Spec.Id) == true;
            if (mine || demandMbps is not { } d || l.FreeAB >= d) Allow(l.Spec.A, l.Spec.B, l);
            if (mine || demandMbps is not { } e || l.FreeBA >= e) Allow(l.Spec.B, l.Spec.A, l);
        }
        if (!neighbours.ContainsKey(from) || !neighbours.ContainsKey(to)) return [];
        // A site with a single neighbour can be on no simple path but as its end: pruning such dead ends (again and again)
        // leaves the graph the search needs — on a hub-and-spoke network, a handful of sites instead of a thousand.
        var dead = new Queue<string>(neighbours.Where(kv => kv.Value.Count <= 1 && kv.Key != from && kv.Key != to).Select(kv => kv.Key));
        var pruned = new HashSet<string>();
        while (dead.TryDequeue(out var site))
        {
            if (!pruned.Add(site)) continue;
            foreach (var n in neighbours[site])
            {
                var rest = neighbours[n];
                rest.Remove(site);
                if (rest.Count <= 1 && n != from && n != to && !pruned.Contains(n)) dead.Enqueue(n);
            }
        }
        var graph = new AdjacencyGraph<string, EquatableTaggedEdge<string, double>>(allowParallelEdges: false);
        var byEnds = new Dictionary<(string, string), LinkStatus>();
        foreach (var (a, b, l) in edges)
        {
            if (pruned.Contains(a) || pruned.Contains(b)) continue;
            graph.AddVerticesAndEdge(new EquatableTaggedEdge<string, double>(a, b, Math.Max(l.Spec.LatencyMs, 0.001)));
            byEnds[(a, b)] = l;
        }
        if (!graph.ContainsVertex(from) || !graph.ContainsVertex(to)) return [];
        IEnumerable<YenShortestPathsAlgorithm<string>.SortedPath> found;
        try { found = new YenShortestPathsAlgorithm<string>(graph, from, to, k, e => e.Tag).Execute().ToList(); }
        catch (NoPathFoundException) { return []; }
        var paths = ImmutableArray.CreateBuilder<NetPath>();
        foreach (var walk in found)
        {
            var hops = walk.ToList();
            var sites = new List<string> { from };
            sites.AddRange(hops.Select(e => e.Target));
            var links = hops.Select(e => byEnds[(e.Source, e.Target)]).ToList();
            paths.Add(new NetPath([.. sites], [.. links.Select(l => l.Spec.Id)], links.Sum(l => l.Spec.LatencyMs)));
        }
        return [.. paths.OrderBy(p => p.LatencyMs).ThenBy(p => p.Links.Length).Take(k)];
    }

    /// <summary>Why no path carries the demand: the links out of reach, full or down, in words ("b~c down; a~d has 4 of 10 Mbit/s free").</summary>
    public string WhyNoPath(string from, string to, double demandMbps, IReadOnlySet<string>? avoid = null)
    {
        if (!HasSite(from)) return $"site {from} has no links";
        if (!HasSite(to)) return $"site {to} has no links";
        var down = _links.Values.Where(l => l.State != LinkState.Up || l.Deleting || avoid?.Contains(l.Spec.Id) == true)
            .Select(l => $"{l.Spec.Id} {(l.Deleting ? "being deleted" : l.State.ToString().ToLowerInvariant())}").ToList();
        var full = _links.Values.Where(l => l.State == LinkState.Up && !l.Deleting && avoid?.Contains(l.Spec.Id) != true && Math.Min(l.FreeAB, l.FreeBA) < demandMbps)
            .Select(l => $"{l.Spec.Id} has {Text.Format.Num(Math.Round(l.FreeAB, 1))} Mbit/s free {l.Spec.A}→{l.Spec.B} and {Text.Format.Num(Math.Round(l.FreeBA, 1))} {l.Spec.B}→{l.Spec.A} of the {Text.Format.Num(demandMbps)} needed").ToList();
        var parts = new List<string>();
        if (down.Count > 0) parts.Add($"not usable: {string.Join(", ", down.Take(8))}{(down.Count > 8 ? $" and {down.Count - 8} more" : "")}");
        if (full.Count > 0) parts.Add($"too full: {string.Join(", ", full.Take(8))}{(full.Count > 8 ? $" and {full.Count - 8} more" : "")}");
        return parts.Count == 0 ? $"no usable links join {from} and {to}" : string.Join("; ", parts);
    }
}
