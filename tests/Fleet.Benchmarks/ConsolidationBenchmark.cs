using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Policy;
using Fleet.Core.Lifecycle;
using Fleet.Simulator;

namespace Fleet.Benchmarks;

/// <summary>
/// Consolidation: how many machines a drifted fleet gives up, at what peak utilisation, for how many moves. Two parts:
/// (1) Fleet's planner (<see cref="Consolidation.Plan"/>) on a fleet of 10,000 nodes and 3,000 services, its plans applied
/// round after round, beside Kubernetes Cluster Autoscaler's documented scale-down rule applied to the same fleet;
/// (2) consolidation carried out on a silo by the simulator (real moves through the services, the ground truth scored).
/// </summary>
internal static class ConsolidationBenchmark
{
    private const double Cores = 8;
    private const long Memory = 32L << 30;
    private static readonly TimeSpan CaScan = TimeSpan.FromSeconds(10), CaUnneeded = TimeSpan.FromMinutes(10);

    /// <summary>One instance on the benchmark's fleet: its service, size and when it last started.</summary>
    private sealed class Inst(string service, string id, double cpu, long memory)
    {
        public string Service { get; } = service;
        public string Id { get; } = id;
        public double Cpu { get; } = cpu;
        public long Memory { get; } = memory;
        public int Moves { get; set; }
        public DateTimeOffset Since { get; set; }
    }

    private sealed record Svc(string Name, int Replicas, bool Spread, TimeSpan Start);

