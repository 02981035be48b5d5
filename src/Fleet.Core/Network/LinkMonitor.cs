using Fleet.Abstractions.Links;
using Fleet.Abstractions.Policy;
using Fleet.Core.Text;

namespace Fleet.Core.Network;

/// <summary>What a link's grain keeps of its health: the state, the streaks of probe samples, the TTL, the damping penalty.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LinkHealth")]
public sealed record LinkHealth(
    [property: Id(0)] LinkState State,
    [property: Id(1)] DateTimeOffset Since,
    [property: Id(2)] int DownStreak,
    [property: Id(3)] int DegradedStreak,
    [property: Id(4)] int GoodStreak,
    [property: Id(5)] long LastSequence,
    [property: Id(6)] DateTimeOffset? ExpiresAt,
    [property: Id(7)] double Penalty,
    [property: Id(8)] DateTimeOffset PenaltyAt,
    [property: Id(9)] DateTimeOffset? SuppressedUntil,
    [property: Id(10)] int Flaps,
    [property: Id(11)] string Note)
{
    public static LinkHealth Initial(DateTimeOffset now) => new(LinkState.Unknown, now, 0, 0, 0, long.MinValue, null, 0, now, null, 0, "no probe yet");

    /// <summary>Whether new paths may use the link.</summary>
    public bool Usable => State == LinkState.Up;
}

/// <summary>A change of a link's state, with the words for the trail.</summary>
public sealed record LinkChange(LinkState From, LinkState To, string Reason, bool Flap);

/// <summary>
/// A link's health from its probes, pure: a sample is down (the probe says down, or all probes were lost), degraded
/// (loss or latency past the policy) or good; the state moves only after a streak of samples (hysteresis), a probe
/// whose TTL passed leaves the link Unknown (stale is not up), and every fall from Up or Degraded to Down is a flap
/// that adds to a penalty halving every half-life (RFC 2439): above the suppress threshold the link stays Damped —
/// unused — until the penalty decays below the reuse threshold, at most the policy's longest suppression.
/// </summary>
public static class LinkMonitor
{
    public static double Decayed(LinkHealth h, DateTimeOffset now, NetworkPolicy p) =>
        h.Penalty <= 0 ? 0 : h.Penalty * Math.Pow(2, -(now - h.PenaltyAt).TotalSeconds / p.HalfLife.TotalSeconds);

    /// <summary>When a penalty decays to the reuse threshold (capped at the longest suppression).</summary>
    public static DateTimeOffset ReuseAt(double penalty, DateTimeOffset now, NetworkPolicy p)
    {
        var seconds = penalty <= p.ReuseBelow ? 0 : p.HalfLife.TotalSeconds * Math.Log2(penalty / p.ReuseBelow);
        return now + TimeSpan.FromSeconds(Math.Min(seconds, p.MaxSuppress.TotalSeconds));
    }

    /// <summary>
    /// How far ahead of the last accepted sequence a probe may be while the last is fresh (10,000,000: a prober numbering
    /// its probes by the millisecond may pause for hours).
    /// </summary>
    public const long MaxSequenceJump = 10_000_000;

