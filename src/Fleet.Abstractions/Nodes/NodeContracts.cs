using System.Collections.Immutable;

namespace Fleet.Abstractions.Nodes;

[GenerateSerializer, Immutable, Alias("fleet.NodeCapacity")]
public sealed record NodeCapacity(
    [property: Id(0)] double CpuCores,
    [property: Id(1)] long MemoryBytes,
    [property: Id(2)] long DiskBytes);

[GenerateSerializer, Immutable, Alias("fleet.NodeRegistration")]
public sealed record NodeRegistration(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Domain,
    [property: Id(2)] NodeCapacity Capacity,
    [property: Id(3)] ImmutableDictionary<string, string> Labels);

/// <summary>The result of one named health check run on the node.</summary>
[GenerateSerializer, Immutable, Alias("fleet.CheckResult")]
public sealed record CheckResult(
    [property: Id(0)] string Name,
    [property: Id(1)] bool Passed,
    [property: Id(2)] string? Detail = null);

/// <summary>One telemetry report. Reports are ordered by <see cref="Sequence"/> and valid for <see cref="Ttl"/>.</summary>
[GenerateSerializer, Immutable, Alias("fleet.TelemetryReport")]
public sealed record TelemetryReport(
    [property: Id(0)] long Sequence,
    [property: Id(1)] DateTimeOffset Timestamp,
    [property: Id(2)] TimeSpan Ttl,
    [property: Id(3)] double CpuPercent,
    [property: Id(4)] long MemoryUsedBytes,
    [property: Id(5)] long MemoryTotalBytes,
    [property: Id(6)] double DiskUsedPercent,
    [property: Id(7)] ImmutableArray<CheckResult> Checks,
    [property: Id(8)] string Source = "agent")
{
    /// <summary>What the reporting node saw when it probed its peers (empty when it probes none).</summary>
    [Id(9)] public ImmutableArray<PeerProbe> Peers { get; init; } = [];
}

/// <summary>What a node saw when it probed a peer (a TCP connect to the peer's probe address).</summary>
[GenerateSerializer, Immutable, Alias("fleet.PeerProbe")]
public sealed record PeerProbe(
    [property: Id(0)] string NodeId,
    [property: Id(1)] bool Reachable,
    [property: Id(2)] string? Detail = null);

/// <summary>One peer's latest view of this node.</summary>
[GenerateSerializer, Immutable, Alias("fleet.PeerView")]
public sealed record PeerView(
    [property: Id(0)] string ObserverNodeId,
    [property: Id(1)] bool Reachable,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] string? Detail = null);

/// <summary>A reason the node is not simply healthy, in words a person can read.</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodeCondition")]
public sealed record NodeCondition(
    [property: Id(0)] string Type,
    [property: Id(1)] string Reason,
    [property: Id(2)] DateTimeOffset Since);

[GenerateSerializer, Immutable, Alias("fleet.MemoryForecast")]
public sealed record MemoryForecast(
    [property: Id(0)] double BytesPerSecond,
    [property: Id(1)] TimeSpan? TimeToExhaustion,
    [property: Id(2)] int Samples);

/// <summary>The remediation the node is working through, if any.</summary>
[GenerateSerializer, Immutable, Alias("fleet.RemediationView")]
public sealed record RemediationView(
    [property: Id(0)] string CaseId,
    [property: Id(1)] string Phase,
    [property: Id(2)] int Step,
    [property: Id(3)] string? Action,
    [property: Id(4)] string? LeaseId,
    [property: Id(5)] DateTimeOffset? Deadline,
    [property: Id(6)] DateTimeOffset? NextAttemptAt);

[GenerateSerializer, Immutable, Alias("fleet.NodeStatus")]
public sealed record NodeStatus(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Domain,
    [property: Id(2)] HealthState Health,
    [property: Id(3)] AdminState AdminState,
    [property: Id(4)] ImmutableArray<NodeCondition> Conditions,
    [property: Id(5)] long LastSequence,
    [property: Id(6)] DateTimeOffset? LastReportAt,
    [property: Id(7)] DateTimeOffset HealthSince,
    [property: Id(8)] NodeCapacity Capacity,
    [property: Id(9)] ImmutableDictionary<string, string> Labels,
    [property: Id(10)] MemoryForecast? Forecast,
    [property: Id(11)] RemediationView? Remediation,
    [property: Id(12)] int PolicyVersion,
    [property: Id(13)] TelemetryReport? LastReport,
    [property: Id(14)] string? HostedOn = null)
{
    /// <summary>The service instances placed on the node (reserved or running).</summary>
    [Id(15)] public ImmutableArray<Services.NodePlacement> Placements { get; init; } = [];
}

/// <summary>
/// A row of the fleet inventory, as kept by the node's domain supervisor: also its free room (capacity minus
/// reservations), admin state and labels, so a service finds candidates for an instance without asking every node.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.NodeSummary")]
public sealed record NodeSummary(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Domain,
    [property: Id(2)] HealthState Health,
    [property: Id(3)] DateTimeOffset Since)
{
    [Id(4)] public double? FreeCpu { get; init; }
    [Id(5)] public long? FreeMemory { get; init; }
    [Id(6)] public AdminState Admin { get; init; }
    [Id(7)] public ImmutableDictionary<string, string>? Labels { get; init; }
    /// <summary>Instances placed (reserved or running) on the node.</summary>
    [Id(8)] public int Instances { get; init; }
}

[GenerateSerializer, Alias("fleet.ReportOutcome")]
public enum ReportOutcome
{
    Accepted = 0,
    /// <summary>A report with this sequence number or a higher one was already taken.</summary>
    DuplicateOrOutOfOrder = 1,
    /// <summary>The report's time-to-live had passed when it arrived.</summary>
    Expired = 2,
    NotRegistered = 3,
    Decommissioned = 4,
}

[GenerateSerializer, Immutable, Alias("fleet.ReportResult")]
public sealed record ReportResult(
    [property: Id(0)] ReportOutcome Outcome,
    [property: Id(1)] HealthState Health,
    [property: Id(2)] long LastSequence);