    public static async Task RunAsync(BenchOptions o)
    {
        var nodeCount = o.Nodes;
        var serviceCount = nodeCount * 3 / 10;
        Console.WriteLine($"# consolidate: {nodeCount:N0} nodes of {Cores} cores / {Memory >> 30} GiB in 50 domains, {serviceCount:N0} services of 2–4 instances placed as a drifted fleet (random nodes), {Environment.ProcessorCount} cores");
        var figures = new Dictionary<string, double>();

        var t0 = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var (fleetPlanner, plannerSeconds, plans) = RunPlanner(Build(nodeCount, serviceCount, t0), t0);
        var ca = RunClusterAutoscaler(Build(nodeCount, serviceCount, t0), t0);
        Console.WriteLine();
        Console.WriteLine("| rule, same starting fleet | nodes in use before → after | nodes freed | peak allocated before → after | mean allocated (nodes in use) after | moves | instances moved more than once | instance-minutes of starts | simulated time to finish |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (label, r) in new[] { ("Fleet's planner (maxUtilisation 80 %, savings per instance-minute ≥ 0.1, move window 1 h)", fleetPlanner), ("Cluster Autoscaler's rule (below 50 % for 10 min and its pods fit elsewhere; evicted pods rescheduled least-allocated, as kube-scheduler's default scores)", ca) })
            Console.WriteLine($"| {label} | {r.UsedBefore:N0} → {r.UsedAfter:N0} | {r.UsedBefore - r.UsedAfter:N0} | {r.PeakBefore:P0} → {r.PeakAfter:P0} | {r.MeanAfter:P0} | {r.Moves:N0} | {r.MovedTwice:N0} | {r.StartMinutes:N0} | {Scorecard.Clock(r.Took)} |");
        Console.WriteLine();
        Console.WriteLine($"Fleet's planner: {plans:N0} plans (each applied whole, up to 5 nodes a plan, one plan every 10 min) in {plannerSeconds:0.0} s of CPU = {plannerSeconds / Math.Max(1, plans) * 1000:0.0} ms a plan over {nodeCount:N0} nodes. " +
            "On a silo the capacity supervisor carries plans out one node at a time, the next plan as soon as the last node has retired (the pace is part 2's).");
        Console.WriteLine($"Ratio, Fleet to the autoscaler's rule: nodes freed {(double)(fleetPlanner.UsedBefore - fleetPlanner.UsedAfter) / Math.Max(1, ca.UsedBefore - ca.UsedAfter):0.00}×, moves per node freed {fleetPlanner.Moves / (double)Math.Max(1, fleetPlanner.UsedBefore - fleetPlanner.UsedAfter):0.00} against {ca.Moves / (double)Math.Max(1, ca.UsedBefore - ca.UsedAfter):0.00}.");
        foreach (var (prefix, r) in new[] { ("planner", fleetPlanner), ("clusterAutoscaler", ca) })
            foreach (var (name, value) in new (string, double)[]
                     {
                         ("NodesInUseBefore", r.UsedBefore), ("NodesInUseAfter", r.UsedAfter), ("NodesFreed", r.UsedBefore - r.UsedAfter),
                         ("PeakUtilisationBefore", r.PeakBefore), ("PeakUtilisationAfter", r.PeakAfter), ("MeanUtilisationAfter", r.MeanAfter),
                         ("Moves", r.Moves), ("InstancesMovedTwice", r.MovedTwice), ("StartMinutes", r.StartMinutes), ("SimulatedSeconds", r.Took.TotalSeconds),
                     })
                figures[prefix + name] = value;
        figures["plannerMillisecondsPerPlan"] = plannerSeconds / Math.Max(1, plans) * 1000;

        // (2) Carried out on a silo, with the simulator's ground truth: moves make-before-break, instance-time lost.
        var sim = (o.Sizes.Length > 0 ? o.Sizes[0] : 300);
        var scenario = ScenarioLoader.Load("consolidate") with
        {
            Name = "consolidate-bench", Nodes = sim, Domains = 10, Duration = TimeSpan.FromMinutes(Math.Max(40, sim + 20)),
            Services = [new ServiceShape("app", sim * 2 / 5, 3, 1, 2L << 30, null, 1, false)],
        };
        Console.WriteLine();
        Console.WriteLine($"# carried out on one in-process silo (simulated time): {scenario.Nodes} nodes, {scenario.Services[0].Count} services × 3 instances of 1 core / 2 GiB, consolidation every 30 s, move window 5 min, {Scorecard.Clock(scenario.Duration)} simulated");
        var card = await Simulation.RunAsync(scenario, realTime: false);
        var pk = card.Packing!;
        var sv = card.Services!;
        Console.WriteLine("| nodes in use before → after | retired | peak allocated before → after | mean allocated after | moves | moved within the move window of its start | instance-seconds lost | budget violations | wall time |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        Console.WriteLine($"| {pk.NodesUsedBefore} → {pk.NodesUsedAfter} | {pk.NodesRetired} | {pk.PeakBefore:P0} → {pk.PeakAfter:P0} | {pk.MeanAfter:P0} | {pk.Moves} | {pk.MovedWithinWindow} | {sv.InstanceSecondsLost:0} | {sv.BudgetViolations} | {card.WallTime.TotalSeconds:0} s |");
        foreach (var (name, value) in new (string, double)[]
                 {
                     ("siloNodesInUseBefore", pk.NodesUsedBefore), ("siloNodesInUseAfter", pk.NodesUsedAfter), ("siloNodesRetired", pk.NodesRetired),
                     ("siloPeakUtilisationAfter", pk.PeakAfter), ("siloMoves", pk.Moves), ("siloMovedWithinWindow", pk.MovedWithinWindow),
                     ("siloInstanceSecondsLost", sv.InstanceSecondsLost), ("siloBudgetViolations", sv.BudgetViolations), ("siloWallSeconds", card.WallTime.TotalSeconds),
                 })
            figures[name] = value;
        o.WriteJson(figures);
    }

    private sealed record Result(int UsedBefore, int UsedAfter, double PeakBefore, double PeakAfter, double MeanAfter, int Moves, int MovedTwice, double StartMinutes, TimeSpan Took);

    /// <summary>The fleet: nodes, each with its instances, and the services. Drifted: each instance on a random node with room and none of its replicas.</summary>
    private static (List<(string Id, string Domain, List<Inst> Instances)> Nodes, Dictionary<string, Svc> Services) Build(int nodeCount, int serviceCount, DateTimeOffset t0)
    {
        var random = new Random(42);
        var nodes = Enumerable.Range(0, nodeCount).Select(i => ($"n-{i:D5}", $"d-{i % 50:D2}", new List<Inst>())).ToList();
        var services = new Dictionary<string, Svc>();
        double[] cpus = [0.25, 0.5, 1, 2];
        long[] memories = [512L << 20, 1L << 30, 2L << 30, 4L << 30];
        for (var s = 0; s < serviceCount; s++)
        {
            var svc = new Svc($"s-{s:D4}", random.Next(2, 5), random.Next(2) == 0, TimeSpan.FromSeconds(random.Next(5, 121)));
            services[svc.Name] = svc;
            var size = random.Next(cpus.Length);
            for (var r = 0; r < svc.Replicas; r++)
            {
                var inst = new Inst(svc.Name, $"{svc.Name}-{r}", cpus[size], memories[size]) { Since = t0 - TimeSpan.FromHours(2) };
                for (var tries = 0; tries < 1000; tries++)
                {
                    var n = nodes[random.Next(nodes.Count)];
                    if (n.Item3.Any(x => x.Service == svc.Name) || n.Item3.Sum(x => x.Cpu) + inst.Cpu > Cores || n.Item3.Sum(x => x.Memory) + inst.Memory > Memory) continue;
                    n.Item3.Add(inst);
                    break;
                }
            }
        }
        return (nodes, services);
    }

    private static double Share(List<Inst> on) => Math.Max(on.Sum(i => i.Cpu) / Cores, (double)on.Sum(i => i.Memory) / Memory);

    private static (int Used, double Peak, double Mean) Packing(IEnumerable<List<Inst>> nodes)
    {
        var shares = nodes.Where(n => n.Count > 0).Select(Share).ToList();
        return (shares.Count, shares.Count == 0 ? 0 : shares.Max(), shares.Count == 0 ? 0 : shares.Average());
    }

    /// <summary>Fleet's planner, its plans applied round after round (one every 10 min) until a plan frees nothing more.</summary>
    private static (Result Result, double Seconds, int Plans) RunPlanner((List<(string Id, string Domain, List<Inst> Instances)> Nodes, Dictionary<string, Svc> Services) fleet, DateTimeOffset t0)
    {
        var policy = ConsolidatePolicy.Default;
        var before = Packing(fleet.Nodes.Select(n => n.Instances));
        var retired = new HashSet<string>(StringComparer.Ordinal);
        // Each service's budget lets one instance be away at a time (maxUnavailable 1, the default budget).
        var services = fleet.Services.ToDictionary(s => s.Key, s => new PlannedService(s.Key, s.Value.Spread, 1, s.Value.Start, false));
        var byId = fleet.Nodes.ToDictionary(n => n.Id);
        var now = t0;
        var cpu = Stopwatch.StartNew();
        int plans = 0, moves = 0, idle = 0;
        double startMinutes = 0;
        var last = now;
        // A plan that frees nothing may free something once the move window has passed for the instances it pinned: stop after a window and a round of nothing.
        while (idle * policy.Interval <= policy.MoveWindow + policy.Interval)
        {
            var planned = fleet.Nodes.Where(n => !retired.Contains(n.Id)).Select(n => new PlannedNode(n.Id, n.Domain, Cores, Memory, true,
                [.. n.Instances.Select(i => new PlannedInstance(i.Service, i.Id, i.Cpu, i.Memory, i.Since))])).ToList();
            var plan = Consolidation.Plan(planned, services, policy, now);
            plans++;
            var accepted = plan.Candidates.Where(c => c.Accepted && c.Moves.Length > 0).ToList();
            if (accepted.Count == 0) idle++;
            else
            {
                idle = 0;
                last = now;
            }
            foreach (var c in accepted)
            {
                var from = byId[c.NodeId].Instances;
                foreach (var m in c.Moves)
                {
                    var inst = from.First(i => i.Id == m.Instance);
                    from.Remove(inst);
                    inst.Moves++;
                    inst.Since = now;
                    byId[m.To].Instances.Add(inst);
                    moves++;
                    startMinutes += m.StartMinutes;
                }
                retired.Add(c.NodeId);
            }
            now += policy.Interval;
        }
        var after = Packing(fleet.Nodes.Where(n => !retired.Contains(n.Id)).Select(n => n.Instances));
        var all = fleet.Nodes.SelectMany(n => n.Instances).ToList();
        return (new Result(before.Used, after.Used, before.Peak, after.Peak, after.Mean, moves, all.Count(i => i.Moves > 1), startMinutes, last - t0), cpu.Elapsed.TotalSeconds, plans);
    }

    /// <summary>
    /// Cluster Autoscaler's scale-down rule as documented: every scan (10 s) a node whose requests are under 50 % of its
    /// allocatable (the larger of CPU and memory) and whose pods all fit on other nodes (first fit, up to 100 %, never beside a
    /// replica) is unneeded; one unneeded for 10 minutes is removed — empty ones up to 10 a scan, non-empty one a scan
    /// (max-drain-parallelism 1). Its evicted pods go where the default kube-scheduler puts them: the least allocated node
    /// with room (and none of their replicas).
    /// </summary>
    private static Result RunClusterAutoscaler((List<(string Id, string Domain, List<Inst> Instances)> Nodes, Dictionary<string, Svc> Services) fleet, DateTimeOffset t0)
    {
        var before = Packing(fleet.Nodes.Select(n => n.Instances));
        var live = fleet.Nodes.ToList();
        var unneededSince = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        var now = TimeSpan.Zero;
        var last = TimeSpan.Zero;
        int moves = 0;
        double startMinutes = 0;
        while (now - last <= CaUnneeded + CaScan)
        {
            now += CaScan;
            var unneeded = new List<(string Id, string Domain, List<Inst> Instances)>();
            foreach (var n in live)
            {
                if (Share(n.Instances) < 0.5 && Fits(n))
                {
                    unneededSince.TryAdd(n.Id, now);
                    if (now - unneededSince[n.Id] >= CaUnneeded) unneeded.Add(n);
                }
                else unneededSince.Remove(n.Id);
            }
            var empties = unneeded.Where(n => n.Instances.Count == 0).Take(10).ToList();
            var drained = unneeded.Where(n => n.Instances.Count > 0).OrderBy(n => Share(n.Instances)).Take(1).ToList();
            foreach (var n in empties.Concat(drained))
            {
                live.Remove(n);
                unneededSince.Remove(n.Id);
                foreach (var inst in n.Instances)
                {
                    var target = live.Where(t => Room(t.Instances, inst)).OrderBy(t => Share(t.Instances)).ThenBy(t => t.Id, StringComparer.Ordinal).FirstOrDefault();
                    if (target.Instances is null) continue; // nowhere: CA would not have removed it, as Fits said
                    target.Instances.Add(inst);
                    inst.Moves++;
                    moves++;
                    startMinutes += fleet.Services[inst.Service].Start.TotalMinutes;
                }
                n.Instances.Clear();
                last = now;
            }
        }
        var after = Packing(live.Select(n => n.Instances));
        var all = live.SelectMany(n => n.Instances).ToList();
        return new Result(before.Used, after.Used, before.Peak, after.Peak, after.Mean, moves, all.Count(i => i.Moves > 1), startMinutes, last);

        bool Fits((string Id, string Domain, List<Inst> Instances) node)
        {
            var extra = new Dictionary<string, (double Cpu, long Memory, HashSet<string> Services)>(StringComparer.Ordinal);
            foreach (var inst in node.Instances)
            {
                var placed = false;
                foreach (var t in live)
                {
                    if (t.Id == node.Id) continue;
                    var x = extra.GetValueOrDefault(t.Id, (0, 0, []));
                    if (x.Services.Contains(inst.Service) || !Room(t.Instances, inst, x.Cpu, x.Memory)) continue;
                    x.Services.Add(inst.Service);
                    extra[t.Id] = (x.Cpu + inst.Cpu, x.Memory + inst.Memory, x.Services);
                    placed = true;
                    break;
                }
                if (!placed) return false;
            }
            return true;
        }
    }

    private static bool Room(List<Inst> on, Inst inst, double extraCpu = 0, long extraMemory = 0)
    {
        double cpu = extraCpu;
        long memory = extraMemory;
        foreach (var i in on)
        {
            if (i.Service == inst.Service) return false;
            cpu += i.Cpu;
            memory += i.Memory;
        }
        return cpu + inst.Cpu <= Cores + 1e-9 && memory + inst.Memory <= Memory;
    }
}
