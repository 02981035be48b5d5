using Fleet.Core.Statistics;

namespace Fleet.Core.Tests.Rollouts;

public class HypothesisTestsTests
{
    /// <summary>Samples with a's U exactly <paramref name="u"/>: b is 1..n2, each a value sits just above k of them (no ties).</summary>
    private static (double[] A, double[] B) WithU(int n1, int n2, int u)
    {
        var b = Enumerable.Range(1, n2).Select(x => (double)x).ToArray();
        var k = new int[n1];
        var left = u;
        for (var i = 0; i < n1; i++)
        {
            k[i] = Math.Min(n2, left);
            left -= k[i];
        }
        Assert.Equal(0, left);
        return (k.Select((x, i) => x + 0.5 + i * 1e-6).ToArray(), b);
    }

    // Published critical values of U for a two-tailed test at α = 0.05 (one tail 0.025): the smaller U must be at most
    // the critical value. Here a is the greater sample, so the smaller U is n1·n2 − U(a).
    [Theory]
    [InlineData(8, 8, 13)]
    [InlineData(10, 10, 23)]
    [InlineData(5, 10, 8)]
    [InlineData(12, 15, 49)]
    [InlineData(20, 20, 127)]
    public void MannWhitney_MatchesPublishedCriticalValues(int n1, int n2, int critical)
    {
        var (a, b) = WithU(n1, n2, n1 * n2 - critical);
        var at = HypothesisTests.MannWhitneyGreater(a, b);
        Assert.Equal(n1 * n2 - critical, at.Statistic, 6);
        Assert.True(at.P <= 0.025, $"U = {critical}: p = {at.P} should be significant at 0.025 one-sided");
        var (a2, b2) = WithU(n1, n2, n1 * n2 - critical - 1);
        var above = HypothesisTests.MannWhitneyGreater(a2, b2);
        Assert.True(above.P > 0.025, $"U = {critical + 1}: p = {above.P} should not be significant");
    }

    [Fact]
    public void MannWhitney_SmallSamplesWithoutTies_AreExact()
    {
        // n1 = n2 = 3, a above every b: 1 ordering of the 20 gives U = 9.
        var r = HypothesisTests.MannWhitneyGreater([4, 5, 6], [1, 2, 3]);
        Assert.True(r.Exact);
        Assert.Equal(9, r.Statistic);
        Assert.Equal(1 / 20.0, r.P, 12);
    }

    [Fact]
    public void MannWhitney_Ties_UseTheNormalApproximationWithTieAndContinuityCorrection()
    {
        // Ranks 1.5,1.5 | 4,4,4 | 6: U(a) = 14 − 6 = 8; σ² = 3·3/12 · (7 − 30/30) = 4.5; z = (8 − 4.5 − 0.5) / √4.5 = 1.4142.
        var r = HypothesisTests.MannWhitneyGreater([2, 2, 3], [1, 1, 2]);
        Assert.False(r.Exact);
        Assert.Equal(8, r.Statistic);
        Assert.Equal(Math.Sqrt(2), r.Z!.Value, 4);
        Assert.Equal(0.0786, r.P, 3);
    }

    [Fact]
    public void MannWhitney_AllEqual_OrEmpty_IsNotSignificant()
    {
        Assert.Equal(1, HypothesisTests.MannWhitneyGreater([5, 5, 5, 5], [5, 5, 5]).P);
        Assert.Equal(1, HypothesisTests.MannWhitneyGreater([], [1, 2]).P);
    }

    [Fact]
    public void MannWhitney_LargeSamples_NormalAgreesWithTheDirection()
    {
        var rng = new Random(7);
        var a = Enumerable.Range(0, 200).Select(_ => 100 + rng.NextDouble() * 50).ToArray();
        var b = Enumerable.Range(0, 200).Select(_ => 90 + rng.NextDouble() * 50).ToArray();
        Assert.True(HypothesisTests.MannWhitneyGreater(a, b).P < 0.001);
        Assert.True(HypothesisTests.MannWhitneyGreater(b, a).P > 0.99);
    }

    [Fact]
    public void TwoProportion_KnownValue()
    {
        // 48 errors in 1000 vs 9 in 1000: pooled 0.0285; z = 0.039 / √(0.0285·0.9715·0.002) = 5.24.
        var r = HypothesisTests.ProportionGreater(48, 1000, 9, 1000);
        Assert.Equal(5.24, r.Z!.Value, 2);
        Assert.True(r.P < 1e-6);
        Assert.Equal(1, HypothesisTests.ProportionGreater(0, 1000, 0, 1000).P);
        Assert.True(HypothesisTests.ProportionGreater(10, 1000, 10, 1000).P >= 0.5);
    }

    [Fact]
    public void SlopeWithError_KnownValues_AndTheTTest()
    {
        // Fit 1.1 + 3.1x; residuals −0.1, −0.2, 0.7, −0.4: SE = √(0.70 / 2 / 5) = 0.2646.
        var (slope, error) = HypothesisTests.SlopeWithError([0, 1, 2, 3], [1, 4, 8, 10]);
        Assert.Equal(3.1, slope, 9);
        Assert.Equal(Math.Sqrt(0.07), error, 9);
        // t = (3.1 − 2) / 0.2646 = 4.16 on 2 degrees of freedom: one-sided p ≈ 0.027.
        Assert.Equal(0.0266, HypothesisTests.SlopeAbove(slope, error, 4, 2), 3);
        Assert.True(HypothesisTests.SlopeAbove(slope, error, 4, 3.1) >= 0.5);
        Assert.Equal(1, HypothesisTests.SlopeAbove(5, double.PositiveInfinity, 2, 0));
    }

    [Fact]
    public void Slope_OfALine()
    {
        Assert.Equal(3, HypothesisTests.Slope([0, 1, 2, 3], [1, 4, 7, 10]), 9);
        Assert.Equal(0, HypothesisTests.Slope([1], [5]));
    }
}
