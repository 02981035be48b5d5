using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Core.Health;

/// <summary>
/// One copy per process of the parts most nodes send alike, so that a million nodes keep one copy between them instead
/// of a million: the list of checks when every one passes with no detail, the reporter's source, and a registration's
/// domain name, capacity and labels. Each message arrives with fresh copies of them; kept as they came, they would stay
/// in every node (and, for reports, be promoted as old objects before the next report replaced them).
/// Bounded: past <see cref="Capacity"/> distinct values of a kind a part is kept as it came (a fleet whose values all
/// differ only loses the sharing, never memory). A check with a detail (a failure's message) is never pooled.
/// </summary>
public static class SharedParts
{
    public const int Capacity = 4096;

    private static readonly ConcurrentDictionary<ImmutableArray<CheckResult>, ImmutableArray<CheckResult>> CheckLists = new(new CheckListComparer());
    private static readonly ConcurrentDictionary<string, string> Texts = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<NodeCapacity, NodeCapacity> Capacities = new();
    private static readonly ConcurrentDictionary<ImmutableDictionary<string, string>, ImmutableDictionary<string, string>> LabelSets = new(new LabelComparer());

    /// <summary>The shared copy of <paramref name="checks"/> when every check passed with no detail; otherwise the list itself.</summary>
    public static ImmutableArray<CheckResult> Checks(ImmutableArray<CheckResult> checks)
    {
        if (checks.IsDefaultOrEmpty) return ImmutableArray<CheckResult>.Empty;
        foreach (var c in checks)
            if (!c.Passed || c.Detail is not null) return checks;
        return Pooled(CheckLists, checks);
    }

    /// <summary>The shared copy of a short text (a reporter's source, a domain's name).</summary>
    public static string Text(string text) => text.Length > 128 ? text : Pooled(Texts, text);

    /// <summary>The registration with its domain name, capacity and labels shared with other nodes' (its own fields unchanged in value).</summary>
    public static NodeRegistration Registration(NodeRegistration registration)
    {
        var domain = Text(registration.Domain);
        var capacity = registration.Capacity is null ? null : Pooled(Capacities, registration.Capacity);
        var labels = registration.Labels is null ? null
            : registration.Labels.IsEmpty ? ImmutableDictionary<string, string>.Empty
            // Only a dictionary with the default comparers is shared: another's lookups would behave differently.
            : registration.Labels.KeyComparer == EqualityComparer<string>.Default && registration.Labels.ValueComparer == EqualityComparer<string>.Default
                ? Pooled(LabelSets, registration.Labels) : registration.Labels;
        return ReferenceEquals(domain, registration.Domain) && ReferenceEquals(capacity, registration.Capacity) && ReferenceEquals(labels, registration.Labels)
            ? registration
            : registration with { Domain = domain, Capacity = capacity!, Labels = labels! };
    }

    private static T Pooled<T>(ConcurrentDictionary<T, T> pool, T value) where T : notnull =>
        pool.TryGetValue(value, out var shared) ? shared
        : pool.Count < Capacity ? pool.GetOrAdd(value, value)
        : value;

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

    private sealed class LabelComparer : IEqualityComparer<ImmutableDictionary<string, string>>
    {
        public bool Equals(ImmutableDictionary<string, string>? x, ImmutableDictionary<string, string>? y)
        {
            if (ReferenceEquals(x, y)) return true;
            if (x is null || y is null || x.Count != y.Count) return false;
            foreach (var (k, v) in x)
                if (!y.TryGetValue(k, out var other) || !string.Equals(v, other, StringComparison.Ordinal)) return false;
            return true;
        }

        /// <summary>Independent of the order the pairs are enumerated in.</summary>
        public int GetHashCode(ImmutableDictionary<string, string> labels)
        {
            var hash = 0;
            foreach (var (k, v) in labels) hash ^= HashCode.Combine(k, v);
            return hash ^ labels.Count;
        }
    }
}
