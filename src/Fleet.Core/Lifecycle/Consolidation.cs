using System.Collections.Immutable;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Policy;
using Fleet.Core.Text;

namespace Fleet.Core.Lifecycle;

/// <summary>One instance as the planner sees it: what it holds, and when it last started (a start within the move window pins it).</summary>
public sealed record PlannedInstance(string Service, string Instance, double CpuCores, long MemoryBytes, DateTimeOffset Since)
{
    /// <summary>Nodes it must not go to (where its start failed, or that it was moved off).</summary>
    public ImmutableArray<string> Avoid { get; init; } = [];

    /// <summary>The labels its service asks of a node.</summary>
    public ImmutableDictionary<string, string> Needs { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Whether <paramref name="node"/> carries every label this instance needs.</summary>
    public bool MayGoTo(PlannedNode node) => Services.Placement.MissingLabel(node.Labels, Needs) is null;
}

/// <summary>One node as the planner sees it: its room, whether it takes work, its domain and what runs on it.</summary>
public sealed record PlannedNode(string NodeId, string Domain, double CpuCores, long MemoryBytes, bool TakesWork, ImmutableArray<PlannedInstance> Instances)
{
    /// <summary>The node's labels (null: none).</summary>
    public ImmutableDictionary<string, string>? Labels { get; init; }

    public double CpuUsed => Instances.Sum(i => i.CpuCores);
    public long MemoryUsed => Instances.Sum(i => i.MemoryBytes);

