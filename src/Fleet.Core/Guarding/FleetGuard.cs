using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;

namespace Fleet.Core.Guarding;

[GenerateSerializer, Immutable, Alias("fleet.FleetGuardState")]
public sealed record FleetGuardState(
    [property: Id(0)] bool Frozen,
    [property: Id(1)] string? FreezeReason,
    [property: Id(2)] string? FrozenBy,
    [property: Id(3)] DateTimeOffset? FrozenAt,
    [property: Id(4)] ImmutableDictionary<string, DateTimeOffset> Leases,
    [property: Id(5)] ImmutableSortedSet<string> Domains)
{
    public FleetGuardState() : this(false, null, null, null,
        ImmutableDictionary<string, DateTimeOffset>.Empty, ImmutableSortedSet<string>.Empty) { }

    public static FleetGuardState Empty { get; } = new();
}

/// <summary>Fleet-wide limits: the global freeze and the cap on actions in flight.</summary>
public static class FleetGuard
{
    public static (FleetGuardState State, LeaseDecision Decision) Acquire(FleetGuardState state, string leaseId, DateTimeOffset expiresAt,
        DateTimeOffset now, GuardrailPolicy policy)
    {
        var leases = state.Leases.RemoveRange(state.Leases.Where(kv => kv.Value <= now).Select(kv => kv.Key));
        state = state with { Leases = leases };
        if (leases.ContainsKey(leaseId))
            return (state, new LeaseDecision(true, leaseId, leases[leaseId], null, "the fleet slot was already held"));
        if (state.Frozen)
            return (state, LeaseDecision.Deny(Guardrails.FleetFreeze,
                $"the fleet is frozen by {state.FrozenBy} since {state.FrozenAt:yyyy-MM-dd HH:mm:ss} UTC: {state.FreezeReason}"));
        if (leases.Count >= policy.FleetMaxConcurrent)
            return (state, LeaseDecision.Deny(Guardrails.FleetMaxConcurrent,
                $"the fleet had {leases.Count} of {policy.FleetMaxConcurrent} actions in flight"));
        return (state with { Leases = leases.SetItem(leaseId, expiresAt) },
            new LeaseDecision(true, leaseId, expiresAt, null, $"the fleet had {leases.Count} of {policy.FleetMaxConcurrent} actions in flight"));
    }
}
