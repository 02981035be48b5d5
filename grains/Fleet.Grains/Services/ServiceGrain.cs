using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Remediation;
using Fleet.Core.Rollouts;
using Fleet.Core.Services;
using Fleet.Core.Text;
using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Microsoft.Extensions.Logging;

namespace Fleet.Grains.Services;

/// <summary>
/// One service. Each pass (on its timer, and at once when a node it runs on changes) asks its nodes how they stand,
/// lets the pure <see cref="ServicePlanner"/> decide, and carries the plan out: it negotiates a node for each Pending
/// instance (candidates from the domains' inventories, a reservation on the best that accepts), starts and stops
/// instances through the executor, and frees room the instances no longer need. It also answers for its disruption
/// budget (<see cref="ServiceBudget"/>) and keeps replicas with the load (<see cref="ServiceScaler"/>).
/// </summary>
[GrainType(Subjects.ServiceKind)]
public sealed partial class ServiceGrain(
    [PersistentState("service", StorageNames.Fleet)] IPersistentState<ServiceState> state,
    PolicyCache policies, IAuditStore audit, ActionExecutor executor, TimeProvider time, ILogger<ServiceGrain> log) : Grain, IServiceGrain
{
    /// <summary>Nodes a placement asks for at most, after ranking the candidates (the rest are asked on the next pass).</summary>
    public const int MaxReservationTries = 8;

    /// <summary>Candidates taken from each domain's inventory for one placement.</summary>
    public const int CandidatesPerDomain = 8;

    private readonly List<DecisionRecord> _pending = [];
    private IGrainTimer? _timer;
    private TimeSpan _timerPeriod;
    private bool _dirty;
    private FleetPolicy _policy = FleetPolicy.Default;

    private string Name => this.GetPrimaryKeyString();
    private string Actor => Subjects.Service(Name);
    private ServiceState S => state.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _policy = await policies.GetAsync();
        EnsureTimer();
    }

    public Task PingAsync() => Task.CompletedTask;

    public async Task<ServiceStatus> ApplyAsync(ServiceSpec spec, string by)
    {
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var first = S.Spec is null;
        // A new version in a spec is a rollout, as if deployed: the spec keeps the stable version until it is promoted.
        var deploy = !first && !S.Deleting && S.Desired > 0 && S.Spec!.Version != spec.Version && !(S.Rollout is { Active: true } a && a.To == spec.Version) ? spec.Version : null;
        if (deploy is not null && S.Rollout is { Active: true } busy)
            throw new RolloutRefusedException("rollout-active",
                $"Service {Name} is already rolling out {busy.To} (rollout {busy.Id}); promote, abort or roll it back before applying version {spec.Version}.");
        if (!first && !S.Deleting && S.Rollout is { Active: true }) spec = spec with { Version = S.Spec!.Version };
        else if (deploy is not null) spec = spec with { Version = S.Spec!.Version };
        var scaling = spec.Scaling is { Enabled: true } sc ? sc : null;
        var desired = scaling is null ? spec.Replicas : Math.Clamp(first || S.Deleting ? spec.Replicas : S.Desired, scaling.Min, scaling.Max);
        var before = S.Spec;
        state.State = S with
        {
            Spec = spec, Generation = S.Generation + 1, AppliedAt = now, AppliedBy = by, Desired = desired, AutoscalePaused = false, Deleting = false,
        };
        Record(DecisionKinds.Operator, $"Applied the spec of service {Name} (generation {S.Generation}) at the request of {by}: {Describe(spec, desired)}" +
            (deploy is not null ? $"; version {deploy} is rolled out" : "") + ".");
        _dirty = true;
        if (deploy is not null) StartRollout(spec, deploy, RolloutPlanner.Canary, by, now);
        await GrainFactory.GetGrain<IServiceDirectoryGrain>(FleetNames.Default).AddAsync(Name);
        EnsureTimer();
        await PassAsync(now);
        return Status()!;
    }

    public Task<ServiceStatus?> GetAsync() => Task.FromResult(Status());

    public async Task<ServiceStatus> ScaleAsync(int replicas, string by)
    {
        if (S.Spec is not { } spec || S.Deleting) throw new ServiceNotFoundException(Name);
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var pause = spec.Scaling is { Enabled: true };
        Record(DecisionKinds.Scaled, $"Scaled service {Name} from {S.Desired} to {replicas} replicas at the request of {by}" +
            (pause ? "; autoscaling is paused until the spec turns it on again." : "."), outcome: "manual");
        state.State = S with { Desired = replicas, AutoscalePaused = pause, LastScale = $"{S.Desired} → {replicas} by {by}" };
        _dirty = true;
        await PassAsync(now);
        return Status()!;
    }

    public async Task<ServiceStatus?> DeleteAsync(string by)
    {
        if (S.Spec is null) throw new ServiceNotFoundException(Name);
        var now = time.GetUtcNow();
        _policy = policies.Current;
        if (!S.Deleting)
        {
            var placed = S.Instances.Values.Count(i => i.Node is not null && i.State != InstanceState.Failed);
            Record(DecisionKinds.Operator, $"Deleting service {Name} at the request of {by}: stopping its {placed} placed instance(s) through the actuator and freeing their reservations.");
            await EndRolloutForDeleteAsync(by, now);
            state.State = S with { Deleting = true };
            _dirty = true;
        }
        await PassAsync(now);
        return Status();
    }

    public async Task<InstanceReportOutcome> ReportAsync(InstanceReport report)
    {
        if (S.Spec is null) return InstanceReportOutcome.UnknownService;
        if (!S.Instances.TryGetValue(report.Instance, out var i)) return InstanceReportOutcome.UnknownInstance;
        // An agent's credential names its node; it reports only the instances placed there.
        if (RequestContext.Get(Fleet.Abstractions.Security.CallerContext.Node) is string node && i.Node != node) return InstanceReportOutcome.NotYourNode;
        // A fenced instance was given up and replaced: what it says changes nothing (it is stopped as soon as its node answers).
        if (i.Fenced) return InstanceReportOutcome.Fenced;
        // Ordered reports: one at or below the last taken is a replay or arrived late, and changes nothing.
        if (report.Sequence is { } sequence && sequence <= i.LastSequence) return InstanceReportOutcome.Stale;
        var load = new InstanceLoad(report.CpuPercent, report.Requests, report.Errors, report.LatencyP50Ms, report.LatencyP99Ms, report.MemoryBytes);
        // Intake's reports (the service's own metrics) carry figures, not a health: the instance's health stays its agent's word.
        var fromIntake = report.Source == Fleet.Core.Health.NodeMonitor.IntakeSource;
        var healthy = fromIntake ? i.Healthy : report.Healthy;
        var changed = i.Healthy != healthy;
        var now = time.GetUtcNow();
        // Only a report that speaks for the instance's health keeps it from being silent (intake's figures come at the exporter's pace);
        // it holds for its TTL from when it was made (a batch that waited in a queue holds less).
        var fresh = fromIntake ? i.FreshUntil
            : (report.Timestamp < now ? report.Timestamp : now) + (report.Ttl ?? InstanceHealing.DefaultTtl(policies.Current));
        state.State = S with
        {
            Instances = S.Instances.SetItem(i.Id, i with
            {
                Healthy = healthy, LastReportAt = now, Load = load, FreshUntil = fresh, LastSequence = report.Sequence ?? i.LastSequence,
            }),
            ErrorSamples = i.State == InstanceState.Running && !i.Moving
                ? S.ErrorSamples.SetItem(i.Id, ErrorTrend.Append(S.ErrorSamples.GetValueOrDefault(i.Id), report, now, policies.Current.Forecast.MaxSamples))
                : S.ErrorSamples,
            Rollout = S.Rollout is { Active: true } r ? RolloutPlanner.Sample(r, i, report, now, policies.Current.Telemetry.ReportInterval) : S.Rollout,
        };
        if (changed)
        {
            _policy = policies.Current;
            Record(DecisionKinds.HealthChanged, report.Healthy
                ? $"Instance {i.Id} of service {Name} reports healthy again."
                : $"Instance {i.Id} of service {Name} on node {i.Node} reports unhealthy (errors {Format.Num(Math.Round(report.Errors, 2))}/s, p99 {Format.Num(Math.Round(report.LatencyP99Ms))} ms); it counts as down for the disruption budget.");
            await SaveAsync(true);
        }
        else _dirty = true; // load figures: written with the next pass
        return InstanceReportOutcome.Accepted;
    }

    public async Task NodeChangedAsync(string nodeId)
    {
        if (S.Spec is null) return;
        _policy = policies.Current;
        await PassAsync(time.GetUtcNow());
    }

    private async Task TickAsync(CancellationToken _)
    {
        if (S.Spec is null) return;
        _policy = policies.Current;
        await PassAsync(time.GetUtcNow());
        EnsureTimer();
    }

    /// <summary>One pass: scale, judge the nodes, plan, carry the plan out, write.</summary>
    private async Task PassAsync(DateTimeOffset now)
    {
        if (S.Spec is null) return;
        Autoscale(now);
        if (!S.Holds.IsEmpty && Live(S.Holds, now).Count != S.Holds.Count)
        {
            state.State = S with { Holds = Live(S.Holds, now) };
            _dirty = true;
        }
        var byNode = await ViewsAsync();
        await RolloutPassAsync(now);
        var plan = ServicePlanner.Plan(S, byNode, _policy, now);
        if (!ReferenceEquals(plan.State.Instances, S.Instances) || plan.State.NextInstance != S.NextInstance)
        {
            state.State = RolloutPlanner.NoteBaseline(plan.State);
            _dirty = true;
        }
        string[]? domains = null;
        foreach (var effect in plan.Effects)
            switch (effect)
            {
                case ServiceEffect.Record r:
                    Record(r.Draft.Kind, r.Draft.Reason, r.Draft.Action, outcome: r.Draft.Outcome);
                    break;
                case ServiceEffect.Release release:
                    await GrainFactory.GetGrain<INodeGrain>(release.Node).ReleasePlacementAsync(Name, release.Instance);
                    break;
                case ServiceEffect.Stop stop:
                    await StopAsync(S.Instances[stop.Instance], stop.Node);
                    break;
                case ServiceEffect.Place place:
                    domains ??= [.. (await GrainFactory.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync()).Domains];
                    await PlaceAsync(S.Instances[place.Instance], domains, byNode, now);
                    break;
            }
        await HealPassAsync(byNode, now);
        TellDemand();
        ForgetHealsOfGone();
        if (S.Deleting && S.Instances.IsEmpty) await ForgetAsync(now);
        await SaveAsync(false);
    }

    /// <summary>How each node the service has an instance on stands (null: no longer registered).</summary>
    private async Task<Dictionary<string, NodeView?>> ViewsAsync()
    {
        var nodes = S.Instances.Values.Where(i => i.Node is not null).Select(i => i.Node!).Distinct().ToList();
        var views = await Task.WhenAll(nodes.Select(n => GrainFactory.GetGrain<INodeGrain>(n).GetViewAsync()));
        return nodes.Zip(views).ToDictionary(x => x.First, x => x.Second);
    }

    private void Autoscale(DateTimeOffset now)
    {
        if (S.Spec?.Scaling is not { Enabled: true } scaling || S.AutoscalePaused || S.Deleting) return;
        var fresh = now - 3 * _policy.Telemetry.ReportInterval;
        var loads = S.Instances.Values.Where(i => i.State == InstanceState.Running && i.Load is not null && i.LastReportAt >= fresh).Select(i => i.Load!).ToList();
        var (decision, recent) = ServiceScaler.Decide(scaling, S.Desired, loads, S.Recommendations, S.LastScaleAt, now);
        if (decision is null)
        {
            if (recent != S.Recommendations) state.State = S with { Recommendations = recent };
            return;
        }
        Record(DecisionKinds.Scaled, $"Scaled service {Name} from {decision.From} to {decision.To} replicas: {decision.Why}.", outcome: decision.To > decision.From ? "up" : "down");
        state.State = S with { Desired = decision.To, LastScaleAt = now, LastScale = $"{decision.From} → {decision.To}: {decision.Why}", Recommendations = recent };
        _dirty = true;
    }

    private async Task ForgetAsync(DateTimeOffset now)
    {
        Record(DecisionKinds.Operator, $"Deleted service {Name}: every instance has stopped and its reservation is freed.");
        // The rollouts on record stay, so a service applied again numbers its rollouts (and their leases) on from them.
        state.State = ServiceState.Empty with { Generation = S.Generation, History = RolloutPlanner.HistoryWithCurrent(S) };
        _dirty = true;
        await GrainFactory.GetGrain<IServiceDirectoryGrain>(FleetNames.Default).RemoveAsync(Name);
        _timer?.Dispose();
        _timer = null;
    }

    private static ImmutableDictionary<string, DisruptionHold> Live(ImmutableDictionary<string, DisruptionHold> holds, DateTimeOffset now) =>
        holds.Values.All(h => h.ExpiresAt > now) ? holds : holds.Values.Where(h => h.ExpiresAt > now).ToImmutableDictionary(h => h.LeaseId);

    private void Put(ServiceInstance i)
    {
        state.State = S with { Instances = S.Instances.SetItem(i.Id, i) };
        _dirty = true;
    }

    private async Task SaveAsync(bool force)
    {
        if (_dirty || force)
        {
            await state.WriteOrResetAsync(DeactivateOnIdle);
            _dirty = false;
        }
        await audit.FlushAsync(_pending);
    }

    private void EnsureTimer()
    {
        if (S.Spec is null) return;
        var period = _policy.Services.ReconcileInterval;
        if (_timer is not null && _timerPeriod == period) return;
        _timer?.Dispose();
        _timerPeriod = period;
        _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    private void Record(string kind, string reason, string? action = null, string? guardrail = null, string? rule = null, string? outcome = null,
        IReadOnlyDictionary<string, string>? evidence = null, string? incidentId = null) =>
        _pending.Add(Decisions.Create(time.GetUtcNow(), Actor, Actor, kind, reason, _policy.Version, action, evidence, rule: rule, guardrail: guardrail, outcome: outcome,
            incidentId: incidentId));

    private ServiceStatus? Status()
    {
        if (S.Spec is not { } spec) return null;
        var instances = S.Instances.Values.OrderBy(i => i.Id.Length).ThenBy(i => i.Id, StringComparer.Ordinal).ToImmutableArray();
        return new ServiceStatus(Name, spec, S.Generation, S.AppliedAt, S.AppliedBy, S.Desired, S.AutoscalePaused, instances,
            instances.Count(i => i.State == InstanceState.Running), S.Up.Count(), spec.Budget.MinHealthy(S.Desired), S.Deleting, S.LastScale)
        {
            Rollout = S.Rollout is { Active: true } ? View() : null,
            Alerts = [.. S.Alerts.Values.OrderBy(a => a.StartsAt)],
            MedianStart = S.MedianStart,
        };
    }

    private static string Describe(ServiceSpec s, int desired) =>
        $"{desired} replica(s) of version {s.Version}, {Format.Num(s.Resources.CpuCores)} cores and {Format.Bytes(s.Resources.MemoryBytes)} each" +
        (s.Placement.Spread ? ", spread across failure domains" : "") +
        (s.Placement.Labels.IsEmpty ? "" : $", on nodes labelled {string.Join(", ", s.Placement.Labels.Select(kv => $"{kv.Key}={kv.Value}"))}") +
        $", {s.Budget.Describe()}" +
        (s.Scaling is { Enabled: true } sc ? $", autoscaling {sc.Min}–{sc.Max} on {Format.Camel(sc.Metric.ToString())} (target {Format.Num(sc.Target)})" : "");

    [LoggerMessage(LogLevel.Debug, "Ignored a stale or repeated outcome for service {Service} (key {Key})")]
    private static partial void LogStaleOutcome(ILogger logger, string service, string key);
}
