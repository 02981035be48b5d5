using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;

namespace Fleet.Client;

/// <summary>Fleet's client SDK: query and steer the fleet. Input is checked here before it is sent.</summary>
public interface IFleetClient
{
    Task<NodeStatus> RegisterNodeAsync(NodeRegistration registration, CancellationToken cancellationToken = default);

    Task<ReportResult> ReportAsync(string nodeId, TelemetryReport report, CancellationToken cancellationToken = default);

    /// <summary>The node's status; null when it was never registered.</summary>
    Task<NodeStatus?> GetNodeAsync(string nodeId, CancellationToken cancellationToken = default);

    Task<ImmutableArray<NodeSummary>> ListNodesAsync(HealthState? health = null, string? domain = null, CancellationToken cancellationToken = default);

    Task<NodeStatus> CordonAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default);

    Task<NodeStatus> UncordonAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default);

    Task<NodeStatus> DrainAsync(string nodeId, string by, string? reason, CancellationToken cancellationToken = default);

    Task<AuditPage> QueryAuditAsync(AuditQuery query, CancellationToken cancellationToken = default);

    Task<PolicyVersionInfo> GetPolicyAsync(CancellationToken cancellationToken = default);

    Task<PolicyApplyResult> ApplyPolicyAsync(string yaml, string by, CancellationToken cancellationToken = default);

    Task<ImmutableArray<PolicyVersionInfo>> GetPolicyHistoryAsync(CancellationToken cancellationToken = default);

    Task<FleetStatus> FreezeAsync(string by, string reason, CancellationToken cancellationToken = default);

    Task<FleetStatus> UnfreezeAsync(string by, string? reason, CancellationToken cancellationToken = default);

    Task<(FleetStatus Fleet, ImmutableArray<DomainStatus> Domains)> GetFleetAsync(CancellationToken cancellationToken = default);
}
