using System.Collections.Immutable;
using System.Globalization;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Core.Statistics;
using Fleet.Core.Text;
using MathNet.Numerics.Statistics;

namespace Fleet.Core.Rollouts;

/// <summary>
/// Judges a new version's instance reports against the stable version's, per metric, pure: the error rate on counts
/// (two-proportion test), the median p50 and p99 latency (Mann–Whitney U on one value per report) and the memory growth
/// (the median over instances of each instance's least-squares slope). A difference fails only when it is both
/// significant and larger than the policy allows; too few reports or requests is <see cref="Verdict.Inconclusive"/>,
/// never a pass.
/// </summary>
public static class RolloutJudge
{
    /// <summary>Reports an instance needs, over at least <see cref="SlopeMinSpan"/>, before its memory slope counts.</summary>
    public const int SlopeMinSamples = 3;

    /// <summary>
    /// The shortest span a memory slope is judged over: over a couple of minutes a few MiB of ordinary noise look like a
    /// leak of a hundred MiB an hour. A step shorter than this leaves memory to later steps and the long-horizon watch; an
    /// unjudged memory growth does not make a step inconclusive.
    /// </summary>
    public static readonly TimeSpan SlopeMinSpan = TimeSpan.FromMinutes(4);

    public static RolloutJudgement Judge(string stepName, int step, string candidateVersion, IReadOnlyList<RolloutSample> candidate,
        string baselineVersion, IReadOnlyList<RolloutSample> baseline, string baselineName, RolloutPolicy p, TimeSpan reportInterval, DateTimeOffset now)
    {
        var metrics = ImmutableArray.CreateBuilder<MetricJudgement>();
        var seconds = reportInterval.TotalSeconds;
        var enough = candidate.Count >= p.MinSamples && baseline.Count >= p.MinSamples;
        var few = $"{candidate.Count} report(s) of {candidateVersion} and {baseline.Count} of {baselineVersion}, {p.MinSamples} each needed";

        // Errors, on counts: each report's rates times the seconds it covers (the report interval when not known).
        double Over(RolloutSample s) => s.Seconds > 0 ? s.Seconds : seconds;
        double n1 = candidate.Sum(s => s.Requests * Over(s)), x1 = candidate.Sum(s => Math.Min(s.Errors, s.Requests) * Over(s));
        double n2 = baseline.Sum(s => s.Requests * Over(s)), x2 = baseline.Sum(s => Math.Min(s.Errors, s.Requests) * Over(s));
        double r1 = n1 > 0 ? x1 / n1 : 0, r2 = n2 > 0 ? x2 / n2 : 0;
        if (n1 < Math.Max(1, p.MinRequests) || n2 < Math.Max(1, p.MinRequests))
            metrics.Add(new MetricJudgement("errors", Verdict.Inconclusive, n1 > 0 ? r1 : null, n2 > 0 ? r2 : null, null,
                $"errors: too little traffic to compare ({Count(n1)} requests on {candidateVersion}, {Count(n2)} on {baselineVersion}; {Count(p.MinRequests)} each needed)"));
        else
        {
            var t = HypothesisTests.ProportionGreater(x1, n1, x2, n2);
            var worse = t.P < p.Significance && r1 - r2 > p.MaxErrorIncrease;
            metrics.Add(new MetricJudgement("errors", worse ? Verdict.Fail : Verdict.Pass, r1, r2, t.P,
                $"errors {Pct(r1)} on {candidateVersion} vs {Pct(r2)} on {baselineVersion}, two-proportion test {P(t.P)} over {Count(n1)} and {Count(n2)} requests" +
                (worse ? $" (more than {Pct(p.MaxErrorIncrease)} higher)" : "")));
        }

        // Latency, one value per report.
        foreach (var (metric, pick) in new (string, Func<RolloutSample, double>)[] { ("latencyP99", s => s.LatencyP99Ms), ("latencyP50", s => s.LatencyP50Ms) })
        {
            var label = metric == "latencyP99" ? "p99" : "p50";
            if (!enough)
            {
                metrics.Add(new MetricJudgement(metric, Verdict.Inconclusive, null, null, null, $"{label}: too few reports ({few})"));
                continue;
            }
            var a = candidate.Select(pick).ToArray();
            var b = baseline.Select(pick).ToArray();
            var (m1, m2) = (a.Median(), b.Median());
            var t = HypothesisTests.MannWhitneyGreater(a, b);
            var worse = t.P < p.Significance && m1 > m2 * (1 + p.MaxLatencyIncrease);
            metrics.Add(new MetricJudgement(metric, worse ? Verdict.Fail : Verdict.Pass, m1, m2, t.P,
                $"{label} {Format.Num(Math.Round(m1))} ms on {candidateVersion} vs {Format.Num(Math.Round(m2))} ms on {baselineVersion}, U test {P(t.P)} over {a.Length} and {b.Length} reports" +
                (worse ? $" (more than {Format.Num(p.MaxLatencyIncrease * 100)}% higher)" : "")));
        }

        // Memory growth: each instance's slope, then the median over instances; an instance leaks when its slope is significantly
        // (t-test on its own regression) more than the allowance above the stable version's, and the version leaks when most do.
        var cs = Fits(candidate);
        var bFits = Fits(baseline);
        var bs = bFits.Select(f => f.Slope).ToList();
        var bError = bFits.Count > 0 ? bFits.Select(f => f.Error).Median() : 0;
        if (cs.Count == 0)
            metrics.Add(new MetricJudgement("memoryGrowth", Verdict.Inconclusive, null, bs.Count > 0 ? bs.Median() : null, null,
                $"memory growth: not judged yet (no instance of {candidateVersion} has {SlopeMinSamples} reports over {Format.Duration(SlopeMinSpan)})"));
        else
        {
            var c = cs.Select(f => f.Slope).Median();
            var bMedian = bs.Count > 0 ? bs.Median() : 0;
            var limit = bMedian + p.MaxMemoryGrowthPerHour;
            // The stable version's slope is an estimate too: its error widens each comparison.
            var ps = cs.Select(f => HypothesisTests.SlopeAbove(f.Slope, Math.Sqrt(f.Error * f.Error + bError * bError), f.Count, limit)).ToList();
            var leaking = ps.Count(x => x < p.Significance);
            var worse = c > limit && leaking * 2 > cs.Count;
            var pMedian = ps.Median();
            metrics.Add(new MetricJudgement("memoryGrowth", worse ? Verdict.Fail : Verdict.Pass, c, bs.Count > 0 ? bMedian : null, pMedian,
                $"memory grows {PerHour(c)} on {candidateVersion} vs {(bs.Count > 0 ? PerHour(bMedian) : "nothing known (taken as 0)")} on {baselineVersion} " +
                $"(median of {cs.Count} and {bs.Count} instance slope(s); {leaking} of {cs.Count} significantly more than {Format.Bytes(p.MaxMemoryGrowthPerHour)}/h faster, t-test median {P(pMedian)})"));
        }

        var all = metrics.ToImmutable();
        var verdict = all.Any(m => m.Verdict == Verdict.Fail) ? Verdict.Fail
            : !enough || all.Any(m => m.Verdict == Verdict.Inconclusive && m.Metric != "memoryGrowth") ? Verdict.Inconclusive
            : Verdict.Pass;
        var shown = verdict switch
        {
            Verdict.Fail => all.Where(m => m.Verdict == Verdict.Fail),
            Verdict.Inconclusive => all.Where(m => m.Verdict == Verdict.Inconclusive && m.Metric != "memoryGrowth"),
            _ => all,
        };
        var word = verdict switch { Verdict.Pass => "passed", Verdict.Fail => "failed", _ => "inconclusive" };
        var summary = $"{stepName} {candidateVersion} {word} against {baselineName}: {string.Join("; ", shown.Select(m => m.Text))}";
        return new RolloutJudgement(now, step, verdict, candidate.Count, baseline.Count, baselineName, all, summary);
    }

