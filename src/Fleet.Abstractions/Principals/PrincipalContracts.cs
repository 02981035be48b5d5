using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Security;
using Fleet.Abstractions.Supervision;

namespace Fleet.Abstractions.Principals;

/// <summary>
/// What one account or service identity did over one reporting window (from an access log, a proxy, an identity
/// provider): bytes sent out, requests, distinct resources touched and how many of them it had never touched before,
/// distinct source hosts, failed logins. <see cref="Timestamp"/> is the end of the window; its hour of day picks the baseline.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.PrincipalReport")]
public sealed record PrincipalReport(
    [property: Id(0)] string Principal,
    [property: Id(1)] DateTimeOffset Timestamp,
    [property: Id(2)] TimeSpan Window,
    [property: Id(3)] long BytesOut,
    [property: Id(4)] long Requests,
    [property: Id(5)] int Resources,
    [property: Id(6)] int NewResources,
    [property: Id(7)] int SourceHosts,
    [property: Id(8)] int FailedLogins);

/// <summary>Where a principal stands.</summary>
[GenerateSerializer, Alias("fleet.PrincipalPhase")]
public enum PrincipalPhase
{
    /// <summary>Judged against its baseline (or still learning it); nothing done.</summary>
    Normal = 0,
    /// <summary>A containment was permitted and is being carried out.</summary>
    Containing = 1,
    /// <summary>Contained until a person releases it.</summary>
    Contained = 2,
    /// <summary>A person released it; the release is being carried out.</summary>
    Releasing = 3,
}

/// <summary>One figure's baseline: median and MAD over the history, and how many reports it rests on.</summary>
[GenerateSerializer, Immutable, Alias("fleet.MetricBaseline")]
public sealed record MetricBaseline(
    [property: Id(0)] string Metric,
    [property: Id(1)] double Median,
    [property: Id(2)] double Mad,
    [property: Id(3)] int Samples);

[GenerateSerializer, Immutable, Alias("fleet.PrincipalStatus")]
public sealed record PrincipalStatus(
    [property: Id(0)] string Id,
    [property: Id(1)] PrincipalPhase Phase,
    [property: Id(2)] DateTimeOffset? Since,
    [property: Id(3)] int Samples,
    [property: Id(4)] DateTimeOffset? LastReportAt,
    [property: Id(5)] ImmutableArray<MetricBaseline> Baseline,
    [property: Id(6)] string? Evidence,
    [property: Id(7)] string? Action,
    [property: Id(8)] bool ApprovalRequired,
    [property: Id(9)] string? Note);

[GenerateSerializer, Alias("fleet.PrincipalReportOutcome")]
public enum PrincipalReportOutcome
{
    /// <summary>Taken into the baseline: nothing unusual (or too little history to judge yet).</summary>
    Normal = 0,
    /// <summary>Anomalous: containment was proposed (see the trail for what the guardrails said).</summary>
    Anomalous = 1,
    /// <summary>The principal is contained (or being contained or released); the report is kept out of its baseline.</summary>
    Contained = 2,
}

/// <summary>An account or service identity, keyed by its id (e-mail-like ids such as <c>svc-backup@corp</c> are fine).</summary>
[Alias("fleet.IPrincipalGrain")]
public interface IPrincipalGrain : IActionOwner
{
    [Alias("Report"), RequiresRole(FleetRole.Operator)]
    Task<PrincipalReportOutcome> ReportAsync(PrincipalReport report);

    /// <summary>Null when the principal never reported.</summary>
    [ReadOnly, Alias("Get"), RequiresRole(FleetRole.Viewer)]
    Task<PrincipalStatus?> GetAsync();

    /// <summary>Lifts the containment (through the security actuator); refused when the principal is not contained.</summary>
    [Alias("Release"), RequiresRole(FleetRole.Operator)]
    Task<PrincipalStatus> ReleaseAsync(string by, string reason);
}

/// <summary>What the security supervisor says of one anomaly: a fleet-wide shift (storm), or one principal's.</summary>
[GenerateSerializer, Immutable, Alias("fleet.SecurityVerdict")]
public sealed record SecurityVerdict(
    [property: Id(0)] bool Storm,
    [property: Id(1)] int Anomalous,
    [property: Id(2)] int Judged);

/// <summary>
/// The supervisor of every principal (keyed by fleet name): counts anomalies across principals (a fleet-wide shift is a
/// storm, not N attacks), holds the containment class's own budget, and asks the fleet supervisor for the fleet's slot.
/// </summary>
[Alias("fleet.ISecuritySupervisorGrain")]
public interface ISecuritySupervisorGrain : IGrainWithStringKey
{
    /// <summary>A principal has enough history to be judged (once per activation of the principal).</summary>
    [Alias("Judged")]
    Task JudgedAsync(string principal);

    [Alias("Anomaly")]
    Task<SecurityVerdict> AnomalyAsync(string principal, DateTimeOffset at);

    [Alias("RequestLease")]
    Task<LeaseDecision> RequestLeaseAsync(LeaseRequest request);

    [Alias("ReleaseLease")]
    Task ReleaseLeaseAsync(string leaseId);

    /// <summary>Every principal that ever reported.</summary>
    [ReadOnly, Alias("List"), RequiresRole(FleetRole.Viewer)]
    Task<ImmutableArray<string>> ListAsync();

    [Alias("Known")]
    Task KnownAsync(string principal);
}

/// <summary>The containment actions and their release, run by the security actuator.</summary>
public static class ContainmentActions
{
    public const string RevokeTokens = "revoke-tokens";
    public const string QuarantineSessions = "quarantine-sessions";
    public const string BlockEgress = "block-egress";
    public const string Release = "release-principal";
}
