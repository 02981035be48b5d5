using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Core.Forecasting;
using Fleet.Core.Text;

namespace Fleet.Core.Services;

/// <summary>One instance report's error rate: errors ÷ requests, as a percentage, and when the report was made.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ErrorSample")]
public readonly record struct ErrorSample([property: Id(0)] DateTimeOffset At, [property: Id(1)] double Percent);

/// <summary>
/// An instance's error-rate trend (<c>forecast.errors</c>): the last <c>forecast.maxSamples</c> error rates of its reports, a
/// least-squares line through them (<see cref="TrendForecaster"/>), and whether that line reaches the limit within the horizon.
/// </summary>
public static class ErrorTrend
{
    /// <summary>The samples after one more report; a report with no requests, or not after the last sample, adds nothing.</summary>
    public static ImmutableArray<ErrorSample> Append(ImmutableArray<ErrorSample> window, InstanceReport report, DateTimeOffset now, int max)
    {
        if (!double.IsFinite(report.Requests) || !double.IsFinite(report.Errors) || report.Requests <= 0) return window;
        var at = report.Timestamp < now ? report.Timestamp : now;
        var samples = window.IsDefault ? [] : window;
        if (samples.Length > 0 && at <= samples[^1].At) return samples;
        var sample = new ErrorSample(at, Math.Clamp(100 * report.Errors / report.Requests, 0, 100));
        return samples.Length < max ? samples.Add(sample) : [.. samples.Skip(samples.Length - max + 1), sample];
    }

    /// <summary>The trend when it reaches <c>forecast.errors.limitPercent</c> within the horizon (believed: enough samples, span and fit); null otherwise.</summary>
    public static Trend? Breaching(ImmutableArray<ErrorSample> samples, ForecastPolicy policy)
    {
        var p = policy.Errors;
        if (!policy.Enabled || !p.Enabled || samples.IsDefault || samples.Length < Math.Max(2, policy.MinSamples)) return null;
        if (samples[^1].At - samples[0].At < p.MinSpan) return null;
        var (x, y) = TrendForecaster.Buffers(samples.Length);
        for (var i = 0; i < samples.Length; i++)
        {
            x[i] = (samples[i].At - samples[0].At).TotalSeconds;
            y[i] = samples[i].Percent;
        }
        var trend = TrendForecaster.ToLimit(x, y, p.LimitPercent, p.MinFit);
        return trend.TimeToLimit is { } t && t < policy.Horizon ? trend : null;
    }

    /// <summary>What a breaching trend foresees, in words.</summary>
    public static string Foreseen(ForecastPolicy policy) => $"an error rate of {Format.Percent(policy.Errors.LimitPercent)}";

    /// <summary>The symptom of a breaching trend: where the rate is, how fast it climbs, how well the line fits, when it reaches the limit.</summary>
    public static string Describe(Trend t, ImmutableArray<ErrorSample> samples, ForecastPolicy policy) =>
        $"its error rate will reach {Format.Percent(policy.Errors.LimitPercent)} in about {Format.Duration(t.TimeToLimit!.Value)} " +
        $"({Format.Percent(samples[^1].Percent)} now, rising {Format.Percent(t.PerSecond * 60)}/min over {samples.Length} reports{t.FitText}; " +
        $"horizon {Format.Duration(policy.Horizon)})";
}
