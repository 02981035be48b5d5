using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Security;
using Fleet.Core.Validation;
using Fleet.Grains.Audit;

namespace Fleet.Grains.Security;

[GenerateSerializer, Immutable, Alias("fleet.KeyStoreState")]
public sealed record KeyStoreState(
    [property: Id(0)] long Version,
    [property: Id(1)] ImmutableDictionary<string, StoredApiKey> Keys)
{
    public KeyStoreState() : this(0, ImmutableDictionary<string, StoredApiKey>.Empty) { }
}

/// <summary>
/// The API keys: a key is <c>fk_ID_SECRET</c>; only SHA-256(SECRET) is kept (the secret is 32 random bytes, so a fast hash is
/// as strong as a slow one). Revoked keys stay listed (with who revoked them and when) so the trail reads whole.
/// </summary>
public sealed class KeyStoreGrain(
    [PersistentState("keys", StorageNames.Fleet)] IPersistentState<KeyStoreState> state,
    IAuditStore audit, TimeProvider time) : Grain, IKeyStoreGrain
{
    private KeyStoreState S => state.State;

    public async Task<CreatedApiKey> CreateAsync(string name, FleetRole role, string? node, string by)
    {
        if (!InputRules.IsValidId(name)) throw new ApiKeyRefusedException("name", $"'{name}' is not a key name: {InputRules.IdRule}");
        if (!Enum.IsDefined(role)) throw new ApiKeyRefusedException("role", $"'{role}' is not a role; accepted: viewer, operator, admin, agent, ingest");
        if (role == FleetRole.Agent && !InputRules.IsValidId(node))
            throw new ApiKeyRefusedException("node", node is null ? "an agent key is bound to one node: name it (--node)" : $"'{node}' is not a node id: {InputRules.IdRule}");
        if (role != FleetRole.Agent && node is not null) throw new ApiKeyRefusedException("node", $"only an agent key is bound to a node; a {role.Name()} key is not");
        if (S.Keys.Values.Any(k => k.Info.RevokedAt is null && k.Info.Name == name))
            throw new ApiKeyRefusedException("name", $"a live key is already named '{name}'; revoke it first or choose another name");
        var created = await AddAsync(name, role, node, by);
        await RecordAsync(by, $"Created {role.Name()} key '{name}' (id {created.Key.Id}){(node is null ? "" : $" for node {node}")} at the request of {by}.");
        return created;
    }

    public Task<ImmutableArray<ApiKeyInfo>> ListAsync() =>
        Task.FromResult(S.Keys.Values.Select(k => k.Info).OrderBy(k => k.RevokedAt is not null).ThenBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal).ToImmutableArray());

    public async Task<ApiKeyInfo> RevokeAsync(string idOrName, string by)
    {
        var key = S.Keys.TryGetValue(idOrName, out var byId) ? byId
            : S.Keys.Values.Where(k => k.Info.Name == idOrName).OrderBy(k => k.Info.RevokedAt is not null).FirstOrDefault()
              ?? throw new ApiKeyRefusedException("key", $"no key has the id or name '{idOrName}'", notFound: true);
        if (key.Info.RevokedAt is not null) return key.Info;
        var info = key.Info with { RevokedAt = time.GetUtcNow(), RevokedBy = by };
        state.State = new KeyStoreState(S.Version + 1, S.Keys.SetItem(info.Id, key with { Info = info }));
        await state.WriteStateAsync();
        await RecordAsync(by, $"Revoked {info.Role.Name()} key '{info.Name}' (id {info.Id}) at the request of {by}; it is refused from now on.");
        return info;
    }

    public Task<KeySnapshot?> GetSnapshotAsync(long version) =>
        Task.FromResult(version == S.Version ? null : new KeySnapshot(S.Version, S.Keys));

    public async Task<bool> ImportAdminAsync(string id, string secretHash, string name)
    {
        if (S.Keys.ContainsKey(id)) return false;
        var unique = S.Keys.Values.Any(k => k.Info.Name == name && k.Info.RevokedAt is null) ? $"{name}-{id}" : name;
        var info = new ApiKeyInfo(id, unique, FleetRole.Admin, null, time.GetUtcNow(), "configuration");
        state.State = new KeyStoreState(S.Version + 1, S.Keys.SetItem(id, new StoredApiKey(info, secretHash)));
        await state.WriteStateAsync();
        await RecordAsync("fleet", $"Recorded the admin key '{unique}' (id {id}) given by configuration (Fleet:Auth:AdminKey); only its hash is kept.");
        return true;
    }

    public async Task<CreatedApiKey?> BootstrapAsync(string name)
    {
        if (S.Keys.Values.Any(k => k.Info.Role == FleetRole.Admin && k.Info.RevokedAt is null)) return null;
        var unique = S.Keys.Values.Any(k => k.Info.Name == name) ? $"{name}-{S.Version + 1}" : name;
        var created = await AddAsync(unique, FleetRole.Admin, null, "fleet");
        await RecordAsync("fleet", $"Created the first admin key '{unique}' (id {created.Key.Id}): no live admin key existed. It was shown once and written to the key file; only its hash is kept.");
        return created;
    }

    private async Task<CreatedApiKey> AddAsync(string name, FleetRole role, string? node, string by)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var info = new ApiKeyInfo(id, name, role, node, time.GetUtcNow(), by);
        state.State = new KeyStoreState(S.Version + 1, S.Keys.SetItem(id, new StoredApiKey(info, ApiKeys.Hash(secret))));
        await state.WriteStateAsync();
        return new CreatedApiKey(info, ApiKeys.Format(id, secret));
    }

    private Task RecordAsync(string by, string reason) =>
        audit.AppendAsync([Decisions.Create(time.GetUtcNow(), by, "keys", DecisionKinds.Operator, reason, 0, rule: "keys")]);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>The key format and its hash: <c>fk_ID_SECRET</c>, ID 12 hex digits, SECRET 43 base64url characters.</summary>
public static class ApiKeys
{
    public const string Prefix = "fk_";

    private static readonly System.Buffers.SearchValues<char> HexLower = System.Buffers.SearchValues.Create("0123456789abcdef");

    public static string Format(string id, string secret) => $"{Prefix}{id}_{secret}";

    public static bool TryParse(string? key, out string id, out string secret)
    {
        id = secret = "";
        if (key is null || !key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length > 128) return false;
        var rest = key.AsSpan(Prefix.Length);
        var sep = rest.IndexOf('_');
        if (sep != 12 || rest[..sep].ContainsAnyExcept(HexLower)) return false;
        id = rest[..sep].ToString();
        secret = rest[(sep + 1)..].ToString();
        return secret.Length > 0;
    }

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Whether <paramref name="secret"/> hashes to <paramref name="hash"/>, in time that does not depend on where they differ.</summary>
    public static bool Matches(string secret, string hash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(secret)), Encoding.ASCII.GetBytes(hash));
}
