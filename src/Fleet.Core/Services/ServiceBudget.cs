using System.Collections.Immutable;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;

namespace Fleet.Core.Services;

/// <summary>
/// A service's answer to a disruption (one budget for every kind): refused when the instances it would take down leave
/// fewer running than the budget's minimum, counting instances already down for any reason — a crash, a silent or sick
/// node, or another disruption already granted.
/// </summary>
public static class ServiceBudget
{
    /// <summary>The decision and, when granted, the hold to keep (null when the action touches no instance of the service).</summary>
    public static (LeaseDecision Decision, DisruptionHold? Hold) Consent(ServiceState state, LeaseRequest request, DateTimeOffset now, TimeSpan leaseDuration)
    {
        var spec = state.Spec!;
        var name = spec.Name;
        if (state.Holds.TryGetValue(request.RequestId, out var existing))
            return (new LeaseDecision(true, request.RequestId, existing.ExpiresAt, null, $"{name} already holds {existing.Instances.Length} instance(s) for this action"), existing);

        var (kind, id) = Subjects.Parse(request.Subject);
        var held = state.Holds.Values.Where(h => h.ExpiresAt > now).SelectMany(h => h.Instances).ToHashSet();
        var up = state.Up.Where(i => !held.Contains(i.Id)).ToList();
        var affected = kind == Subjects.NodeKind
            ? up.Where(i => i.Node == id).Select(i => i.Id).ToImmutableArray()
            : [.. up.OrderBy(i => i.Id, StringComparer.Ordinal).Take(request.Cost).Select(i => i.Id)];
        if (affected.IsEmpty)
            return (new LeaseDecision(true, request.RequestId, null, null, $"{name} has no running instance on {Subjects.Short(request.Subject)}"), null);

        var desired = state.Desired;
        var needed = spec.Budget.MinHealthy(desired);
        var after = up.Count - affected.Length;
        var alreadyDown = state.Instances.Values.Where(i => i.State is InstanceState.Running or InstanceState.Starting or InstanceState.Pending && !i.Moving
            && (!ServicePlanner.IsUp(i) || held.Contains(i.Id))).OrderBy(i => i.Id, StringComparer.Ordinal).ToList();
        var downNote = alreadyDown.Count == 0 ? "" :
            $" ({alreadyDown.Count} already down: {string.Join(", ", alreadyDown.Select(i => $"{i.Id} {DownReason(i, held)}"))})";
        var evidence = ImmutableDictionary<string, string>.Empty.Add("service", name).Add("up", up.Count.ToString()).Add("wouldTakeDown", string.Join(", ", affected))
            .Add("after", $"{after} of {desired}").Add("needed", $"{needed} ({spec.Budget.Describe()})").Add("alreadyDown", alreadyDown.Count.ToString());
        if (after < needed)
            return (LeaseDecision.Deny(Guardrails.MinHealthy,
                $"{name} would have {after} of {desired} instances running; it needs {needed} ({spec.Budget.Describe()}){downNote}", evidence), null);
        var hold = new DisruptionHold(request.RequestId, request.Subject, affected, now + leaseDuration);
        return (new LeaseDecision(true, request.RequestId, hold.ExpiresAt, null,
            $"{name} would keep {after} of {desired} instances running (it needs {needed}){downNote}") { Evidence = evidence }, hold);
    }

    private static string DownReason(ServiceInstance i, HashSet<string> held) =>
        held.Contains(i.Id) ? "(held by another disruption)"
        : i.State != InstanceState.Running ? $"({i.State})"
        : i.Reason is { } r ? $"({r})"
        : "(reports unhealthy)";
}
