using System.Globalization;

namespace Fleet.Core.Text;

/// <summary>Numbers and durations as a person reads them in a decision record.</summary>
public static class Format
{
    public static string Duration(TimeSpan d)
    {
        if (d < TimeSpan.Zero) return "-" + Duration(-d);
        if (d.TotalSeconds < 1) return $"{(int)d.TotalMilliseconds} ms";
        if (d.TotalSeconds < 120) return $"{Num(Math.Round(d.TotalSeconds, d.TotalSeconds < 10 ? 1 : 0))} s";
        if (d.TotalMinutes < 120) return $"{Num(Math.Round(d.TotalMinutes, d.TotalMinutes < 10 ? 1 : 0))} min";
        return $"{Num(Math.Round(d.TotalHours, 1))} h";
    }

    public static string Bytes(long bytes)
    {
        const double Gi = 1024d * 1024 * 1024, Mi = 1024d * 1024;
        return bytes >= Gi ? $"{Num(Math.Round(bytes / Gi, 2))} GiB" : $"{Num(Math.Round(bytes / Mi, 1))} MiB";
    }

    public static string Num(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>A name as written in documents: <c>Disruptive</c> → <c>disruptive</c>.</summary>
    public static string Camel(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];

    public static string Percent(double value) => Num(Math.Round(value, 1)) + "%";
}
