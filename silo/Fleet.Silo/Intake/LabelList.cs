using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Fleet.Silo.Intake;

/// <summary>
/// A remote-write series' labels as they arrived (a short list, names unique per the spec), read in place: intake looks up
/// a handful of names per series, which a scan of a few labels answers faster than building a dictionary for each of
/// thousands of series a request. A name sent twice (the spec forbids it) is read as its first value.
/// </summary>
public sealed class LabelList(List<PromLabel> labels) : IReadOnlyDictionary<string, string>
{
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        foreach (var l in labels)
            if (string.Equals(l.Name, key, StringComparison.Ordinal))
            {
                value = l.Value;
                return true;
            }
        value = null;
        return false;
    }

    public string this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);

    public IEnumerable<string> Keys => labels.Select(l => l.Name);

    public IEnumerable<string> Values => labels.Select(l => l.Value);

    public int Count => labels.Count;

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => labels.Select(l => KeyValuePair.Create(l.Name, l.Value)).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
