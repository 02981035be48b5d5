namespace Fleet.Abstractions.Supervision;

/// <summary>A node asks for permission to act. <see cref="RequestId"/> makes a retried request harmless.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LeaseRequest")]
public sealed record LeaseRequest(
    [property: Id(0)] string RequestId,
    [property: Id(1)] string NodeId,
    [property: Id(2)] string Domain,
    [property: Id(3)] string Action,
    [property: Id(4)] bool Disruptive,
    [property: Id(5)] int PolicyVersion);

/// <summary>The answer to a lease request; when denied, <see cref="Guardrail"/> names the rule that said no.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LeaseDecision")]
public sealed record LeaseDecision(
    [property: Id(0)] bool Granted,
    [property: Id(1)] string? LeaseId,
    [property: Id(2)] DateTimeOffset? ExpiresAt,
    [property: Id(3)] string? Guardrail,
    [property: Id(4)] string Reason)
{
    public static LeaseDecision Deny(string guardrail, string reason) => new(false, null, null, guardrail, reason);
}

/// <summary>Names of the guardrails, as they appear in decision records and metrics.</summary>
public static class Guardrails
{
    public const string MaxConcurrent = "max-concurrent-per-domain";
    public const string RateLimit = "max-actions-per-window";
    public const string StormBrake = "storm-brake";
    public const string FleetFreeze = "fleet-freeze";
    public const string FleetMaxConcurrent = "fleet-max-concurrent";
}

[GenerateSerializer, Immutable, Alias("fleet.LeaseView")]
public sealed record LeaseView(
    [property: Id(0)] string LeaseId,
    [property: Id(1)] string NodeId,
    [property: Id(2)] string Action,
    [property: Id(3)] DateTimeOffset GrantedAt,
    [property: Id(4)] DateTimeOffset ExpiresAt);

[GenerateSerializer, Immutable, Alias("fleet.DomainStatus")]
public sealed record DomainStatus(
    [property: Id(0)] string Domain,
    [property: Id(1)] int Members,
    [property: Id(2)] int UnhealthyOrSuspect,
    [property: Id(3)] bool StormBrakeOn,
    [property: Id(4)] DateTimeOffset? StormHeldUntil,
    [property: Id(5)] System.Collections.Immutable.ImmutableArray<LeaseView> Leases,
    [property: Id(6)] int ActionsInWindow);

[GenerateSerializer, Immutable, Alias("fleet.FleetStatus")]
public sealed record FleetStatus(
    [property: Id(0)] bool Frozen,
    [property: Id(1)] string? FreezeReason,
    [property: Id(2)] string? FrozenBy,
    [property: Id(3)] DateTimeOffset? FrozenAt,
    [property: Id(4)] int ActiveLeases,
    [property: Id(5)] System.Collections.Immutable.ImmutableArray<string> Domains);