    /// <summary>The larger of the cores and memory shares allocated.</summary>
    public double Utilisation => Math.Max(CpuCores <= 0 ? 1 : CpuUsed / CpuCores, MemoryBytes <= 0 ? 1 : (double)MemoryUsed / MemoryBytes);
}

/// <summary>One service as the planner sees it: whether it spreads, how many of its instances may move at once, how long one takes to start.</summary>
public sealed record PlannedService(string Name, bool Spread, int MaxMoves, TimeSpan? MeasuredStart, bool Busy);

/// <summary>
/// The consolidation planner (docs/lifecycle.md#consolidation), pure: which nodes can be freed by moving their instances onto
/// the others, each move make-before-break. A node is a candidate when it takes work; the least allocated are tried first.
/// Its instances are placed best fit (the most allocated node that still has room under <c>maxUtilisation</c>), never on a
/// node that already runs one of the same service, never where a spreading service would be more concentrated than where
/// it stood, never onto a node it is to avoid or that lacks a label its service asks for; an instance started within <c>moveWindow</c>, or of a service rolling out or
/// healing, pins its node. A feasible node is freed when what it saves (<c>costPerNode</c>) per instance-minute its moves
/// cost (each service's measured start time, else <c>defaultStartTime</c>) clears <c>threshold</c>; a service's moves in one
/// plan stay within its budget's maxUnavailable. At most <c>maxNodesPerPlan</c> nodes are freed in one plan.
/// </summary>
public static class Consolidation
{
    public static ConsolidationPlan Plan(IReadOnlyList<PlannedNode> nodes, IReadOnlyDictionary<string, PlannedService> services, ConsolidatePolicy policy, DateTimeOffset now)
    {
        // What each node holds as the plan goes: instances moved onto it are added, freed nodes take nothing.
        var load = nodes.ToDictionary(n => n.NodeId, n => (Cpu: n.CpuUsed, Memory: n.MemoryUsed, Services: n.Instances.Select(i => i.Service).ToHashSet(StringComparer.Ordinal)));
        var byId = nodes.ToDictionary(n => n.NodeId);
        var perDomain = nodes.SelectMany(n => n.Instances.Select(i => (n.Domain, i.Service))).GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        var freed = new HashSet<string>(StringComparer.Ordinal);
        var receivers = new HashSet<string>(StringComparer.Ordinal);
        var movesPerService = new Dictionary<string, int>(StringComparer.Ordinal);
        var candidates = ImmutableArray.CreateBuilder<ConsolidationCandidate>();

        foreach (var node in nodes.Where(n => n.TakesWork).OrderBy(n => n.Instances.Length).ThenByDescending(n => policy.CostOf(n.Labels)).ThenBy(n => n.Utilisation).ThenBy(n => n.NodeId, StringComparer.Ordinal))
        {
            if (candidates.Count(c => c.Accepted && c.Moves.Length > 0) >= policy.MaxNodesPerPlan) break; // empty nodes cost nothing and do not count
            if (receivers.Contains(node.NodeId))
            {
                candidates.Add(new ConsolidationCandidate(node.NodeId, false, "it takes instances this plan moves off other nodes", 0, 0, []));
                continue;
            }
            var (moves, why) = TryFree(node);
            if (moves is null)
            {
                candidates.Add(new ConsolidationCandidate(node.NodeId, false, why, 0, 0, []));
                continue;
            }
            var disruption = moves.Sum(m => m.StartMinutes);
            var cost = policy.CostOf(node.Labels);
            var ratio = disruption <= 0 ? double.PositiveInfinity : cost / disruption;
            if (ratio < policy.Threshold)
            {
                candidates.Add(new ConsolidationCandidate(node.NodeId, false,
                    $"freeing it saves {Format.Num(cost)} per hour{ShapeOf(node)} against {Format.Num(Math.Round(disruption, 2))} instance-minute(s) of starts ({Format.Num(Math.Round(ratio, 3))} per minute, under the threshold {Format.Num(policy.Threshold)})",
                    cost, disruption, [.. moves]));
                continue;
            }
            // Accepted: the moves are counted where they land.
            foreach (var m in moves)
            {
                var instance = node.Instances.First(i => i.Instance == m.Instance);
                var to = load[m.To];
                to.Services.Add(m.Service);
                load[m.To] = (to.Cpu + instance.CpuCores, to.Memory + instance.MemoryBytes, to.Services);
                movesPerService[m.Service] = movesPerService.GetValueOrDefault(m.Service) + 1;
                receivers.Add(m.To);
                perDomain[(node.Domain, m.Service)] = perDomain.GetValueOrDefault((node.Domain, m.Service)) - 1;
                perDomain[(byId[m.To].Domain, m.Service)] = perDomain.GetValueOrDefault((byId[m.To].Domain, m.Service)) + 1;
            }
            freed.Add(node.NodeId);
            load[node.NodeId] = (0, 0, []);
            candidates.Add(new ConsolidationCandidate(node.NodeId, true, moves.Count == 0
                    ? "it runs nothing: it can be given back as it is"
                    : $"its {moves.Count} instance(s) fit on the other nodes; freeing it saves {Format.Num(cost)} per hour{ShapeOf(node)} against {Format.Num(Math.Round(disruption, 2))} instance-minute(s) of starts",
                cost, disruption, [.. moves]));
        }

        var accepted = candidates.Where(c => c.Accepted).ToList();
        var summary = accepted.Count == 0
            ? $"no node can be freed now ({candidates.Count} looked at)"
            : $"{accepted.Count} node(s) can be freed ({string.Join(", ", accepted.Select(c => c.NodeId))}) by moving {accepted.Sum(c => c.Moves.Length)} instance(s), " +
              $"saving {Format.Num(accepted.Sum(c => c.Saving))} per hour for {Format.Num(Math.Round(accepted.Sum(c => c.Disruption), 2))} instance-minute(s) of starts";
        return new ConsolidationPlan(candidates.ToImmutable(), summary);

        // " (a large node)" when the node's shape has a cost of its own in the policy.
        string ShapeOf(PlannedNode n) => n.Labels is not null && n.Labels.TryGetValue(ConsolidatePolicy.ShapeLabel, out var shape) && policy.Costs.ContainsKey(shape) ? $" (a {shape} node)" : "";

        (List<PlannedMove>? Moves, string Why) TryFree(PlannedNode node)
        {
            var moves = new List<PlannedMove>();
            // Tentative room on the other nodes for this candidate's moves alone.
            var extra = new Dictionary<string, (double Cpu, long Memory)>(StringComparer.Ordinal);
            var extraServices = new HashSet<(string Node, string Service)>();
            var extraDomain = new Dictionary<(string Domain, string Service), int>();
            var serviceMoves = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var i in node.Instances.OrderByDescending(i => Math.Max(i.CpuCores, i.MemoryBytes / (double)(1L << 30))).ThenBy(i => i.Instance, StringComparer.Ordinal))
            {
                var service = services.GetValueOrDefault(i.Service);
                if (service is { Busy: true }) return (null, $"service {i.Service} is rolling out or healing");
                if (now - i.Since < policy.MoveWindow)
                    return (null, $"instance {i.Instance} of {i.Service} started at {i.Since:HH:mm:ss} UTC, within the move window ({Format.Duration(policy.MoveWindow)})");
                var allowed = Math.Max(1, service?.MaxMoves ?? 1);
                var used = movesPerService.GetValueOrDefault(i.Service) + serviceMoves.GetValueOrDefault(i.Service);
                if (used >= allowed) return (null, $"service {i.Service} may have {allowed} instance(s) moving at once (its budget), and this plan already moves {used}");
                var fromCount = perDomain.GetValueOrDefault((node.Domain, i.Service));
                string? best = null;
                var bestUtilisation = -1.0;
                foreach (var target in nodes)
                {
                    if (target.NodeId == node.NodeId || !target.TakesWork || freed.Contains(target.NodeId) || i.Avoid.Contains(target.NodeId) || !i.MayGoTo(target)) continue;
                    var (cpu, memory, held) = load[target.NodeId];
                    var (xc, xm) = extra.GetValueOrDefault(target.NodeId);
                    if (held.Contains(i.Service) || extraServices.Contains((target.NodeId, i.Service))) continue;
                    var cpuAfter = cpu + xc + i.CpuCores;
                    var memoryAfter = memory + xm + i.MemoryBytes;
                    var utilisation = Math.Max(cpuAfter / target.CpuCores, (double)memoryAfter / target.MemoryBytes);
                    if (utilisation > policy.MaxUtilisation + 1e-9) continue;
                    if (service is { Spread: true } && target.Domain != node.Domain
                        && perDomain.GetValueOrDefault((target.Domain, i.Service)) + extraDomain.GetValueOrDefault((target.Domain, i.Service)) + 1 > fromCount)
                        continue; // the service would be more concentrated in the target's domain than where it stood
                    if (utilisation > bestUtilisation || (Math.Abs(utilisation - bestUtilisation) < 1e-12 && string.CompareOrdinal(target.NodeId, best) < 0))
                    {
                        best = target.NodeId;
                        bestUtilisation = utilisation;
                    }
                }
                if (best is null)
                    return (null, $"instance {i.Instance} of {i.Service} ({Format.Num(i.CpuCores)} cores, {Format.Bytes(i.MemoryBytes)}) fits on no other node under {Format.Percent(policy.MaxUtilisation * 100)} allocated" +
                        (service is { Spread: true } ? " without crowding its spread" : ""));
                var (ec, em) = extra.GetValueOrDefault(best);
                extra[best] = (ec + i.CpuCores, em + i.MemoryBytes);
                extraServices.Add((best, i.Service));
                var toDomain = byId[best].Domain;
                if (toDomain != node.Domain) extraDomain[(toDomain, i.Service)] = extraDomain.GetValueOrDefault((toDomain, i.Service)) + 1;
                serviceMoves[i.Service] = serviceMoves.GetValueOrDefault(i.Service) + 1;
                var start = service?.MeasuredStart ?? policy.DefaultStartTime;
                moves.Add(new PlannedMove(i.Service, i.Instance, node.NodeId, best, start.TotalMinutes));
            }
            return (moves, "");
        }
    }
}
