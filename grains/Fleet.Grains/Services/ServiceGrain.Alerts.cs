using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Core.Intake;

namespace Fleet.Grains.Services;

/// <summary>
/// Alerts from the team's own alerting on a service (docs/intake.md). An alert shows in the service's status at once and
/// is recorded; one that begins firing while a rollout is progressing or watched fails that rollout (rule
/// <c>rollout.alerts</c>): the new version is the change the alert followed, so it is rolled back under the rollout's own
/// lease path (a freeze or storm brake still holds it). An alert already firing when the rollout started does not fail it.
/// </summary>
public sealed partial class ServiceGrain
{
    public async Task<ServiceStatus?> AlertAsync(ExternalAlert alert, bool firing)
    {
        if (S.Spec is null || S.Deleting) return null;
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var book = AlertBook.Apply(S.Alerts, S.ResolvedAlerts, alert, firing);
        if (book.Change == AlertChange.Full) return null;
        var remembered = !ReferenceEquals(book.Resolved, S.ResolvedAlerts);
        state.State = S with { Alerts = book.Firing, ResolvedAlerts = book.Resolved };
        if (book.Change is AlertChange.None or AlertChange.Stale)
        {
            // A repeat of the same notification, or a firing of an episode already resolved: nothing changes but what is remembered.
            _dirty |= remembered;
            await SaveAsync(false);
            return Status();
        }
        var during = firing && S.Rollout is { Phase: RolloutPhase.Progressing or RolloutPhase.Watching } r && alert.StartsAt >= r.StartedAt;
        Record(DecisionKinds.Observed, firing
                ? $"Alert {alert.Name} is firing on service {Name} ({alert.Source}){(alert.Summary is { } s ? $": {s}" : "")}" +
                  (during ? $"; it began during rollout {S.Rollout!.Id} ({S.Rollout.From} → {S.Rollout.To}), which it fails (rollout.alerts)." : ".")
                : $"Alert {alert.Name} on service {Name} is resolved ({alert.Source}).",
            evidence: alert.Evidence());
        _dirty = true;
        await PassAsync(now); // the rollout's judge sees it at once
        await SaveAsync(false);
        return Status();
    }
}
