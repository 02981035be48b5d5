using System.Collections.Immutable;
using Fleet.Abstractions.Services;

namespace Fleet.Core.Services;

/// <summary>Instances a granted disruption holds as down until its lease is released (or expires).</summary>
[GenerateSerializer, Immutable, Alias("fleet.DisruptionHold")]
public sealed record DisruptionHold(
    [property: Id(0)] string LeaseId,
    [property: Id(1)] string Subject,
    [property: Id(2)] ImmutableArray<string> Instances,
    [property: Id(3)] DateTimeOffset ExpiresAt);

/// <summary>One recommendation of the autoscaler, kept for the scale-down stabilization window.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ScaleRecommendation")]
public sealed record ScaleRecommendation(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] int Replicas);

/// <summary>A service grain's state: its spec, its instances, the holds of its disruption budget and its scaling memory.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ServiceState")]
public sealed record ServiceState(
    [property: Id(0)] ServiceSpec? Spec,
    [property: Id(1)] int Generation,
    [property: Id(2)] DateTimeOffset AppliedAt,
    [property: Id(3)] string AppliedBy,
    [property: Id(4)] int Desired,
    [property: Id(5)] bool AutoscalePaused,
    [property: Id(6)] ImmutableDictionary<string, ServiceInstance> Instances,
    [property: Id(7)] int NextInstance,
    [property: Id(8)] ImmutableDictionary<string, DisruptionHold> Holds,
    [property: Id(9)] bool Deleting,
    [property: Id(10)] DateTimeOffset? LastScaleAt,
    [property: Id(11)] string? LastScale,
    [property: Id(12)] ImmutableArray<ScaleRecommendation> Recommendations)
{
    /// <summary>The rollout under way, or the last one (ended rollouts move to <see cref="History"/> when the next starts).</summary>
    [Id(13)] public Rollout? Rollout { get; init; }

    /// <summary>Ended rollouts, newest last (at most <see cref="Rollouts.RolloutPlanner.KeepHistory"/>), without their samples.</summary>
    [Id(14)] public ImmutableArray<Rollout> History { get; init; } = [];

    /// <summary>Alerts firing on the service from the team's own alerting, by fingerprint (docs/intake.md).</summary>
    [Id(15)] public ImmutableDictionary<string, Fleet.Abstractions.Nodes.ExternalAlert> Alerts { get; init; } = ImmutableDictionary<string, Fleet.Abstractions.Nodes.ExternalAlert>.Empty;

    /// <summary>The healing case of each instance that has one (the same case machine as a node's; docs/services.md), by instance id.</summary>
    [Id(16)] public ImmutableDictionary<string, Remediation.RemediationCase> Heals { get; init; } = ImmutableDictionary<string, Remediation.RemediationCase>.Empty;

    /// <summary>Each instance's past healing actions (its cooldown and flap window), by instance id; dropped with the instance.</summary>
    [Id(17)] public ImmutableDictionary<string, Remediation.RemediationHistory> HealHistory { get; init; } = ImmutableDictionary<string, Remediation.RemediationHistory>.Empty;

    /// <summary>Alert episodes resolved, by fingerprint with their start (<see cref="Intake.AlertBook"/>).</summary>
    [Id(18)] public ImmutableDictionary<string, DateTimeOffset> ResolvedAlerts { get; init; } = ImmutableDictionary<string, DateTimeOffset>.Empty;

    /// <summary>How long its last instances took from placement to running, in seconds, newest last (at most <see cref="KeepStartTimes"/>): what moving one costs.</summary>
    [Id(19)] public ImmutableArray<double> StartTimes { get; init; } = [];

    public const int KeepStartTimes = 20;

    /// <summary>Each running instance's recent error rates (<see cref="ErrorTrend"/>), by instance id; dropped with the instance.</summary>
    [Id(20)] public ImmutableDictionary<string, ImmutableArray<ErrorSample>> ErrorSamples { get; init; } = ImmutableDictionary<string, ImmutableArray<ErrorSample>>.Empty;

    /// <summary>The median of <see cref="StartTimes"/>, once there are any.</summary>
    public TimeSpan? MedianStart => StartTimes.IsDefaultOrEmpty ? null : TimeSpan.FromSeconds(MathNet.Numerics.Statistics.Statistics.Median(StartTimes));

    /// <summary>The state with one more start time measured (the oldest dropped past <see cref="KeepStartTimes"/>).</summary>
    public ServiceState WithStartTime(TimeSpan took) => this with
    {
        StartTimes = [.. (StartTimes.IsDefault ? [] : StartTimes).TakeLast(KeepStartTimes - 1), Math.Max(0, took.TotalSeconds)],
    };

    public ServiceState() : this(null, 0, DateTimeOffset.UnixEpoch, "", 0, false, ImmutableDictionary<string, ServiceInstance>.Empty, 1,
        ImmutableDictionary<string, DisruptionHold>.Empty, false, null, null, []) { }

    public static ServiceState Empty { get; } = new();

    /// <summary>Instances that count toward the replicas: wanted and not being moved away.</summary>
    public IEnumerable<ServiceInstance> Live => Instances.Values.Where(i => i.State is InstanceState.Pending or InstanceState.Starting or InstanceState.Running && !i.Moving);

    /// <summary>Instances serving now: running, healthy as far as is known, on a node that is not down.</summary>
    public IEnumerable<ServiceInstance> Up => Instances.Values.Where(ServicePlanner.IsUp);
}
