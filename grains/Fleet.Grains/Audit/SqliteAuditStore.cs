using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Fleet.Abstractions.Audit;
using Fleet.Grains.Persistence;

namespace Fleet.Grains.Audit;

/// <summary>The decision trail in an embedded SQLite file: append-only, idempotent by record id, newest first.</summary>
public sealed class SqliteAuditStore(SqliteBatchWriter db) : IAuditStore
{
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS audit (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, time INTEGER NOT NULL,
          subject TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS audit_subject ON audit(subject, seq);
        CREATE INDEX IF NOT EXISTS audit_kind ON audit(kind, seq);
        CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
        CREATE INDEX IF NOT EXISTS audit_incident ON audit(json_extract(body, '$.incidentId'), seq);
        """;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task AppendAsync(IReadOnlyList<DecisionRecord> records)
    {
        if (records.Count == 0) return Task.CompletedTask;
        var rows = records.Select(r => (r, JsonSerializer.Serialize(r, Json))).ToArray();
        return db.WriteAsync((c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT OR IGNORE INTO audit(id, time, subject, kind, body) VALUES ($id, $t, $s, $k, $b)";
            var id = cmd.Parameters.Add("$id", Microsoft.Data.Sqlite.SqliteType.Text);
            var t = cmd.Parameters.Add("$t", Microsoft.Data.Sqlite.SqliteType.Integer);
            var s = cmd.Parameters.Add("$s", Microsoft.Data.Sqlite.SqliteType.Text);
            var k = cmd.Parameters.Add("$k", Microsoft.Data.Sqlite.SqliteType.Text);
            var b = cmd.Parameters.Add("$b", Microsoft.Data.Sqlite.SqliteType.Text);
            foreach (var (r, body) in rows)
            {
                id.Value = r.Id; t.Value = r.Time.ToUnixTimeMilliseconds(); s.Value = r.Subject; k.Value = r.Kind; b.Value = body;
                cmd.ExecuteNonQuery();
            }
        });
    }

    public async Task<AuditPage> QueryAsync(AuditQuery query)
    {
        var limit = Math.Clamp(query.Limit, 1, 1000);
        var sql = new StringBuilder("SELECT seq, body FROM audit WHERE 1=1");
        await using var c = db.OpenRead();
        await using var cmd = c.CreateCommand();
        if (query.Subject is { } subject) { sql.Append(" AND subject = $s"); cmd.Parameters.AddWithValue("$s", subject); }
        if (query.Kind is { } kind) { sql.Append(" AND kind = $k"); cmd.Parameters.AddWithValue("$k", kind); }
        if (query.Incident is { } incident) { sql.Append(" AND json_extract(body, '$.incidentId') = $i"); cmd.Parameters.AddWithValue("$i", incident); }
        if (query.Since is { } since) { sql.Append(" AND time >= $since"); cmd.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds()); }
        if (query.Until is { } until) { sql.Append(" AND time < $until"); cmd.Parameters.AddWithValue("$until", until.ToUnixTimeMilliseconds()); }
        if (query.Before is { } before) { sql.Append(" AND seq < $before"); cmd.Parameters.AddWithValue("$before", before); }
        sql.Append(" ORDER BY seq DESC LIMIT $limit");
        cmd.Parameters.AddWithValue("$limit", limit);
        cmd.CommandText = sql.ToString();

        var records = ImmutableArray.CreateBuilder<DecisionRecord>();
        long last = 0;
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            last = r.GetInt64(0);
            records.Add(JsonSerializer.Deserialize<DecisionRecord>(r.GetString(1), Json)!);
        }
        return new AuditPage(records.ToImmutable(), records.Count == limit ? last : null);
    }
}
