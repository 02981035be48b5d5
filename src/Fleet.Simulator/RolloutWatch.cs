using System.Collections.Immutable;
using Fleet.Abstractions.Services;
using Fleet.Client;

namespace Fleet.Simulator;

/// <summary>One deploy of a scenario and what became of it.</summary>
/// <param name="FirstStartAt">When the first instance of the version started.</param>
/// <param name="GoneAt">When the last instance of the version stopped (a rollback), if it did.</param>
/// <param name="InstanceSeconds">Σ over time of the version's instances running, in seconds.</param>
/// <param name="Outcome">The rollout's phase at the end (<c>completed</c>, <c>watching</c>, <c>rolledBack</c>, <c>paused</c>, …), or why it was refused.</param>
public sealed record DeployResult(string Service, string Version, bool Bad, TimeSpan DeployedAt, TimeSpan? FirstStartAt, TimeSpan? GoneAt, double InstanceSeconds, string Outcome)
{
    public TimeSpan? TimeToRollback => GoneAt - FirstStartAt;
}

/// <summary>What the scorecard says of the deploys a scenario made.</summary>
/// <param name="BadVersionInstanceSeconds">Instance-time the bad versions ran, in seconds.</param>
/// <param name="TimeToRollback">From a bad version's first instance start to its last instance's stop, in seconds.</param>
public sealed record RolloutScore(int Deploys, int Promoted, int RolledBack, int Paused, int Other, double BadVersionInstanceSeconds, Percentiles TimeToRollback,
    ImmutableArray<DeployResult> Results);

/// <summary>
/// Deploys new versions when the scenario says, makes every running instance report as its version behaves (the ground
/// truth the simulated actuator left: which version each instance runs, since when), and scores each deploy: bad-version
/// instance-time and the time to roll it back.
/// </summary>
public sealed class RolloutWatch(Scenario scenario, VirtualFleet fleet, Random random)
{
    private sealed class Tracked(DeploySpec spec, string service)
    {
        public DeploySpec Spec { get; } = spec;
        public string Service { get; } = service;
        public TimeSpan? FirstStartAt { get; set; }
        public TimeSpan? GoneAt { get; set; }
        public double Seconds { get; set; }
        public string? Refused { get; set; }
    }

    private readonly Queue<Tracked> _due = new(scenario.Deploys
        .SelectMany(d => scenario.Services.Where(s => s.Name == d.Service).SelectMany(s => s.Names).Select(n => new Tracked(d, n)))
        .OrderBy(t => t.Spec.At));
    private readonly List<Tracked> _deployed = [];
    private readonly Dictionary<(string Service, string Version), VersionBehaviour> _behaviour = scenario.Deploys
        .SelectMany(d => scenario.Services.Where(s => s.Name == d.Service).SelectMany(s => s.Names).Select(n => (n, d)))
        .GroupBy(x => (x.n, x.d.Version)).ToDictionary(g => g.Key, g => g.Last().d.Behaviour);

    public bool Active => !scenario.Deploys.IsEmpty;

    /// <summary>Every running instance on a node that is up reports its figures.</summary>
    public async Task ReportAsync(IFleetClient client, DateTimeOffset now, TimeSpan at, CancellationToken ct)
    {
        if (!Active) return;
        var reports = fleet.Locked(() => fleet.Running.Where(kv => !fleet[kv.Value.Node].Unavailable).Select(kv =>
        {
            var slash = kv.Key.IndexOf('/');
            var (service, instance) = (kv.Key[..slash], kv.Key[(slash + 1)..]);
            var b = _behaviour.GetValueOrDefault((service, kv.Value.Version)) ?? VersionBehaviour.Stable;
            var age = at - kv.Value.StartedAt;
            var leaking = b.LeakMiBPerHour > 0 && age > b.LeakAfter ? (age - b.LeakAfter).TotalHours * b.LeakMiBPerHour : 0;
            var noise = 0.85 + random.NextDouble() * 0.3;
            return new InstanceReport(service, instance, kv.Value.Version, b.Rps, b.Rps * b.ErrorShare * (0.8 + random.NextDouble() * 0.4), b.P99Ms / 3 * noise, b.P99Ms * noise,
                (512L << 20) + (long)(leaking * (1 << 20)) + random.Next(0, 4 << 20), true, null, now);
        }).ToList());
        foreach (var chunk in reports.Chunk(10_000)) await client.ReportInstancesAsync(chunk, ct);
    }

    /// <summary>Deploys what falls due, and counts each deployed version's running instances.</summary>
    public async Task StepAsync(IFleetClient client, TimeSpan now, TimeSpan step, CancellationToken ct)
    {
        if (!Active) return;
        while (_due.Count > 0 && _due.Peek().Spec.At <= now)
        {
            var t = _due.Dequeue();
            _deployed.Add(t);
            try { await client.DeployServiceAsync(t.Service, t.Spec.Version, null, "simulator", ct); }
            catch (FleetRefusedException e) { t.Refused = $"refused: {e.Message}"; }
        }
        var counts = fleet.Locked(() => fleet.Running.Where(kv => !fleet[kv.Value.Node].Unavailable)
            .GroupBy(kv => (kv.Key[..kv.Key.IndexOf('/')], kv.Value.Version))
            .ToDictionary(g => g.Key, g => (Count: g.Count(), First: g.Min(x => x.Value.StartedAt))));
        foreach (var t in _deployed)
        {
            if (counts.TryGetValue((t.Service, t.Spec.Version), out var c))
            {
                t.FirstStartAt ??= c.First;
                t.Seconds += c.Count * step.TotalSeconds;
                t.GoneAt = null;
            }
            else if (t.FirstStartAt is not null) t.GoneAt ??= now;
        }
    }

    public async Task<RolloutScore?> ResultAsync(IFleetClient client, CancellationToken ct)
    {
        if (!Active) return null;
        var results = new List<DeployResult>();
        foreach (var t in _deployed)
        {
            var outcome = t.Refused;
            if (outcome is null)
            {
                var rollout = (await client.ListRolloutsAsync(t.Service, ct)).FirstOrDefault(r => r.To == t.Spec.Version && r.Strategy != "rollback");
                outcome = rollout is null ? "unknown" : Core.Text.Format.Camel(rollout.Phase.ToString());
            }
            results.Add(new DeployResult(t.Service, t.Spec.Version, t.Spec.Behaviour.Bad, t.Spec.At, t.FirstStartAt, t.GoneAt, t.Seconds, outcome));
        }
        return new RolloutScore(results.Count,
            results.Count(r => r.Outcome is "completed" or "watching"), results.Count(r => r.Outcome is "rolledBack" or "rollingBack"),
            results.Count(r => r.Outcome == "paused"), results.Count(r => r.Outcome is not ("completed" or "watching" or "rolledBack" or "rollingBack" or "paused")),
            results.Where(r => r.Bad).Sum(r => r.InstanceSeconds),
            Percentiles.Of(results.Where(r => r.Bad && r.TimeToRollback is not null).Select(r => r.TimeToRollback!.Value.TotalSeconds)), [.. results]);
    }
}
