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

    [Alias("Drain")]
    Task<NodeStatus> DrainAsync(string by, string? reason);

    /// <summary>Wakes the node's grain (and so its silence timer) without waiting for it; sent by its domain's watchdog.</summary>
    [OneWay, AlwaysInterleave, Alias("Ping")]
    Task PingAsync();

    /// <summary>A peer tells what it saw when it probed this node; it confirms (or disputes) a silence.</summary>
    [OneWay, Alias("PeerObserved")]
    Task PeerObservedAsync(PeerView view);
}
