using System.Globalization;
using System.Text.RegularExpressions;

namespace Fleet.Core.Policies;

/// <summary>Durations in policy documents: <c>500ms</c>, <c>10s</c>, <c>5m</c>, <c>1h30m</c>, <c>2d</c>, or <c>hh:mm:ss</c>.</summary>
public static partial class Durations
{
    [GeneratedRegex(@"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")]
    private static partial Regex Pattern();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h|d)")]
    private static partial Regex Part();

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        if (Pattern().IsMatch(text))
        {
            foreach (Match m in Part().Matches(text))
            {
                var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                value += m.Groups[2].Value switch
                {
                    "ms" => TimeSpan.FromMilliseconds(n),
                    "s" => TimeSpan.FromSeconds(n),
                    "m" => TimeSpan.FromMinutes(n),
                    "h" => TimeSpan.FromHours(n),
                    _ => TimeSpan.FromDays(n),
                };
            }
            return true;
        }
        return text.Contains(':') && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The shortest form <see cref="TryParse"/> reads back to the same value.</summary>
    public static string Write(TimeSpan value)
    {
        if (value == TimeSpan.Zero) return "0s";
        if (value.Ticks % TimeSpan.TicksPerSecond != 0) return $"{(long)value.TotalMilliseconds}ms";
        var parts = new List<string>();
        if (value.Days > 0) parts.Add($"{value.Days}d");
        if (value.Hours > 0) parts.Add($"{value.Hours}h");
        if (value.Minutes > 0) parts.Add($"{value.Minutes}m");
        if (value.Seconds > 0) parts.Add($"{value.Seconds}s");
        return string.Concat(parts);
    }
}
