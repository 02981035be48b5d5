using System.Collections.Immutable;

namespace Fleet.Abstractions.Supervision;

/// <summary>What kind of change an action is; the supervisors apply their budgets and brakes by class.</summary>
[GenerateSerializer, Alias("fleet.ActionClass")]
public enum ActionClass
{
    /// <summary>Takes capacity away for a while (restart, reboot, drain, replace). Frozen by the storm brake.</summary>
    Disruptive = 0,
    /// <summary>Acts on a forecast before a failure (a drain before memory runs out). Frozen by the storm brake.</summary>
    Preventive = 1,
    /// <summary>Isolates an account or a host for security. Not frozen by the storm brake.</summary>
    Containment = 2,
    /// <summary>Replaces instances with a new version. Frozen by the storm brake.</summary>
    Rollout = 3,
    /// <summary>Moves traffic to another path. Held by a fleet freeze, not by a domain's storm brake (the network has its own brake for mass probe loss).</summary>
    Reroute = 4,
    /// <summary>Starts or stops an instance the service owns; takes no lease.</summary>
    Placement = 5,
    /// <summary>Moves a machine through its life: admits a node that passed its burn-in, quarantines one that failed it. Held by a fleet freeze, not by a storm brake.</summary>
    Lifecycle = 6,
}

/// <summary>What an action rests on: the storm brake holds back actions on unconfirmed silence (by default) and lets positive evidence through.</summary>
[GenerateSerializer, Alias("fleet.ActionBasis")]
public enum ActionBasis
{
    /// <summary>The subject reports its own failure (a failed check, an unhealthy report).</summary>
    Reported = 0,
    /// <summary>The subject fell silent and nothing confirmed its death: the telemetry itself may be what failed.</summary>
    UnconfirmedSilence = 1,
    /// <summary>The subject fell silent and a probe (the silo's, or its peers') confirmed it unreachable.</summary>
    ConfirmedSilence = 2,
    /// <summary>A forecast from the subject's own reports (memory running out).</summary>
    Forecast = 3,
    /// <summary>A person asked for it (an operator's drain).</summary>
    Operator = 4,
}

/// <summary>
/// A subject asks for permission to act. The lease id is <see cref="RequestId"/>, so a retried request is harmless.
/// <see cref="Scopes"/> name what the action touches (<c>domain/rack-a</c>, <c>service/api</c>): every one must agree.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.LeaseRequest")]
public sealed record LeaseRequest(
    [property: Id(0)] string RequestId,
    [property: Id(1)] string Subject,
    [property: Id(3)] string Action,
    [property: Id(5)] int PolicyVersion,
    [property: Id(6)] ImmutableArray<string> Scopes,
    [property: Id(7)] ActionClass Class = ActionClass.Disruptive,
    [property: Id(8)] int Cost = 1,
    [property: Id(9)] bool Force = false,
    [property: Id(10)] ActionBasis Basis = ActionBasis.Reported)
{
    /// <summary>Evaluate every guardrail as for a real lease, and hold nothing (shadow mode's "would it have been permitted?").</summary>
    [Id(11)] public bool DryRun { get; init; }

    /// <summary>Why the action is wanted, in words (what an approval shows a person).</summary>
    [Id(12)] public string? Why { get; init; }

    /// <summary>
    /// The subject itself asks for a person's approval, whatever <c>oversight.approvals</c> says (a principal listed in
    /// <c>security.approvalRequired</c>: the containment of an admin account). The oversight gate treats it as any approval.
    /// </summary>
    [Id(13)] public bool ApprovalRequired { get; init; }

    /// <summary>
    /// How many things the action touches, for approvals by size (<c>oversight.approvals.rules</c>): the instances a rollout
    /// step or rollback replaces, the flows a reroute moves; 1 for an action on one subject.
    /// </summary>
    [Id(14)] public int Size { get; init; } = 1;

    /// <summary>The security supervisors among the scopes (containment's budget), by name.</summary>
    public IEnumerable<string> Securities => Scopes.Where(s => Subjects.IsKind(s, Subjects.SecurityKind)).Select(Subjects.IdOf);

    /// <summary>The failure domains among the scopes, by name.</summary>
    public IEnumerable<string> Domains => Scopes.Where(s => Subjects.IsKind(s, Subjects.DomainKind)).Select(Subjects.IdOf);

    /// <summary>The services among the scopes, by name.</summary>
    public IEnumerable<string> Services => Scopes.Where(s => Subjects.IsKind(s, Subjects.ServiceKind)).Select(Subjects.IdOf);

    /// <summary>Whether the storm brake and the fleet freeze hold this class back.</summary>
    public bool Freezable => Class is ActionClass.Disruptive or ActionClass.Preventive or ActionClass.Rollout;

    /// <summary>Whether a person's fleet freeze holds this class back: what the storm brake holds, and reroutes (the network's own brake judges probe storms).</summary>
    public bool HeldByFreeze => Freezable || Class is ActionClass.Reroute or ActionClass.Lifecycle;
}

