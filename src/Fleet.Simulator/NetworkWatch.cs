using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Links;
using Fleet.Client;
using Fleet.Core.Network;

namespace Fleet.Simulator;

/// <summary>
/// The network a scenario runs: <see cref="Sites"/> sites on a ring with chords (each site also linked to the one three
/// ahead), links of <see cref="CapacityMbps"/> each way with latencies of 2–10 ms, and <see cref="Flows"/> flows between
/// random sites with demands from <see cref="MinDemandMbps"/> to <see cref="MaxDemandMbps"/>.
/// </summary>
public sealed record NetworkShape(int Sites, double CapacityMbps, int Flows, double MinDemandMbps, double MaxDemandMbps);

/// <summary>How the flows fared: dropped, seconds without a working path, reroute time (a broken path's break to the shift onto a working one), oversubscriptions (must be 0).</summary>
public sealed record NetworkScore(
    int Links,
    int Flows,
    int FlowsPlaced,
    int Dropped,
    int DroppedUnavoidable,
    double FlowSecondsWithoutPath,
    Percentiles RerouteSeconds,
    int Oversubscriptions,
    int Moves,
    int ShiftsOntoBrokenPaths,
    ImmutableArray<string> DampedLinks);

/// <summary>
/// The ground truth of the network (which links are really up, which path each flow's traffic really takes — what the
/// actuator's shift-flow actions made it) and the scorecard's view of it. Probes are sent each step from the truth; a
/// probe-path action fails when a link of the path is really down; a flow is dropped when it has had no working path for
/// longer than one probe interval (unavoidable when no working path existed at all), or was shifted onto a broken path.
/// </summary>
public sealed class NetworkWatch
{
    private readonly NetworkShape? _shape;
    private readonly Random _random;
    private readonly object _gate = new();
    private readonly Dictionary<string, LinkSpec> _links = [];
    private readonly Dictionary<string, bool> _up = [];
    private readonly Dictionary<string, FlowSpec> _flows = [];
    private readonly Dictionary<string, ImmutableArray<string>> _real = [];
    private readonly Dictionary<string, TimeSpan> _brokenSince = [];
    private readonly HashSet<string> _droppedThisEpisode = [];
    private readonly List<double> _reroutes = [];
    private readonly List<(TimeSpan At, string Link, bool Up)> _toggles = [];
    private readonly HashSet<string> _damped = [];
    private readonly Dictionary<string, TimeSpan> _downSince = [];
    private long _sequence;
    private int _dropped, _unavoidable, _oversubscriptions, _moves, _brokenShifts, _placed;
    private double _flowSecondsWithoutPath;

