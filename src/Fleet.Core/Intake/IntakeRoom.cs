using System.Collections.Concurrent;

namespace Fleet.Core.Intake;

/// <summary>
/// Room in one of intake's tables (nodes heard of, instances heard of): bounded, and at the bound the entries not heard of
/// for <see cref="SilentFor"/> are forgotten — a scan of the whole table, so tried at most once every <see cref="PruneEvery"/>.
/// An entry forgotten that comes back starts again from its next samples.
/// </summary>
public sealed class IntakeRoom(int max)
{
    public static readonly TimeSpan SilentFor = TimeSpan.FromMinutes(15), PruneEvery = TimeSpan.FromMinutes(1);

    private DateTimeOffset _prunedAt = DateTimeOffset.MinValue;

    /// <summary>Whether a new entry fits, forgetting the silent first when the table is full.</summary>
    public bool Fits<TKey, TValue>(ConcurrentDictionary<TKey, TValue> table, Func<TValue, DateTimeOffset> seenAt, DateTimeOffset now) where TKey : notnull
    {
        if (table.Count >= max && now - _prunedAt > PruneEvery)
        {
            _prunedAt = now;
            foreach (var (key, value) in table)
                if (seenAt(value) < now - SilentFor) table.TryRemove(key, out _);
        }
        return table.Count < max;
    }
}
