using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Intake;

namespace Fleet.Grains.Links;

/// <summary>
/// Alerts from the team's own alerting on a link (docs/intake.md). While one fires, every probe of the link is judged as
/// down, so the monitor's own hysteresis, damping and the reroute's lease, storm brake and oversight decide what moves; the
/// resolved notification lets the probes be judged as they come again. It shows in the link's status at once.
/// </summary>
public sealed partial class LinkGrain
{
    public async Task<LinkStatus?> AlertAsync(ExternalAlert alert, bool firing)
    {
        if (S.Spec is null) return null;
        var book = AlertBook.Apply(S.Alerts, S.ResolvedAlerts, alert, firing);
        if (book.Change == AlertChange.Full) return null;
        var changed = !ReferenceEquals(book.Resolved, S.ResolvedAlerts) || !ReferenceEquals(book.Firing, S.Alerts);
        state.State = S with { Alerts = book.Firing, ResolvedAlerts = book.Resolved };
        if (book.Change is AlertChange.None or AlertChange.Stale)
        {
            // A repeat of the same notification, or a firing of an episode already resolved: nothing changes but what is remembered.
            if (changed) await SaveAsync();
            return Status();
        }
        Record(DecisionKinds.Observed, firing
                ? $"Alert {alert.Name} is firing on link {Id} ({alert.Source}){(alert.Summary is { } s ? $": {s}" : "")}; every probe counts as down while it fires."
                : $"Alert {alert.Name} on link {Id} is resolved ({alert.Source}); its probes are judged as they come again.",
            evidence: alert.Evidence());
        await SaveAsync();
        return Status();
    }

    /// <summary>The probe as the monitor judges it: down while an alert fires on the link.</summary>
    private LinkProbe Judged(LinkProbe probe) => S.Alerts.IsEmpty || !probe.Up ? probe : probe with { Up = false };
}
