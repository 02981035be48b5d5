using Fleet.Abstractions.Actions;

namespace Fleet.Abstractions.Nodes;

/// <summary>One server. Keyed by node id.</summary>
[Alias("fleet.INodeGrain")]
public interface INodeGrain : IActionOwner
{
    /// <summary>Registers the node, or updates its domain, capacity and labels. Returns its status.</summary>
    [Alias("Register")]
    Task<NodeStatus> RegisterAsync(NodeRegistration registration);

    [Alias("Report")]
    Task<ReportResult> ReportAsync(TelemetryReport report);

    /// <summary>The node's status; null when the node was never registered.</summary>
    [ReadOnly, Alias("GetStatus")]
    Task<NodeStatus?> GetStatusAsync();

    [Alias("Cordon")]
    Task<NodeStatus> CordonAsync(string by, string? reason);

    [Alias("Uncordon")]
    Task<NodeStatus> UncordonAsync(string by, string? reason);

    /// <summary>
    /// An operator's drain: asks the supervisors (and the services on the node) for a lease like any disruptive action
    /// and throws <see cref="Supervision.ActionRefusedException"/> when one says no. <paramref name="force"/> skips the
    /// concurrency and rate budgets, never a service's minimum of healthy instances, a storm brake or a freeze.
    /// </summary>
    [Alias("Drain")]
    Task<NodeStatus> DrainAsync(string by, string? reason, bool force = false);

    /// <summary>Wakes the node's grain (and so its silence timer) without waiting for it; sent by its domain's watchdog.</summary>
    [OneWay, AlwaysInterleave, Alias("Ping")]
    Task PingAsync();

    /// <summary>A peer tells what it saw when it probed this node; it confirms (or disputes) a silence.</summary>
    [OneWay, Alias("PeerObserved")]
    Task PeerObservedAsync(PeerView view);
}
