using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Supervision;

/// <summary>
/// The one permit path. First the oversight gate (shadow mode, approvals) for every automatic action, whatever its class;
/// then every scope of the request for its part of the lease, giving back what was granted when one says no: each service
/// the action would take instances from (its disruption budget: the peers are asked before the supervisors), then the
/// security supervisor for containment (its own budget, and the fleet's slot), or each failure domain in name order
/// (each also takes the fleet's slot), or the fleet alone when the request names neither. One lease id (the request id) across every scope, so a retry after a crash finds what it
/// already holds.
/// </summary>
public static class LeaseBroker
{
    public static async Task<LeaseDecision> AcquireLeaseAsync(this IGrainFactory grains, LeaseRequest request)
    {
        // What people keep for themselves comes first: shadow mode and approvals (an operator's own request is not gated).
        if (!request.DryRun && request.Basis != ActionBasis.Operator)
        {
            var gate = await grains.GetGrain<IOversightGrain>(FleetNames.Default).GateAsync(request);
            switch (gate.Kind)
            {
                case GateKind.Shadow:
                    var would = await grains.AcquireLeaseAsync(request with { DryRun = true });
                    return new LeaseDecision(false, null, null, Guardrails.Shadow,
                        would.Granted ? $"would have been permitted: {would.Reason}" : $"would have been denied by {would.Guardrail}: {would.Reason}")
                    {
                        Shadow = gate.Reason, Evidence = would.Evidence,
                    };
                case GateKind.AwaitApproval:
                    return LeaseDecision.Deny(Guardrails.Approval, gate.Reason!,
                        System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("approval", gate.ApprovalId!));
                case GateKind.Rejected:
                    return LeaseDecision.Deny(Guardrails.ApprovalRejected, gate.Reason!,
                        System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("approval", gate.ApprovalId!));
            }
        }
        var services = request.Services.Distinct().Order(StringComparer.Ordinal).ToList();
        var consents = new List<LeaseDecision>();
        foreach (var service in services)
        {
            var consent = await grains.GetGrain<IServiceGrain>(service).ConsentAsync(request);
            if (!consent.Granted)
            {
                if (!request.DryRun)
                    foreach (var held in services.Take(consents.Count)) await grains.GetGrain<IServiceGrain>(held).ReleaseHoldAsync(request.RequestId);
                return consent;
            }
            consents.Add(consent);
        }

        // Containment has a budget of its own: the security supervisor's, which takes the fleet's slot itself.
        if (request.Securities.FirstOrDefault() is { } security)
        {
            var contained = await grains.GetGrain<Abstractions.Principals.ISecuritySupervisorGrain>(security).RequestLeaseAsync(request);
            if (!contained.Granted && !request.DryRun)
                foreach (var held in services) await grains.GetGrain<IServiceGrain>(held).ReleaseHoldAsync(request.RequestId);
            return contained;
        }

        var domains = request.Domains.Distinct().Order(StringComparer.Ordinal).ToList();
        var granted = new List<LeaseDecision>();
        if (domains.Count == 0) granted.Add(await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).AcquireAsync(request, null));
        foreach (var domain in domains)
        {
            var decision = await grains.GetGrain<IDomainSupervisorGrain>(domain).RequestLeaseAsync(request);
            granted.Add(decision);
            if (!decision.Granted) break;
        }
        if (granted[^1] is { Granted: false } denied)
        {
            if (request.DryRun) return denied;
            for (var i = 0; i < granted.Count - 1; i++)
                await grains.GetGrain<IDomainSupervisorGrain>(domains[i]).ReleaseLeaseAsync(request.RequestId, "withdrawn", quiet: true);
            foreach (var held in services) await grains.GetGrain<IServiceGrain>(held).ReleaseHoldAsync(request.RequestId);
            return denied;
        }
        return granted.Count == 1 && consents.Count == 0 ? granted[0] : new LeaseDecision(true, request.RequestId, granted.Min(d => d.ExpiresAt), null,
            string.Join("; ", granted.Concat(consents).Select(d => d.Reason)));
    }

    /// <summary>Frees a lease in every scope that holds it; each domain records the release, each service drops its hold.</summary>
    public static async Task ReleaseLeaseAsync(this IGrainFactory grains, string leaseId, IEnumerable<string> scopes, string outcome)
    {
        var list = scopes.ToList();
        var domains = list.Where(s => Subjects.IsKind(s, Subjects.DomainKind)).Select(Subjects.IdOf).Distinct().ToList();
        var securities = list.Where(s => Subjects.IsKind(s, Subjects.SecurityKind)).Select(Subjects.IdOf).Distinct().ToList();
        foreach (var security in securities) await grains.GetGrain<Abstractions.Principals.ISecuritySupervisorGrain>(security).ReleaseLeaseAsync(leaseId);
        if (domains.Count == 0 && securities.Count == 0) await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).ReleaseAsync(leaseId);
        foreach (var domain in domains) await grains.GetGrain<IDomainSupervisorGrain>(domain).ReleaseLeaseAsync(leaseId, outcome);
        foreach (var service in list.Where(s => Subjects.IsKind(s, Subjects.ServiceKind)).Select(Subjects.IdOf).Distinct())
            await grains.GetGrain<IServiceGrain>(service).ReleaseHoldAsync(leaseId);
    }
}
