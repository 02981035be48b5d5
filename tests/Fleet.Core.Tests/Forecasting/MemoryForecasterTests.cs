using System.Collections.Immutable;
using Fleet.Core.Forecasting;

namespace Fleet.Core.Tests.Forecasting;

public class MemoryForecasterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Forecast_LinearRise_TimeToExhaustionFromSlope()
    {
        var samples = Enumerable.Range(0, 10).Select(i => new MemorySample(T0.AddSeconds(i * 10), 1000 + i * 100L)).ToArray();
        var f = MemoryForecaster.Forecast(samples, 10_000);
        Assert.Equal(10, f.BytesPerSecond, 6);
        // last sample 1900 used, 8100 left at 10 B/s.
        Assert.Equal(810, f.TimeToExhaustion!.Value.TotalSeconds, 3);
    }

    [Fact]
    public void Forecast_Falling_NoExhaustion()
    {
        var samples = Enumerable.Range(0, 5).Select(i => new MemorySample(T0.AddSeconds(i), 5000 - i * 10L)).ToArray();
        Assert.Null(MemoryForecaster.Forecast(samples, 10_000).TimeToExhaustion);
    }

    [Fact]
    public void Forecast_NoisyRise_UsesRegressionNotLastTwoPoints()
    {
        long[] used = [1000, 1300, 1100, 1400, 1200, 1500];
        var samples = used.Select((u, i) => new MemorySample(T0.AddSeconds(i), u)).ToArray();
        var f = MemoryForecaster.Forecast(samples, 100_000);
        Assert.InRange(f.BytesPerSecond, 71, 72); // least squares: 1250 / 17.5
    }

    [Fact]
    public void Forecast_OneSample_NoForecast()
    {
        Assert.Null(MemoryForecaster.Forecast([new MemorySample(T0, 5)], 10).TimeToExhaustion);
    }

    [Fact]
    public void Forecast_SamplesAtOneInstant_NoTrend()
    {
        var f = MemoryForecaster.Forecast([new MemorySample(T0, 1000), new MemorySample(T0, 5000), new MemorySample(T0, 9000)], 10_000);
        Assert.Equal(0, f.BytesPerSecond);
        Assert.Null(f.TimeToExhaustion);
    }
}
