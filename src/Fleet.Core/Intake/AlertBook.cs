using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Core.Intake;

/// <summary>What an alert notification changed on its subject.</summary>
public enum AlertChange
{
    /// <summary>Nothing: a repeat of what is known (Alertmanager repeats a group's alerts on every notification).</summary>
    None = 0,
    /// <summary>It began firing.</summary>
    Fired = 1,
    /// <summary>It was resolved.</summary>
    Resolved = 2,
    /// <summary>A firing notification of an episode already resolved (a replay, or one that arrived late): ignored.</summary>
    Stale = 3,
    /// <summary>The subject already has <see cref="ExternalAlert.MaxPerSubject"/> alerts firing: not taken.</summary>
    Full = 4,
}

/// <summary>A subject's alerts after a notification: those firing, by fingerprint, and the episodes resolved (fingerprint → its start).</summary>
public sealed record AlertBookEntry(AlertChange Change, ImmutableDictionary<string, ExternalAlert> Firing, ImmutableDictionary<string, DateTimeOffset> Resolved);

/// <summary>
/// One subject's alerts from the team's own alerting (nodes, services and links keep one each), pure: a firing alert is
/// added once, a resolved one removed, and a resolved episode is remembered (by fingerprint, with its start), so a firing
/// notification of that episode arriving later — replayed, or delayed behind the resolved one — does not bring it back.
/// A new episode of the same alert starts later than the one resolved, and fires again.
/// </summary>
public static class AlertBook
{
    /// <summary>Resolved episodes remembered per subject; the oldest are forgotten first.</summary>
    public const int MaxResolved = 500;

    public static AlertBookEntry Apply(ImmutableDictionary<string, ExternalAlert> firing, ImmutableDictionary<string, DateTimeOffset> resolved, ExternalAlert alert, bool isFiring)
    {
        var fingerprint = alert.Fingerprint;
        if (isFiring)
        {
            if (resolved.TryGetValue(fingerprint, out var ended) && alert.StartsAt <= ended) return new(AlertChange.Stale, firing, resolved);
            if (firing.ContainsKey(fingerprint)) return new(AlertChange.None, firing, resolved);
            if (firing.Count >= ExternalAlert.MaxPerSubject) return new(AlertChange.Full, firing, resolved);
            return new(AlertChange.Fired, firing.SetItem(fingerprint, alert), resolved);
        }
        var start = firing.TryGetValue(fingerprint, out var was) && was.StartsAt > alert.StartsAt ? was.StartsAt : alert.StartsAt;
        var remembered = resolved.TryGetValue(fingerprint, out var before) && before >= start ? resolved : resolved.SetItem(fingerprint, start);
        if (remembered.Count > MaxResolved)
            remembered = remembered.RemoveRange(remembered.OrderBy(kv => kv.Value).Take(remembered.Count - MaxResolved).Select(kv => kv.Key).ToList());
        return firing.ContainsKey(fingerprint)
            ? new(AlertChange.Resolved, firing.Remove(fingerprint), remembered)
            : new(AlertChange.None, firing, remembered);
    }
}
