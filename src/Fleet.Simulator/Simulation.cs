using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Core.Policies;
using Fleet.Grains.Actuators;
using Microsoft.Extensions.Time.Testing;

namespace Fleet.Simulator;

/// <summary>A run's progress, reported about once a second; <paramref name="SlowestStep"/> is the longest step's work since the progress before.</summary>
public sealed record SimProgress(TimeSpan Simulated, TimeSpan Total, int Injected, int Healed, int Open, long Reports, TimeSpan SlowestStep = default);

/// <summary>
/// Drives a <see cref="VirtualFleet"/> through a <see cref="Scenario"/> against real Fleet grains: each step it injects
/// the faults that fall due, moves time on by one report interval (simulated, or waits for it in real time), sends
/// every reporting node's telemetry through the client SDK, lets actions land on the virtual nodes, and watches
/// detection, recovery and the guardrails. Ends with a <see cref="Scorecard"/>.
/// </summary>
public sealed class Simulation
{
    private readonly Scenario _scenario;
    private readonly IGrainFactory _grains;
    private readonly IFleetClient _client;
    private readonly SimulatedActuator _actuator;
    private readonly ActionExecutor _executor;
    private readonly TimeProvider _time;
    private readonly FakeTimeProvider? _fake;
    private readonly Random _random;
    private readonly ConcurrentBag<double> _latencies = [];
    private long _reports;
    private long _unanswered;
    private DateTimeOffset _start;
    private readonly ServiceWatch _services;
    private readonly DrainQueue _drains;
    private readonly RolloutWatch _rollouts;
    private readonly NetworkWatch _network;

    public VirtualFleet Fleet { get; }
    public FleetPolicy Policy { get; }

    /// <summary>The silo's count of link and flow turns under way, so a step's reroutes finish before it is observed.</summary>
    public Fleet.Grains.Links.NetworkActivity? NetworkActivity { get; init; }

    /// <summary>Whether the run applies the scenario's policy first (the demo leaves a policy an operator applied alone).</summary>
    public bool ApplyPolicy { get; init; } = true;

    public Simulation(Scenario scenario, IGrainFactory grains, SimulatedActuator actuator, ActionExecutor executor, TimeProvider time, FakeTimeProvider? fake)
    {
        _scenario = scenario;
        _grains = grains;
        _client = FleetClientHostingExtensions.Create(grains, new FleetClientOptions { Retries = 1 }, time);
        _actuator = actuator;
        _executor = executor;
        _time = time;
        _fake = fake;
        _random = new Random(scenario.Seed);
        Fleet = new VirtualFleet(scenario.Nodes, scenario.Domains);
        _services = new ServiceWatch(scenario, Fleet);
        _drains = new DrainQueue(_client, _random);
        _rollouts = new RolloutWatch(scenario, Fleet, new Random(scenario.Seed + 1));
        _network = new NetworkWatch(scenario);
        var policy = scenario.Policy is null ? FleetPolicy.Default : PolicyParser.Parse(scenario.Policy).Policy!;
        Policy = policy with { Telemetry = policy.Telemetry with { ReportInterval = scenario.ReportInterval, MaxTtl = scenario.ReportInterval * 3 } };
    }

    public static async Task<Scorecard> RunAsync(Scenario scenario, bool realTime, IProgress<SimProgress>? progress = null, CancellationToken ct = default)
    {
        await using var host = await SimulationHost.StartAsync(realTime, ct);
        var sim = new Simulation(scenario, host.Grains,
            (SimulatedActuator)host.Services.GetService(typeof(SimulatedActuator))!,
            (ActionExecutor)host.Services.GetService(typeof(ActionExecutor))!,
            (TimeProvider)host.Services.GetService(typeof(TimeProvider))!, host.Fake)
        {
            NetworkActivity = (Fleet.Grains.Links.NetworkActivity?)host.Services.GetService(typeof(Fleet.Grains.Links.NetworkActivity)),
        };
        return await sim.RunAsync(progress, ct);
    }

    private TimeSpan Now => _time.GetUtcNow() - _start;

