using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Supervision;

/// <summary>
/// Asks every scope of a lease request for its part of the lease, and gives back what was granted when one says no:
/// each failure domain in name order (each also takes the fleet's slot), or the fleet alone when the request names no
/// domain. One lease id (the request id) across every scope, so a retry after a crash finds what it already holds.
/// </summary>
public static class LeaseBroker
{
    public static async Task<LeaseDecision> AcquireLeaseAsync(this IGrainFactory grains, LeaseRequest request)
    {
        var domains = request.Domains.Distinct().Order(StringComparer.Ordinal).ToList();
        if (domains.Count == 0)
            return await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).AcquireAsync(request, null);

        var granted = new List<LeaseDecision>();
        foreach (var domain in domains)
        {
            var decision = await grains.GetGrain<IDomainSupervisorGrain>(domain).RequestLeaseAsync(request);
            if (!decision.Granted)
            {
                for (var i = 0; i < granted.Count; i++)
                    await grains.GetGrain<IDomainSupervisorGrain>(domains[i]).ReleaseLeaseAsync(request.RequestId, "withdrawn", quiet: true);
                return decision;
            }
            granted.Add(decision);
        }
        return granted.Count == 1 ? granted[0] : new LeaseDecision(true, request.RequestId, granted.Min(d => d.ExpiresAt), null,
            string.Join("; ", granted.Select(d => d.Reason)));
    }

    /// <summary>Frees a lease in every scope that holds it; each domain records the release.</summary>
    public static async Task ReleaseLeaseAsync(this IGrainFactory grains, string leaseId, IEnumerable<string> scopes, string outcome)
    {
        var domains = scopes.Where(s => Subjects.IsKind(s, Subjects.DomainKind)).Select(Subjects.IdOf).Distinct().ToList();
        if (domains.Count == 0) await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).ReleaseAsync(leaseId);
        foreach (var domain in domains) await grains.GetGrain<IDomainSupervisorGrain>(domain).ReleaseLeaseAsync(leaseId, outcome);
    }
}
