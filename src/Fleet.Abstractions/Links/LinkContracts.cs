using System.Collections.Immutable;
using Fleet.Abstractions.Security;

namespace Fleet.Abstractions.Links;

/// <summary>
/// A full-duplex link between two sites, named by both ends in order: <c>a~b</c> with <c>a</c> before <c>b</c>
/// (ordinal). Capacity is per direction. Sites are implied by the links' ends.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.LinkSpec")]
public sealed record LinkSpec(
    [property: Id(0)] string Id,
    [property: Id(1)] string A,
    [property: Id(2)] string B,
    [property: Id(3)] double CapacityMbps,
    [property: Id(4)] double LatencyMs,
    [property: Id(5)] string FailureDomain);

[GenerateSerializer, Alias("fleet.LinkState")]
public enum LinkState
{
    /// <summary>No probe yet, or the last one's TTL passed (stale is not up).</summary>
    Unknown = 0,
    Up = 1,
    /// <summary>Carries traffic, but past the policy's loss or latency: its flows move off make-before-break.</summary>
    Degraded = 2,
    /// <summary>Cut: its flows switch to their backup paths at once.</summary>
    Down = 3,
    /// <summary>Probes are good again, but the link flapped too often: suppressed (not used) until its penalty decays.</summary>
    Damped = 4,
}

/// <summary>One probe result for a link (from whatever measures it: a probe agent, BFD, a monitoring system).</summary>
[GenerateSerializer, Immutable, Alias("fleet.LinkProbe")]
public sealed record LinkProbe(
    [property: Id(0)] string Link,
    [property: Id(1)] bool Up,
    [property: Id(2)] double LatencyMs,
    [property: Id(3)] double LossPercent,
    [property: Id(4)] long Sequence,
    [property: Id(5)] TimeSpan Ttl);

[GenerateSerializer, Alias("fleet.ProbeOutcome")]
public enum ProbeOutcome
{
    Accepted = 0,
    /// <summary>A probe with this sequence number or a higher one was already taken.</summary>
    DuplicateOrOutOfOrder = 1,
    /// <summary>The link is not defined.</summary>
    UnknownLink = 2,
    /// <summary>The sequence is more than <c>LinkMonitor.MaxSequenceJump</c> ahead of the last one taken, while that one is fresh.</summary>
    SequenceTooFarAhead = 3,
}

/// <summary>A link's standing: its health, damping, the capacity reserved on it and the flows it carries.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LinkStatus")]
public sealed record LinkStatus(
    [property: Id(0)] LinkSpec Spec,
    [property: Id(1)] LinkState State,
    [property: Id(2)] DateTimeOffset Since,
    [property: Id(3)] LinkProbe? LastProbe,
    [property: Id(4)] DateTimeOffset? LastProbeAt,
    [property: Id(5)] double Penalty,
    [property: Id(6)] DateTimeOffset? SuppressedUntil,
    [property: Id(7)] int Flaps,
    [property: Id(8)] double ReservedAB,
    [property: Id(9)] double ReservedBA,
    [property: Id(10)] ImmutableArray<string> Flows,
    [property: Id(11)] string Note)
{
    /// <summary>Alerts firing on the link from the team's own alerting (docs/intake.md): while one fires, every probe counts as down.</summary>
    [Id(12)] public ImmutableArray<Nodes.ExternalAlert> Alerts { get; init; } = [];

    /// <summary>A person is deleting the link: it takes no new flow and its flows are moving off (no path is computed over it).</summary>
    [Id(13)] public bool Deleting { get; init; }

    public double FreeAB => Spec.CapacityMbps - ReservedAB;
    public double FreeBA => Spec.CapacityMbps - ReservedBA;
}

/// <summary>A flow of traffic between two sites: its bandwidth demand (Mbit/s) and priority (higher placed first).</summary>
[GenerateSerializer, Immutable, Alias("fleet.FlowSpec")]
public sealed record FlowSpec(
    [property: Id(0)] string Id,
    [property: Id(1)] string Source,
    [property: Id(2)] string Destination,
    [property: Id(3)] double DemandMbps,
    [property: Id(4)] int Priority);

