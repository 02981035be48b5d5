using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Guarding;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;

namespace Fleet.Grains.Supervision;

/// <summary>Fleet-wide guardrails: the freeze switch and the cap on actions in flight across every domain.</summary>
public sealed class FleetSupervisorGrain(
    [PersistentState("fleet", StorageNames.Fleet)] IPersistentState<FleetGuardState> state,
    PolicyCache policies, IAuditStore audit, Tracing.TraceRecorder trace, TimeProvider time) : Grain, IFleetSupervisorGrain
{
    private string Subject => $"fleet/{this.GetPrimaryKeyString()}";
    private FleetGuardState S => state.State;

    public async Task<LeaseDecision> AcquireAsync(LeaseRequest request, DateTimeOffset? expiresAt)
    {
        var policy = await policies.GetAsync();
        var now = time.GetUtcNow();
        var (next, decision) = FleetGuard.Acquire(S, request, expiresAt ?? now + policy.Guardrails.LeaseDuration, now, policy.Guardrails);
        if (request.DryRun) return decision; // shadow mode: evaluated, not held
        state.State = next;
        await state.WriteOrResetAsync(DeactivateOnIdle);
        return decision;
    }

    public async Task ReleaseAsync(string leaseId)
    {
        if (!S.Leases.ContainsKey(leaseId)) return;
        state.State = FleetGuard.Release(S, leaseId);
        await state.WriteOrResetAsync(DeactivateOnIdle);
    }

    public async Task<FleetStatus> FreezeAsync(string by, string reason)
    {
        var now = time.GetUtcNow();
        if (trace.On) trace.Add(new Core.Replay.TraceEntry { Kind = Core.Replay.TraceKinds.Freeze, At = now, By = by, Reason = reason });
        state.State = S with { Frozen = true, FreezeReason = reason, FrozenBy = by, FrozenAt = now };
        await state.WriteOrResetAsync(DeactivateOnIdle);
        var policy = await policies.GetAsync();
        await audit.AppendAsync([Decisions.Create(now, by, Subject, DecisionKinds.Frozen,
            $"Froze every disruptive action in the fleet at the request of {by}: {reason}", policy.Version, guardrail: Guardrails.FleetFreeze)]);
        return await GetStatusAsync();
    }

    public async Task<FleetStatus> UnfreezeAsync(string by, string? reason)
    {
        if (!S.Frozen) return await GetStatusAsync();
        var now = time.GetUtcNow();
        if (trace.On) trace.Add(new Core.Replay.TraceEntry { Kind = Core.Replay.TraceKinds.Unfreeze, At = now, By = by, Reason = reason });
        state.State = S with { Frozen = false, FreezeReason = null, FrozenBy = null, FrozenAt = null };
        await state.WriteOrResetAsync(DeactivateOnIdle);
        var policy = await policies.GetAsync();
        await audit.AppendAsync([Decisions.Create(now, by, Subject, DecisionKinds.Thawed,
            $"Lifted the fleet freeze at the request of {by}" + (string.IsNullOrWhiteSpace(reason) ? "." : $": {reason}"), policy.Version, guardrail: Guardrails.FleetFreeze)]);
        return await GetStatusAsync();
    }

    public async Task RegisterDomainAsync(string domain)
    {
        if (S.Domains.Contains(domain)) return;
        state.State = S with { Domains = S.Domains.Add(domain) };
        await state.WriteOrResetAsync(DeactivateOnIdle);
    }

    public Task<FleetStatus> GetStatusAsync()
    {
        var now = time.GetUtcNow();
        var s = S;
        return Task.FromResult(new FleetStatus(s.Frozen, s.FreezeReason, s.FrozenBy, s.FrozenAt, s.Leases.Where(kv => kv.Value > now).Sum(kv => s.Costs.GetValueOrDefault(kv.Key, 1)), [.. s.Domains]));
    }
}