    public async Task<Scorecard> RunAsync(IProgress<SimProgress>? progress = null, CancellationToken ct = default)
    {
        var wall = Stopwatch.StartNew();
        _start = _time.GetUtcNow();
        if (ApplyPolicy)
        {
            var applied = await _client.ApplyPolicyAsync(PolicyWriter.Write(Policy), "simulator", ct);
            if (!applied.Applied) throw new ScenarioException([.. applied.Problems.Select(p => $"policy.{p}")]);
        }
        // Sequence numbers start from the clock, so a fleet that runs again after a restart is not taken for a replay.
        var first = _start.ToUnixTimeMilliseconds();
        Fleet.Locked(() => { foreach (var n in Fleet.Nodes) n.Sequence = first; });

        _actuator.Behaviour = r => (_network.Refusal(r) ?? Fleet.Refusal(r)) is { } why ? new ActuatorResult(false, why) : null;
        _actuator.Executed += OnExecuted;
        try
        {
            await RegisterAsync(ct);
            if (!_scenario.Services.IsEmpty)
            {
                await ReportAllAsync(ct); // nodes take instances once they have reported
                await _services.ApplyAsync(_client, ct);
            }
            await _network.ApplyAsync(_client, Policy.Network.UpAfterProbes, ct);
            var schedule = Schedule();
            var steps = new List<double>();
            int violations = 0, maxDomain = 0, maxFleet = 0;
            var slowest = TimeSpan.Zero;
            var lastProgress = Stopwatch.StartNew();
            var step = _scenario.ReportInterval;
            for (var t = TimeSpan.Zero; t < _scenario.Duration && !ct.IsCancellationRequested; t += step)
            {
                // A fault is stamped with the run's clock, as detections and actions are (in real time that clock also
                // counted the registration, which the step count t does not; on simulated time the two are the same).
                while (schedule.Count > 0 && schedule.Peek().At <= t) Inject(schedule.Dequeue(), Now);
                await AdvanceAsync(step, ct);
                // A step's work: from the interval's tick to the last report, action and check of that interval.
                var stepWatch = Stopwatch.StartNew();
                Fleet.Step(Now, step);
                await RegisterArrivalsAsync(ct);
                await ReportAllAsync(ct);
                await _rollouts.ReportAsync(_client, _time.GetUtcNow(), Now, ct);
                await _network.StepAsync(_client, t + step, ct);
                await SettleAsync(ct);
                await _network.ObserveAsync(_client, t + step, step, ct);
                await ObserveAsync();
                await _drains.StepAsync(t + step, ct);
                _services.Step(t + step, step);
                await _rollouts.StepAsync(_client, t + step, step, ct);
                var (v, d, f) = await CheckGuardrailsAsync();
                violations += v; maxDomain = Math.Max(maxDomain, d); maxFleet = Math.Max(maxFleet, f);
                steps.Add(stepWatch.Elapsed.TotalSeconds);
                if (stepWatch.Elapsed > slowest) slowest = stepWatch.Elapsed;
                if (lastProgress.ElapsedMilliseconds >= 1000 || t + step >= _scenario.Duration)
                {
                    lastProgress.Restart();
                    progress?.Report(Progress(t + step) with { SlowestStep = slowest });
                    slowest = TimeSpan.Zero;
                }
            }
            return await ScoreAsync(wall.Elapsed, violations, maxDomain, maxFleet, steps);
        }
        finally
        {
            _actuator.Executed -= OnExecuted;
            _actuator.Behaviour = null;
        }
    }

    private void OnExecuted(ActionRequest request)
    {
        _network.OnExecuted(request, Now);
        Fleet.Apply(request, Now);
    }

    /// <summary>
    /// Registers every node. In real time a large fleet takes minutes to register (a million at about 4,000/s), longer
    /// than a few report intervals: the nodes already registered report every interval meanwhile, as real agents would,
    /// or the first ones would be judged silent before the last one joined.
    /// </summary>
    private async Task RegisterAsync(CancellationToken ct)
    {
        using var registering = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var meanwhile = _fake is not null ? Task.CompletedTask : Task.Run(async () =>
        {
            while (!registering.IsCancellationRequested)
            {
                await Task.Delay(_scenario.ReportInterval, registering.Token);
                await ReportAllAsync(registering.Token);
            }
        }, CancellationToken.None);
        try
        {
            await Parallel.ForEachAsync(Fleet.Nodes, new ParallelOptions { MaxDegreeOfParallelism = 256, CancellationToken = ct }, async (n, c) =>
            {
                await _client.RegisterNodeAsync(new NodeRegistration(n.Id, n.Domain, new NodeCapacity(VirtualNode.Cores, VirtualNode.Total, 500L << 30),
                    ImmutableDictionary<string, string>.Empty.Add("simulated", "true")), c);
                Fleet.Locked(() => n.Registered = true);
            });
        }
        finally
        {
            registering.Cancel();
            try { await meanwhile; } catch (OperationCanceledException) { }
        }
    }

