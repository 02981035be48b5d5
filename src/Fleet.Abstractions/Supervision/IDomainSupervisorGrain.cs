using Fleet.Abstractions.Security;
using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Abstractions.Supervision;

/// <summary>One failure domain (zone/rack). Keyed by domain name. Owns leases, budgets and the storm brake.</summary>
[Alias("fleet.IDomainSupervisorGrain")]
public interface IDomainSupervisorGrain : IGrainWithStringKey
{
    /// <summary>Decides a lease against this domain's budget (and the fleet's). The lease id is the request id.</summary>
    [Alias("RequestLease")]
    Task<LeaseDecision> RequestLeaseAsync(LeaseRequest request);

    /// <summary>Frees a lease. <paramref name="quiet"/>: a grant withdrawn before use (another scope said no), not recorded.</summary>
    [Alias("ReleaseLease")]
    Task ReleaseLeaseAsync(string leaseId, string outcome, bool quiet = false);

    /// <summary>A member tells its health; a node seen for the first time joins the domain.</summary>
    [Alias("ReportMember")]
    Task ReportMemberAsync(NodeSummary member);

    [Alias("RemoveMember")]
    Task RemoveMemberAsync(string nodeId);

    /// <summary>Up to <paramref name="max"/> members whose inventory row says they may take the ask, the roomiest first.</summary>
    [ReadOnly, Alias("GetCandidates")]
    Task<ImmutableArray<NodeSummary>> GetCandidatesAsync(Services.PlacementAsk ask, int max);

    [ReadOnly, Alias("GetMembers"), RequiresRole(FleetRole.Viewer)]
    Task<ImmutableArray<NodeSummary>> GetMembersAsync();

    [Alias("GetStatus"), RequiresRole(FleetRole.Viewer)]
    Task<DomainStatus> GetStatusAsync();
}