    public NetworkWatch(Scenario scenario)
    {
        _shape = scenario.Network;
        _random = new Random(scenario.Seed + 7);
        if (_shape is not { } s) return;
        string Site(int i) => $"s{i % s.Sites:D2}";
        void Add(string a, string b)
        {
            var id = Topology.LinkId(a, b);
            if (a == b || _links.ContainsKey(id)) return;
            var (x, y) = string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);
            _links[id] = new LinkSpec(id, x, y, s.CapacityMbps, 2 + _random.Next(9), $"span-{_links.Count % 4}");
            _up[id] = true;
        }
        for (var i = 0; i < s.Sites; i++)
        {
            Add(Site(i), Site(i + 1));
            if (s.Sites > 5 && i % 2 == 0) Add(Site(i), Site(i + 3));
        }
        for (var i = 0; i < s.Flows; i++)
        {
            var from = _random.Next(s.Sites);
            var to = (from + 1 + _random.Next(s.Sites - 1)) % s.Sites;
            var demand = Math.Round(s.MinDemandMbps + _random.NextDouble() * (s.MaxDemandMbps - s.MinDemandMbps), 1);
            _flows[$"flow-{i:D4}"] = new FlowSpec($"flow-{i:D4}", Site(from), Site(to), demand, _random.Next(3));
        }
    }

    public bool Active => _shape is not null;

    /// <summary>Defines the links, probes them up, then defines the flows (the highest priority first).</summary>
    public async Task ApplyAsync(IFleetClient client, int upAfterProbes, CancellationToken ct)
    {
        if (!Active) return;
        foreach (var l in _links.Values) await client.ApplyLinkAsync(l, "simulator", ct);
        for (var i = 0; i < upAfterProbes; i++) await ProbeAsync(client, ct);
        foreach (var f in _flows.Values.OrderByDescending(f => f.Priority).ThenBy(f => f.Id, StringComparer.Ordinal))
            if ((await client.ApplyFlowAsync(f, "simulator", ct)).State == FlowState.Active) _placed++;
    }

    public void Inject(FaultSpec f, TimeSpan now)
    {
        lock (_gate)
        {
            var duration = f.Duration ?? TimeSpan.FromMinutes(2);
            switch (f.Kind)
            {
                case FaultKind.LinkCut:
                {
                    var link = f.Link ?? Busiest();
                    _toggles.Add((now, link, false));
                    _toggles.Add((now + duration, link, true));
                    break;
                }
                case FaultKind.LinkFlap:
                {
                    var link = f.Link ?? Busiest();
                    var every = f.FlapAfter ?? TimeSpan.FromSeconds(20);
                    for (var i = 0; i < f.Flaps; i++)
                    {
                        _toggles.Add((now + every * (2 * i), link, false));
                        _toggles.Add((now + every * (2 * i + 1), link, true));
                    }
                    break;
                }
                case FaultKind.SitePartition:
                {
                    var site = f.Site ?? _flows.Values.GroupBy(x => x.Source).OrderByDescending(g => g.Count()).First().Key;
                    foreach (var l in _links.Values.Where(l => l.A == site || l.B == site))
                    {
                        _toggles.Add((now, l.Id, false));
                        _toggles.Add((now + duration, l.Id, true));
                    }
                    break;
                }
            }
        }
    }

    private string Busiest() => _real.Values.SelectMany(p => p).GroupBy(l => l).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).FirstOrDefault()?.Key
        ?? _links.Keys.Order(StringComparer.Ordinal).First();

    /// <summary>Moves the truth on (cuts, recoveries, flaps that fell due) and sends every link's probe.</summary>
    public async Task StepAsync(IFleetClient client, TimeSpan now, CancellationToken ct)
    {
        if (!Active) return;
        lock (_gate)
        {
            foreach (var t in _toggles.Where(t => t.At <= now).OrderBy(t => t.At).ToList())
            {
                _up[t.Link] = t.Up;
                if (t.Up) _downSince.Remove(t.Link);
                else _downSince.TryAdd(t.Link, t.At);
                _toggles.Remove(t);
            }
        }
        await ProbeAsync(client, ct);
    }

    private async Task ProbeAsync(IFleetClient client, CancellationToken ct)
    {
        List<LinkProbe> probes;
        lock (_gate)
        {
            _sequence++;
            probes = [.. _links.Keys.Select(id => new LinkProbe(id, _up[id], _links[id].LatencyMs, _up[id] ? 0 : 100, _sequence, TimeSpan.FromMinutes(1)))];
        }
        await client.ReportProbesAsync(probes, ct);
    }

    /// <summary>Why the actuator cannot do an action as asked (a probe through a really broken path fails), or null.</summary>
    public string? Refusal(ActionRequest r)
    {
        if (r.Action != ActionNames.ProbePath || !r.Parameters.TryGetValue("links", out var links)) return null;
        lock (_gate)
        {
            var down = links.Split(',', StringSplitOptions.RemoveEmptyEntries).Where(l => !_up.GetValueOrDefault(l, true)).ToList();
            return down.Count == 0 ? null : $"probes lost on {string.Join(", ", down)}";
        }
    }

    /// <summary>A shift-flow the actuator carried out: the flow's traffic really moves. Off a broken path onto a working one, that is a reroute, timed from the break.</summary>
    public void OnExecuted(ActionRequest r, TimeSpan now)
    {
        if (r.Action != ActionNames.ShiftFlow || !r.Parameters.TryGetValue("flow", out var flow)) return;
        lock (_gate)
        {
            var to = r.Parameters.GetValueOrDefault("to")?.Split(',', StringSplitOptions.RemoveEmptyEntries).ToImmutableArray() ?? [];
            if (_real.TryGetValue(flow, out var from))
            {
                _moves++;
                var broke = from.Where(l => !_up.GetValueOrDefault(l, true)).Select(l => _downSince.GetValueOrDefault(l, now)).DefaultIfEmpty(TimeSpan.MaxValue).Min();
                if (broke != TimeSpan.MaxValue && to.All(l => _up.GetValueOrDefault(l, true)))
                {
                    _reroutes.Add((now - broke).TotalSeconds);
                    _brokenSince.Remove(flow);
                }
            }
            _real[flow] = to;
            if (to.Any(l => !_up.GetValueOrDefault(l, true))) { _brokenShifts++; _dropped++; }
        }
    }

    /// <summary>After a step's work: which flows have a working path, what the links hold.</summary>
    public async Task ObserveAsync(IFleetClient client, TimeSpan now, TimeSpan step, CancellationToken ct)
    {
        if (!Active) return;
        var statuses = await client.ListLinksAsync(ct);
        lock (_gate)
        {
            foreach (var s in statuses)
            {
                if (s.ReservedAB > s.Spec.CapacityMbps + 1e-9 || s.ReservedBA > s.Spec.CapacityMbps + 1e-9) _oversubscriptions++;
                if (s.State == LinkState.Damped) _damped.Add(s.Spec.Id);
            }
            // The network as it really is, built only when a flow has lost its path.
            var physical = new Lazy<Topology>(() => new Topology(_links.Values.Select(l => new LinkStatus(l, _up[l.Id] ? LinkState.Up : LinkState.Down, default, null, null, 0, null, 0, 0, 0, [], ""))));
            foreach (var (id, flow) in _flows)
            {
                var path = _real.GetValueOrDefault(id);
                var working = !path.IsDefaultOrEmpty && path.All(l => _up[l]);
                if (working)
                {
                    _brokenSince.Remove(id);
                    _droppedThisEpisode.Remove(id);
                    continue;
                }
                if (path.IsDefaultOrEmpty) continue; // never placed
                var from = _brokenSince.TryGetValue(id, out var s) ? s : _brokenSince[id] = now - step;
                _flowSecondsWithoutPath += step.TotalSeconds;
                if (now - from > step && _droppedThisEpisode.Add(id))
                {
                    if (physical.Value.Candidates(flow.Source, flow.Destination, 1).IsEmpty) _unavoidable++;
                    else _dropped++;
                }
            }
        }
    }

    public NetworkScore? Result()
    {
        if (!Active) return null;
        lock (_gate)
            return new NetworkScore(_links.Count, _flows.Count, _placed, _dropped, _unavoidable, _flowSecondsWithoutPath, Percentiles.Of(_reroutes),
                _oversubscriptions, _moves, _brokenShifts, [.. _damped.Order(StringComparer.Ordinal)]);
    }
}