    public static (LinkHealth Health, LinkChange? Change, ProbeOutcome Outcome) OnProbe(LinkHealth h, LinkProbe probe, double specLatencyMs, DateTimeOffset now, NetworkPolicy p)
    {
        // An old or repeated sequence is refused — unless the last probe's TTL has passed: a prober that restarted counts again.
        var fresh = !(h.ExpiresAt is { } expired && now >= expired);
        if (probe.Sequence <= h.LastSequence && fresh) return (h, null, ProbeOutcome.DuplicateOrOutOfOrder);
        // So is one far ahead of the last while it is fresh: taken, it would make every real probe after it "out of order".
        if (fresh && h.ExpiresAt is not null && probe.Sequence - h.LastSequence > MaxSequenceJump) return (h, null, ProbeOutcome.SequenceTooFarAhead);
        var down = !probe.Up || probe.LossPercent >= 100;
        var degraded = !down && (probe.LossPercent >= p.DegradedLossPercent || (specLatencyMs > 0 && probe.LatencyMs >= specLatencyMs * p.DegradedLatencyFactor));
        h = h with
        {
            LastSequence = probe.Sequence,
            ExpiresAt = now + probe.Ttl,
            DownStreak = down ? h.DownStreak + 1 : 0,
            DegradedStreak = down || degraded ? h.DegradedStreak + 1 : 0,
            GoodStreak = down || degraded ? 0 : h.GoodStreak + 1,
        };
        string Sample() => down ? (probe.Up ? $"lost {Format.Num(probe.LossPercent)} % of probes" : "reported down")
            : $"{Format.Num(probe.LossPercent)} % loss, {Format.Num(probe.LatencyMs)} ms";

        if (h.State != LinkState.Down && h.DownStreak >= p.DownAfterProbes)
        {
            var flap = h.State is LinkState.Up or LinkState.Degraded;
            var penalty = Decayed(h, now, p) + (flap ? p.FlapPenalty : 0);
            var suppressed = penalty >= p.SuppressAbove ? ReuseAt(penalty, now, p) : h.SuppressedUntil;
            var why = $"{h.DownStreak} probe(s) in a row {Sample()}";
            var next = h with { Penalty = penalty, PenaltyAt = now, SuppressedUntil = suppressed, Flaps = h.Flaps + (flap ? 1 : 0), Note = why };
            return (Move(next, LinkState.Down, now, why, flap, out var change), change, ProbeOutcome.Accepted);
        }
        if (h.State == LinkState.Up && h.DegradedStreak >= p.DegradedAfterProbes && !down)
        {
            var why = $"{h.DegradedStreak} probe(s) in a row past the policy ({Sample()}; degraded at {Format.Num(p.DegradedLossPercent)} % loss or {Format.Num(p.DegradedLatencyFactor)}× its {Format.Num(specLatencyMs)} ms)";
            return (Move(h with { Note = why }, LinkState.Degraded, now, why, false, out var change), change, ProbeOutcome.Accepted);
        }
        if (h.State is LinkState.Unknown or LinkState.Down or LinkState.Degraded or LinkState.Damped && h.GoodStreak >= p.UpAfterProbes)
        {
            if (h.SuppressedUntil is { } until && until > now)
            {
                if (h.State == LinkState.Damped) return (h, null, ProbeOutcome.Accepted);
                var why = $"{h.GoodStreak} good probes, but it flapped {h.Flaps} time(s): penalty {Format.Num(Math.Round(Decayed(h, now, p)))} above {Format.Num(p.SuppressAbove)}, suppressed until {until:HH:mm:ss} UTC";
                return (Move(h with { Note = why }, LinkState.Damped, now, why, false, out var change), change, ProbeOutcome.Accepted);
            }
            var up = $"{h.GoodStreak} good probes in a row ({Sample()})";
            return (Move(h with { Note = up, SuppressedUntil = null }, LinkState.Up, now, up, false, out var upChange), upChange, ProbeOutcome.Accepted);
        }
        return (h, null, ProbeOutcome.Accepted);
    }

    /// <summary>Time passes: a probe's TTL runs out (the link goes Unknown), a suppression ends (a Damped link with good probes comes Up).</summary>
    public static (LinkHealth Health, LinkChange? Change) OnTick(LinkHealth h, DateTimeOffset now, NetworkPolicy p)
    {
        if (h.ExpiresAt is { } expires && now >= expires && h.State is not (LinkState.Unknown or LinkState.Down))
        {
            var why = $"no probe since {expires:HH:mm:ss} UTC, when the last one's TTL ran out (stale is not up)";
            return (Move(h with { Note = why, DownStreak = 0, DegradedStreak = 0, GoodStreak = 0 }, LinkState.Unknown, now, why, false, out var change), change);
        }
        if (h.State == LinkState.Damped && h.SuppressedUntil is { } until && now >= until)
        {
            var why = $"its flap penalty decayed to {Format.Num(Math.Round(Decayed(h, now, p)))} (reuse below {Format.Num(p.ReuseBelow)}, or the longest suppression passed)";
            return (Move(h with { Note = why, SuppressedUntil = null }, LinkState.Up, now, why, false, out var change), change);
        }
        return (h, null);
    }

    /// <summary>The next moment the link must be looked at without a probe: its TTL or the end of its suppression.</summary>
    public static DateTimeOffset? NextDue(LinkHealth h)
    {
        DateTimeOffset? due = h.State is LinkState.Unknown or LinkState.Down ? null : h.ExpiresAt;
        if (h.State == LinkState.Damped && h.SuppressedUntil is { } until && (due is null || until < due)) due = until;
        return due;
    }

    private static LinkHealth Move(LinkHealth h, LinkState to, DateTimeOffset now, string why, bool flap, out LinkChange change)
    {
        change = new LinkChange(h.State, to, why, flap);
        return h with { State = to, Since = now };
    }
}
