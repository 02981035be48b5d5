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

    /// <summary>The cost of each lease that takes more than one slot (a lease not named here takes one).</summary>
    [Id(6)] public ImmutableDictionary<string, int> Costs { get; init; } = ImmutableDictionary<string, int>.Empty;

    public int SlotsInUse => Leases.Keys.Sum(id => Costs.GetValueOrDefault(id, 1));
}

/// <summary>Fleet-wide limits: the global freeze and the cap on actions in flight.</summary>
public static class FleetGuard
{
    public static (FleetGuardState State, LeaseDecision Decision) Acquire(FleetGuardState state, LeaseRequest request, DateTimeOffset expiresAt,
        DateTimeOffset now, GuardrailPolicy policy)
    {
        var leaseId = request.RequestId;
        var gone = state.Leases.Where(kv => kv.Value <= now).Select(kv => kv.Key).ToList();
        state = state with { Leases = state.Leases.RemoveRange(gone), Costs = state.Costs.RemoveRange(gone) };
        if (state.Leases.TryGetValue(leaseId, out var held))
            return (state, new LeaseDecision(true, leaseId, held, null, "the fleet slot was already held"));
        var used = state.SlotsInUse;
        var evidence = ImmutableDictionary<string, string>.Empty.Add("fleetInFlight", $"{used} of {policy.FleetMaxConcurrent}");
        if (state.Frozen && request.HeldByFreeze)
            return (state, LeaseDecision.Deny(Guardrails.FleetFreeze,
                $"the fleet is frozen by {state.FrozenBy} since {state.FrozenAt:yyyy-MM-dd HH:mm:ss} UTC: {state.FreezeReason}",
                evidence.Add("frozenBy", state.FrozenBy ?? "?").Add("freezeReason", state.FreezeReason ?? "")));
        if (!request.Force && used + request.Cost > policy.FleetMaxConcurrent)
            return (state, LeaseDecision.Deny(Guardrails.FleetMaxConcurrent,
                $"the fleet had {used} of {policy.FleetMaxConcurrent} actions in flight", evidence));
        return (state with
            {
                Leases = state.Leases.SetItem(leaseId, expiresAt),
                Costs = request.Cost == 1 ? state.Costs : state.Costs.SetItem(leaseId, request.Cost),
            },
            new LeaseDecision(true, leaseId, expiresAt, null, $"the fleet had {used} of {policy.FleetMaxConcurrent} actions in flight"));
    }

    public static FleetGuardState Release(FleetGuardState state, string leaseId) =>
        state with { Leases = state.Leases.Remove(leaseId), Costs = state.Costs.Remove(leaseId) };
}
