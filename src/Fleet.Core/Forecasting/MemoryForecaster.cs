using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Fleet.Abstractions.Nodes;

namespace Fleet.Core.Forecasting;

/// <summary>
/// One memory sample: 16 bytes in memory (the instant as UTC ticks), where a <see cref="DateTimeOffset"/> field made it
/// 24 — a node keeps up to 30. Stored as before (the instant, then the bytes), so samples written by earlier builds read.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.MemorySample")]
public record struct MemorySample
{
    [NonSerialized] private long _atUtcTicks;

    public MemorySample(DateTimeOffset at, long usedBytes)
    {
        _atUtcTicks = at.UtcTicks;
        UsedBytes = usedBytes;
    }

    /// <summary>When it was taken, in UTC (an instant equal to the one given).</summary>
    // The setters are internal, for the serializer (generated in this assembly): a sample does not change once taken.
    [Id(0)] public DateTimeOffset At { readonly get => new(_atUtcTicks, TimeSpan.Zero); internal set => _atUtcTicks = value.UtcTicks; }

    [Id(1)] public long UsedBytes { readonly get; internal set; }
}

/// <summary>The window of memory samples a node keeps for its forecast.</summary>
public static class MemoryWindow
{
    /// <summary>The window after <paramref name="sample"/>: the last <paramref name="max"/> samples, in one new array (not two, as adding then trimming made).</summary>
    public static ImmutableArray<MemorySample> Append(ImmutableArray<MemorySample> window, MemorySample sample, int max)
    {
        var kept = Math.Clamp(window.IsDefault ? 0 : window.Length, 0, Math.Max(0, max - 1));
        var next = new MemorySample[kept + 1];
        if (kept > 0) window.CopyTo(window.Length - kept, next, 0, kept);
        next[kept] = sample;
        return ImmutableCollectionsMarshal.AsImmutableArray(next);
    }
}

/// <summary>Least-squares trend over recent memory samples, and the time until memory runs out at that trend.</summary>
public static class MemoryForecaster
{
    public static MemoryForecast Forecast(ImmutableArray<MemorySample> samples, long totalBytes)
    {
        if (samples.Length < 2 || totalBytes <= 0) return new MemoryForecast(0, null, samples.Length);

        var t0 = samples[0].At;
        double n = samples.Length, sumX = 0, sumY = 0, sumXx = 0, sumXy = 0;
        foreach (var s in samples)
        {
            double x = (s.At - t0).TotalSeconds, y = s.UsedBytes;
            sumX += x; sumY += y; sumXx += x * x; sumXy += x * y;
        }

        var denominator = n * sumXx - sumX * sumX;
        if (denominator <= 0) return new MemoryForecast(0, null, samples.Length);

        var slope = (n * sumXy - sumX * sumY) / denominator;
        var intercept = (sumY - slope * sumX) / n;
        if (slope <= 0) return new MemoryForecast(slope, null, samples.Length);

        var lastX = (samples[^1].At - t0).TotalSeconds;
        var fittedNow = intercept + slope * lastX;
        var remaining = Math.Max(0, totalBytes - Math.Max(fittedNow, samples[^1].UsedBytes));
        var seconds = remaining / slope;
        return new MemoryForecast(slope, seconds > TimeSpan.MaxValue.TotalSeconds / 2 ? null : TimeSpan.FromSeconds(seconds), samples.Length);
    }
}
