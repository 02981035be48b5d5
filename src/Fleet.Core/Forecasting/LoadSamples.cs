using Fleet.Abstractions.Policy;

namespace Fleet.Core.Forecasting;

/// <summary>Which of a node's load figures a forecast follows.</summary>
public enum LoadFigure { Cpu, Disk }

/// <summary>
/// A node's CPU and disk use, one sample per accepted report, 4 bytes a sample: each percent in hundredths (0–10,000)
/// in one half of an int (CPU low, disk high). The samples have no instants of their own: they are taken with the
/// memory samples (<see cref="MemoryWindow"/>), appended and forgotten together, so the last k of one match the last k
/// of the other. Arrays are never changed once made (each append makes a new one).
/// </summary>
public static class LoadSamples
{
    public static int Pack(double cpuPercent, double diskPercent) => Hundredths(diskPercent) << 16 | Hundredths(cpuPercent);

    public static double Of(int sample, LoadFigure figure) => (figure == LoadFigure.Cpu ? sample & 0xFFFF : sample >>> 16) / 100.0;

    private static int Hundredths(double percent) => (int)Math.Round(Math.Clamp(double.IsFinite(percent) ? percent : 0, 0, 100) * 100);

    /// <summary>The last <paramref name="max"/> samples after <paramref name="sample"/>, in a new array.</summary>
    public static int[] Append(int[]? window, int sample, int max)
    {
        var count = window?.Length ?? 0;
        var kept = Math.Clamp(count, 0, Math.Max(0, max - 1));
        var next = new int[kept + 1];
        if (kept > 0) Array.Copy(window!, count - kept, next, 0, kept);
        next[kept] = sample;
        return next;
    }

    /// <summary>
    /// The trend of one figure toward the policy's limit, over the samples that have a memory sample's instant beside
    /// them; null when there are fewer than <paramref name="minSamples"/>, they cover less than the policy's minSpan, or
    /// the forecast is off.
    /// </summary>
    public static Trend? Forecast(MemoryWindow times, int[]? load, LoadFigure figure, ResourceForecastPolicy policy, int minSamples)
    {
        if (!policy.Enabled || load is null) return null;
        var n = Math.Min(times.Count, load.Length);
        if (n < Math.Max(2, minSamples)) return null;
        Span<MemorySample> instants = n <= 64 ? stackalloc MemorySample[n] : new MemorySample[n];
        times.CopyTo(instants, times.Count - n);
        if (instants[^1].At - instants[0].At < policy.MinSpan) return null;
        var (x, y) = TrendForecaster.Buffers(n);
        var t0 = instants[0].At;
        for (var i = 0; i < n; i++)
        {
            x[i] = (instants[i].At - t0).TotalSeconds;
            y[i] = Of(load[load.Length - n + i], figure);
        }
        return TrendForecaster.ToLimit(x, y, policy.LimitPercent, policy.MinFit);
    }
}
