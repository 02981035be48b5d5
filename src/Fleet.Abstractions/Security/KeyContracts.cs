using System.Collections.Immutable;

namespace Fleet.Abstractions.Security;

/// <summary>A key as it is listed: never its secret, never its hash.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ApiKeyInfo")]
public sealed record ApiKeyInfo(
    [property: Id(0)] string Id,
    [property: Id(1)] string Name,
    [property: Id(2)] FleetRole Role,
    [property: Id(3)] string? Node,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] string CreatedBy,
    [property: Id(6)] DateTimeOffset? RevokedAt = null,
    [property: Id(7)] string? RevokedBy = null);

/// <summary>A key just made: <see cref="Secret"/> is the whole key, shown this once and stored nowhere (only its hash is kept).</summary>
[GenerateSerializer, Immutable, Alias("fleet.CreatedApiKey")]
public sealed record CreatedApiKey(
    [property: Id(0)] ApiKeyInfo Key,
    [property: Id(1)] string Secret);

/// <summary>A key as the silos check it: its info and the SHA-256 of its secret part.</summary>
[GenerateSerializer, Immutable, Alias("fleet.StoredApiKey")]
public sealed record StoredApiKey(
    [property: Id(0)] ApiKeyInfo Info,
    [property: Id(1)] string SecretHash);

/// <summary>Every key with its hash, at a version that grows with every change (the silos' caches compare versions).</summary>
[GenerateSerializer, Immutable, Alias("fleet.KeySnapshot")]
public sealed record KeySnapshot(
    [property: Id(0)] long Version,
    [property: Id(1)] ImmutableDictionary<string, StoredApiKey> Keys);

/// <summary>The key store: API keys by id, hashed. Keyed by fleet name.</summary>
[Alias("fleet.IKeyStoreGrain")]
public interface IKeyStoreGrain : IGrainWithStringKey
{
    /// <summary>Makes a key; the answer carries the secret, this once. Names are unique among live keys.</summary>
    [Alias("Create"), RequiresRole(FleetRole.Admin)]
    Task<CreatedApiKey> CreateAsync(string name, FleetRole role, string? node, string by);

    [ReadOnly, Alias("List"), RequiresRole(FleetRole.Admin)]
    Task<ImmutableArray<ApiKeyInfo>> ListAsync();

    /// <summary>Revokes a key by id or name; it is refused at once by the silo that revoked it and within a second by every other.</summary>
    [Alias("Revoke"), RequiresRole(FleetRole.Admin)]
    Task<ApiKeyInfo> RevokeAsync(string idOrName, string by);

    /// <summary>Every key with its hash, or null when the caller's <paramref name="version"/> is current (for the silos' caches).</summary>
    /// <remarks>Interleaves: a silo's access check reads it while the store itself is handling a client's call.</remarks>
    [AlwaysInterleave, Alias("GetSnapshot")]
    Task<KeySnapshot?> GetSnapshotAsync(long version);

    /// <summary>
    /// An admin key given to the silos by configuration (a Kubernetes Secret, say): recorded by its id and hash when the
    /// store does not hold that id yet; a key with that id that was revoked stays revoked. True when it was recorded now.
    /// </summary>
    [Alias("Import")]
    Task<bool> ImportAdminAsync(string id, string secretHash, string name);

    /// <summary>The first start's admin key: made when no live admin key exists, else null.</summary>
    [Alias("Bootstrap")]
    Task<CreatedApiKey?> BootstrapAsync(string name);
}

/// <summary>A key request the store refused: a name in use, an unknown key, a bad role or node. <see cref="Field"/> names what was wrong.</summary>
[GenerateSerializer, Alias("fleet.ApiKeyRefusedException")]
public sealed class ApiKeyRefusedException(string field, string message, bool notFound = false) : Exception(message)
{
    [Id(0)] public string Field { get; } = field;
    [Id(1)] public bool NotFound { get; } = notFound;
}
