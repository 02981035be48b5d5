using System.Collections.Immutable;
using Fleet.Abstractions.Security;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Security;

/// <summary>
/// Who presented a valid credential: the key's (or token's) name, its role, the node an agent key is bound to, and for a
/// key its id and a fingerprint of its stored hash (a web session carries both, and dies when either no longer matches).
/// </summary>
public sealed record FleetCaller(string Name, FleetRole Role, string? Node, string? KeyId, string? Fingerprint = null);

/// <summary>
/// One silo's view of the key store, for checking every request without a grain call each: a snapshot of the keys with
/// their hashes, refreshed when it is older than <see cref="MaxAge"/> (one call per silo, however many requests wait) and at
/// once after a key changes through this silo. A key revoked anywhere is refused everywhere within <see cref="MaxAge"/>.
/// </summary>
public sealed class KeyRing(IGrainFactory grains, TimeProvider time)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private KeySnapshot _snapshot = new(-1, ImmutableDictionary<string, StoredApiKey>.Empty);
    private long _fetchedAt;
    private int _stale = 1;

    private IKeyStoreGrain Store => grains.GetGrain<IKeyStoreGrain>(FleetNames.Default);

    /// <summary>Keys already checked against the snapshot of a version: a key sent with every call is hashed once per version.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (FleetCaller Caller, long Version)> _checked = new(StringComparer.Ordinal);
    private const int MaxChecked = 10_000;

    /// <summary>The caller a key names, or null when it is malformed, unknown or revoked.</summary>
    public async ValueTask<FleetCaller?> AuthenticateAsync(string? key)
    {
        if (!ApiKeys.TryParse(key, out var id, out var secret)) return null;
        await FreshAsync();
        var snapshot = _snapshot;
        if (_checked.TryGetValue(key!, out var known) && known.Version == snapshot.Version) return known.Caller;
        if (!snapshot.Keys.TryGetValue(id, out var stored) || stored.Info.RevokedAt is not null || !ApiKeys.Matches(secret, stored.SecretHash)) return null;
        var caller = Caller(stored);
        if (_checked.Count >= MaxChecked) _checked.Clear();
        _checked[key!] = (caller, snapshot.Version);
        return caller;
    }

    /// <summary>
    /// The caller a live key names by its id and fingerprint (a signed-in page's session), or null when it is unknown,
    /// revoked, or no longer the key the session was made with.
    /// </summary>
    public async ValueTask<FleetCaller?> ByIdAsync(string? keyId, string? fingerprint)
    {
        if (string.IsNullOrEmpty(keyId) || string.IsNullOrEmpty(fingerprint)) return null;
        await FreshAsync();
        if (!_snapshot.Keys.TryGetValue(keyId, out var stored) || stored.Info.RevokedAt is not null) return null;
        var caller = Caller(stored);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(caller.Fingerprint!), System.Text.Encoding.ASCII.GetBytes(fingerprint)) ? caller : null;
    }

    private static FleetCaller Caller(StoredApiKey stored) =>
        new(stored.Info.Name, stored.Info.Role, stored.Info.Node, stored.Info.Id,
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(stored.SecretHash)))[..32]);

    /// <summary>A key changed through this silo: the next check reads the store again.</summary>
    public void Invalidate() => Volatile.Write(ref _stale, 1);

    private bool Fresh => Volatile.Read(ref _stale) == 0 && time.GetElapsedTime(Interlocked.Read(ref _fetchedAt)) < MaxAge;

    private async ValueTask FreshAsync()
    {
        if (Fresh) return;
        await _gate.WaitAsync();
        try
        {
            if (Fresh) return;
            var started = time.GetTimestamp();
            // Cleared before the read, so a change made while it is in flight marks the ring stale again.
            Volatile.Write(ref _stale, 0);
            try
            {
                if (await Store.GetSnapshotAsync(_snapshot.Version) is { } fresh) _snapshot = fresh;
            }
            catch
            {
                Volatile.Write(ref _stale, 1);
                throw;
            }
            Interlocked.Exchange(ref _fetchedAt, started);
        }
        finally
        {
            _gate.Release();
        }
    }
}
