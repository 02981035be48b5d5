using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Core.Text;

namespace Fleet.Core.Services;

/// <summary>
/// Placement by negotiation, the pure half: what a node offers for an ask (free = capacity − reservations, never observed
/// use), and how a service ranks the offers (spread across failure domains first, then the least allocated node).
/// </summary>
public static class Placement
{
    /// <summary>The shown health states a node takes new instances in.</summary>
    public static bool TakesWork(HealthState shown) => shown is HealthState.Healthy or HealthState.Degraded or HealthState.Probation;

    /// <summary>Reservations still holding room at <paramref name="now"/>: confirmed ones, and unconfirmed ones not yet expired.</summary>
    public static IEnumerable<NodePlacement> Live(IEnumerable<NodePlacement> placements, DateTimeOffset now) =>
        placements.Where(p => p.Confirmed || p.ExpiresAt > now);

    /// <summary>The node's offer for <paramref name="ask"/> (an instance already reserved here is not counted against itself).</summary>
    public static CapacityOffer Offer(NodeRegistration node, HealthState shown, AdminState admin, IEnumerable<NodePlacement> placements,
        PlacementAsk ask, DateTimeOffset now)
    {
        var key = $"{ask.Service}/{ask.Instance}";
        var live = Live(placements, now).Where(p => p.Key != key).ToList();
        var freeCpu = node.Capacity.CpuCores - live.Sum(p => p.CpuCores);
        var freeMemory = node.Capacity.MemoryBytes - live.Sum(p => p.MemoryBytes);
        string? refusal = null;
        if (admin != AdminState.None) refusal = $"{node.NodeId} is {Format.Camel(admin.ToString())}";
        else if (!TakesWork(shown)) refusal = shown == HealthState.Unknown ? $"{node.NodeId} has not reported yet" : $"{node.NodeId} is {shown}";
        else if (MissingLabel(node.Labels, ask.Labels) is { } missing) refusal = $"{node.NodeId} lacks the label {missing}";
        else if (freeCpu + 1e-9 < ask.CpuCores || freeMemory < ask.MemoryBytes)
            refusal = $"{node.NodeId} is full ({Format.Num(Math.Round(freeCpu, 2))} of {Format.Num(node.Capacity.CpuCores)} cores and " +
                $"{Format.Bytes(freeMemory)} of {Format.Bytes(node.Capacity.MemoryBytes)} free; {Format.Num(ask.CpuCores)} cores and {Format.Bytes(ask.MemoryBytes)} needed)";
        var offer = new CapacityOffer(node.NodeId, node.Domain, freeCpu, freeMemory, node.Capacity.CpuCores, node.Capacity.MemoryBytes, shown, refusal is null, refusal);
        if (refusal is null && ask.MaxShare is { } cap && UsedAfter(offer, ask) is var after && after > cap + 1e-9)
            offer = offer with
            {
                Accepts = false,
                Refusal = $"{node.NodeId} would be {Format.Percent(after * 100)} allocated, over the {Format.Percent(cap * 100)} a consolidation move may fill",
            };
        return offer;
    }

    /// <summary>The first required label the node lacks ("role=web"), or null.</summary>
    public static string? MissingLabel(IReadOnlyDictionary<string, string>? have, IReadOnlyDictionary<string, string> need)
    {
        foreach (var (k, v) in need)
            if (have is null || !have.TryGetValue(k, out var got) || got != v) return $"{k}={v}";
        return null;
    }

    /// <summary>Whether a domain's inventory row says the node may take the ask (the node itself has the last word).</summary>
    public static bool MayFit(NodeSummary m, PlacementAsk ask) =>
        m.Admin == AdminState.None && TakesWork(m.Health) && MissingLabel(m.Labels, ask.Labels) is null
        && (m.FreeCpu ?? 0) + 1e-9 >= ask.CpuCores && (m.FreeMemory ?? 0) >= ask.MemoryBytes;

    /// <summary>The node's offer as its domain's inventory row tells it (for ranking before the node is asked).</summary>
    public static CapacityOffer FromSummary(NodeSummary m) =>
        new(m.NodeId, m.Domain, m.FreeCpu ?? 0, m.FreeMemory ?? 0, m.CpuCores, m.MemoryBytes, m.Health, true, null);