    /// <summary>Registers the machines the provisioner made since the last step, each with its request's label, as a real machine's agent would.</summary>
    private async Task RegisterArrivalsAsync(CancellationToken ct)
    {
        var arriving = Fleet.Locked(() =>
        {
            var list = Fleet.Arriving.ToList();
            Fleet.Arriving.Clear();
            return list;
        });
        foreach (var n in arriving)
        {
            var labels = ImmutableDictionary<string, string>.Empty.Add("simulated", "true");
            if (n.ProvisionLabel is { } l) labels = labels.SetItem(l.Key, l.Value);
            if (n.Shape is { } shape) labels = labels.SetItem(ConsolidatePolicy.ShapeLabel, shape);
            Fleet.Locked(() => n.Sequence = _time.GetUtcNow().ToUnixTimeMilliseconds());
            await _client.RegisterNodeAsync(new NodeRegistration(n.Id, n.Domain, new NodeCapacity(n.CpuCores, n.MemoryTotal, 500L << 30), labels), ct);
            Fleet.Locked(() => n.Registered = true);
        }
    }

    private sealed record Planned(TimeSpan At, FaultSpec Spec);

    private Queue<Planned> Schedule()
    {
        var planned = new List<Planned>();
        foreach (var f in _scenario.Faults)
            for (var i = 0; i < f.Times; i++)
                planned.Add(new Planned(f.At + (f.Every ?? TimeSpan.Zero) * i, f));
        planned.AddRange(_scenario.Faults.Where(f => f.Kind == FaultKind.Outage)
            .Select(f => new Planned(f.At + (f.Duration ?? TimeSpan.FromMinutes(5)), f with { Kind = (FaultKind)(-1) })));
        return new Queue<Planned>(planned.OrderBy(p => p.At));
    }

    private void Inject(Planned planned, TimeSpan now)
    {
        var f = planned.Spec;
        if (f.Kind is FaultKind.LinkCut or FaultKind.LinkFlap or FaultKind.SitePartition)
        {
            _network.Inject(f, now);
            return;
        }
        Fleet.Locked(() =>
        {
            if ((int)f.Kind == -1)
            {
                foreach (var n in Fleet.Nodes) n.Silenced = false;
                return;
            }
            switch (f.Kind)
            {
                case FaultKind.Drain:
                {
                    var pool = f.Domain is not null ? Fleet.Nodes.Where(n => n.Domain == f.Domain).ToList()
                        : Fleet.Nodes.Where(n => !n.Drained).OrderBy(_ => _random.Next()).Take(f.Count).ToList();
                    _drains.Ask(pool.Select(n => n.Id));
                    return;
                }
                case FaultKind.Outage:
                {
                    var pool = Fleet.Nodes.Where(n => f.Domain is null || n.Domain == f.Domain).ToList();
                    var silenced = pool.OrderBy(_ => _random.Next()).Take((int)Math.Round(pool.Count * f.Share)).ToList();
                    foreach (var n in silenced) n.Silenced = true;
                    Fleet.Faults.Add(new FaultResultBuilder($"F{Fleet.Faults.Count + 1}", f.Kind, $"{silenced.Count} nodes", now));
                    return;
                }
                case FaultKind.RackLoss:
                {
                    var domain = f.Domain ?? Fleet.Domains[_random.Next(Fleet.Domains.Length)];
                    foreach (var n in Fleet.Nodes.Where(n => n.Domain == domain && !n.HasFault)) Start(n, f, now, n => n.Hung = true);
                    return;
                }
            }
            var candidates = f.Node is not null ? Fleet.Nodes.Where(n => n.Id == f.Node)
                : Fleet.Nodes.Where(n => n.Registered && !n.GivenBack && (!n.HasFault && !n.Drained && n.Fault is null || n.Fault?.RecoveredAt is not null && !n.HasFault && !n.Drained));
            // Where services run, a fault strikes a node that runs instances (that is what a services scenario is about).
            foreach (var n in candidates.OrderByDescending(n => n.Instances.Count > 0).ThenBy(_ => _random.Next()).Take(f.Count).ToList())
                Start(n, f, now, n =>
                {
                    switch (f.Kind)
                    {
                        case FaultKind.Crash: n.Crashed = true; break;
                        case FaultKind.Hang: n.Hung = true; break;
                        case FaultKind.Leak: n.LeakBytesPerSecond = f.LeakMiBPerMinute * 1024 * 1024 / 60; break;
                        case FaultKind.DiskFill: n.DiskFillPerSecond = f.PercentPerMinute / 60; break;
                        case FaultKind.CpuRamp: n.CpuRampPerSecond = f.PercentPerMinute / 60; break;
                        case FaultKind.Flap: n.Crashed = true; n.FlapsLeft = f.Flaps; n.FlapAfter = f.FlapAfter ?? TimeSpan.FromSeconds(30); break;
                    }
                });
        });
    }

