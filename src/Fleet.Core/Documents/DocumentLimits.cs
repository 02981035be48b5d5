using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Fleet.Core.Documents;

/// <summary>A limit a document broke: which, what was found, and the line where it was hit (when known).</summary>
public sealed record DocumentLimitProblem(string Limit, string Message, int? Line)
{
    public override string ToString() => Line is { } l ? $"line {l}: {Message}" : Message;
}

/// <summary>
/// The bounds every YAML document Fleet reads is held to — a policy, a service spec, links and flows, a scenario, an
/// agent's config, a request body — checked on YamlDotNet's event stream (a loop, no recursion) before anything builds a
/// tree from it, so no document can exhaust the stack, the heap or the CPU: its size, how deep it nests, how many values it
/// holds (an alias counted as everything it repeats, so an alias bomb is its expanded size), how long one value is, and no
/// alias to a node that contains it (a loop).
/// JSON bodies are held to <see cref="MaxDepth"/> by the API's serializer.
/// </summary>
public static class DocumentLimits
{
    /// <summary>The largest document taken (256 KiB).</summary>
    public const int MaxChars = 256 * 1024;

    /// <summary>The deepest nesting of mappings and sequences.</summary>
    public const int MaxDepth = 32;

    /// <summary>The most values (scalars, mappings, sequences) a document holds, aliases expanded.</summary>
    public const int MaxNodes = 50_000;

    /// <summary>The longest single value.</summary>
    public const int MaxScalarChars = 64 * 1024;

    /// <summary>The first limit <paramref name="text"/> breaks, or null when it is within every one (or is not YAML: the reader says why).</summary>
    public static DocumentLimitProblem? Check(string? text)
    {
        text ??= "";
        if (text.Length > MaxChars)
            return new("size", $"the document is {text.Length:N0} characters; at most {MaxChars:N0} are taken", null);
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        long nodes = 0;
        var anchors = new Dictionary<string, long>();
        var open = new Stack<(string? Anchor, long Start)>();
        var opened = new HashSet<string>();
        try
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                var line = (int)e.Start.Line;
                switch (e)
                {
                    case MappingStart or SequenceStart:
                        nodes++;
                        if (++depth > MaxDepth) return new("depth", $"the document nests deeper than {MaxDepth} levels", line);
                        var anchor = ((NodeEvent)e).Anchor.IsEmpty ? null : ((NodeEvent)e).Anchor.Value;
                        if (anchor is not null) opened.Add(anchor);
                        open.Push((anchor, nodes - 1));
                        break;
                    case MappingEnd or SequenceEnd:
                        depth--;
                        if (open.TryPop(out var closed) && closed.Anchor is { } name)
                        {
                            anchors[name] = nodes - closed.Start;
                            opened.Remove(name);
                        }
                        break;
                    case Scalar s:
                        nodes++;
                        if (s.Value.Length > MaxScalarChars)
                            return new("value", $"a value is {s.Value.Length:N0} characters long; at most {MaxScalarChars:N0}", line);
                        if (!s.Anchor.IsEmpty) anchors[s.Anchor.Value] = 1;
                        break;
                    case AnchorAlias alias:
                        // An alias to a node still open would make the node contain itself: a loop any reader recurses into for ever.
                        if (opened.Contains(alias.Value.Value))
                            return new("recursion", $"the alias *{alias.Value.Value} refers to a node that contains it", line);
                        nodes += anchors.GetValueOrDefault(alias.Value.Value, 1);
                        break;
                }
                if (nodes > MaxNodes)
                    return new("nodes", $"the document holds more than {MaxNodes:N0} values (an alias counts as all it repeats)", line);
            }
        }
        catch (YamlException)
        {
            // Not YAML: the reader that loads it reports where and why.
        }
        return null;
    }

    /// <summary>Throws <see cref="DocumentLimitException"/> when <paramref name="text"/> breaks a limit.</summary>
    public static void Ensure(string? text, string what)
    {
        if (Check(text) is { } problem) throw new DocumentLimitException(what, problem);
    }
}

/// <summary>A document refused for a limit it broke (<see cref="Problem"/> names it and where).</summary>
public sealed class DocumentLimitException(string what, DocumentLimitProblem problem)
    : Exception($"{what} is past a limit ({problem.Limit}): {problem}")
{
    public DocumentLimitProblem Problem { get; } = problem;
}
