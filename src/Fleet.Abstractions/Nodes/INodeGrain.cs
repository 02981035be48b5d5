using Fleet.Abstractions.Security;
using Fleet.Abstractions.Actions;

namespace Fleet.Abstractions.Nodes;

/// <summary>One server. Keyed by node id.</summary>
[Alias("fleet.INodeGrain")]
public interface INodeGrain : IActionOwner
{
    /// <summary>Registers the node, or updates its domain, capacity and labels. Returns its status.</summary>
    [Alias("Register"), RequiresRole(FleetRole.Agent, OwnNode = true)]
    Task<NodeStatus> RegisterAsync(NodeRegistration registration);

    [Alias("Report"), RequiresRole(FleetRole.Agent, OwnNode = true)]
    Task<ReportResult> ReportAsync(TelemetryReport report);

    /// <summary>The node's status; null when the node was never registered.</summary>
    [ReadOnly, Alias("GetStatus"), RequiresRole(FleetRole.Viewer)]
    Task<NodeStatus?> GetStatusAsync();

    [Alias("Cordon"), RequiresRole(FleetRole.Operator)]
    Task<NodeStatus> CordonAsync(string by, string? reason);

    [Alias("Uncordon"), RequiresRole(FleetRole.Operator)]
    Task<NodeStatus> UncordonAsync(string by, string? reason);

    /// <summary>
    /// An operator's drain: asks the supervisors (and the services on the node) for a lease like any disruptive action
    /// and throws <see cref="Supervision.ActionRefusedException"/> when one says no. <paramref name="force"/> skips the
    /// concurrency and rate budgets, never a service's minimum of healthy instances, a storm brake or a freeze.
    /// </summary>
    [Alias("Drain"), RequiresRole(FleetRole.Operator)]
    Task<NodeStatus> DrainAsync(string by, string? reason, bool force = false);

    /// <summary>
    /// A person retires the node (docs/lifecycle.md): permitted as a drain is (the services' budgets; refused with
    /// <see cref="Supervision.ActionRefusedException"/>), it is cordoned and its instances move off make-before-break; once
    /// nothing is left on it the node is retired (Decommissioned): no work, no reports, out of its domain's inventory, still
    /// in the trail. Asking again while it drains or once it is retired changes nothing.
    /// </summary>
    [Alias("Decommission"), RequiresRole(FleetRole.Operator)]
    Task<NodeStatus> DecommissionAsync(string by, string? reason, bool force = false);

    /// <summary>
    /// A person admits the node into service: from its burn-in or its quarantine at once; from retirement back into its
    /// inventory (through a burn-in again when the policy asks one); a decommission still draining is stopped.
    /// </summary>
    [Alias("Admit"), RequiresRole(FleetRole.Operator)]
    Task<NodeStatus> AdmitAsync(string by, string? reason);

    /// <summary>
    /// The capacity supervisor retires this node under <paramref name="lease"/> (granted by the permit path for its action:
    /// consolidate, give-back): it drains and retires as a decommission does (at once when nothing is on it). False (and the
    /// lease untouched) when the node is not serving with no hold. For the capacity supervisor only (no client calls it through the gateway).
    /// </summary>
    [Alias("RetireUnderLease")]
    Task<bool> RetireUnderLeaseAsync(Supervision.HeldLease lease, string why);

    /// <summary>
    /// A domain's maintenance train asks this node to retire: permitted as a person's decommission is, under
    /// <paramref name="requestId"/> (kept while shadow mode or an approval holds it); the permit path's answer is returned,
    /// a refusal neither thrown nor recorded here (the train records what holds it, once). For the capacity supervisor only.
    /// </summary>
    [Alias("DecommissionForTrain")]
    Task<Supervision.LeaseDecision> DecommissionForTrainAsync(string requestId, string by, string why);

    /// <summary>Wakes the node's grain (and so its wake-ups) without waiting for it; sent by its domain's watchdog.</summary>
    [OneWay, AlwaysInterleave, Alias("Ping")]
    Task PingAsync();

    /// <summary>Something about the node fell due (its silence, its report's expiry, its case): judge and act. Sent by the silo's wake-ups.</summary>
    [OneWay, Alias("Wake")]
    Task WakeAsync();

    /// <summary>
    /// An alert from the team's own alerting (Alertmanager) on this node, firing or resolved. For the silo's intake only (no
    /// client calls it through the gateway). Null when the node is not registered.
    /// </summary>
    [Alias("Alert")]
    Task<NodeStatus?> AlertAsync(ExternalAlert alert, bool firing);

    /// <summary>A peer tells what it saw when it probed this node; it confirms (or disputes) a silence.</summary>
    [OneWay, Alias("PeerObserved")]
    Task PeerObservedAsync(PeerView view);

    /// <summary>The node's offer for one instance: its free room and whether it would take it. Interleaves with the node's loop.</summary>
    [ReadOnly, AlwaysInterleave, Alias("Offer")]
    Task<Services.CapacityOffer> OfferAsync(Services.PlacementAsk ask);

    /// <summary>Reserves room for one instance, or refuses (full, unhealthy, cordoned, draining, lacking a label).
    /// The reservation expires after the ask's TTL unless confirmed.</summary>
    [AlwaysInterleave, Alias("Reserve")]
    Task<Services.ReservationResult> ReserveAsync(Services.PlacementAsk ask);

    /// <summary>The instance started: its reservation no longer expires. False when the reservation is gone (expired).</summary>
    [AlwaysInterleave, Alias("Confirm")]
    Task<bool> ConfirmAsync(string service, string instance);

    [AlwaysInterleave, Alias("ReleasePlacement")]
    Task ReleasePlacementAsync(string service, string instance);

    /// <summary>What a service needs of this node: its health, admin state, case and placements. Null when not registered.</summary>
    [ReadOnly, AlwaysInterleave, Alias("GetView")]
    Task<Services.NodeView?> GetViewAsync();
}