    private void Start(VirtualNode n, FaultSpec f, TimeSpan now, Action<VirtualNode> apply)
    {
        apply(n);
        _services.NodeFailed(n, now);
        n.Fault = new FaultResultBuilder($"F{Fleet.Faults.Count + 1}", f.Kind, n.Id, now);
        Fleet.Faults.Add(n.Fault);
    }

    private async Task AdvanceAsync(TimeSpan step, CancellationToken ct)
    {
        if (_fake is not null) _fake.Advance(step);
        else
        {
            var due = _start + Now + step - TimeSpan.FromTicks(Now.Ticks % step.Ticks);
            var wait = due - _time.GetUtcNow();
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
        }
    }

    /// <summary>The reports of one step, sent in batches of this many (one message each, fanned out inside the silo).</summary>
    public const int BatchSize = 1000;

    private async Task ReportAllAsync(CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var ttl = _scenario.ReportInterval * 3;
        // Only registered nodes report (a provisioned machine registers at the step after it was made).
        var batch = Fleet.Locked(() => Fleet.Nodes.Where(n => n.Reports && n.Registered).Select(n => (n.Id, n.NextReport(now, ttl))).ToArray());
        await Parallel.ForEachAsync(batch.Chunk(BatchSize), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (chunk, c) =>
        {
            var started = Stopwatch.GetTimestamp();
            try { await _client.ReportBatchAsync(chunk, c); }
            catch (FleetUnavailableException) { Interlocked.Add(ref _unanswered, chunk.Length); }
            _latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        });
        Interlocked.Add(ref _reports, batch.Length);
    }

    /// <summary>Waits until the actions this step started have come back to their nodes (bounded), so the next step sees their effect.</summary>
    private async Task SettleAsync(CancellationToken ct)
    {
        await Task.Delay(_fake is null ? 0 : 5, ct);
        for (var i = 0; i < 400 && (_executor.InFlight > 0 || NetworkActivity?.Busy > 0); i++) await Task.Delay(5, ct);
    }

    private async Task ObserveAsync()
    {
        var open = Fleet.Locked(() => Fleet.Faults.Where(f => f.DetectedAt is null && f.Kind != FaultKind.Outage).ToList());
        foreach (var f in open)
        {
            var status = await _client.GetNodeAsync(f.Node);
            if (status is null) continue;
            var detected = f.Kind switch
            {
                FaultKind.Hang or FaultKind.RackLoss => status.Health is HealthState.Suspect or HealthState.Unhealthy or HealthState.Remediating,
                FaultKind.Leak or FaultKind.DiskFill or FaultKind.CpuRamp =>
                    status.Conditions.Any(c => c.Type == ForecastCondition(f.Kind)) || status.Health is not (HealthState.Healthy or HealthState.Unknown),
                _ => status.Health is not (HealthState.Healthy or HealthState.Unknown or HealthState.Cordoned or HealthState.Draining),
            };
            if (detected) Fleet.Locked(() => f.DetectedAt ??= Now);
        }
    }

    /// <summary>The node condition that foresees a filling fault.</summary>
    private static string ForecastCondition(FaultKind kind) => kind switch
    {
        FaultKind.DiskFill => global::Fleet.Core.Health.ConditionTypes.DiskFullForecast,
        FaultKind.CpuRamp => global::Fleet.Core.Health.ConditionTypes.CpuSaturationForecast,
        _ => global::Fleet.Core.Health.ConditionTypes.MemoryExhaustionForecast,
    };

