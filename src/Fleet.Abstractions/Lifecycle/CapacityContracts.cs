using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Security;

namespace Fleet.Abstractions.Lifecycle;

/// <summary>What one service cannot place: how many instances are Pending for lack of room, what each needs, and since when.</summary>
[GenerateSerializer, Immutable, Alias("fleet.CapacityDemand")]
public sealed record CapacityDemand(
    [property: Id(0)] string Service,
    [property: Id(1)] int Pending,
    [property: Id(2)] double CpuCores,
    [property: Id(3)] long MemoryBytes,
    [property: Id(4)] ImmutableDictionary<string, string> Labels,
    [property: Id(5)] DateTimeOffset Since);

[GenerateSerializer, Alias("fleet.ProvisionPhase")]
public enum ProvisionPhase
{
    /// <summary>Permitted; the provisioner is being asked.</summary>
    Asking = 0,
    /// <summary>The provisioner took the request; its machines count as on their way until they register or the arrival timeout passes.</summary>
    Sent = 1,
    /// <summary>The provisioner refused or could not be reached.</summary>
    Failed = 2,
    /// <summary>Its machines did not all register within the policy's arrival timeout; they no longer count as on their way.</summary>
    TimedOut = 3,
}

/// <summary>One request for machines to the provisioner: its idempotency key, where, how many, why, and which machines have arrived for it.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ProvisionRequest")]
public sealed record ProvisionRequest(
    [property: Id(0)] string Key,
    [property: Id(1)] string Shape,
    [property: Id(2)] string Domain,
    [property: Id(3)] int Count,
    [property: Id(4)] DateTimeOffset At,
    [property: Id(5)] string Reason,
    [property: Id(6)] ProvisionPhase Phase)
{
    [Id(7)] public string? LeaseId { get; init; }
    [Id(8)] public ImmutableArray<string> Scopes { get; init; } = [];
    /// <summary>The machines that registered with this request's key (the label <c>provision-request</c>).</summary>
    [Id(9)] public ImmutableArray<string> Arrived { get; init; } = [];
    [Id(10)] public string? Detail { get; init; }

    /// <summary>The machines of this request that passed their burn-in and serve (take work).</summary>
    [Id(11)] public ImmutableArray<string> Serving { get; init; } = [];

    /// <summary>When the last of its machines began to serve: the Pending instances get <c>pendingFor</c> to land on it before more are asked.</summary>
    [Id(12)] public DateTimeOffset? LastServingAt { get; init; }

    /// <summary>
    /// Machines asked for and not yet serving, while they count as on their way: a machine that arrived and is still in its
    /// burn-in is on its way too (the instances waiting for it cannot land yet), so it is not asked for again.
    /// </summary>
    public int OnTheWay => Phase is ProvisionPhase.Asking or ProvisionPhase.Sent ? Math.Max(0, Count - Serving.Length) : 0;
}

/// <summary>The capacity supervisor's view: each service's unplaceable demand, the requests made, and what holds the next one back.</summary>
[GenerateSerializer, Immutable, Alias("fleet.CapacityStatus")]
public sealed record CapacityStatus(
    [property: Id(0)] ImmutableArray<CapacityDemand> Demands,
    [property: Id(1)] ImmutableArray<ProvisionRequest> Requests,
    [property: Id(2)] string? HeldBy,
    [property: Id(3)] string Plan)
{
    /// <summary>The maintenance train retiring a domain now, or the last one (with when it finished).</summary>
    [Id(4)] public TrainRun? Train { get; init; }
}

/// <summary>
/// A maintenance train (docs/lifecycle.md#maintenance-train): a person retires a whole domain; the capacity supervisor
/// cordons its nodes and decommissions them a batch at a time, each under a lease from the permit path. One runs at a time,
/// so everything but one domain keeps serving.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.TrainRun")]
public sealed record TrainRun(
    [property: Id(0)] string Domain,
    [property: Id(1)] string By,
    [property: Id(2)] string? Reason,
    [property: Id(3)] DateTimeOffset Since,
    [property: Id(4)] int Batch)
{
    /// <summary>The nodes the train has asked to retire (draining or retired since).</summary>
    [Id(5)] public ImmutableArray<string> Started { get; init; } = [];
    /// <summary>Nodes it started that a person brought back into service (admitted or uncordoned): the train leaves them be.</summary>
    [Id(6)] public ImmutableArray<string> Skipped { get; init; } = [];
    /// <summary>What held the last step back (node and guardrail), so a repeat is not recorded again.</summary>
    [Id(7)] public string? HeldBy { get; init; }
    /// <summary>Numbers each lease request (a hard refusal asks anew under the next number; shadow and approvals keep theirs).</summary>
    [Id(8)] public int Attempts { get; init; }
    /// <summary>When it finished (every node retired or left by a person) or was stopped; null while it runs.</summary>
    [Id(9)] public DateTimeOffset? Finished { get; init; }
    /// <summary>How it ended, or where it stands, in one sentence.</summary>
    [Id(10)] public string Progress { get; init; } = "starting";
    /// <summary>The domain's members when the train started.</summary>
    [Id(11)] public int Nodes { get; init; }
    /// <summary>The nodes the train cordoned: uncordoned again when it is stopped before asking them to retire.</summary>
    [Id(12)] public ImmutableArray<string> Cordoned { get; init; } = [];

    public bool Running => Finished is null;
}

