using System.Collections.Immutable;

namespace Fleet.Core.Remediation;

[GenerateSerializer, Alias("fleet.RemediationPhase")]
public enum RemediationPhase
{
    /// <summary>An action is proposed; the subject waits for its cooldown to pass and a lease to be granted.</summary>
    AwaitingLease = 0,
    /// <summary>The actuator is running the action.</summary>
    Acting = 1,
    /// <summary>The action ran; the subject waits for the symptom to clear within the verify window.</summary>
    Verifying = 2,
    /// <summary>The symptom cleared; the subject is watched for the probation period.</summary>
    Probation = 3,
    /// <summary>The ladder ran out: a person owns the case.</summary>
    HandedToHuman = 4,
}

/// <summary>One remediation of one subject, from the proposal to its close.</summary>
[GenerateSerializer, Immutable, Alias("fleet.RemediationCase")]
public sealed record RemediationCase(
    [property: Id(0)] string CaseId,
    [property: Id(1)] bool Preventive,
    [property: Id(2)] string Symptom,
    [property: Id(3)] int Step,
    [property: Id(4)] string Action,
    [property: Id(5)] RemediationPhase Phase,
    [property: Id(6)] DateTimeOffset OpenedAt,
    [property: Id(7)] string? LeaseId = null,
    [property: Id(8)] string? IdempotencyKey = null,
    [property: Id(9)] DateTimeOffset? ActedAt = null,
    [property: Id(10)] DateTimeOffset? Deadline = null,
    [property: Id(11)] string? LastDenial = null,
    [property: Id(12)] int Attempt = 0)
{
    /// <summary>The scopes the held lease was granted in (empty while none is held), so it is released where it was taken.</summary>
    [Id(13)] public ImmutableArray<string> Scopes { get; init; } = [];

    /// <summary>Lease denials in a row by <see cref="LastDenial"/>'s guardrail (summarised in one record when the streak ends).</summary>
    [Id(14)] public int Denials { get; init; }

    [Id(15)] public DateTimeOffset? DeniedSince { get; init; }

    [Id(16)] public string? LastDenialReason { get; init; }

    /// <summary>After a denial, the lease is not asked again before this (backing off while the same guardrail says no).</summary>
    [Id(17)] public DateTimeOffset? AskAgainAt { get; init; }

    /// <summary>The W3C trace context of the case's root span (one trace per case, when tracing is on); null otherwise.</summary>
    [Id(18)] public string? TraceParent { get; init; }

    /// <summary>Shadow mode held this rung back and said so (one <c>shadowed</c> record per rung per episode).</summary>
    [Id(19)] public bool Shadowed { get; init; }

    /// <summary>The symptom's signature when the case opened (what its outcomes are learned under); null for a forecast's case.</summary>
    [Id(20)] public string? Signature { get; init; }

    /// <summary>What a preventive case foresaw when it opened ("the disk filling"); null for a reactive case.</summary>
    [Id(21)] public string? Foreseen { get; init; }
}

/// <summary>What a subject's past actions were: the input to flap damping and to the rung a new case starts on.</summary>
[GenerateSerializer, Immutable, Alias("fleet.RemediationHistory")]
public sealed record RemediationHistory(
    [property: Id(0)] ImmutableArray<DateTimeOffset> RecentActions,
    [property: Id(1)] int LastStep,
    [property: Id(2)] DateTimeOffset? LastClosedAt)
{
    public static RemediationHistory Empty { get; } = new([], -1, null);
}
