using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Fleet.Core.Intake;

/// <summary>
/// A check of the <c>intake</c> policy: <c>series{label="value",…} op number</c>, e.g. <c>up == 1</c> or
/// <c>node_systemd_unit_state{state="failed"} == 0</c>. It holds for a node when every series of that name whose labels
/// match holds; it is unknown (not evaluated) while no such series has a sample.
/// </summary>
public sealed partial record CheckRule(string Text, string Series, ImmutableArray<KeyValuePair<string, string>> Labels, string Op, double Value)
{
    [GeneratedRegex("""^\s*([a-zA-Z_:][a-zA-Z0-9_:.]*)\s*(\{([^{}]*)\})?\s*(==|!=|<=|>=|<|>)\s*(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)\s*$""")]
    private static partial Regex Shape();

    [GeneratedRegex("""^\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"([^"\\]*)"\s*$""")]
    private static partial Regex Matcher();

    /// <summary>The rule, or null with what is wrong in words.</summary>
    public static CheckRule? Parse(string text, out string? problem)
    {
        problem = null;
        if (text.Length > 300)
        {
            problem = "is longer than 300 characters";
            return null;
        }
        var m = Shape().Match(text);
        if (!m.Success)
        {
            problem = $"'{text}' is not 'series{{label=\"value\",…}} op number' (op one of == != < <= > >=)";
            return null;
        }
        var labels = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        if (m.Groups[3].Success && m.Groups[3].Value.Trim().Length > 0)
            foreach (var part in m.Groups[3].Value.Split(','))
            {
                if (part.Trim().Length == 0) continue;
                var l = Matcher().Match(part);
                if (!l.Success)
                {
                    problem = $"'{part.Trim()}' in '{text}' is not label=\"value\"";
                    return null;
                }
                labels.Add(new(l.Groups[1].Value, l.Groups[2].Value));
            }
        return new CheckRule(text.Trim(), m.Groups[1].Value, labels.ToImmutable(), m.Groups[4].Value,
            double.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The check's name in reports (an id): the series and its label values, e.g. <c>node_systemd_unit_state.failed</c>.</summary>
    public string Name { get; } = IdOf(string.Join('.', new[] { Series }.Concat(Labels.Select(l => l.Value))));

    /// <summary>Text made into an id (letters, digits, '.', '_', ':', '-'; at most 128; starting with a letter or digit).</summary>
    public static string IdOf(string text)
    {
        var chars = text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-' ? c : '_').ToArray();
        var id = new string(chars).TrimStart('.', '_', ':', '-');
        if (id.Length == 0) id = "check";
        return id.Length > 128 ? id[..128] : id;
    }

    /// <summary>Whether a series of this name with these labels is one the rule judges.</summary>
    public bool Matches(string name, IReadOnlyDictionary<string, string> labels)
    {
        if (name != Series) return false;
        foreach (var (k, v) in Labels)
            if (!labels.TryGetValue(k, out var have) || have != v) return false;
        return true;
    }

    public bool Holds(double value) => Op switch
    {
        "==" => value == Value,
        "!=" => value != Value,
        "<" => value < Value,
        "<=" => value <= Value,
        ">" => value > Value,
        _ => value >= Value,
    };
}