    /// <summary>Each instance's memory slope in bytes per hour (instances with too few reports, or too short a span, left out).</summary>
    public static List<double> Slopes(IEnumerable<RolloutSample> samples) => [.. Fits(samples).Select(f => f.Slope)];

    /// <summary>Each instance's memory slope in bytes per hour, its standard error and its number of reports.</summary>
    public static List<(double Slope, double Error, int Count)> Fits(IEnumerable<RolloutSample> samples) =>
        samples.GroupBy(s => s.Instance)
            .Select(g => g.OrderBy(s => s.At).ToList())
            .Where(g => g.Count >= SlopeMinSamples && g[^1].At - g[0].At >= SlopeMinSpan)
            .Select(g =>
            {
                var (slope, error) = HypothesisTests.SlopeWithError(g.Select(s => (s.At - g[0].At).TotalHours).ToArray(), g.Select(s => (double)s.MemoryBytes).ToArray());
                return (slope, error, g.Count);
            })
            .ToList();

    public static string P(double p) => p < 0.0001 ? "p < 0.0001" : "p = " + p.ToString(p < 0.01 ? "0.0000" : "0.00", CultureInfo.InvariantCulture);

    private static string Pct(double share) => Format.Num(Math.Round(share * 100, 2)) + " %";

    private static string Count(double n) => Math.Round(n).ToString("#,0", CultureInfo.InvariantCulture);

    private static string PerHour(double bytesPerHour) => (bytesPerHour < 0 ? "-" : "") + Format.Bytes((long)Math.Abs(bytesPerHour)) + "/h";
}
