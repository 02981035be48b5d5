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

/// <summary>
/// The window of memory samples a node keeps for its forecast, compact: the first sample whole, then each next one as
/// its difference from the one before — 8 bytes a sample where a sample is 16 (30 samples: 272 bytes, not 504). A
/// difference that does not fit (samples more than about 214 s apart, or memory moving by 2 GiB or more between two)
/// keeps the window whole, 16 bytes a sample; either way every instant and byte count comes back exactly. Stored as an
/// array of samples, the shape it had before it was compact, so a stored window of an earlier build reads.
/// </summary>
[Immutable]
public readonly struct MemoryWindow : IReadOnlyList<MemorySample>, IEquatable<MemoryWindow>
{
    // Compact (first >= 0): [ticks₀, bytes₀, (Δticks₁ << 32 | (uint)Δbytes₁), …]; whole (first < 0): [~ticks₀, bytes₀, ticks₁, bytes₁, …].
    private readonly long[]? _data;

    private MemoryWindow(long[]? data) => _data = data;

    public static MemoryWindow Empty => default;

    public int Count => _data is not { Length: > 0 } d ? 0 : d[0] >= 0 ? d.Length - 1 : d.Length / 2;

    public MemorySample this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            Span<MemorySample> one = stackalloc MemorySample[1];
            CopyTo(one, index);
            return one[0];
        }
    }

    /// <summary>The window after <paramref name="sample"/>: the last <paramref name="max"/> samples, in one new array.</summary>
    public MemoryWindow Append(MemorySample sample, int max)
    {
        var kept = Math.Clamp(Count, 0, Math.Max(0, max - 1));
        Span<MemorySample> all = kept + 1 <= 64 ? stackalloc MemorySample[kept + 1] : new MemorySample[kept + 1];
        CopyTo(all[..kept], Count - kept);
        all[kept] = sample;
        return Of(all);
    }

    /// <summary>A window of these samples, in order.</summary>
    public static MemoryWindow Of(ReadOnlySpan<MemorySample> samples)
    {
        if (samples.IsEmpty) return default;
        var compact = true;
        for (var i = 1; i < samples.Length && compact; i++)
            compact = Fits(samples[i].At.UtcTicks - samples[i - 1].At.UtcTicks) && Fits(samples[i].UsedBytes - samples[i - 1].UsedBytes);
        long[] d;
        if (compact)
        {
            d = new long[samples.Length + 1];
            d[0] = samples[0].At.UtcTicks;
            d[1] = samples[0].UsedBytes;
            for (var i = 1; i < samples.Length; i++)
                d[i + 1] = (samples[i].At.UtcTicks - samples[i - 1].At.UtcTicks) << 32 | (uint)(int)(samples[i].UsedBytes - samples[i - 1].UsedBytes);
        }
        else
        {
            d = new long[samples.Length * 2];
            for (var i = 0; i < samples.Length; i++)
            {
                d[2 * i] = samples[i].At.UtcTicks;
                d[2 * i + 1] = samples[i].UsedBytes;
            }
            d[0] = ~d[0];
        }
        return new MemoryWindow(d);
    }

    /// <summary>Copies the samples from <paramref name="start"/> on into <paramref name="into"/> (as many as it holds).</summary>
    public void CopyTo(Span<MemorySample> into, int start = 0)
    {
        if (into.IsEmpty) return;
        var d = _data!;
        if (d[0] < 0)
        {
            for (var i = 0; i < into.Length; i++)
            {
                var k = start + i;
                into[i] = Sample(k == 0 ? ~d[0] : d[2 * k], d[2 * k + 1]);
            }
            return;
        }
        long ticks = d[0], bytes = d[1];
        for (var k = 0; k < start + into.Length; k++)
        {
            if (k > 0)
            {
                ticks += d[k + 1] >> 32;
                bytes += (int)d[k + 1];
            }
            if (k >= start) into[k - start] = Sample(ticks, bytes);
        }
    }

    public MemorySample[] ToArray()
    {
        var all = new MemorySample[Count];
        CopyTo(all);
        return all;
    }

    public IEnumerator<MemorySample> GetEnumerator() => ((IEnumerable<MemorySample>)ToArray()).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Two windows are equal when they are the same window (as two immutable arrays are).</summary>
    public bool Equals(MemoryWindow other) => ReferenceEquals(_data, other._data) || Count == 0 && other.Count == 0;

    public override bool Equals(object? obj) => obj is MemoryWindow w && Equals(w);

    public override int GetHashCode() => Count == 0 ? 0 : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(_data!);

    public static bool operator ==(MemoryWindow a, MemoryWindow b) => a.Equals(b);

    public static bool operator !=(MemoryWindow a, MemoryWindow b) => !a.Equals(b);

    private static bool Fits(long delta) => delta is >= int.MinValue and <= int.MaxValue;

    private static MemorySample Sample(long utcTicks, long bytes) => new(new DateTimeOffset(utcTicks, TimeSpan.Zero), bytes);
}

/// <summary>
/// A window's stored shape: the samples as one array, as an <see cref="ImmutableArray{T}"/> of them is stored (its
/// surrogate's one field) — so a window an earlier build wrote reads, and this one writes the same bytes.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.MemoryWindow")]
public struct MemoryWindowSurrogate
{
    [Id(0)] public MemorySample[]? Values;
}

[RegisterConverter]
public sealed class MemoryWindowConverter : IConverter<MemoryWindow, MemoryWindowSurrogate>
{
    public MemoryWindow ConvertFromSurrogate(in MemoryWindowSurrogate surrogate) => MemoryWindow.Of(surrogate.Values);

    public MemoryWindowSurrogate ConvertToSurrogate(in MemoryWindow value) => new() { Values = value.ToArray() };
}

/// <summary>
/// Least-squares trend over recent memory samples (MathNet.Numerics' line fit, <see cref="TrendForecaster"/>), and the
/// time until memory runs out at that trend.
/// </summary>
public static class MemoryForecaster
{
    public static MemoryForecast Forecast(MemoryWindow window, long totalBytes)
    {
        var n = window.Count;
        Span<MemorySample> samples = n <= 64 ? stackalloc MemorySample[n] : new MemorySample[n];
        window.CopyTo(samples);
        return Forecast(samples, totalBytes);
    }

    public static MemoryForecast Forecast(ReadOnlySpan<MemorySample> samples, long totalBytes)
    {
        if (samples.Length < 2 || totalBytes <= 0) return new MemoryForecast(0, null, samples.Length);
        var (x, y) = TrendForecaster.Buffers(samples.Length);
        var t0 = samples[0].At;
        for (var i = 0; i < samples.Length; i++) { x[i] = (samples[i].At - t0).TotalSeconds; y[i] = samples[i].UsedBytes; }
        var trend = TrendForecaster.ToLimit(x, y, totalBytes, minFit: 0);
        return new MemoryForecast(trend.PerSecond, trend.TimeToLimit, samples.Length);
    }
}