    /// <summary>
    /// Ranks accepting offers: with <paramref name="spread"/>, domains holding fewer instances of the service first, then
    /// nodes holding fewer of them (so one node's loss or drain takes as few of the service's instances as can be); then
    /// the least allocated node (the most room left, as the smaller of the CPU and memory shares, in steps of 1/64 so nodes
    /// about as free count as equal); then a stable shuffle by <paramref name="instance"/>, so instances placed at the same
    /// moment from the same inventory do not all land on the same node.
    /// </summary>
    /// <remarks>
    /// With <paramref name="packUnder"/> (an instance moving off a node consolidation is freeing), the order after the
    /// spread is best fit instead: the nodes that would stay at or under that share allocated (the larger of cores and
    /// memory, <paramref name="ask"/> included) first, the fullest of them first — where the consolidation planner packed
    /// it — so a freed node's instances do not land on the emptiest nodes, the next ones to free.
    /// </remarks>
    public static ImmutableArray<CapacityOffer> Rank(IEnumerable<CapacityOffer> offers, IReadOnlyDictionary<string, int> instancesPerDomain, bool spread,
        IReadOnlySet<string>? avoid = null, IReadOnlyDictionary<string, int>? instancesPerNode = null, string instance = "",
        double? packUnder = null, PlacementAsk? ask = null) =>
        [.. offers.Where(o => o.Accepts && (avoid is null || !avoid.Contains(o.NodeId)))
            .OrderBy(o => spread ? instancesPerDomain.GetValueOrDefault(o.Domain) : 0)
            .ThenBy(o => spread || packUnder is not null ? instancesPerNode?.GetValueOrDefault(o.NodeId) ?? 0 : 0)
            .ThenBy(o => packUnder is { } cap && ask is not null && !(UsedAfter(o, ask) <= cap + 1e-9) ? 1 : 0)
            .ThenByDescending(o => packUnder is null ? Math.Floor(Room(o) * 64) : -Math.Floor(Room(o) * 64))
            .ThenBy(o => Shuffle(instance, o.NodeId))
            .ThenBy(o => o.NodeId, StringComparer.Ordinal)];

    /// <summary>The share of the node allocated once <paramref name="ask"/> is placed on it (the larger of cores and memory); NaN when its whole room is not known.</summary>
    public static double UsedAfter(CapacityOffer o, PlacementAsk ask) =>
        o.CpuCapacity <= 0 || o.MemoryCapacity <= 0 ? double.NaN
        : Math.Max((o.CpuCapacity - o.FreeCpu + ask.CpuCores) / o.CpuCapacity, (double)(o.MemoryCapacity - o.FreeMemory + ask.MemoryBytes) / o.MemoryCapacity);

    /// <summary>A stable pseudo-random order of nodes for one instance (FNV-1a over both names).</summary>
    private static uint Shuffle(string instance, string node)
    {
        var h = 2166136261u;
        foreach (var c in instance) h = (h ^ c) * 16777619u;
        h = (h ^ '/') * 16777619u;
        foreach (var c in node) h = (h ^ c) * 16777619u;
        return h;
    }

    /// <summary>How much room an offer leaves: free cores and free GiB, whichever is scarcer relative to an 8-core, 32 GiB unit.</summary>
    public static double Room(CapacityOffer o) => Math.Min(o.FreeCpu / 8.0, o.FreeMemory / (32.0 * (1L << 30)));

    /// <summary>Why the chosen offer won, for the record.</summary>
    public static string WhyChosen(CapacityOffer chosen, IReadOnlyDictionary<string, int> instancesPerDomain, bool spread)
    {
        var spreadWhy = spread ? $"{chosen.Domain} held {instancesPerDomain.GetValueOrDefault(chosen.Domain)} of its instances" : "no spread asked";
        return $"{spreadWhy}; {Format.Num(Math.Round(chosen.FreeCpu, 2))} cores and {Format.Bytes(chosen.FreeMemory)} free there before this reservation";
    }
}
