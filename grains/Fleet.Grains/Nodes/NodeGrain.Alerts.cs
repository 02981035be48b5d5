using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Health;
using Fleet.Core.Intake;

namespace Fleet.Grains.Nodes;

/// <summary>
/// Alerts from the team's own alerting (docs/intake.md). An alert does not judge the node by itself: while it fires, each
/// report carries a failing check for it, so the node turns Degraded, then Unhealthy after the policy's streak of failed
/// reports, and its case runs under the usual lease, storm brake and oversight. It shows in the node's conditions at once.
/// </summary>
public sealed partial class NodeGrain
{
    public async Task<NodeStatus?> AlertAsync(ExternalAlert alert, bool firing)
    {
        if (S.Registration is null) return null;
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var book = AlertBook.Apply(S.Alerts, S.ResolvedAlerts, alert, firing);
        if (book.Change == AlertChange.Full) return null;
        if (book.Change is AlertChange.None or AlertChange.Stale)
        {
            // A repeat (Alertmanager repeats a group's alerts on every notification), or a firing of an episode already resolved.
            if (!ReferenceEquals(book.Resolved, S.ResolvedAlerts))
            {
                state.State = S with { ResolvedAlerts = book.Resolved };
                _dirty = true;
                await CommitAsync(now);
            }
            return Status();
        }
        var alerts = book.Firing;
        var conditions = S.Health.Conditions.RemoveAll(c => c.Type == ConditionTypes.Alert && c.Reason.StartsWith($"alert '{alert.Name}' ", StringComparison.Ordinal));
        // One condition per alert name while any alert of that name fires (two instances of a rule may fire at once).
        if (alerts.Values.Where(a => a.Name == alert.Name).OrderBy(a => a.StartsAt).FirstOrDefault() is { } still)
            conditions = conditions.Add(new NodeCondition(ConditionTypes.Alert, Reason(still), still.StartsAt));
        else
            conditions = conditions.RemoveAll(c => c.Type == ConditionTypes.CheckFailed && c.Reason.StartsWith($"check '{alert.CheckName}' ", StringComparison.Ordinal));
        state.State = S with { Alerts = alerts, ResolvedAlerts = book.Resolved, Health = S.Health with { Conditions = conditions } };
        Record(DecisionKinds.Observed, firing
                ? $"Alert {alert.Name} is firing on node {Id} ({alert.Source}){(alert.Summary is { } s ? $": {s}" : "")}; each report counts it as a failed check while it fires."
                : $"Alert {alert.Name} on node {Id} is resolved ({alert.Source}).",
            evidence: alert.Evidence());
        _dirty = true;
        await CommitAsync(now);
        return Status();
    }

    private static string Reason(ExternalAlert a) =>
        $"alert '{a.Name}' firing since {a.StartsAt:yyyy-MM-dd HH:mm:ss} UTC ({a.Source}){(a.Summary is { } s ? $": {s}" : "")}";

    /// <summary>The report with a failing check for every alert firing on the node (one per alert name).</summary>
    private TelemetryReport WithAlerts(TelemetryReport report)
    {
        var checks = report.Checks.ToBuilder();
        foreach (var group in S.Alerts.Values.GroupBy(a => a.Name))
        {
            var first = group.OrderBy(a => a.StartsAt).First();
            checks.RemoveAll(c => c.Name == first.CheckName);
            checks.Add(new CheckResult(first.CheckName, false, $"firing in {first.Source} since {first.StartsAt:HH:mm:ss} UTC{(first.Summary is { } s ? $": {s}" : "")}"));
        }
        return report with { Checks = checks.ToImmutable() };
    }
}
