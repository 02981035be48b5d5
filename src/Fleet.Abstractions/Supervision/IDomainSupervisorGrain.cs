using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Abstractions.Supervision;

/// <summary>One failure domain (zone/rack). Keyed by domain name. Owns leases, budgets and the storm brake.</summary>
[Alias("fleet.IDomainSupervisorGrain")]
public interface IDomainSupervisorGrain : IGrainWithStringKey
{
    [Alias("RequestLease")]
    Task<LeaseDecision> RequestLeaseAsync(LeaseRequest request);

    [Alias("ReleaseLease")]
    Task ReleaseLeaseAsync(string leaseId, string nodeId, string outcome);

    /// <summary>A member tells its health; a node seen for the first time joins the domain.</summary>
    [Alias("ReportMember")]
    Task ReportMemberAsync(NodeSummary member);

    [Alias("RemoveMember")]
    Task RemoveMemberAsync(string nodeId);

    [ReadOnly, Alias("GetMembers")]
    Task<ImmutableArray<NodeSummary>> GetMembersAsync();

    [Alias("GetStatus")]
    Task<DomainStatus> GetStatusAsync();
}
