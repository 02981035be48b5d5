using System.Collections.Immutable;
using Fleet.Abstractions.Principals;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Text;
using Fleet.Grains.Policy;

namespace Fleet.Grains.Security;

[GenerateSerializer, Immutable, Alias("fleet.SecuritySupervisorState")]
public sealed record SecuritySupervisorState([property: Id(0)] ImmutableSortedSet<string> Principals)
{
    public SecuritySupervisorState() : this(ImmutableSortedSet<string>.Empty) { }

    /// <summary>Principals with enough history to be judged: the storm share's denominator, kept across restarts.</summary>
    [Id(1)] public ImmutableSortedSet<string> Judged { get; init; } = ImmutableSortedSet<string>.Empty;
}

/// <summary>
/// The supervisor of every principal. It tells one account's anomaly from a fleet-wide shift (when at least
/// <c>security.stormShare</c> of the judged principals turn anomalous within <c>security.stormWindow</c> — a release that
/// doubles everyone's egress — it is a storm: nothing is contained, one escalation says why), holds the containment class's
/// own budget (<c>security.maxConcurrent</c> in flight) and asks the fleet supervisor for the fleet's slot (the fleet's
/// cap applies; a freeze and the domains' storm brakes do not hold containment). The anomaly window and the leases are
/// soft state: after a restart they start empty, as a domain's storm count does.
/// </summary>
public sealed class SecuritySupervisorGrain(
    [PersistentState("security", StorageNames.Fleet)] IPersistentState<SecuritySupervisorState> state,
    PolicyCache policies, TimeProvider time) : Grain, ISecuritySupervisorGrain
{
    private readonly Dictionary<string, DateTimeOffset> _anomalies = [];
    private readonly Dictionary<string, DateTimeOffset> _leases = [];

    public async Task KnownAsync(string principal)
    {
        if (state.State.Principals.Contains(principal)) return;
        state.State = new SecuritySupervisorState(state.State.Principals.Add(principal));
        await state.WriteStateAsync();
    }

    public Task<ImmutableArray<string>> ListAsync() => Task.FromResult(state.State.Principals.ToImmutableArray());

    public async Task JudgedAsync(string principal)
    {
        if (state.State.Judged.Contains(principal)) return;
        state.State = state.State with { Judged = state.State.Judged.Add(principal) };
        await state.WriteStateAsync();
    }

    public async Task<SecurityVerdict> AnomalyAsync(string principal, DateTimeOffset at)
    {
        var policy = policies.Current.Security;
        var now = time.GetUtcNow();
        await JudgedAsync(principal);
        _anomalies[principal] = now;
        ForgetOldAnomalies(now, policy);
        return Verdict(policy);
    }

    /// <summary>Anomalies older than the storm window no longer count toward a storm.</summary>
    private void ForgetOldAnomalies(DateTimeOffset now, Abstractions.Policy.SecurityPolicy policy)
    {
        foreach (var (p, when) in _anomalies.ToList())
            if (now - when > policy.StormWindow) _anomalies.Remove(p);
    }

    private SecurityVerdict Verdict(Abstractions.Policy.SecurityPolicy policy)
    {
        var judged = Math.Max(state.State.Judged.Count, _anomalies.Count);
        var storm = judged >= policy.StormMinPrincipals && _anomalies.Count >= Math.Max(2, Math.Ceiling(policy.StormShare * judged));
        return new SecurityVerdict(storm, _anomalies.Count, judged);
    }

    public async Task<LeaseDecision> RequestLeaseAsync(LeaseRequest request)
    {
        var policy = policies.Current;
        var now = time.GetUtcNow();
        foreach (var (id, until) in _leases.ToList())
            if (until <= now) _leases.Remove(id);
        if (_leases.ContainsKey(request.RequestId)) return new LeaseDecision(true, request.RequestId, _leases[request.RequestId], null, "the containment slot was already held");
        ForgetOldAnomalies(now, policy.Security);
        var verdict = Verdict(policy.Security);
        var evidence = ImmutableDictionary<string, string>.Empty
            .Add("containmentsInFlight", $"{_leases.Count} of {policy.Security.MaxConcurrent}")
            .Add("anomalousPrincipals", $"{verdict.Anomalous} of {verdict.Judged} judged in {Format.Duration(policy.Security.StormWindow)}");
        if (verdict.Storm)
            return LeaseDecision.Deny(Guardrails.SecurityStorm,
                $"{verdict.Anomalous} of {verdict.Judged} judged principals turned anomalous within {Format.Duration(policy.Security.StormWindow)} " +
                $"(security.stormShare {Format.Percent(policy.Security.StormShare * 100)}): a fleet-wide shift, not an attack on each", evidence);
        if (_leases.Count >= policy.Security.MaxConcurrent)
            return LeaseDecision.Deny(Guardrails.ContainmentBudget,
                $"{_leases.Count} of {policy.Security.MaxConcurrent} containments were in flight (security.maxConcurrent)", evidence);
        var expires = now + policy.Guardrails.LeaseDuration;
        var fleet = await GrainFactory.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).AcquireAsync(request, expires);
        if (!fleet.Granted) return fleet;
        // Shadow mode's "would it have been permitted?": evaluated, nothing held.
        var inFlight = _leases.Count;
        if (!request.DryRun) _leases[request.RequestId] = expires;
        return new LeaseDecision(true, request.RequestId, expires, null,
            $"{inFlight} of {policy.Security.MaxConcurrent} containments were in flight and {verdict.Anomalous} of {verdict.Judged} judged principals anomalous; {fleet.Reason}")
            { Evidence = evidence };
    }

    /// <summary>Frees the slot here and the fleet's (always: after a restart this grain no longer knows the lease, the fleet still does).</summary>
    public async Task ReleaseLeaseAsync(string leaseId)
    {
        _leases.Remove(leaseId);
        await GrainFactory.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).ReleaseAsync(leaseId);
    }
}