/// <summary>The answer to a lease request; when denied, <see cref="Guardrail"/> names the rule that said no.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LeaseDecision")]
public sealed record LeaseDecision(
    [property: Id(0)] bool Granted,
    [property: Id(1)] string? LeaseId,
    [property: Id(2)] DateTimeOffset? ExpiresAt,
    [property: Id(3)] string? Guardrail,
    [property: Id(4)] string Reason)
{
    /// <summary>The figures the decision rests on (slots in use and the limit, members troubled, instances up and needed).</summary>
    [Id(5)] public ImmutableDictionary<string, string> Evidence { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Shadow mode held the action back: why it is shadowed; <see cref="Reason"/> says what the guardrails would have said.</summary>
    [Id(6)] public string? Shadow { get; init; }

    /// <summary>What held a refused action back: <c>shadow</c> in shadow mode, else the guardrail's name.</summary>
    public string? HeldBy => Shadow is not null ? Guardrails.Shadow : Guardrail;

    /// <summary>The record a refusal makes: Shadowed, AwaitingApproval (an approval pending) or Denied.</summary>
    public string HeldKind => Shadow is not null ? Audit.DecisionKinds.Shadowed : Guardrail == Guardrails.Approval ? Audit.DecisionKinds.AwaitingApproval : Audit.DecisionKinds.Denied;

    /// <summary>
    /// Whether the next try asks under a new request id: after any refusal but shadow mode or a pending approval (those keep
    /// their id, so the approval is found; a rejected approval is not asked for again under the same id).
    /// </summary>
    public bool AsksAnew => Shadow is null && Guardrail != Guardrails.Approval;

    public static LeaseDecision Deny(string guardrail, string reason, ImmutableDictionary<string, string>? evidence = null) =>
        new(false, null, null, guardrail, reason) { Evidence = evidence ?? ImmutableDictionary<string, string>.Empty };
}

public static class ActionBases
{
    /// <summary>What an action rests on, in words for a record: "a failed check", "a death a probe confirmed".</summary>
    public static string Describe(ActionBasis basis) => basis switch
    {
        ActionBasis.Reported => "what the node itself reports (a failed check)",
        ActionBasis.UnconfirmedSilence => "silence nothing has confirmed",
        ActionBasis.ConfirmedSilence => "a death a probe confirmed",
        ActionBasis.Forecast => "a forecast from the node's own reports",
        _ => "an operator's request",
    };
}

/// <summary>Names of the guardrails, as they appear in decision records and metrics.</summary>
public static class Guardrails
{
    public const string MaxConcurrent = "max-concurrent-per-domain";
    public const string RateLimit = "max-actions-per-window";
    public const string StormBrake = "storm-brake";
    public const string FleetFreeze = "fleet-freeze";
    public const string FleetMaxConcurrent = "fleet-max-concurrent";
    /// <summary>A service would drop below its minimum of healthy instances (its disruption budget).</summary>
    public const string MinHealthy = "service-min-healthy";
    public const string Cooldown = "cooldown";
    /// <summary>Containments in flight reached <c>security.maxConcurrent</c> (the containment class's own budget).</summary>
    public const string ContainmentBudget = "containment-budget";
    /// <summary>Many principals turned anomalous at once: a fleet-wide shift, not N attacks (<c>security.stormShare</c>).</summary>
    public const string SecurityStorm = "security-storm";
    /// <summary>Shadow (dry-run) mode: the decision is made and recorded, nothing runs (<c>oversight.shadow</c>, <c>fleet shadow on</c>).</summary>
    public const string Shadow = "shadow";
    /// <summary>The policy marks the action high-risk: it waits for a person's approval (<c>oversight.approvals</c>).</summary>
    public const string Approval = "approval";
    /// <summary>A person (or the approval's timeout) rejected the action.</summary>
    public const string ApprovalRejected = "approval-rejected";
}

[GenerateSerializer, Immutable, Alias("fleet.LeaseView")]
public sealed record LeaseView(
    [property: Id(0)] string LeaseId,
    [property: Id(1)] string Subject,
    [property: Id(2)] string Action,
    [property: Id(3)] DateTimeOffset GrantedAt,
    [property: Id(4)] DateTimeOffset ExpiresAt,
    [property: Id(5)] ActionClass Class = ActionClass.Disruptive,
    [property: Id(6)] int Cost = 1);

/// <summary>A lease its holder keeps, so it can free it where it was granted.</summary>
[GenerateSerializer, Immutable, Alias("fleet.HeldLease")]
public sealed record HeldLease(
    [property: Id(0)] string LeaseId,
    [property: Id(1)] string Action,
    [property: Id(2)] ImmutableArray<string> Scopes,
    [property: Id(3)] DateTimeOffset ExpiresAt);

[GenerateSerializer, Immutable, Alias("fleet.DomainStatus")]
public sealed record DomainStatus(
    [property: Id(0)] string Domain,
    [property: Id(1)] int Members,
    [property: Id(2)] int UnhealthyOrSuspect,
    [property: Id(3)] bool StormBrakeOn,
    [property: Id(4)] DateTimeOffset? StormHeldUntil,
    [property: Id(5)] ImmutableArray<LeaseView> Leases,
    [property: Id(6)] int ActionsInWindow);

[GenerateSerializer, Immutable, Alias("fleet.FleetStatus")]
public sealed record FleetStatus(
    [property: Id(0)] bool Frozen,
    [property: Id(1)] string? FreezeReason,
    [property: Id(2)] string? FrozenBy,
    [property: Id(3)] DateTimeOffset? FrozenAt,
    [property: Id(4)] int ActiveLeases,
    [property: Id(5)] ImmutableArray<string> Domains);
