using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Principals;
using Fleet.Core.Text;
using MathNet.Numerics.Statistics;

namespace Fleet.Core.Security;

/// <summary>One report as the baseline keeps it: when (its hour of day picks the baseline) and the four judged figures.</summary>
[GenerateSerializer, Immutable, Alias("fleet.PrincipalSample")]
public sealed record PrincipalSample(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] double BytesOut,
    [property: Id(2)] double Requests,
    [property: Id(3)] double NewResources,
    [property: Id(4)] double FailedLogins)
{
    public static PrincipalSample From(PrincipalReport r) => new(r.Timestamp, r.BytesOut, r.Requests, r.NewResources, r.FailedLogins);
}

/// <summary>An anomaly: which figure, its value, the baseline it broke, and the sentence that says so.</summary>
public sealed record Anomaly(string Metric, double Value, double Median, double Mad, double Score, string Evidence);

/// <summary>
/// A principal judged against its own history with robust statistics (median and MAD, MathNet.Numerics): the report's
/// figure is anomalous when its robust z-score reaches the policy's threshold and it is large in absolute terms too
/// (a backup account's 40 MB is no exfiltration however quiet it was). The baseline is the same hour of day across the
/// window when it holds enough reports (a nightly backup at 02:00 is normal at 02:00), else every hour.
/// </summary>
public static class PrincipalBaseline
{
    /// <summary>At most this many reports are kept (14 days of 5-minute windows).</summary>
    public const int MaxSamples = 4032;

    private sealed record Metric(string Name, Func<PrincipalSample, double> Of, double Floor, double AbsoluteMin, Func<double, string> Say);

    private static readonly Metric[] Metrics =
    [
        new("egress", s => s.BytesOut, 1 << 20, 50L << 20, v => Format.Bytes((long)v)),
        new("requests", s => s.Requests, 10, 1_000, Count),
        new("resources never touched before", s => s.NewResources, 2, 20, Count),
        new("failed logins", s => s.FailedLogins, 2, 10, Count),
    ];

    private static string Count(double v) => Format.Num(Math.Round(v, 1));

    /// <summary>The samples kept after adding one: newest last, none older than the window, at most <see cref="MaxSamples"/>.</summary>
    public static ImmutableArray<PrincipalSample> Add(ImmutableArray<PrincipalSample> samples, PrincipalSample sample, TimeSpan window)
    {
        var list = samples.IsDefault ? [] : samples;
        // In time order (a late or backfilled report goes where it belongs); older than the window behind the newest: dropped.
        var at = list.Length;
        while (at > 0 && list[at - 1].At > sample.At) at--;
        list = list.Insert(at, sample);
        var cutoff = list[^1].At - window;
        var drop = 0;
        while (drop < list.Length && (list[drop].At < cutoff || list.Length - drop > MaxSamples)) drop++;
        return drop == 0 ? list : list.RemoveRange(0, drop);
    }

    /// <summary>The first anomalous figure of the report (the largest score), or null (normal, or too little history to judge).</summary>
    public static Anomaly? Judge(ImmutableArray<PrincipalSample> samples, PrincipalReport report, SecurityPolicy policy)
    {
        var (basis, what) = Basis(samples, report.Timestamp, policy);
        if (basis is null) return null;
        var current = PrincipalSample.From(report);
        Anomaly? worst = null;
        foreach (var m in Metrics)
        {
            var (median, mad) = Robust(basis.Select(m.Of));
            // The spread is never taken narrower than the whole history's: a few quiet reports at one hour are no licence
            // to call an ordinary figure extreme.
            var all = basis.Length == samples.Length ? mad : Robust(samples.Select(m.Of)).Mad;
            var scale = Math.Max(1.4826 * Math.Max(mad, all), Math.Max(0.1 * median, m.Floor));
            var value = m.Of(current);
            var score = (value - median) / scale;
            if (score < policy.Threshold || value < m.AbsoluteMin || worst is not null && worst.Score >= score) continue;
            worst = new Anomaly(m.Name, value, median, mad, score,
                $"{m.Name}: {m.Say(value)} in {Format.Duration(report.Window)} vs a baseline of {m.Say(median)} ± {m.Say(mad)} " +
                $"(median ± MAD, {what}); robust z-score {Format.Num(Math.Round(score, 1))}, threshold {Format.Num(policy.Threshold)}");
        }
        return worst;
    }

    /// <summary>Median and median absolute deviation (MathNet.Numerics).</summary>
    private static (double Median, double Mad) Robust(IEnumerable<double> figures)
    {
        var values = figures.ToArray();
        var median = values.Median();
        return (median, values.Select(v => Math.Abs(v - median)).Median());
    }

    /// <summary>Whether the principal has enough history to be judged.</summary>
    public static bool CanJudge(ImmutableArray<PrincipalSample> samples, SecurityPolicy policy) => !samples.IsDefault && samples.Length >= policy.MinSamples;

    public static ImmutableArray<MetricBaseline> Describe(ImmutableArray<PrincipalSample> samples) =>
        samples.IsDefaultOrEmpty ? [] : [.. Metrics.Select(m =>
        {
            var (median, mad) = Robust(samples.Select(m.Of));
            return new MetricBaseline(m.Name, median, mad, samples.Length);
        })];

    private static (PrincipalSample[]? Basis, string What) Basis(ImmutableArray<PrincipalSample> samples, DateTimeOffset at, SecurityPolicy policy)
    {
        if (!CanJudge(samples, policy)) return (null, "");
        var span = $"{Format.Num(Math.Round((samples[^1].At - samples[0].At).TotalDays, 1))} days";
        var sameHour = samples.Where(s => s.At.UtcDateTime.Hour == at.UtcDateTime.Hour).ToArray();
        return sameHour.Length >= Math.Max(7, policy.MinSamples / 3)
            ? (sameHour, $"{sameHour.Length} reports at {at.UtcDateTime.Hour:00}:00 UTC over {span}")
            : ([.. samples], $"{samples.Length} reports over {span}");
    }
}
