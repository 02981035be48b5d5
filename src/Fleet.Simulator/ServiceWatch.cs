using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Client;

namespace Fleet.Simulator;

/// <summary>What the scorecard says of the services a scenario ran.</summary>
/// <param name="Services">How many services ran.</param>
/// <param name="InstancesWanted">Their replicas, summed.</param>
/// <param name="ReadyAfter">When every service first had all its replicas serving (instance time is counted from then).</param>
/// <param name="InstanceSecondsLost">Σ over time of (replicas wanted − instances serving), in seconds, after ready.</param>
/// <param name="InstanceAvailability">The share of wanted instance-time that was served, after ready.</param>
/// <param name="InstancesBack">From a node's failure to every service that had instances on it serving all its replicas again, in seconds.</param>
/// <param name="BudgetViolations">Steps × services in which voluntary disruptions left fewer instances than the budget's minimum (serving plus those on failed nodes); must be 0.</param>
public sealed record ServiceScore(
    int Services,
    int InstancesWanted,
    TimeSpan? ReadyAfter,
    double InstanceSecondsLost,
    double InstanceAvailability,
    Percentiles InstancesBack,
    int BudgetViolations);

/// <summary>
/// How the instances sat on the nodes (the ground truth: what the actuator started where) when every service first ran all
/// its replicas, and at the end: the nodes in use, the share of a node allocated (the larger of cores and memory) at the
/// peak and on average over the nodes in use; the moves the services recorded, and how many of them moved an instance
/// within the consolidation's move window of its start (an instance moved twice, or moved just after it was placed).
/// </summary>
public sealed record PackingScore(int NodesUsedBefore, int NodesUsedAfter, int NodesRetired, double PeakBefore, double PeakAfter,
    double MeanBefore, double MeanAfter, int Moves, int MovedWithinWindow);

/// <summary>
/// Applies the scenario's services, and each step reads the ground truth the simulated actuator left (which instances run
/// on which virtual node, which nodes are really down) to score instance-time lost, failover time and the budget.
/// </summary>
public sealed class ServiceWatch(Scenario scenario, VirtualFleet fleet)
{
    private readonly List<(string Name, int Replicas, int MinHealthy)> _services = [.. scenario.Services.SelectMany(s => s.Names.Select(n =>
        (n, s.Replicas, Budget(s).MinHealthy(s.Replicas))))];
    private readonly List<(HashSet<string> Services, TimeSpan At, TimeSpan? BackAt)> _losses = [];
    private TimeSpan? _readyAt;
    private double _lost;
    private int _violations;
    private (int Used, double Peak, double Mean)? _packedAtReady;
    private readonly Dictionary<string, (double Cpu, long Memory)> _shapes = scenario.Services.SelectMany(s => s.Names.Select(n => (n, (s.CpuCores, s.MemoryBytes))))
        .ToDictionary(x => x.n, x => x.Item2);

    private static DisruptionBudget Budget(ServiceShape s) =>
        s.MinHealthy is null && s.MaxUnavailable is null ? DisruptionBudget.Default : new DisruptionBudget(s.MinHealthy, s.MaxUnavailable);

