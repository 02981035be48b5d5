using System.Collections.Immutable;

namespace Fleet.Abstractions.Services;

/// <summary>What one instance of a service reserves on the node it runs on.</summary>
[GenerateSerializer, Immutable, Alias("fleet.InstanceResources")]
public sealed record InstanceResources(
    [property: Id(0)] double CpuCores,
    [property: Id(1)] long MemoryBytes);

/// <summary>Where instances may go: spread across failure domains first, and only on nodes with these labels.</summary>
[GenerateSerializer, Immutable, Alias("fleet.PlacementSpec")]
public sealed record PlacementSpec(
    [property: Id(0)] bool Spread,
    [property: Id(1)] ImmutableDictionary<string, string> Labels)
{
    public static PlacementSpec Default { get; } = new(true, ImmutableDictionary<string, string>.Empty);
}

/// <summary>
/// The service's disruption budget: the fewest instances that must stay running, as a share of the replicas
/// (<see cref="MinHealthyShare"/>) or as the most that may be down (<see cref="MaxUnavailable"/>). Instances already down
/// for involuntary reasons (a crash, a silent node) count against it.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.DisruptionBudget")]
public sealed record DisruptionBudget(
    [property: Id(0)] double? MinHealthyShare,
    [property: Id(1)] int? MaxUnavailable)
{
    /// <summary>The default: no more than one instance down at a time.</summary>
    public static DisruptionBudget Default { get; } = new(null, 1);

    /// <summary>The fewest instances that must stay running out of <paramref name="replicas"/>.</summary>
    public int MinHealthy(int replicas) => MaxUnavailable is { } m
        ? Math.Max(0, replicas - m)
        : (int)Math.Ceiling(Math.Round((MinHealthyShare ?? 0) * replicas, 9));

    public string Describe() => MaxUnavailable is { } m ? $"maxUnavailable {m}" : $"minHealthy {Math.Round((MinHealthyShare ?? 0) * 100, 1)}%";
}

[GenerateSerializer, Alias("fleet.ScalingMetric")]
public enum ScalingMetric
{
    /// <summary>CPU use per instance, in percent (instance reports' <c>cpuPercent</c>).</summary>
    Cpu = 0,
    /// <summary>Requests per second per instance (instance reports' <c>requests</c>).</summary>
    Requests = 1,
}

/// <summary>
/// Replicas follow load: the average of <see cref="Metric"/> per instance is kept near <see cref="Target"/>. Nothing moves
/// while the average is within ±<see cref="Tolerance"/> of the target; a step is followed by <see cref="Cooldown"/>, and a
/// step down takes the highest recommendation of the last cooldown (so a dip does not undo a rise).
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.ScalingSpec")]
public sealed record ScalingSpec(
    [property: Id(0)] bool Enabled,
    [property: Id(1)] int Min,
    [property: Id(2)] int Max,
    [property: Id(3)] ScalingMetric Metric,
    [property: Id(4)] double Target,
    [property: Id(5)] double Tolerance,
    [property: Id(6)] TimeSpan Cooldown);

/// <summary>A service's desired state. docs/services.md documents every field and its default.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ServiceSpec")]
public sealed record ServiceSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] int Replicas,
    [property: Id(2)] string Version,
    [property: Id(3)] InstanceResources Resources,
    [property: Id(4)] PlacementSpec Placement,
    [property: Id(5)] DisruptionBudget Budget,
    [property: Id(6)] ScalingSpec? Scaling = null);
