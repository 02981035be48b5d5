using System.Collections.Immutable;
using System.Globalization;
using Fleet.Abstractions.Policy;
using Fleet.Core.Policies;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Fleet.Core.Documents;

/// <summary>
/// Reads fields of a YAML (or JSON) document and collects every problem by its path and line, all at once, so a
/// parser reports everything wrong in one answer. Shared by the policy and the service-spec parsers.
/// </summary>
internal sealed class YamlReader(ImmutableArray<PolicyProblem>.Builder problems)
{
    public static int? Line(YamlNode? node) => node is null ? null : (int)node.Start.Line;

    /// <summary>Loads the document's root mapping; null (with a problem) when it is not YAML or not a mapping, empty for an empty document.</summary>
    public static YamlMappingNode? Load(string text, string what, ImmutableArray<PolicyProblem>.Builder problems, out bool empty)
    {
        empty = false;
        if (DocumentLimits.Check(text) is { } limit)
        {
            problems.Add(new PolicyProblem("(document)", $"past a limit ({limit.Limit}): {limit.Message}", limit.Line));
            return null;
        }
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text ?? ""));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" or "~" })
            {
                empty = true;
                return null;
            }
            if (stream.Documents[0].RootNode is YamlMappingNode map) return map;
            problems.Add(new PolicyProblem("(document)", $"the document must be a mapping of {what}", Line(stream.Documents[0].RootNode)));
            return null;
        }
        catch (YamlException e)
        {
            problems.Add(new PolicyProblem("(document)", $"not valid YAML: {e.InnerException?.Message ?? e.Message}", (int)e.Start.Line));
            return null;
        }
    }

    public int Count => problems.Count;

    public void Problem(YamlNode? node, string path, string message) => problems.Add(new PolicyProblem(path, message, Line(node)));

    public YamlMappingNode? Section(YamlMappingNode? parent, string key, string? path = null)
    {
        var node = Get(parent, key);
        if (node is null or YamlScalarNode { Value: null or "" or "~" }) return null;
        if (node is YamlMappingNode map) return map;
        Problem(node, path ?? key, "must be a mapping of fields");
        return null;
    }

    /// <summary>A mapping of plain strings (labels): every value must be a single value.</summary>
    public ImmutableDictionary<string, string> StringMap(YamlMappingNode? parent, string key, string path)
    {
        var map = Section(parent, key, path);
        if (map is null) return ImmutableDictionary<string, string>.Empty;
        var result = ImmutableDictionary.CreateBuilder<string, string>();
        foreach (var (k, v) in map.Children)
        {
            var name = (k as YamlScalarNode)?.Value ?? "";
            if (v is YamlScalarNode { Value: { } text }) result[name] = text;
            else Problem(v, $"{path}.{name}", "must be a single value");
        }
        return result.ToImmutable();
    }

    public void Known(YamlMappingNode? map, string path, params string[] keys)
    {
        if (map is null) return;
        foreach (var key in map.Children.Keys)
        {
            var name = (key as YamlScalarNode)?.Value ?? "?";
            if (!keys.Contains(name))
                Problem(key, path.Length == 0 ? name : $"{path}.{name}", $"unknown field; accepted: {string.Join(", ", keys)}");
        }
    }

    public static YamlNode? Get(YamlMappingNode? map, string key) =>
        map is not null && map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    public string? Scalar(YamlMappingNode? map, string path, out YamlNode? node)
    {
        node = Get(map, path[(path.LastIndexOf('.') + 1)..]);
        if (node is null) return null;
        if (node is YamlScalarNode s) return s.Value;
        Problem(node, path, "must be a single value");
        return null;
    }

    public TimeSpan Duration(YamlMappingNode? map, string path, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        var text = Scalar(map, path, out var node);
        if (text is null) return fallback;
        if (!Durations.TryParse(text, out var value))
        {
            Problem(node, path, $"'{text}' is not a duration; write e.g. 500ms, 10s, 5m, 1h30m");
            return fallback;
        }
        if (value < min || value > max)
            Problem(node, path, $"{Durations.Write(value)} is out of range; accepted {Durations.Write(min)} to {Durations.Write(max)}");
        return value;
    }

    public int Int(YamlMappingNode? map, string path, int fallback, int min, int max)
    {
        var text = Scalar(map, path, out var node);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            Problem(node, path, $"'{text}' is not a whole number");
            return fallback;
        }
        if (value < min || value > max) Problem(node, path, $"{value} is out of range; accepted {min} to {max}");
        return value;
    }

    /// <summary>A size in bytes: a whole number, or with Ki/Mi/Gi/Ti.</summary>
    public long Size(YamlMappingNode? map, string path, long fallback, long min, long max)
    {
        var text = Scalar(map, path, out var node);
        if (text is null) return fallback;
        if (!Services.ServiceSpecParser.TryBytes(text, out var value))
        {
            Problem(node, path, $"'{text}' is not a size; write bytes (67108864) or with a unit (64Mi, 1Gi)");
            return fallback;
        }
        if (value < min || value > max) Problem(node, path, $"{value} bytes is out of range; accepted {min} to {max}");
        return value;
    }

    public double Double(YamlMappingNode? map, string path, double fallback, double min, double max)
    {
        var text = Scalar(map, path, out var node);
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            Problem(node, path, $"'{text}' is not a number");
            return fallback;
        }
        if (value < min || value > max)
            Problem(node, path, $"{value.ToString(CultureInfo.InvariantCulture)} is out of range; accepted {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    /// <summary>A list of single values (<c>[a, b]</c> or one per line); a single value is a list of one.</summary>
    public ImmutableArray<string> Strings(YamlMappingNode? map, string path)
    {
        var node = Get(map, path[(path.LastIndexOf('.') + 1)..]);
        switch (node)
        {
            case null:
                return [];
            case YamlScalarNode { Value: { } one }:
                return [one];
            case YamlSequenceNode seq:
                var list = ImmutableArray.CreateBuilder<string>();
                for (var i = 0; i < seq.Children.Count; i++)
                    if (seq.Children[i] is YamlScalarNode { Value: { } v }) list.Add(v);
                    else Problem(seq.Children[i], $"{path}[{i}]", "must be a single value");
                return list.ToImmutable();
            default:
                Problem(node, path, "must be a list of values");
                return [];
        }
    }

    public bool Bool(YamlMappingNode? map, string path, bool fallback)
    {
        var text = Scalar(map, path, out var node);
        if (text is null) return fallback;
        if (bool.TryParse(text, out var value)) return value;
        Problem(node, path, $"'{text}' is not true or false");
        return fallback;
    }

    /// <summary>An enum value written in camelCase (<c>disruptive</c>, <c>draining</c>); <paramref name="refused"/> is a value not accepted here.</summary>
    public TEnum Enum<TEnum>(YamlMappingNode? map, string path, TEnum fallback, TEnum? refused) where TEnum : struct, System.Enum
    {
        var text = Scalar(map, path, out var node);
        if (text is null) return fallback;
        var names = System.Enum.GetValues<TEnum>().Where(v => !v.Equals(refused)).Select(v => Text.Format.Camel(v.ToString())).ToArray();
        var match = System.Enum.GetValues<TEnum>().Where(v => !v.Equals(refused)).FirstOrDefault(v => Text.Format.Camel(v.ToString()) == text, fallback);
        if (Text.Format.Camel(match.ToString()) != text)
            Problem(node, path, $"'{text}' is not accepted; accepted: {string.Join(", ", names)}");
        return match;
    }
}
