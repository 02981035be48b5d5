namespace Fleet.Core.Forecasting;

/// <summary>A least-squares trend toward a limit: its slope (per second), how long until it reaches the limit, and how well the line fits.</summary>
/// <param name="PerSecond">The line's slope, in the samples' unit per second.</param>
/// <param name="TimeToLimit">How long from the last sample until the line reaches the limit; null when it never does (flat or falling, or no trend).</param>
/// <param name="Latest">The use now: the larger of the last sample and the line's value there.</param>
/// <param name="RSquared">How much of the samples' spread the line explains (0–1); computed only when a fit was asked for, else NaN.</param>
public readonly record struct Trend(double PerSecond, TimeSpan? TimeToLimit, double Latest, double RSquared)
{
    /// <summary>", the line's fit R² 0.93" when the fit was measured; empty when not (a forecast believed at any fit).</summary>
    public string FitText => double.IsNaN(RSquared) ? "" : $", the line's fit R² {Text.Format.Num(Math.Round(RSquared, 2))}";
}

/// <summary>
/// Fits a straight line through samples (MathNet.Numerics' least squares) and says when it reaches a limit — the one trend
/// used for memory running out, the disk filling and CPU saturating.
/// </summary>
public static class TrendForecaster
{
    [ThreadStatic] private static double[][]? t_xs, t_ys;

    /// <summary>
    /// Two arrays of exactly <paramref name="n"/> doubles for the fit (MathNet reads whole arrays), kept per thread and
    /// per length up to 64: a report allocates none. The fit keeps neither past the call; a caller fills them and fits
    /// before it asks for another pair.
    /// </summary>
    public static (double[] X, double[] Y) Buffers(int n)
    {
        if (n > 64) return (new double[n], new double[n]);
        t_xs ??= new double[65][];
        t_ys ??= new double[65][];
        return (t_xs[n] ??= new double[n], t_ys[n] ??= new double[n]);
    }

    /// <summary>
    /// The trend of <paramref name="y"/> over <paramref name="x"/> (seconds, ascending) toward <paramref name="limit"/>.
    /// With <paramref name="minFit"/> above 0, a line whose R² falls short of it forecasts nothing (its TimeToLimit is null).
    /// </summary>
    public static Trend ToLimit(double[] x, double[] y, double limit, double minFit)
    {
        var n = x.Length;
        if (n < 2 || x.AsSpan().IndexOfAnyExcept(x[0]) < 0) return new Trend(0, null, n > 0 ? y[^1] : 0, double.NaN);
        var (intercept, slope) = MathNet.Numerics.Fit.Line(x, y);
        if (!double.IsFinite(slope)) return new Trend(0, null, y[^1], double.NaN);
        var latest = Math.Max(intercept + slope * x[^1], y[^1]);
        if (slope <= 0) return new Trend(slope, null, latest, double.NaN);
        var rSquared = double.NaN;
        if (minFit > 0)
        {
            // The square of Pearson's correlation is the R² of a one-variable least-squares line.
            var r = MathNet.Numerics.Statistics.Correlation.Pearson(x, y);
            rSquared = double.IsFinite(r) ? r * r : 0;
            if (rSquared < minFit) return new Trend(slope, null, latest, rSquared);
        }
        var seconds = Math.Max(0, limit - latest) / slope;
        return new Trend(slope, seconds > TimeSpan.MaxValue.TotalSeconds / 2 ? null : TimeSpan.FromSeconds(seconds), latest, rSquared);
    }
}
