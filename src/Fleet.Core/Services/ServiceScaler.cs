using System.Collections.Immutable;
using Fleet.Abstractions.Services;
using Fleet.Core.Text;

namespace Fleet.Core.Services;

/// <summary>A scaling step and the figures behind it.</summary>
public sealed record ScaleDecision(int From, int To, string Why);

/// <summary>
/// Replicas follow load between min and max: enough to carry the load the instances report at the target per instance.
/// Hysteresis: nothing moves while the average load per instance is within
/// ±tolerance of the target. A cooldown follows each step. A step down takes the highest recommendation made during the
/// last <see cref="DownscaleWindow"/> (5 minutes, or the cooldown when longer, as Kubernetes' HPA does), so load that
/// swings around the target does not make the replicas swing with it.
/// </summary>
public static class ServiceScaler
{
    /// <summary>How far back a step down looks for a higher recommendation: the cooldown, and never less than 5 minutes.</summary>
    public static TimeSpan DownscaleWindow(ScalingSpec scaling) => scaling.Cooldown > TimeSpan.FromMinutes(5) ? scaling.Cooldown : TimeSpan.FromMinutes(5);

    public static (ScaleDecision? Decision, ImmutableArray<ScaleRecommendation> Recommendations) Decide(
        ScalingSpec scaling, int current, IReadOnlyCollection<InstanceLoad> loads, ImmutableArray<ScaleRecommendation> recent,
        DateTimeOffset? lastScaleAt, DateTimeOffset now)
    {
        var clamped = Math.Clamp(current, scaling.Min, scaling.Max);
        var values = loads.Select(l => scaling.Metric == ScalingMetric.Cpu ? l.CpuPercent : l.Requests).OfType<double>().ToList();
        var window = recent.Where(r => now - r.At < DownscaleWindow(scaling)).ToImmutableArray();
        if (values.Count == 0)
            return (clamped != current ? new ScaleDecision(current, clamped, $"the replicas must stay within {scaling.Min} to {scaling.Max}") : null, window);

        var average = values.Average();
        var ratio = average / scaling.Target;
        var within = Math.Abs(ratio - 1) <= scaling.Tolerance;
        // The replicas that would carry the whole load reported at the target: instances still starting carry none yet,
        // so the load is the sum over those that report, not the average times the replicas wanted.
        var recommendation = within ? current : Math.Clamp((int)Math.Ceiling(values.Sum() / scaling.Target - 1e-9), scaling.Min, scaling.Max);
        window = window.Add(new ScaleRecommendation(now, recommendation));
        var metric = scaling.Metric == ScalingMetric.Cpu ? "CPU" : "requests per second";
        var figures = $"{metric} averaged {Show(scaling.Metric, average)} over {values.Count} instance(s), target {Show(scaling.Metric, scaling.Target)} ± {Format.Percent(scaling.Tolerance * 100)}";

        if (clamped != current) return (new ScaleDecision(current, clamped, $"the replicas must stay within {scaling.Min} to {scaling.Max}; {figures}"), window);
        if (lastScaleAt is { } last && now - last < scaling.Cooldown) return (null, window);
        if (recommendation > current) return (new ScaleDecision(current, recommendation, figures), window);
        if (recommendation < current)
        {
            var stabilized = window.Max(r => r.Replicas);
            if (stabilized < current)
                return (new ScaleDecision(current, stabilized,
                    $"{figures}; the highest recommendation of the last {Format.Duration(DownscaleWindow(scaling))} was {stabilized}"), window);
        }
        return (null, window);
    }

    private static string Show(ScalingMetric metric, double value) => metric == ScalingMetric.Cpu ? Format.Percent(value) : $"{Format.Num(Math.Round(value, 1))}/s";
}
