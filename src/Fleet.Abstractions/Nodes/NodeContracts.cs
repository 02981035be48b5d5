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
    [property: Id(3)] ImmutableDictionary<string, string> Labels)
{
    /// <summary>The node's host name or IP, used with the policy's default probes when <see cref="Probe"/> is not given.</summary>
    [Id(4)] public string? Address { get; init; }

    /// <summary>How the silo probes the node directly to confirm (or refute) its death when it falls silent.</summary>
    [Id(5)] public NodeProbe? Probe { get; init; }
}

[GenerateSerializer, Alias("fleet.ProbeKind")]
public enum ProbeKind
{
    /// <summary>A TCP connect to host:port; an accepted connection means the node is alive.</summary>
    Tcp = 0,
    /// <summary>An HTTP GET of a URL; any answer (whatever its status) means the node is alive.</summary>
    Http = 1,
}

/// <summary>A direct probe of a node: <c>tcp</c> to <c>host:port</c>, or <c>http</c> to a URL, with a timeout (the policy's when null).</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodeProbe")]
public sealed record NodeProbe(
    [property: Id(0)] ProbeKind Kind,
    [property: Id(1)] string Address,
    [property: Id(2)] TimeSpan? Timeout = null)
{
    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()} {Address}";
}

/// <summary>
/// The result of one named health check run on the node. <see cref="Starting"/>: the check has not passed yet since its
/// reporter started and is inside the reporter's start grace — not passing (the node is Degraded), but not yet a
/// failure that counts toward Unhealthy, so a service still starting is not restarted for it.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.CheckResult")]
public sealed record CheckResult(
    [property: Id(0)] string Name,
    [property: Id(1)] bool Passed,
    [property: Id(2)] string? Detail = null,
    [property: Id(3)] bool Starting = false);

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

    /// <summary>
    /// Which run of the reporter sent it. A new boot id starts the sequence again: a reporter that restarts and counts
    /// from 1 is taken, not refused as a replay. Null: the reporter does not say.
    /// </summary>
    [Id(10)] public string? BootId { get; init; }
}

/// <summary>What a node saw when it probed a peer (a TCP connect to the peer's probe address).</summary>
[GenerateSerializer, Immutable, Alias("fleet.PeerProbe")]
public sealed record PeerProbe(
    [property: Id(0)] string NodeId,
    [property: Id(1)] bool Reachable,
    [property: Id(2)] string? Detail = null);

/// <summary>One peer's latest view of this node (or the silo's own probe of it: <see cref="SiloProbe"/>).</summary>
[GenerateSerializer, Immutable, Alias("fleet.PeerView")]
public sealed record PeerView(
    [property: Id(0)] string ObserverNodeId,
    [property: Id(1)] bool Reachable,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] string? Detail = null)
{
    /// <summary>The observer name of the silo's own direct probe of the node.</summary>
    public const string SiloProbe = "(silo probe)";
}

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

    /// <summary>Reports refused since registration, by outcome (DuplicateOrOutOfOrder, Expired, Skewed).</summary>
    [Id(16)] public ImmutableDictionary<string, long> RefusedReports { get; init; } = ImmutableDictionary<string, long>.Empty;

    /// <summary>The boot id of the reporter's current run, when it sends one.</summary>
    [Id(17)] public string? BootId { get; init; }

    /// <summary>Where the node is in its life (docs/lifecycle.md).</summary>
    [Id(18)] public LifecycleStage Stage { get; init; }

    /// <summary>Why the node is at its stage, and since when.</summary>
    [Id(19)] public string? StageReason { get; init; }

    [Id(20)] public DateTimeOffset? StageSince { get; init; }

    /// <summary>During a burn-in: healthy reports so far, and when the soak ends.</summary>
    [Id(21)] public int? BurnInReports { get; init; }

    [Id(22)] public DateTimeOffset? BurnInUntil { get; init; }
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

    /// <summary>The node's whole room (0 in a row written before it was kept): what the consolidation planner packs against.</summary>
    [Id(9)] public double CpuCores { get; init; }
    [Id(10)] public long MemoryBytes { get; init; }
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
    /// <summary>The report's timestamp is ahead of the silo's clock by more than the policy's <c>telemetry.maxClockSkew</c>.</summary>
    Skewed = 5,
}

[GenerateSerializer, Immutable, Alias("fleet.ReportResult")]
public sealed record ReportResult(
    [property: Id(0)] ReportOutcome Outcome,
    [property: Id(1)] HealthState Health,
    [property: Id(2)] long LastSequence);

/// <summary>
/// An alert a team's alerting sent about a node (Alertmanager's webhook): while it fires, every report the node sends carries
/// a failing check named <c>alert:{Name}</c>, so Fleet's own rules (failed-report streak, lease, storm brake, oversight) decide.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.ExternalAlert")]
public sealed record ExternalAlert(
    [property: Id(0)] string Name,
    [property: Id(1)] string Fingerprint,
    [property: Id(2)] string? Summary,
    [property: Id(3)] DateTimeOffset StartsAt,
    [property: Id(4)] string Source)
{
    /// <summary>The failing check the alert adds to the node's reports while it fires.</summary>
    public string CheckName => "alert:" + new string(Name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-' ? c : '_').Take(120).ToArray());

    /// <summary>Alerts one subject keeps firing at once; past it a new one is not taken (the answer says so).</summary>
    public const int MaxPerSubject = 100;

    /// <summary>The alert as the trail's evidence: its name, fingerprint, source and start.</summary>
    public ImmutableDictionary<string, string> Evidence() => ImmutableDictionary<string, string>.Empty.Add("alert", Name).Add("fingerprint", Fingerprint)
        .Add("source", Source).Add("startsAt", StartsAt.ToString("O"));
}
