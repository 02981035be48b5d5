using Fleet.Abstractions.Security;
using System.Collections.Immutable;

namespace Fleet.Abstractions.Audit;

/// <summary>One step of one decision, as DESIGN.md §5 describes it. Append-only.</summary>
[GenerateSerializer, Immutable, Alias("fleet.DecisionRecord")]
public sealed record DecisionRecord(
    [property: Id(0)] string Id,
    [property: Id(1)] DateTimeOffset Time,
    [property: Id(2)] string Actor,
    [property: Id(3)] string Subject,
    [property: Id(4)] string Kind,
    [property: Id(5)] string? Action,
    [property: Id(6)] string Reason,
    [property: Id(7)] ImmutableDictionary<string, string> Evidence,
    [property: Id(8)] string? PolicyRule,
    [property: Id(9)] int PolicyVersion,
    [property: Id(10)] string? Guardrail,
    [property: Id(11)] string? Outcome,
    [property: Id(12)] string? IncidentId,
    [property: Id(13)] string? TraceId)
{
    /// <summary>The remediation case the record belongs to, when it belongs to one (a case is one incident, or part of a storm's).</summary>
    [Id(14)] public string? CaseId { get; init; }

    /// <summary>Its place in the trail's chain (set by the store as it appends it; <c>fleet audit verify</c> checks it).</summary>
    [Id(15)] public TrailSeal? Seal { get; init; }
}

/// <summary>
/// A record's link in the trail's chain: the stream it was appended to (one per writer: the embedded store, or a silo's
/// run on Redis), its position there, the MAC of the record before it, and its own MAC — HMAC-SHA256, keyed from the
/// cluster secret, over every field of the record and <see cref="Previous"/>. Whoever can write the store but does not
/// hold the secret cannot change, remove or reorder a record without breaking the chain where it did.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.TrailSeal")]
public sealed record TrailSeal(
    [property: Id(0)] string Stream,
    [property: Id(1)] long Seq,
    [property: Id(2)] string Previous,
    [property: Id(3)] string Mac);

/// <summary>What <c>fleet audit verify</c> found: whether the chain holds, over how much, and the first record that breaks it.</summary>
[GenerateSerializer, Immutable, Alias("fleet.TrailVerification")]
public sealed record TrailVerification(
    [property: Id(0)] bool Holds,
    [property: Id(1)] long Records,
    [property: Id(2)] int Streams,
    [property: Id(3)] string? BrokenAt,
    [property: Id(4)] string? Why,
    [property: Id(5)] long Unsealed,
    [property: Id(6)] int Checkpoints = 0,
    [property: Id(7)] DateTimeOffset? LastCheckpoint = null);

/// <summary>The kinds of decision record.</summary>
public static class DecisionKinds
{
    public const string Registered = "registered";
    public const string Observed = "observed";
    public const string HealthChanged = "health-changed";
    public const string Predicted = "predicted";
    public const string Proposed = "proposed";
    public const string Permitted = "permitted";
    public const string Denied = "denied";
    public const string Executed = "executed";
    public const string Failed = "failed";
    public const string Verified = "verified";
    public const string Escalated = "escalated";
    public const string HandedToHuman = "handed-to-human";
    public const string Released = "released";
    public const string Frozen = "frozen";
    public const string Thawed = "thawed";
    public const string PolicyApplied = "policy-applied";
    public const string Operator = "operator";
    /// <summary>A service instance was placed on a node (a reservation was granted).</summary>
    public const string Placed = "placed";
    /// <summary>A service instance is moved or replaced because of its node (drained, lost).</summary>
    public const string Rescheduled = "rescheduled";
    /// <summary>A service's replicas changed (by load or by hand).</summary>
    public const string Scaled = "scaled";
    /// <summary>A rollout step (or the long-horizon watch) was judged; the reason carries the figures.</summary>
    public const string Judged = "judged";
    /// <summary>A rollout's new version was replaced by the stable one (automatically or by hand).</summary>
    public const string RolledBack = "rolled-back";
    /// <summary>Shadow mode: the loop decided an action and the guardrails were evaluated, but nothing ran.</summary>
    public const string Shadowed = "shadowed";
    /// <summary>A high-risk action waits for a person's approval; <c>approved</c>/<c>rejected</c> record the decision.</summary>
    public const string AwaitingApproval = "awaiting-approval";
    public const string Approved = "approved";
    public const string Rejected = "rejected";
    /// <summary>A signed checkpoint of the trail's chain (subject <c>trail</c>): every stream's end at that moment.</summary>
    public const string Checkpoint = "checkpoint";

    public static readonly ImmutableArray<string> All =
    [
        Registered, Observed, HealthChanged, Predicted, Proposed, Permitted, Denied, Executed, Failed,
        Verified, Escalated, HandedToHuman, Released, Frozen, Thawed, PolicyApplied, Operator, Placed, Rescheduled, Scaled,
        Judged, RolledBack, Shadowed, AwaitingApproval, Approved, Rejected, Checkpoint,
    ];
}

/// <summary>A query over the trail. Results come newest first; <see cref="Before"/> is the cursor of the next page.</summary>
[GenerateSerializer, Immutable, Alias("fleet.AuditQuery")]
public sealed record AuditQuery(
    [property: Id(0)] string? Subject = null,
    [property: Id(1)] string? Kind = null,
    [property: Id(2)] DateTimeOffset? Since = null,
    [property: Id(3)] DateTimeOffset? Until = null,
    [property: Id(4)] int Limit = 100,
    [property: Id(5)] long? Before = null)
{
    /// <summary>Only the records of this incident (a case id, <c>storm/DOMAIN/TIME</c>, <c>rollout/SERVICE/N</c>).</summary>
    [Id(6)] public string? Incident { get; init; }
}

[GenerateSerializer, Immutable, Alias("fleet.AuditPage")]
public sealed record AuditPage(
    [property: Id(0)] ImmutableArray<DecisionRecord> Records,
    [property: Id(1)] long? NextBefore);

[Alias("fleet.IAuditGrain")]
public interface IAuditGrain : IGrainWithIntegerKey
{
    [ReadOnly, Alias("Query"), RequiresRole(FleetRole.Viewer)]
    Task<AuditPage> QueryAsync(AuditQuery query);

    /// <summary>Walks the trail's chain (from <paramref name="since"/>, or all of it) and says whether it holds, or where it breaks.</summary>
    /// <remarks>A walk of a long trail takes longer than an ordinary call may: it has ten minutes.</remarks>
    [ReadOnly, Alias("Verify"), RequiresRole(FleetRole.Viewer), ResponseTimeout("00:10:00")]
    Task<TrailVerification> VerifyAsync(DateTimeOffset? since);
}