    private async Task<(int Violations, int MaxDomain, int Fleet)> CheckGuardrailsAsync()
    {
        var domains = Fleet.Locked(() => Fleet.Nodes.Select(n => n.Domain).Distinct().ToList()); // the scenario's, and any a provisioner's machines joined
        var statuses = await Task.WhenAll(domains.Select(d => _grains.GetGrain<IDomainSupervisorGrain>(d).GetStatusAsync()));
        var maxDomain = statuses.Length == 0 ? 0 : statuses.Max(s => s.Leases.Length);
        var total = statuses.Sum(s => s.Leases.Length);
        var violations = statuses.Count(s => s.Leases.Length > Policy.Guardrails.MaxConcurrentPerDomain) + (total > Policy.Guardrails.FleetMaxConcurrent ? 1 : 0);
        return (violations, maxDomain, total);
    }

    private SimProgress Progress(TimeSpan t) => Fleet.Locked(() => new SimProgress(t, _scenario.Duration,
        Fleet.Faults.Count(f => f.Kind != FaultKind.Outage),
        Fleet.Faults.Count(f => f.Kind != FaultKind.Outage && f.RecoveredAt is not null),
        Fleet.Faults.Count(f => f.Kind != FaultKind.Outage && f.RecoveredAt is null),
        Interlocked.Read(ref _reports)));

    private async Task<Scorecard> ScoreAsync(TimeSpan wall, int violations, int maxDomain, int maxFleet, List<double> steps)
    {
        var denials = new Dictionary<string, int>();
        var handOffs = 0;
        foreach (var kind in new[] { DecisionKinds.Denied, DecisionKinds.HandedToHuman })
        {
            long? before = null;
            do
            {
                var page = await _client.QueryAuditAsync(new AuditQuery(Kind: kind, Limit: 1000, Before: before));
                foreach (var r in page.Records.Where(r => r.Subject.StartsWith("node/", StringComparison.Ordinal))) // a service's own refusal record is the same refusal
                    if (kind == DecisionKinds.Denied) denials[r.Guardrail ?? "?"] = denials.GetValueOrDefault(r.Guardrail ?? "?") + 1;
                    else handOffs++;
                before = page.NextBefore;
            } while (before is not null);
        }

        var rollouts = await _rollouts.ResultAsync(_client, CancellationToken.None);
        var packing = Policy.Lifecycle.Consolidate.Enabled ? await _services.PackingAsync(_client, _start, Policy.Lifecycle.Consolidate.MoveWindow) : null;
        return Fleet.Locked(() =>
        {
            var faults = Fleet.Faults.Select(f => f.Build()).ToImmutableArray();
            var real = faults.Where(f => f.Kind != nameof(FaultKind.Outage)).ToList();
            var total = _scenario.Duration;
            var downtime = real.Where(f => f.Kind is nameof(FaultKind.Crash) or nameof(FaultKind.Hang) or nameof(FaultKind.RackLoss) or nameof(FaultKind.Flap) || f.Prevented == false)
                .Sum(f => ((f.RecoveredAt ?? total) - f.InjectedAt).TotalSeconds);
            var availability = 1 - downtime / (Fleet.Nodes.Length * total.TotalSeconds);
            return new Scorecard(_scenario.Name, _scenario.Nodes, _scenario.Domains, total, wall, faults,
                Percentiles.Of(real.Where(f => f.TimeToDetect is not null).Select(f => f.TimeToDetect!.Value.TotalSeconds)),
                Percentiles.Of(real.Where(f => f.TimeToRecover is not null).Select(f => f.TimeToRecover!.Value.TotalSeconds)),
                Fleet.Actions, Fleet.FalseActions, [.. Fleet.FalseActionLog], violations, maxDomain, maxFleet,
                denials.ToImmutableDictionary(), handOffs, availability, Interlocked.Read(ref _reports), Interlocked.Read(ref _unanswered),
                Percentiles.Of(_latencies), Percentiles.Of(steps))
            {
                Services = _services.Result(total),
                Drains = _drains.Result(),
                Rollouts = rollouts,
                Network = _network.Result(),
                Packing = packing,
                Provisioning = Fleet.Provisioned.Count == 0 ? null
                    : new ProvisionScore(Fleet.Provisioned.Count, Fleet.Provisioned.Values.Sum(), Fleet.Nodes.Count(n => n.ProvisionLabel is not null && n.Registered), Fleet.GivenBack),
            };
        });
    }
}
