using MathNet.Numerics.Distributions;
using MathNet.Numerics.Statistics;

namespace Fleet.Core.Statistics;

/// <summary>The outcome of a one-sided test: the statistic, its z-score (when approximated) and the p-value.</summary>
public sealed record TestResult(double Statistic, double? Z, double P, bool Exact);

/// <summary>
/// The hypothesis tests a rollout is judged by. MathNet.Numerics gives the ranks (ties averaged) and the normal
/// distribution; the tests are built on them: Mann–Whitney U (exact for small samples without ties, otherwise the
/// normal approximation with tie and continuity correction) and the two-proportion z-test for error counts.
/// </summary>
public static class HypothesisTests
{
    /// <summary>Both samples at most this size and no ties: the exact distribution of U is counted instead of approximated.</summary>
    public const int ExactLimit = 20;

    /// <summary>
    /// Mann–Whitney U, one-sided: is <paramref name="a"/> stochastically greater than <paramref name="b"/>? The statistic
    /// is U of <paramref name="a"/> (the number of pairs in which a's value is the greater, ties counting one half).
    /// </summary>
    public static TestResult MannWhitneyGreater(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        int n1 = a.Count, n2 = b.Count;
        if (n1 == 0 || n2 == 0) return new TestResult(0, null, 1, false);
        var all = a.Concat(b).ToArray();
        var ranks = all.Ranks(RankDefinition.Average);
        var rankSumA = ranks.Take(n1).Sum();
        var u = rankSumA - n1 * (n1 + 1) / 2.0;
        var ties = all.GroupBy(x => x).Select(g => (double)g.Count()).Where(t => t > 1).ToList();
        if (ties.Count == 0 && n1 <= ExactLimit && n2 <= ExactLimit)
            return new TestResult(u, null, ExactUpperTail(n1, n2, (int)Math.Round(u)), true);

        var n = n1 + n2;
        var mean = n1 * (double)n2 / 2;
        var tieTerm = ties.Sum(t => t * t * t - t) / (n * (n - 1.0));
        var variance = n1 * (double)n2 / 12 * (n + 1 - tieTerm);
        if (variance <= 0) return new TestResult(u, 0, 1, false); // every value equal: nothing to tell apart
        var z = (u - mean - 0.5) / Math.Sqrt(variance);
        return new TestResult(u, z, 1 - Normal.CDF(0, 1, z), false);
    }

    /// <summary>P(U ≥ u) when there are no ties: the count of orderings with each U, by the recurrence on the largest value's sample.</summary>
    private static double ExactUpperTail(int n1, int n2, int u)
    {
        // f[i, j][k]: orderings of i values of a and j values of b in which a's U is k.
        var f = new double[n1 + 1, n2 + 1][];
        for (var i = 0; i <= n1; i++)
            for (var j = 0; j <= n2; j++)
            {
                var row = new double[i * j + 1];
                if (i == 0 || j == 0) row[0] = 1;
                else
                {
                    // The largest value is a's (it beats all j of b) or b's (it adds nothing to a's U).
                    var withA = f[i - 1, j];
                    var withB = f[i, j - 1];
                    for (var k = 0; k < withA.Length; k++) row[k + j] += withA[k];
                    for (var k = 0; k < withB.Length; k++) row[k] += withB[k];
                }
                f[i, j] = row;
            }
        var counts = f[n1, n2];
        var total = counts.Sum();
        var tail = 0.0;
        for (var k = Math.Max(0, u); k < counts.Length; k++) tail += counts[k];
        return Math.Min(1, tail / total);
    }

    /// <summary>
    /// Two-proportion z-test, one-sided: is the rate x1/n1 greater than x2/n2? Pooled variance; a p-value of 1 when
    /// neither side has an event (nothing to compare).
    /// </summary>
    public static TestResult ProportionGreater(double x1, double n1, double x2, double n2)
    {
        if (n1 <= 0 || n2 <= 0) return new TestResult(0, null, 1, false);
        var p1 = x1 / n1;
        var p2 = x2 / n2;
        var pooled = (x1 + x2) / (n1 + n2);
        var variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2);
        if (variance <= 0) return new TestResult(p1 - p2, 0, 1, false);
        var z = (p1 - p2) / Math.Sqrt(variance);
        return new TestResult(p1 - p2, z, 1 - Normal.CDF(0, 1, z), false);
    }

    /// <summary>
    /// The least-squares slope of y on x and its standard error (MathNet's line fit; the error from the residuals,
    /// √(Σr²/(n−2) / Σ(x−x̄)²)); an infinite error with fewer than three points or two distinct x.
    /// </summary>
    public static (double Slope, double StandardError) SlopeWithError(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count < 3 || x.Distinct().Count() < 2) return (Slope(x, y), double.PositiveInfinity);
        var (intercept, slope) = MathNet.Numerics.Fit.Line(x.ToArray(), y.ToArray());
        var meanX = x.Average();
        var sxx = x.Sum(v => (v - meanX) * (v - meanX));
        var residuals = x.Select((v, i) => y[i] - (intercept + slope * v)).Sum(r => r * r);
        return (slope, Math.Sqrt(residuals / (x.Count - 2) / sxx));
    }

    /// <summary>
    /// One-sided t-test that a slope exceeds <paramref name="limit"/>: the p-value of (slope − limit) / SE on n − 2
    /// degrees of freedom (MathNet's Student t).
    /// </summary>
    public static double SlopeAbove(double slope, double standardError, int n, double limit)
    {
        if (n < 3 || double.IsInfinity(standardError)) return 1;
        if (standardError <= 0) return slope > limit ? 0 : 1;
        return 1 - StudentT.CDF(0, 1, n - 2, (slope - limit) / standardError);
    }

    /// <summary>The least-squares slope of y on x (MathNet's line fit); 0 with fewer than two distinct x.</summary>
    public static double Slope(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count < 2 || x.Distinct().Count() < 2) return 0;
        return MathNet.Numerics.Fit.Line(x.ToArray(), y.ToArray()).B;
    }
}
