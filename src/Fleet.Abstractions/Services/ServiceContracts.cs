using System.Collections.Immutable;
using Fleet.Abstractions.Policy;

namespace Fleet.Abstractions.Services;

[GenerateSerializer, Alias("fleet.InstanceState")]
public enum InstanceState
{
    /// <summary>Wanted, not placed yet (no node has offered room, or the placement is being negotiated).</summary>
    Pending = 0,
    /// <summary>Reserved on a node; the start action is running.</summary>
    Starting = 1,
    Running = 2,
    /// <summary>Lost with its node, or its start failed; a replacement is placed.</summary>
    Failed = 3,
    /// <summary>The stop action is running; its reservation is freed when it ends.</summary>
    Stopping = 4,
}

/// <summary>What an instance last reported of its load.</summary>
[GenerateSerializer, Immutable, Alias("fleet.InstanceLoad")]
public sealed record InstanceLoad(
    [property: Id(0)] double? CpuPercent,
    [property: Id(1)] double Requests,
    [property: Id(2)] double Errors,
    [property: Id(3)] double LatencyP50Ms,
    [property: Id(4)] double LatencyP99Ms,
    [property: Id(5)] long MemoryBytes);

/// <summary>One instance of a service, where it runs and how it is.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ServiceInstance")]
public sealed record ServiceInstance(
    [property: Id(0)] string Id,
    [property: Id(1)] string? Node,
    [property: Id(2)] string? Domain,
    [property: Id(3)] string Version,
    [property: Id(4)] InstanceState State,
    [property: Id(5)] DateTimeOffset Since,
    [property: Id(6)] bool? Healthy = null,
    [property: Id(7)] DateTimeOffset? LastReportAt = null,
    [property: Id(8)] string? Reason = null,
    [property: Id(9)] string? Replaces = null,
    [property: Id(10)] InstanceLoad? Load = null,
    [property: Id(11)] string? ActionKey = null,
    [property: Id(12)] bool Moving = false)
{
    /// <summary>Nodes this instance will not be placed on again (its start failed there).</summary>
    [Id(13)] public ImmutableArray<string> Avoid { get; init; } = [];

    /// <summary>A rollout replaces this instance: its replacement runs this version (null: the same version as this one).</summary>
    [Id(14)] public string? ReplaceWith { get; init; }

    /// <summary>The highest sequence its reports have carried (a report at or below it is stale: a replay, or out of order).</summary>
    [Id(15)] public long LastSequence { get; init; }

    /// <summary>Until when its last report holds (the report's TTL, else three report intervals); past it the instance is silent.</summary>
    [Id(16)] public DateTimeOffset? FreshUntil { get; init; }

    /// <summary>
    /// Fenced: given up on where it stood (its node went down, or healing in place gave up) and replaced elsewhere; it must not
    /// serve again, so it is stopped there as soon as its node can be reached. Its reports are refused meanwhile.
    /// </summary>
    [Id(17)] public bool Fenced { get; init; }

    /// <summary>Stops of a fenced instance that failed (its node could not be reached); tried again when the node is back.</summary>
    [Id(18)] public int FenceTries { get; init; }
}


/// <summary>
/// One instance's report (batch REST <c>POST /api/v1/services/telemetry</c>). <see cref="Requests"/> and
/// <see cref="Errors"/> are per second since the last report.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.InstanceReport")]
public sealed record InstanceReport(
    [property: Id(0)] string Service,
    [property: Id(1)] string Instance,
    [property: Id(2)] string Version,
    [property: Id(3)] double Requests,
    [property: Id(4)] double Errors,
    [property: Id(5)] double LatencyP50Ms,
    [property: Id(6)] double LatencyP99Ms,
    [property: Id(7)] long MemoryBytes,
    [property: Id(8)] bool Healthy,
    [property: Id(9)] double? CpuPercent,
    [property: Id(10)] DateTimeOffset Timestamp)
{
    /// <summary>Who reported: the instance's agent (null), or <c>intake</c> (its own metrics, docs/intake.md: figures only, no health of its own).</summary>
    [Id(11)] public string? Source { get; init; }

    /// <summary>Orders the reports of one instance (the agent sends its clock in milliseconds): one at or below the last taken is stale. Null: not ordered.</summary>
    [Id(12)] public long? Sequence { get; init; }

    /// <summary>How long the report holds; past it, with no newer one, the instance is silent. Null: three report intervals.</summary>
    [Id(13)] public TimeSpan? Ttl { get; init; }
}

[GenerateSerializer, Alias("fleet.InstanceReportOutcome")]
public enum InstanceReportOutcome
{
    Accepted = 0,
    /// <summary>The service has no such instance (never placed, or stopped since).</summary>
    UnknownInstance = 1,
    /// <summary>The service was never applied, or was deleted.</summary>
    UnknownService = 2,
    /// <summary>The report came with an agent credential bound to another node than the instance's.</summary>
    NotYourNode = 3,
    /// <summary>Its sequence is at or below one already taken (a replay, or out of order); nothing changed.</summary>
    Stale = 4,
    /// <summary>The instance was fenced and replaced elsewhere: it must stop serving; nothing changed.</summary>
    Fenced = 5,
}

/// <summary>A service as it is: its spec, its instances and the figures of its budget and scaling.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ServiceStatus")]
public sealed record ServiceStatus(
    [property: Id(0)] string Name,
    [property: Id(1)] ServiceSpec Spec,
    [property: Id(2)] int Generation,
    [property: Id(3)] DateTimeOffset AppliedAt,
    [property: Id(4)] string AppliedBy,
    [property: Id(5)] int DesiredReplicas,
    [property: Id(6)] bool AutoscalePaused,
    [property: Id(7)] ImmutableArray<ServiceInstance> Instances,
    [property: Id(8)] int Running,
    [property: Id(9)] int Up,
    [property: Id(10)] int MinHealthy,
    [property: Id(11)] bool Deleting,
    [property: Id(12)] string? LastScale)
{
    /// <summary>The rollout under way (or paused, or watching), if any.</summary>
    [Id(13)] public RolloutView? Rollout { get; init; }

    /// <summary>Alerts firing on the service from the team's own alerting (docs/intake.md), oldest first.</summary>
    [Id(14)] public ImmutableArray<Nodes.ExternalAlert> Alerts { get; init; } = [];

    /// <summary>The median time its recent instances took from placement to running (what moving one costs), once measured.</summary>
    [Id(15)] public TimeSpan? MedianStart { get; init; }
}

/// <summary>A row of the service list.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ServiceSummary")]
public sealed record ServiceSummary(
    [property: Id(0)] string Name,
    [property: Id(1)] string Version,
    [property: Id(2)] int Desired,
    [property: Id(3)] int Running,
    [property: Id(4)] int Pending,
    [property: Id(5)] bool AutoscalePaused);

/// <summary>The answer to applying a spec document: applied, or every problem by its path.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ServiceApplyResult")]
public sealed record ServiceApplyResult(
    [property: Id(0)] bool Applied,
    [property: Id(1)] ImmutableArray<PolicyProblem> Problems,
    [property: Id(2)] ServiceStatus? Status);

/// <summary>A service operation named a service that was never applied (or was deleted).</summary>
[GenerateSerializer, Alias("fleet.ServiceNotFoundException")]
public sealed class ServiceNotFoundException(string name) : Exception($"Service '{name}' is not known (never applied, or deleted).")
{
    [Id(0)] public string Name { get; } = name;
}
