using System.Collections.Immutable;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Text;

namespace Fleet.Core.Lifecycle;

/// <summary>One member of the domain a train retires, as its inventory row says.</summary>
public sealed record TrainCar(string NodeId, AdminState Admin);

/// <summary>What the train does next: nodes to cordon, nodes to ask to retire (in order), and whether it has arrived.</summary>
public sealed record TrainStep(TrainRun Run, ImmutableArray<string> Cordon, ImmutableArray<string> Retire, bool Done);

/// <summary>
/// The maintenance train (docs/lifecycle.md#maintenance-train), pure: a whole domain retired node by node while the rest
/// of the fleet serves. Before it starts, <see cref="Room"/> says whether the nodes outside the domain can hold the domain's
/// instances; each step, <see cref="Next"/> cordons the members not yet asked (nothing new lands in the domain) and asks
/// the next ones to retire, keeping at most <see cref="TrainRun.Batch"/> draining at once. A node it asked that a person
/// brought back into service is left be; the train has arrived when every member is retired or left.
/// </summary>
public static class MaintenanceTrain
{
    public static TrainStep Next(TrainRun run, IReadOnlyList<TrainCar> members)
    {
        var live = members.Where(m => m.Admin != AdminState.Decommissioned).ToList();
        var skipped = run.Skipped.ToBuilder();
        foreach (var m in live.Where(m => m.Admin == AdminState.None && run.Started.Contains(m.NodeId) && !run.Skipped.Contains(m.NodeId)))
            skipped.Add(m.NodeId);
        var remaining = live.Where(m => !skipped.Contains(m.NodeId)).OrderBy(m => m.NodeId, StringComparer.Ordinal).ToList();
        var draining = remaining.Count(m => m.Admin == AdminState.Draining && run.Started.Contains(m.NodeId));
        var retire = remaining.Where(m => !(m.Admin == AdminState.Draining && run.Started.Contains(m.NodeId)))
            .Take(Math.Max(0, run.Batch - draining)).Select(m => m.NodeId).ToImmutableArray();
        var cordon = remaining.Where(m => m.Admin == AdminState.None).Select(m => m.NodeId).ToImmutableArray();
        var retired = run.Started.Count(n => live.All(m => m.NodeId != n));
        var next = run with
        {
            Skipped = skipped.ToImmutable(),
            Progress = remaining.Count == 0
                ? $"arrived: {retired} node(s) retired" + (skipped.Count > 0 ? $", {skipped.Count} brought back into service by a person ({string.Join(", ", skipped)})" : "")
                : $"{retired} of {run.Nodes} node(s) retired, {draining} draining, {remaining.Count - draining} to go" + (skipped.Count > 0 ? $", {skipped.Count} left in service" : ""),
        };
        return new TrainStep(next, cordon, retire, remaining.Count == 0);
    }

    /// <summary>
    /// Whether the nodes outside <paramref name="domain"/> that take work have room for every instance running in it (first
    /// fit, the largest first, never beside an instance of the same service, only where the labels it needs are): null when they do, else what does not fit.
    /// </summary>
    public static string? Room(string domain, IReadOnlyList<PlannedNode> nodes)
    {
        var leaving = nodes.Where(n => n.Domain == domain).SelectMany(n => n.Instances).ToList();
        if (leaving.Count == 0) return null;
        var room = nodes.Where(n => n.Domain != domain && n.TakesWork)
            .Select(n => (Node: n, Cpu: n.CpuCores - n.CpuUsed, Memory: n.MemoryBytes - n.MemoryUsed, Services: n.Instances.Select(i => i.Service).ToHashSet(StringComparer.Ordinal)))
            .OrderBy(r => r.Node.NodeId, StringComparer.Ordinal).ToList();
        var unplaced = new List<PlannedInstance>();
        foreach (var i in leaving.OrderByDescending(i => Math.Max(i.CpuCores, i.MemoryBytes / (double)(1L << 30))).ThenBy(i => i.Instance, StringComparer.Ordinal))
        {
            var at = room.FindIndex(r => r.Cpu + 1e-9 >= i.CpuCores && r.Memory >= i.MemoryBytes && !r.Services.Contains(i.Service) && i.MayGoTo(r.Node));
            if (at < 0)
            {
                unplaced.Add(i);
                continue;
            }
            var r = room[at];
            r.Services.Add(i.Service);
            room[at] = (r.Node, r.Cpu - i.CpuCores, r.Memory - i.MemoryBytes, r.Services);
        }
        if (unplaced.Count == 0) return null;
        var outside = room.Count;
        return $"the {outside} node(s) outside {domain} that take work have no room for {unplaced.Count} of its {leaving.Count} instance(s) " +
            $"(first: {unplaced[0].Instance} of {unplaced[0].Service}, {Format.Num(unplaced[0].CpuCores)} cores, {Format.Bytes(unplaced[0].MemoryBytes)})";
    }
}