[GenerateSerializer, Alias("fleet.FlowState")]
public enum FlowState
{
    /// <summary>Defined, not placed yet.</summary>
    Pending = 0,
    /// <summary>On a verified path.</summary>
    Active = 1,
    /// <summary>Switched to its pre-reserved backup after a cut; being re-optimised.</summary>
    OnBackup = 2,
    /// <summary>No feasible path: escalated with the reason, picked up again when capacity frees.</summary>
    NoPath = 3,
}

/// <summary>One line of a flow's history.</summary>
[GenerateSerializer, Immutable, Alias("fleet.FlowEvent")]
public sealed record FlowEvent([property: Id(0)] DateTimeOffset At, [property: Id(1)] string What);

/// <summary>A flow's standing: its path (sites, then links), its backup, its home path (the best when placed), its history.</summary>
[GenerateSerializer, Immutable, Alias("fleet.FlowStatus")]
public sealed record FlowStatus(
    [property: Id(0)] FlowSpec Spec,
    [property: Id(1)] FlowState State,
    [property: Id(2)] ImmutableArray<string> Path,
    [property: Id(3)] ImmutableArray<string> Links,
    [property: Id(4)] ImmutableArray<string> Backup,
    [property: Id(5)] ImmutableArray<string> BackupLinks,
    [property: Id(6)] DateTimeOffset Since,
    [property: Id(7)] string? Problem,
    [property: Id(8)] ImmutableArray<FlowEvent> History);

/// <summary>A link's answer to a reservation: granted (or shared with what the flow already holds there), or refused with the free capacity.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LinkReservation")]
public sealed record LinkReservation(
    [property: Id(0)] bool Granted,
    [property: Id(1)] bool Shared,
    [property: Id(2)] double FreeMbps,
    [property: Id(3)] string? Why);

/// <summary>The network's topology as every silo's path computation sees it: the links and their standing, versioned.</summary>
[GenerateSerializer, Immutable, Alias("fleet.NetworkView")]
public sealed record NetworkView(
    [property: Id(0)] long Version,
    [property: Id(1)] ImmutableArray<LinkStatus> Links,
    [property: Id(2)] ImmutableArray<string> Flows,
    [property: Id(3)] string? StormNote);

/// <summary>One network link (keyed <c>a~b</c>): probes, health, damping, capacity reservations, the flows it carries.</summary>
[Alias("fleet.ILinkGrain")]
public interface ILinkGrain : Actions.IActionOwner
{
    [Alias("Define"), RequiresRole(FleetRole.Admin)]
    Task<LinkStatus> DefineAsync(LinkSpec spec, string by);

    [ReadOnly, Alias("GetStatus"), RequiresRole(FleetRole.Viewer)]
    Task<LinkStatus?> GetStatusAsync();

    /// <summary>
    /// A person deletes the link (docs/network.md#deleting-links-and-flows): it takes no new flow, every flow it carries
    /// moves off make-before-break (and every backup over it is made again elsewhere), then it leaves the topology. Refused
    /// (<see cref="Supervision.ActionRefusedException"/>, nothing deleted, the flows that could move moved) when a flow has no
    /// other path. Not found (<see cref="TopologyNotFoundException"/>) when the link is not defined.
    /// </summary>
    [Alias("Delete"), RequiresRole(FleetRole.Admin)]
    Task<string> DeleteAsync(string by, string? reason);

    [Alias("Probe"), RequiresRole(FleetRole.Agent)]
    Task<ProbeOutcome> ProbeAsync(LinkProbe probe);

    /// <summary>
    /// An alert from the team's alerting fires on the link, or is resolved (intake's Alertmanager receiver; no role: only the
    /// silo calls it). Null when the link is not defined.
    /// </summary>
    [Alias("Alert")]
    Task<LinkStatus?> AlertAsync(Nodes.ExternalAlert alert, bool firing);

