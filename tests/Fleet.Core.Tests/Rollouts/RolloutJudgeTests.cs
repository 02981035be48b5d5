using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Core.Rollouts;

namespace Fleet.Core.Tests.Rollouts;

public class RolloutJudgeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RolloutPolicy P = RolloutPolicy.Default;
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>Reports of <paramref name="instances"/> instances, one every 10 s each, with a little noise.</summary>
    private static List<RolloutSample> Reports(string version, int instances, int each, double rps, double errorShare, double p99, long memory = 1L << 30,
        double memoryPerHour = 0, int seed = 1)
    {
        var rng = new Random(seed);
        var list = new List<RolloutSample>();
        for (var i = 0; i < instances; i++)
            for (var k = 0; k < each; k++)
            {
                var at = T0 + TimeSpan.FromSeconds(10 * k);
                var noise = 0.9 + rng.NextDouble() * 0.2;
                list.Add(new RolloutSample($"{version}-{i}", version, at, T0, rps, rps * errorShare * noise, p99 / 3 * noise, p99 * noise,
                    memory + (long)(memoryPerHour * (at - T0).TotalHours) + rng.Next(0, 1 << 20), false));
            }
        return list;
    }

    private static RolloutJudgement Judge(List<RolloutSample> canary, List<RolloutSample> baseline) =>
        RolloutJudge.Judge("canary", 0, "2.1", canary, "2.0", baseline, "a fresh baseline", P, Interval, T0);

    [Fact]
    public void FiveTimesTheErrors_Fails_WithTheFigures()
    {
        var j = Judge(Reports("2.1", 1, 30, 20, 0.045, 200), Reports("2.0", 1, 30, 20, 0.009, 200, seed: 2));
        Assert.Equal(Verdict.Fail, j.Verdict);
        var errors = j.Metrics.Single(m => m.Metric == "errors");
        Assert.Equal(Verdict.Fail, errors.Verdict);
        Assert.True(errors.P < 0.0001);
        Assert.Contains("errors 4.", j.Summary);
        Assert.Contains("on 2.1 vs 0.", j.Summary);
        Assert.Contains("two-proportion test p < 0.0001 over 6,000 and 6,000 requests", j.Summary);
    }

    [Fact]
    public void SlowerP99_Fails_OnTheUTest()
    {
        var j = Judge(Reports("2.1", 2, 15, 20, 0.01, 320), Reports("2.0", 2, 15, 20, 0.01, 200, seed: 3));
        Assert.Equal(Verdict.Fail, j.Verdict);
        var p99 = j.Metrics.Single(m => m.Metric == "latencyP99");
        Assert.Equal(Verdict.Fail, p99.Verdict);
        Assert.Contains("U test p < 0.0001 over 30 and 30 reports", p99.Text);
        Assert.Equal(Verdict.Pass, j.Metrics.Single(m => m.Metric == "errors").Verdict);
    }

    [Fact]
    public void ASameVersion_Passes()
    {
        var j = Judge(Reports("2.1", 2, 30, 20, 0.01, 200, seed: 4), Reports("2.0", 2, 30, 20, 0.01, 200, seed: 5));
        Assert.Equal(Verdict.Pass, j.Verdict);
        Assert.All(j.Metrics, m => Assert.Equal(Verdict.Pass, m.Verdict));
        Assert.StartsWith("canary 2.1 passed against a fresh baseline: errors", j.Summary);
    }

    [Fact]
    public void TooFewReports_OrTooLittleTraffic_IsInconclusive_NeverAPass()
    {
        var few = Judge(Reports("2.1", 1, 5, 20, 0.01, 200), Reports("2.0", 1, 5, 20, 0.01, 200));
        Assert.Equal(Verdict.Inconclusive, few.Verdict);
        Assert.Contains("too few reports (5 report(s) of 2.1 and 5 of 2.0, 10 each needed)", few.Summary);

        var quiet = Judge(Reports("2.1", 1, 30, 0.2, 0.5, 200), Reports("2.0", 1, 30, 0.2, 0, 200));
        Assert.Equal(Verdict.Inconclusive, quiet.Verdict);
        Assert.Contains("too little traffic to compare (60 requests on 2.1, 60 on 2.0; 200 each needed)", quiet.Summary);
    }

    [Fact]
    public void AMemoryLeak_Fails_OnTheSlope()
    {
        var j = Judge(Reports("2.1", 2, 40, 20, 0.01, 200, memoryPerHour: 2L << 30), Reports("2.0", 2, 40, 20, 0.01, 200, seed: 6));
        var memory = j.Metrics.Single(m => m.Metric == "memoryGrowth");
        Assert.Equal(Verdict.Fail, memory.Verdict);
        Assert.InRange(memory.Candidate!.Value, 1.8 * (1L << 30), 2.2 * (1L << 30));
        Assert.Contains("memory grows 2 GiB/h on 2.1", memory.Text);
        Assert.Equal(Verdict.Fail, j.Verdict);
    }

    [Fact]
    public void NoisyButFlatMemory_OverAShortStep_IsNoLeak()
    {
        // 4 MiB of noise over two minutes looks like ±100 MiB/h to a bare slope: too short a span to judge memory by.
        var rng = new Random(9);
        List<RolloutSample> Noisy(string version, int seed) => [.. Enumerable.Range(0, 12).Select(k => new RolloutSample($"{version}-0", version, T0 + TimeSpan.FromSeconds(10 * k), T0,
            20, 0.2, 60, 200, (1L << 30) + rng.Next(0, 4 << 20), false))];
        for (var trial = 0; trial < 50; trial++)
        {
            var j = Judge(Noisy("2.1", trial), Noisy("2.0", trial + 100));
            var m = j.Metrics.Single(m => m.Metric == "memoryGrowth");
            Assert.True(m.Verdict != Verdict.Fail, $"trial {trial}: {m.Text}");
        }
    }

    [Fact]
    public void Slopes_LeaveOutInstancesWithTooShortAHistory()
    {
        var samples = Reports("2.1", 1, 20, 20, 0, 200, memoryPerHour: 1L << 30); // 20 reports over 3m10s: too short a span
        Assert.Empty(RolloutJudge.Slopes(samples));
        Assert.Single(RolloutJudge.Slopes(Reports("2.1", 1, 25, 20, 0, 200)));
        // A step judged before memory can be: it passes on the rest, memory shown as not judged yet.
        var j = Judge(Reports("2.1", 1, 12, 20, 0.01, 200), Reports("2.0", 1, 12, 20, 0.01, 200, seed: 8));
        Assert.Equal(Verdict.Pass, j.Verdict);
        Assert.Equal(Verdict.Inconclusive, j.Metrics.Single(m => m.Metric == "memoryGrowth").Verdict);
    }
}