/// <summary>
/// The capacity supervisor (key <c>default</c>, subject <c>capacity/default</c>): hears each service's Pending demand and
/// asks the provisioner for machines under the policy's <c>lifecycle.provision</c> (docs/lifecycle.md#provisioning).
/// </summary>
[Alias("fleet.ICapacityGrain")]
public interface ICapacityGrain : IActionOwner
{
    /// <summary>A service's unplaceable demand now (Pending 0: none). Sent by the service's own loop when it changes.</summary>
    [OneWay, Alias("Demand")]
    Task DemandAsync(CapacityDemand demand);

    /// <summary>A machine registered with a request's key (its label <c>provision-request</c>). Sent by the node.</summary>
    [OneWay, Alias("Arrived")]
    Task ArrivedAsync(string key, string node);

    /// <summary>A machine of a request passed its burn-in (or had none) and serves. Sent by the node.</summary>
    [OneWay, Alias("Serving")]
    Task ServingAsync(string key, string node);

    [ReadOnly, Alias("GetStatus"), RequiresRole(FleetRole.Viewer)]
    Task<CapacityStatus> GetStatusAsync();

    /// <summary>What the consolidation planner would do now, from the fleet's inventory and its services (nothing runs).</summary>
    [ReadOnly, Alias("Plan"), RequiresRole(FleetRole.Viewer)]
    Task<ConsolidationPlan> PlanAsync();

    /// <summary>
    /// A person retires a whole domain (a maintenance train, docs/lifecycle.md#maintenance-train): refused
    /// (<see cref="Supervision.ActionRefusedException"/>) while another domain's train runs, or, unless
    /// <paramref name="force"/>, when the rest of the fleet has no room for the domain's instances. Asking again for the
    /// same domain while its train runs changes nothing.
    /// </summary>
    [Alias("RetireDomain"), RequiresRole(FleetRole.Operator)]
    Task<TrainRun> RetireDomainAsync(string domain, string by, string? reason, int batch = 1, bool force = false);

    /// <summary>
    /// Stops the train retiring <paramref name="domain"/>: no further node is asked; those already draining finish (admit
    /// them to stop them). Refused when no train is retiring that domain.
    /// </summary>
    [Alias("StopTrain"), RequiresRole(FleetRole.Operator)]
    Task<TrainRun> StopTrainAsync(string domain, string by, string? reason);

    /// <summary>The policy changed: consolidation may have been turned on or off. Sent by the policy grain.</summary>
    [OneWay, Alias("PolicyChanged")]
    Task PolicyChangedAsync();
}

/// <summary>One instance the consolidation planner would move make-before-break, and the minutes its start costs.</summary>
[GenerateSerializer, Immutable, Alias("fleet.PlannedMove")]
public sealed record PlannedMove(
    [property: Id(0)] string Service,
    [property: Id(1)] string Instance,
    [property: Id(2)] string From,
    [property: Id(3)] string To,
    [property: Id(4)] double StartMinutes);

/// <summary>A node the planner looked at: freed (its moves accepted) or kept, with why, what freeing it saves and what it disrupts.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ConsolidationCandidate")]
public sealed record ConsolidationCandidate(
    [property: Id(0)] string NodeId,
    [property: Id(1)] bool Accepted,
    [property: Id(2)] string Why,
    [property: Id(3)] double Saving,
    [property: Id(4)] double Disruption,
    [property: Id(5)] ImmutableArray<PlannedMove> Moves);

/// <summary>What the consolidation planner would do (docs/lifecycle.md#consolidation): every node looked at, and a summary.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ConsolidationPlan")]
public sealed record ConsolidationPlan(
    [property: Id(0)] ImmutableArray<ConsolidationCandidate> Candidates,
    [property: Id(1)] string Summary)
{
    public IEnumerable<ConsolidationCandidate> Freed => Candidates.Where(c => c.Accepted);
    public IEnumerable<PlannedMove> Moves => Freed.SelectMany(c => c.Moves);
}

public static class ProvisionLabels
{
    /// <summary>The label a provisioner puts on the machines it brings for a request: the request's idempotency key.</summary>
    public const string Request = "provision-request";
}