    /// <summary>Reserves capacity for a flow in one direction (from <paramref name="fromSite"/>), pending until committed or expired; a flow's second reservation here is shared with its first.</summary>
    [AlwaysInterleave, Alias("Reserve")]
    Task<LinkReservation> ReserveAsync(string flow, string fromSite, double mbps, int priority, bool backup);

    /// <summary>A cut: the flow's committed backup reservation here becomes its path's (no capacity counted twice). False when it holds none.</summary>
    [AlwaysInterleave, Alias("Promote")]
    Task<bool> PromoteAsync(string flow);

    [AlwaysInterleave, Alias("Commit")]
    Task<bool> CommitAsync(string flow, bool backup);

    [AlwaysInterleave, Alias("Release")]
    Task ReleaseAsync(string flow, bool backup);

    /// <summary>Tells the network the link's standing again (sent by the network's supervisor when it starts).</summary>
    [OneWay, Alias("Announce")]
    Task AnnounceAsync();

    /// <summary>Something fell due (a probe's TTL, damping, a retry): judge again. Sent by its timer.</summary>
    [OneWay, Alias("Wake")]
    Task WakeAsync();
}

/// <summary>One flow (keyed by flow id): its path, its backup, its moves.</summary>
[Alias("fleet.IFlowGrain")]
public interface IFlowGrain : Actions.IActionOwner
{
    [Alias("Define"), RequiresRole(FleetRole.Admin)]
    Task<FlowStatus> DefineAsync(FlowSpec spec, string by);

    [ReadOnly, Alias("GetStatus"), RequiresRole(FleetRole.Viewer)]
    Task<FlowStatus?> GetStatusAsync();

    /// <summary>
    /// A person deletes the flow: its capacity on every link of its path and backup is released, it leaves the network's
    /// registry, its trail stays. Not found (<see cref="TopologyNotFoundException"/>) when the flow is not defined.
    /// </summary>
    [Alias("Delete"), RequiresRole(FleetRole.Admin)]
    Task<string> DeleteAsync(string by, string? reason);

    /// <summary>A link on the flow's path (or its backup) failed: <paramref name="cut"/> switches to the backup at once, else moves make-before-break. Returns a line for the link's summary.</summary>
    [Alias("LinkFailed")]
    Task<string> LinkFailedAsync(string link, bool cut, string why);

    /// <summary>Capacity freed or a link recovered: a flow without a path tries again, a displaced flow may return home.</summary>
    [OneWay, Alias("Retry")]
    Task RetryAsync(string why);
}

/// <summary>The network (keyed by fleet name): the topology's registry, the views silos compute paths on, the storm brake.</summary>
[Alias("fleet.INetworkGrain")]
public interface INetworkGrain : IGrainWithStringKey
{
    [ReadOnly, Alias("GetView"), RequiresRole(FleetRole.Viewer)]
    Task<NetworkView> GetViewAsync();

    /// <summary>A link's standing changed (or it was defined): the view's next version carries it.</summary>
    [Alias("LinkChanged")]
    Task LinkChangedAsync(LinkStatus status);

    [Alias("FlowDefined")]
    Task FlowDefinedAsync(string flow);

    /// <summary>A link or a flow was deleted: it leaves the registry and the view.</summary>
    [Alias("Removed")]
    Task RemovedAsync(string? link, string? flow);

    /// <summary>A link lost its probes: is this one of many at once (suspect telemetry)? Null when not; else why the brake holds.</summary>
    [Alias("LinkLost")]
    Task<string?> LinkLostAsync(string link);

    /// <summary>A flow is waiting for capacity; it is told to retry when a link recovers or capacity frees.</summary>
    [Alias("Waiting")]
    Task WaitingAsync(string flow, bool waiting);

    /// <summary>Capacity freed or a link recovered: waiting flows are told to retry.</summary>
    [OneWay, Alias("CapacityFreed")]
    Task CapacityFreedAsync(string why);
}

/// <summary>An operator command named a link or a flow that is not defined.</summary>
[GenerateSerializer, Alias("fleet.TopologyNotFoundException")]
public sealed class TopologyNotFoundException(string message) : Exception(message);
