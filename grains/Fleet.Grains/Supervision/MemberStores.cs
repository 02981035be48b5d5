using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Grains.Persistence;
using Microsoft.Data.Sqlite;
using Orleans.Serialization;
using StackExchange.Redis;

namespace Fleet.Grains.Supervision;

/// <summary>
/// A failure domain's member list, one row per member — not one document per domain — so adding the millionth member
/// writes one row, not a million (registration stays linear), and a sweep writes only the members whose health moved.
/// </summary>
public interface IMemberStore
{
    Task<ImmutableArray<NodeSummary>> LoadAsync(string domain);

    Task UpsertAsync(string domain, IReadOnlyCollection<NodeSummary> members);

    Task RemoveAsync(string domain, string nodeId);
}

/// <summary>Members in the embedded SQLite file (group-committed with everything else written there).</summary>
public sealed class SqliteMemberStore(SqliteBatchWriter db, Serializer serializer) : IMemberStore
{
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS domain_member (
          domain TEXT NOT NULL, node TEXT NOT NULL, data BLOB NOT NULL,
          PRIMARY KEY (domain, node)) WITHOUT ROWID;
        """;

    public async Task<ImmutableArray<NodeSummary>> LoadAsync(string domain)
    {
        await using var c = db.OpenRead();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT data FROM domain_member WHERE domain = $d";
        cmd.Parameters.AddWithValue("$d", domain);
        var list = ImmutableArray.CreateBuilder<NodeSummary>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add(serializer.Deserialize<NodeSummary>((byte[])r.GetValue(0))!);
        return list.ToImmutable();
    }

    public Task UpsertAsync(string domain, IReadOnlyCollection<NodeSummary> members)
    {
        if (members.Count == 0) return Task.CompletedTask;
        var rows = members.Select(m => (m.NodeId, Data: serializer.SerializeToArray(m))).ToList();
        return db.WriteAsync((c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO domain_member(domain, node, data) VALUES ($d, $n, $b) ON CONFLICT(domain, node) DO UPDATE SET data = excluded.data";
            var d = cmd.Parameters.Add("$d", SqliteType.Text);
            var n = cmd.Parameters.Add("$n", SqliteType.Text);
            var b = cmd.Parameters.Add("$b", SqliteType.Blob);
            d.Value = domain;
            foreach (var (node, data) in rows)
            {
                n.Value = node;
                b.Value = data;
                cmd.ExecuteNonQuery();
            }
        });
    }

    public Task RemoveAsync(string domain, string nodeId) => db.WriteAsync((c, tx) =>
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM domain_member WHERE domain = $d AND node = $n";
        cmd.Parameters.AddWithValue("$d", domain);
        cmd.Parameters.AddWithValue("$n", nodeId);
        cmd.ExecuteNonQuery();
    });
}

/// <summary>Members in Redis: one hash per domain, a field per member.</summary>
public sealed class RedisMemberStore(IConnectionMultiplexer redis, Serializer serializer, string prefix) : IMemberStore
{
    private RedisKey Key(string domain) => $"{prefix}:members:{domain}";

    public async Task<ImmutableArray<NodeSummary>> LoadAsync(string domain) =>
        [.. (await redis.GetDatabase().HashGetAllAsync(Key(domain))).Select(e => serializer.Deserialize<NodeSummary>((byte[])e.Value!)!)];

    public Task UpsertAsync(string domain, IReadOnlyCollection<NodeSummary> members) =>
        members.Count == 0 ? Task.CompletedTask
            : redis.GetDatabase().HashSetAsync(Key(domain), [.. members.Select(m => new HashEntry(m.NodeId, serializer.SerializeToArray(m)))]);

    public Task RemoveAsync(string domain, string nodeId) => redis.GetDatabase().HashDeleteAsync(Key(domain), nodeId);
}
