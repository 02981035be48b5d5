using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Core.Services;

namespace Fleet.Core.Tests.Services;

public class ErrorTrendTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ForecastPolicy Policy = FleetPolicy.Default.Forecast;

    private static InstanceReport Report(DateTimeOffset at, double requests, double errors) =>
        new("api", "api-1", "1", requests, errors, 5, 20, 1 << 30, true, 5, at);

    private static ImmutableArray<ErrorSample> Feed(IEnumerable<(int Seconds, double Requests, double Errors)> reports, int max = 30)
    {
        var w = ImmutableArray<ErrorSample>.Empty;
        foreach (var (s, req, err) in reports) w = ErrorTrend.Append(w, Report(T0.AddSeconds(s), req, err), T0.AddSeconds(s), max);
        return w;
    }

    [Fact]
    public void Append_KeepsTheLastMax_SkipsReportsWithoutRequests_OrNotAfterTheLast()
    {
        var w = Feed(Enumerable.Range(0, 40).Select(i => (i * 10, 100.0, (double)i)), max: 30);
        Assert.Equal(30, w.Length);
        Assert.Equal(39, w[^1].Percent);
        Assert.Equal(10, w[0].Percent);
        Assert.Equal(w, ErrorTrend.Append(w, Report(T0.AddSeconds(400), 0, 5), T0.AddSeconds(400), 30)); // no requests: no rate
        Assert.Equal(w, ErrorTrend.Append(w, Report(T0.AddSeconds(390), 100, 5), T0.AddSeconds(400), 30)); // not after the last
        Assert.Equal(w, ErrorTrend.Append(w, Report(T0.AddSeconds(500), double.NaN, 5), T0.AddSeconds(500), 30));
        // More errors than requests (a reporter's mistake) counts as 100 %, never more; a report from the future counts as now.
        var odd = ErrorTrend.Append(w, Report(T0.AddHours(1), 10, 50), T0.AddSeconds(500), 30);
        Assert.Equal((T0.AddSeconds(500), 100.0), (odd[^1].At, odd[^1].Percent));
    }

    [Fact]
    public void Breaching_AClimbOnALine_OverTheSpan_NotNoise_NotAShortBurst_NotWhenOff()
    {
        // 0.6 %/min from 0: 1.8 % after 3 minutes, 5 % some 5 minutes later, inside the 30-minute horizon.
        var climbing = Feed(Enumerable.Range(0, 19).Select(i => (i * 10, 100.0, i * 0.1)));
        var t = ErrorTrend.Breaching(climbing, Policy);
        Assert.NotNull(t);
        Assert.InRange(t!.Value.TimeToLimit!.Value.TotalMinutes, 5.2, 5.5);
        var text = ErrorTrend.Describe(t.Value, climbing, Policy);
        Assert.StartsWith("its error rate will reach 5% in about 5.3 min (1.8% now, rising 0.6%/min over 19 reports, the line's fit R² 1;", text);

        // Under 3 minutes of samples: not yet a trend.
        Assert.Null(ErrorTrend.Breaching(Feed(Enumerable.Range(0, 17).Select(i => (i * 10, 100.0, i * 0.1))), Policy));
        // Noise around 2 %: the line explains too little.
        var random = new Random(3);
        Assert.Null(ErrorTrend.Breaching(Feed(Enumerable.Range(0, 30).Select(i => (i * 10, 100.0, 2 + random.NextDouble() * 3))), Policy));
        // Off, fleet-wide or for errors alone.
        Assert.Null(ErrorTrend.Breaching(climbing, Policy with { Enabled = false }));
        Assert.Null(ErrorTrend.Breaching(climbing, Policy with { Errors = Policy.Errors with { Enabled = false } }));
        // A higher limit, reached beyond the horizon: nothing foreseen.
        Assert.Null(ErrorTrend.Breaching(climbing, Policy with { Errors = Policy.Errors with { LimitPercent = 50 } }));
    }
}
