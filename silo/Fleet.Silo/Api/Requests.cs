namespace Fleet.Silo.Api;

/// <summary>Body of <c>POST /api/v1/nodes</c>.</summary>
public sealed record RegisterNodeRequest(string? Id, string? Domain, CapacityRequest? Capacity, Dictionary<string, string>? Labels,
    string? Address = null, ProbeRequest? Probe = null);

/// <summary>A node's direct probe: <c>kind</c> tcp (address host:port) or http (address a URL); <c>timeoutMs</c> optional.</summary>
public sealed record ProbeRequest(string? Kind, string? Address, double? TimeoutMs);

public sealed record CapacityRequest(double? CpuCores, long? MemoryBytes, long? DiskBytes);

/// <summary>One telemetry report. <c>timestamp</c> defaults to the time it arrives, <c>ttlSeconds</c> to the policy's maxTtl.</summary>
public sealed record TelemetryRequest(
    long? Sequence, DateTimeOffset? Timestamp, double? TtlSeconds, double? CpuPercent, long? MemoryUsedBytes,
    long? MemoryTotalBytes, double? DiskUsedPercent, List<CheckRequest>? Checks, string? NodeId = null, string? BootId = null);

/// <summary>One check's result; <c>starting</c> (with <c>passed: false</c>): not passing yet while the reporter starts, inside its start grace (Degraded, not counted as failed).</summary>
public sealed record CheckRequest(string? Name, bool? Passed, string? Detail, bool? Starting = null);

/// <summary>Body of cordon, uncordon, drain, freeze and unfreeze: who asks and why; <c>force</c> (drain only, needs a reason) skips the budgets.</summary>
public sealed record OperatorRequest(string? By, string? Reason, bool? Force = null);

/// <summary>Body of <c>POST /api/v1/domains/{id}/retire</c>: who asks and why, how many nodes drain at once (default 1), and <c>force</c> (needs a reason) to start without room for all of the domain's instances.</summary>
public sealed record RetireDomainRequest(string? By, string? Reason, int? Batch = null, bool? Force = null);

/// <summary>Body of <c>PUT /api/v1/policy</c> when sent as JSON; a <c>text/yaml</c> or <c>text/plain</c> body is the document itself.</summary>
public sealed record PolicyRequest(string? Document, string? By);

public sealed record PolicyView(int Version, DateTimeOffset AppliedAt, string AppliedBy, string Document, Fleet.Abstractions.Policy.FleetPolicy Policy);

public sealed record BatchItemResult(string NodeId, string Outcome, string Health, long LastSequence);

public sealed record FleetView(Fleet.Abstractions.Supervision.FleetStatus Fleet, IReadOnlyList<Fleet.Abstractions.Supervision.DomainStatus> Domains);

/// <summary>Body of <c>POST /api/v1/policy/rollback</c>: the version to apply again (0: the built-in default).</summary>
public sealed record RollbackRequest(int? Version, string? By);
