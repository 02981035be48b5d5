using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Security;

namespace Fleet.Abstractions.Supervision;

[GenerateSerializer, Alias("fleet.ApprovalStatus")]
public enum ApprovalStatus
{
    Pending = 0,
    Approved = 1,
    Rejected = 2,
    /// <summary>The action is no longer wanted (its case recovered or moved on) before anyone decided.</summary>
    Withdrawn = 3,
}

/// <summary>A high-risk action waiting for (or decided by) a person. It holds no lease while it waits.</summary>
[GenerateSerializer, Immutable, Alias("fleet.Approval")]
public sealed record Approval(
    [property: Id(0)] string Id,
    [property: Id(1)] string RequestId,
    [property: Id(2)] string Subject,
    [property: Id(3)] string Action,
    [property: Id(4)] ImmutableArray<string> Scopes,
    [property: Id(5)] string Why,
    [property: Id(6)] DateTimeOffset CreatedAt,
    [property: Id(7)] DateTimeOffset ExpiresAt,
    [property: Id(8)] ApprovalStatus Status,
    [property: Id(9)] string OnTimeout,
    [property: Id(10)] string? DecidedBy = null,
    [property: Id(11)] DateTimeOffset? DecidedAt = null,
    [property: Id(12)] string? Note = null);

/// <summary>A shadow switch a person turned on: the whole fleet, one domain (<c>domain/rack-a</c>) or one action (<c>action/reboot</c>).</summary>
[GenerateSerializer, Immutable, Alias("fleet.ShadowSwitch")]
public sealed record ShadowSwitch(
    [property: Id(0)] string Scope,
    [property: Id(1)] string By,
    [property: Id(2)] string Reason,
    [property: Id(3)] DateTimeOffset At);

/// <summary>What is in shadow mode: the switches people turned on, and the policy's own shadow lists.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ShadowStatus")]
public sealed record ShadowStatus(
    [property: Id(0)] ImmutableArray<ShadowSwitch> Switches,
    [property: Id(1)] bool PolicyFleet,
    [property: Id(2)] ImmutableArray<string> PolicyDomains,
    [property: Id(3)] ImmutableArray<string> PolicyActions);

[GenerateSerializer, Alias("fleet.GateKind")]
public enum GateKind
{
    /// <summary>Nothing holds the action back: ask for its lease.</summary>
    Proceed = 0,
    /// <summary>Shadow mode: evaluate the guardrails, record, run nothing.</summary>
    Shadow = 1,
    /// <summary>A person must approve it first.</summary>
    AwaitApproval = 2,
    /// <summary>A person (or the timeout) rejected it.</summary>
    Rejected = 3,
}

[GenerateSerializer, Immutable, Alias("fleet.GateAnswer")]
public sealed record GateAnswer(
    [property: Id(0)] GateKind Kind,
    [property: Id(1)] string? Reason = null,
    [property: Id(2)] string? ApprovalId = null)
{
    public static GateAnswer Proceed { get; } = new(GateKind.Proceed);
}

/// <summary>
/// What people keep for themselves (keyed by fleet name): shadow mode and approvals. Every automatic action's lease
/// request passes its gate first (<c>LeaseBroker</c>), whatever kind of subject asks.
/// </summary>
[Alias("fleet.IOversightGrain")]
public interface IOversightGrain : IGrainWithStringKey
{
    /// <summary>Whether this automatic action may ask for its lease now: shadowed, waiting for (or refused by) a person, or free to go.</summary>
    [Alias("Gate")]
    Task<GateAnswer> GateAsync(LeaseRequest request);

    /// <summary>Approvals newest first: the pending ones, or every one kept (the last 1,000) with <paramref name="all"/>.</summary>
    /// <remarks>Not read-only: an approval past its time is decided (and written) when it is listed.</remarks>
    [Alias("ListApprovals"), RequiresRole(FleetRole.Viewer)]
    Task<ImmutableArray<Approval>> ListApprovalsAsync(bool all);

    [Alias("Approve"), RequiresRole(FleetRole.Operator)]
    Task<Approval> ApproveAsync(string id, string by, string? reason);

    [Alias("Reject"), RequiresRole(FleetRole.Operator)]
    Task<Approval> RejectAsync(string id, string by, string? reason);

    /// <summary>Turns shadow mode on or off for the fleet, a domain (<paramref name="domain"/>) or an action (<paramref name="action"/>).</summary>
    /// <summary>The subject no longer wants the action a pending approval is for: it is withdrawn (and recorded).</summary>
    [OneWay, Alias("Withdraw")]
    Task WithdrawAsync(string requestId, string why);

    [Alias("SetShadow"), RequiresRole(FleetRole.Operator)]
    Task<ShadowStatus> SetShadowAsync(bool on, string? domain, string? action, string by, string reason);

    [ReadOnly, Alias("GetShadow"), RequiresRole(FleetRole.Viewer)]
    Task<ShadowStatus> GetShadowAsync();
}

/// <summary>An approval id named nothing on record.</summary>
[GenerateSerializer, Alias("fleet.ApprovalNotFoundException")]
public sealed class ApprovalNotFoundException(string id) : Exception($"No approval '{id}' is on record (fleet approvals list shows the pending ones).")
{
    [Id(0)] public string ApprovalId { get; } = id;
}
