using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Services;

namespace Fleet.Grains.Services;

/// <summary>The service's one disruption budget (<see cref="ServiceBudget"/>): consent to a disruptive action, and the holds it keeps until the lease is released.</summary>
public sealed partial class ServiceGrain
{
    public async Task<LeaseDecision> ConsentAsync(LeaseRequest request)
    {
        if (S.Spec is null || S.Deleting) return new LeaseDecision(true, request.RequestId, null, null, $"{Name} is not running");
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var (decision, hold) = ServiceBudget.Consent(S with { Holds = Live(S.Holds, now) }, request, now, _policy.Guardrails.LeaseDuration);
        if (request.DryRun) return decision; // shadow mode: the budget says what it would, and holds nothing
        if (!decision.Granted)
            Record(DecisionKinds.Denied, $"Refused {request.Action} on {Subjects.Describe(request.Subject)} for service {Name}: {decision.Reason}.", request.Action,
                guardrail: decision.Guardrail, rule: "service.minHealthy");
        if (hold is not null && !S.Holds.ContainsKey(hold.LeaseId))
        {
            state.State = S with { Holds = Live(S.Holds, now).SetItem(hold.LeaseId, hold) };
            _dirty = true;
        }
        await SaveAsync(false);
        return decision;
    }

    public async Task ReleaseHoldAsync(string leaseId)
    {
        if (!S.Holds.ContainsKey(leaseId)) return;
        state.State = S with { Holds = S.Holds.Remove(leaseId) };
        _dirty = true;
        await SaveAsync(false);
    }
}
