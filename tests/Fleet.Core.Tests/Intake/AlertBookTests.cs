using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Intake;

namespace Fleet.Core.Tests.Intake;

/// <summary>One subject's alerts: added once, resolved, and a resolved episode's firing replayed later does not bring it back.</summary>
public class AlertBookTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly ImmutableDictionary<string, ExternalAlert> None = ImmutableDictionary<string, ExternalAlert>.Empty;
    private static readonly ImmutableDictionary<string, DateTimeOffset> NoneResolved = ImmutableDictionary<string, DateTimeOffset>.Empty;

    private static ExternalAlert Alert(DateTimeOffset startsAt, string fingerprint = "fp-1") => new("DiskFull", fingerprint, null, startsAt, "alertmanager");

    [Fact]
    public void Fired_Repeated_Resolved_ThenAReplayedFiringOfThatEpisodeIsStale_ButANewEpisodeFires()
    {
        var fired = AlertBook.Apply(None, NoneResolved, Alert(T0), true);
        Assert.Equal(AlertChange.Fired, fired.Change);
        var repeat = AlertBook.Apply(fired.Firing, fired.Resolved, Alert(T0), true);
        Assert.Equal(AlertChange.None, repeat.Change);
        Assert.Same(fired.Firing, repeat.Firing);

        var resolved = AlertBook.Apply(fired.Firing, fired.Resolved, Alert(T0), false);
        Assert.Equal(AlertChange.Resolved, resolved.Change);
        Assert.Empty(resolved.Firing);

        // Yesterday's firing notification, replayed after the resolved one: ignored.
        var replay = AlertBook.Apply(resolved.Firing, resolved.Resolved, Alert(T0), true);
        Assert.Equal(AlertChange.Stale, replay.Change);
        Assert.Empty(replay.Firing);

        // The same rule firing again later is a new episode.
        var again = AlertBook.Apply(replay.Firing, replay.Resolved, Alert(T0.AddMinutes(30)), true);
        Assert.Equal(AlertChange.Fired, again.Change);
    }

    [Fact]
    public void AResolvedArrivingBeforeItsFiring_IsRemembered_AndTheLateFiringIsStale()
    {
        var resolved = AlertBook.Apply(None, NoneResolved, Alert(T0), false);
        Assert.Equal(AlertChange.None, resolved.Change);
        Assert.Equal(AlertChange.Stale, AlertBook.Apply(resolved.Firing, resolved.Resolved, Alert(T0), true).Change);
    }

    [Fact]
    public void APerSubjectBound_OnFiringAlerts_AndOnTheResolvedMemory()
    {
        var firing = Enumerable.Range(0, ExternalAlert.MaxPerSubject).ToImmutableDictionary(i => $"f{i}", i => Alert(T0, $"f{i}"));
        Assert.Equal(AlertChange.Full, AlertBook.Apply(firing, NoneResolved, Alert(T0, "one-more"), true).Change);

        var resolved = NoneResolved;
        for (var i = 0; i <= AlertBook.MaxResolved; i++) resolved = AlertBook.Apply(None, resolved, Alert(T0.AddSeconds(i), $"r{i}"), false).Resolved;
        Assert.Equal(AlertBook.MaxResolved, resolved.Count);
        Assert.False(resolved.ContainsKey("r0")); // the oldest forgotten first
    }
}
