using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Core.Health;

/// <summary>
/// One copy per process of the report parts most nodes send alike — the list of checks when every one passes with no
/// detail, and the reporter's source — so that a million nodes keeping their last report keep one list between them.
/// Bounded: past <see cref="Capacity"/> distinct values a part is kept as it came (a fleet whose checks all differ only
/// loses the sharing, never memory). A check with a detail (a failure's message) is never pooled.
/// </summary>
public static class SharedReportParts
{
    public const int Capacity = 4096;

    private static readonly ConcurrentDictionary<ImmutableArray<CheckResult>, ImmutableArray<CheckResult>> CheckLists = new(new CheckListComparer());
    private static readonly ConcurrentDictionary<string, string> Texts = new(StringComparer.Ordinal);

    /// <summary>The shared copy of <paramref name="checks"/> when every check passed with no detail; otherwise the list itself.</summary>
    public static ImmutableArray<CheckResult> Checks(ImmutableArray<CheckResult> checks)
    {
        if (checks.IsDefaultOrEmpty) return ImmutableArray<CheckResult>.Empty;
        foreach (var c in checks)
            if (!c.Passed || c.Detail is not null) return checks;
        if (CheckLists.TryGetValue(checks, out var shared)) return shared;
        return CheckLists.Count < Capacity ? CheckLists.GetOrAdd(checks, checks) : checks;
    }

    /// <summary>The shared copy of a short text (a reporter's source).</summary>
    public static string Text(string text)
    {
        if (text.Length > 64) return text;
        if (Texts.TryGetValue(text, out var shared)) return shared;
        return Texts.Count < Capacity ? Texts.GetOrAdd(text, text) : text;
    }

    private sealed class CheckListComparer : IEqualityComparer<ImmutableArray<CheckResult>>
    {
        public bool Equals(ImmutableArray<CheckResult> x, ImmutableArray<CheckResult> y) => x.AsSpan().SequenceEqual(y.AsSpan());

        public int GetHashCode(ImmutableArray<CheckResult> list)
        {
            var hash = new HashCode();
            foreach (var c in list) hash.Add(c);
            return hash.ToHashCode();
        }
    }
}
