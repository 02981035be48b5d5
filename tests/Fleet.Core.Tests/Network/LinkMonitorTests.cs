using Fleet.Abstractions.Links;
using Fleet.Abstractions.Policy;
using Fleet.Core.Network;

namespace Fleet.Core.Tests.Network;

public class LinkMonitorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly NetworkPolicy P = NetworkPolicy.Default with { DownAfterProbes = 2, UpAfterProbes = 3, DegradedAfterProbes = 2, HalfLife = TimeSpan.FromMinutes(15) };
    private long _seq;

    private LinkProbe Probe(bool up = true, double loss = 0, double latency = 5) => new("a~b", up, latency, loss, ++_seq, TimeSpan.FromSeconds(3));

    private (LinkHealth H, List<LinkChange> Changes) Run(LinkHealth h, DateTimeOffset start, params LinkProbe[] probes)
    {
        var changes = new List<LinkChange>();
        var t = start;
        foreach (var p in probes)
        {
            var (next, change, _) = LinkMonitor.OnProbe(h, p, 5, t, P);
            h = next;
            if (change is not null) changes.Add(change);
            t += TimeSpan.FromSeconds(1);
        }
        return (h, changes);
    }

    [Fact]
    public void UpAfterAStreakOfGoodProbes_DownAfterAStreakOfLostOnes_NotOnOne()
    {
        var (h, changes) = Run(LinkHealth.Initial(T0), T0, Probe(), Probe());
        Assert.Equal(LinkState.Unknown, h.State);
        (h, changes) = Run(h, T0.AddSeconds(2), Probe());
        Assert.Equal(LinkState.Up, h.State);
        (h, changes) = Run(h, T0.AddSeconds(3), Probe(loss: 100), Probe());
        Assert.Equal(LinkState.Up, h.State); // one lost probe is not a cut
        Assert.Empty(changes);
        (h, changes) = Run(h, T0.AddSeconds(5), Probe(up: false), Probe(up: false));
        Assert.Equal(LinkState.Down, h.State);
        var cut = Assert.Single(changes);
        Assert.True(cut.Flap);
        Assert.Contains("2 probe(s) in a row reported down", cut.Reason);
        Assert.Equal(1, h.Flaps);
        Assert.Equal(P.FlapPenalty, h.Penalty);
    }

    [Fact]
    public void LossOrLatencyPastThePolicy_Degrades_AndARepeatedOrOldSequenceIsRefused()
    {
        var (h, _) = Run(LinkHealth.Initial(T0), T0, Probe(), Probe(), Probe());
        var (h2, changes) = Run(h, T0.AddSeconds(3), Probe(loss: 5), Probe(latency: 16));
        Assert.Equal(LinkState.Degraded, h2.State);
        Assert.Contains("past the policy", Assert.Single(changes).Reason);
        var (_, _, outcome) = LinkMonitor.OnProbe(h2, new LinkProbe("a~b", true, 5, 0, _seq, TimeSpan.FromSeconds(3)), 5, T0.AddSeconds(5), P);
        Assert.Equal(ProbeOutcome.DuplicateOrOutOfOrder, outcome);
    }

    [Fact]
    public void AProberThatRestarted_IsHeardAgainOnceTheLastProbeWentStale()
    {
        var (h, _) = Run(LinkHealth.Initial(T0), T0, Probe(), Probe(), Probe());
        Assert.Equal(T0.AddSeconds(5), h.ExpiresAt);
        Assert.Equal(_seq, h.LastSequence);
        var restarted = new LinkProbe("a~b", true, 5, 0, 1, TimeSpan.FromSeconds(3));
        Assert.Equal(ProbeOutcome.DuplicateOrOutOfOrder, LinkMonitor.OnProbe(h, restarted, 5, T0.AddSeconds(4), P).Outcome);
        Assert.Equal(ProbeOutcome.Accepted, LinkMonitor.OnProbe(h, restarted, 5, T0.AddSeconds(5), P).Outcome);
    }

    [Fact]
    public void AProbeWhoseTtlRanOut_LeavesTheLinkUnknown_StaleIsNotUp()
    {
        var (h, _) = Run(LinkHealth.Initial(T0), T0, Probe(), Probe(), Probe());
        Assert.Equal(T0.AddSeconds(2 + 3), LinkMonitor.NextDue(h));
        var (same, none) = LinkMonitor.OnTick(h, T0.AddSeconds(4), P);
        Assert.Null(none);
        var (stale, change) = LinkMonitor.OnTick(same, T0.AddSeconds(5), P);
        Assert.Equal(LinkState.Unknown, stale.State);
        Assert.Contains("stale is not up", change!.Reason);
        Assert.False(stale.Usable);
    }

    [Fact]
    public void AFlappingLink_IsDamped_UntilItsPenaltyDecaysBelowReuse_AsInRfc2439()
    {
        var h = LinkHealth.Initial(T0);
        var t = T0;
        // Three flaps in a minute: 3,000 minus a little decay, above 2,000.
        for (var i = 0; i < 3; i++)
        {
            (h, _) = Run(h, t, Probe(), Probe(), Probe(), Probe(up: false), Probe(up: false));
            t += TimeSpan.FromSeconds(20);
        }
        Assert.Equal(3, h.Flaps);
        Assert.True(h.Penalty > P.SuppressAbove, $"penalty {h.Penalty}");
        Assert.NotNull(h.SuppressedUntil);
        // Good probes again: Damped, not Up.
        var (damped, changes) = Run(h, t, Probe(), Probe(), Probe());
        Assert.Equal(LinkState.Damped, damped.State);
        Assert.Contains("suppressed until", changes.Single().Reason);
        Assert.False(damped.Usable);
        // log2(~2,900/750) half-lives of 15 min ≈ 29 min later the suppression ends.
        var until = damped.SuppressedUntil!.Value;
        Assert.InRange((until - t).TotalMinutes, 27, 30);
        damped = damped with { ExpiresAt = until.AddMinutes(1) }; // its probes keep coming, good
        Assert.Null(LinkMonitor.OnTick(damped, until.AddSeconds(-1), P).Change);
        var (up, change) = LinkMonitor.OnTick(damped, until, P);
        Assert.Equal(LinkState.Up, up.State);
        Assert.Contains("decayed", change!.Reason);
        Assert.InRange(LinkMonitor.Decayed(up, until, P), P.ReuseBelow - 1, P.ReuseBelow + 1);
    }

    [Fact]
    public void SuppressionNeverOutlastsTheLongestAllowed()
    {
        var p = P with { MaxSuppress = TimeSpan.FromMinutes(60) };
        Assert.Equal(T0.AddMinutes(60), LinkMonitor.ReuseAt(1_000_000, T0, p));
        Assert.Equal(T0, LinkMonitor.ReuseAt(700, T0, p));
    }

    [Fact]
    public void ASequenceFarAheadOfAFreshOne_IsRefused_TheRealProbesGoOn_AndAfterTheTtlAnySequenceCounts()
    {
        var (h, _) = Run(LinkHealth.Initial(T0), T0, Probe(), Probe());
        var last = h.LastSequence;
        var (same, change, outcome) = LinkMonitor.OnProbe(h, Probe() with { Sequence = long.MaxValue }, 5, T0.AddSeconds(2), P);
        Assert.Equal(ProbeOutcome.SequenceTooFarAhead, outcome);
        Assert.Null(change);
        Assert.Equal(last, same.LastSequence);
        Assert.Equal(ProbeOutcome.Accepted, LinkMonitor.OnProbe(h, Probe() with { Sequence = last + LinkMonitor.MaxSequenceJump }, 5, T0.AddSeconds(2), P).Outcome);
        // Once the last probe's TTL (3 s) has passed, a prober may start anywhere, far ahead included.
        Assert.Equal(ProbeOutcome.Accepted, LinkMonitor.OnProbe(h, Probe() with { Sequence = last + 10 * LinkMonitor.MaxSequenceJump }, 5, T0.AddSeconds(10), P).Outcome);
    }
}