    public async Task ApplyAsync(IFleetClient client, CancellationToken ct)
    {
        var specs = scenario.Services.SelectMany(s => s.Names.Select(n => new ServiceSpec(n, s.Replicas, "1",
            new InstanceResources(s.CpuCores, s.MemoryBytes), new PlacementSpec(s.Spread, ImmutableDictionary<string, string>.Empty), Budget(s))));
        await Parallel.ForEachAsync(specs, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct },
            async (spec, c) => await client.ApplyServiceAsync(spec, "simulator", c));
    }

    /// <summary>A fault took a node down: remember which services had instances there, to time their recovery.</summary>
    public void NodeFailed(VirtualNode node, TimeSpan at)
    {
        if (!node.Unavailable || node.Instances.Count == 0) return;
        _losses.Add((node.Instances.Select(i => i[..i.IndexOf('/')]).ToHashSet(), at, null));
    }

    public void Step(TimeSpan now, TimeSpan step)
    {
        if (_services.Count == 0) return;
        var serving = fleet.Serving();
        var down = fleet.Locked(() => fleet.Nodes.Where(n => n.Unavailable).SelectMany(n => n.Instances)
            .GroupBy(i => i[..i.IndexOf('/')]).ToDictionary(g => g.Key, g => g.Count()));
        if (_readyAt is null)
        {
            if (_services.All(s => serving.GetValueOrDefault(s.Name) >= s.Replicas))
            {
                _readyAt = now;
                _packedAtReady = Packed();
            }
            return;
        }
        foreach (var (name, replicas, minHealthy) in _services)
        {
            var up = serving.GetValueOrDefault(name);
            _lost += Math.Max(0, replicas - up) * step.TotalSeconds;
            if (up + down.GetValueOrDefault(name) < minHealthy) _violations++;
        }
        for (var i = 0; i < _losses.Count; i++)
            if (_losses[i].BackAt is null && _losses[i].Services.All(s => serving.GetValueOrDefault(s) >= _services.First(x => x.Name == s).Replicas))
                _losses[i] = _losses[i] with { BackAt = now };
    }

    /// <summary>The nodes running instances now, and the peak and mean share of them allocated.</summary>
    private (int Used, double Peak, double Mean) Packed() => fleet.Locked(() =>
    {
        var shares = fleet.Nodes.Where(n => n.Instances.Count > 0).Select(n =>
        {
            var cpu = n.Instances.Sum(i => _shapes.GetValueOrDefault(i[..i.IndexOf('/')]).Cpu);
            var memory = n.Instances.Sum(i => _shapes.GetValueOrDefault(i[..i.IndexOf('/')]).Memory);
            return Math.Max(cpu / n.CpuCores, (double)memory / n.MemoryTotal);
        }).ToList();
        return (shares.Count, shares.Count == 0 ? 0 : shares.Max(), shares.Count == 0 ? 0 : shares.Average());
    });

    /// <summary>
    /// The packing before (when every service first ran all its replicas) and now, the nodes retired, and the moves the
    /// services recorded ("Moving instance I of service S off node N: …"), each checked against when its instance started.
    /// </summary>
    public async Task<PackingScore?> PackingAsync(IFleetClient client, DateTimeOffset start, TimeSpan moveWindow)
    {
        if (_packedAtReady is not { } before) return null;
        var after = Packed();
        var moves = new List<(string Key, TimeSpan At)>();
        long? page = null;
        do
        {
            var result = await client.QueryAuditAsync(new AuditQuery(Kind: DecisionKinds.Rescheduled, Limit: 1000, Before: page));
            foreach (var r in result.Records.Where(r => r.Outcome == "moving"))
            {
                var words = r.Reason.Split(' ');
                if (words.Length > 5 && words[0] == "Moving") moves.Add(($"{words[5]}/{words[2]}", r.Time - start));
            }
            page = result.NextBefore;
        } while (page is not null);
        var within = fleet.Locked(() => moves.Count(m => fleet.StartedAt.TryGetValue(m.Key, out var started) && m.At - started < moveWindow));
        var retired = 0;
        foreach (var chunk in fleet.Nodes.Chunk(200))
            retired += (await Task.WhenAll(chunk.Select(n => client.GetNodeAsync(n.Id)))).Count(s => s?.Stage == LifecycleStage.Retired);
        return new PackingScore(before.Used, after.Used, retired, before.Peak, after.Peak, before.Mean, after.Mean, moves.Count, within);
    }

    public ServiceScore? Result(TimeSpan total)
    {
        if (_services.Count == 0) return null;
        var wanted = _services.Sum(s => s.Replicas);
        var window = _readyAt is { } ready ? (total - ready).TotalSeconds : 0;
        return new ServiceScore(_services.Count, wanted, _readyAt, _lost, window <= 0 || wanted == 0 ? 0 : 1 - _lost / (wanted * window),
            Percentiles.Of(_losses.Where(l => l.BackAt is not null).Select(l => (l.BackAt!.Value - l.At).TotalSeconds)), _violations);
    }
}

/// <summary>What the scorecard says of the operator's drains a scenario asked for.</summary>
public sealed record DrainScore(int Asked, int Done, ImmutableDictionary<string, int> RefusedBy);

/// <summary>Drains nodes as an operator would: asks, and asks again every 30 s while a guardrail refuses.</summary>
public sealed class DrainQueue(IFleetClient client, Random random)
{
    public static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(30);
    private readonly List<string> _pending = [];
    private readonly Dictionary<string, int> _refused = [];
    private TimeSpan? _lastTry;
    private int _asked;
    private int _done;

    public void Ask(IEnumerable<string> nodes)
    {
        var list = nodes.ToList();
        _pending.AddRange(list);
        _asked += list.Count;
        _lastTry = null;
    }

    public async Task StepAsync(TimeSpan now, CancellationToken ct)
    {
        if (_pending.Count == 0 || now - _lastTry < RetryEvery) return;
        _lastTry = now;
        // All at once, as an operator draining a rack does: the asks race, and the budgets decide which go first.
        var asks = _pending.OrderBy(_ => random.Next()).Select(async node =>
        {
            try
            {
                await client.DrainAsync(node, "simulator", "scenario drain", cancellationToken: ct);
                return (node, (string?)null);
            }
            catch (FleetRefusedException e)
            {
                return (node, e.Guardrail);
            }
        }).ToList();
        foreach (var (node, refusedBy) in await Task.WhenAll(asks))
        {
            if (refusedBy is null)
            {
                _pending.Remove(node);
                _done++;
            }
            else _refused[refusedBy] = _refused.GetValueOrDefault(refusedBy) + 1;
        }
    }

    public DrainScore? Result() => _asked == 0 ? null : new DrainScore(_asked, _done, _refused.ToImmutableDictionary());
}
