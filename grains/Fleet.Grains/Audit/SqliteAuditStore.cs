using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Fleet.Abstractions.Audit;
using Fleet.Grains.Persistence;

namespace Fleet.Grains.Audit;

/// <summary>
/// The decision trail in an embedded SQLite file: append-only, idempotent by record id, newest first, and chained — one
/// stream (<see cref="Stream"/>) in the order the writer commits, each record sealed inside the transaction that stores it
/// (so a record is sealed exactly when it is stored, and a rolled-back write leaves no gap).
/// </summary>
public sealed class SqliteAuditStore(SqliteBatchWriter db, byte[] trailKey, TrailExport? export = null,
    System.Security.Cryptography.ECDsa? checkpointKey = null) : IAuditStore
{
    public const string Stream = "embedded";

    /// <summary>The chain's end as the writer last left it: the row it was read from, the stream position and MAC.</summary>
    private (long Row, long Seq, string Mac)? _end;
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

    public async Task AppendAsync(IReadOnlyList<DecisionRecord> records)
    {
        if (records.Count == 0) return;
        var stored = new List<DecisionRecord>(records.Count);
        await db.WriteAsync((c, tx) =>
        {
            stored.Clear();
            var (row, seq, mac) = End(c, tx);
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT OR IGNORE INTO audit(id, time, subject, kind, body) VALUES ($id, $t, $s, $k, $b); SELECT changes(), last_insert_rowid();";
            var id = cmd.Parameters.Add("$id", Microsoft.Data.Sqlite.SqliteType.Text);
            var t = cmd.Parameters.Add("$t", Microsoft.Data.Sqlite.SqliteType.Integer);
            var s = cmd.Parameters.Add("$s", Microsoft.Data.Sqlite.SqliteType.Text);
            var k = cmd.Parameters.Add("$k", Microsoft.Data.Sqlite.SqliteType.Text);
            var b = cmd.Parameters.Add("$b", Microsoft.Data.Sqlite.SqliteType.Text);
            foreach (var record in records)
            {
                var r = Fleet.Core.Audit.TrailChain.Seal(trailKey, record, Stream, seq + 1, mac);
                id.Value = r.Id; t.Value = r.Time.ToUnixTimeMilliseconds(); s.Value = r.Subject; k.Value = r.Kind; b.Value = JsonSerializer.Serialize(r, Json);
                using var result = cmd.ExecuteReader();
                result.Read();
                // A record already stored (a retried append) is not stored again, and takes no place in the chain.
                if (result.GetInt64(0) == 0) continue;
                (row, seq, mac) = (result.GetInt64(1), seq + 1, r.Seal!.Mac);
                stored.Add(r);
            }
            _end = (row, seq, mac);
        });
        Export(stored);
    }

    private void Export(List<DecisionRecord> stored)
    {
        try { export?.Write(stored); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { System.Diagnostics.Trace.TraceWarning($"The trail's export could not be written: {e.Message}"); }
    }

    /// <summary>
    /// The chain's end, inside the write's transaction: what the writer remembers, when the newest row is still the one it
    /// remembers (a rolled-back write leaves it stale), else read from the newest sealed row. With no sealed row at all the
    /// chain starts here, its first record naming how many records came before it. Only the writer's loop calls it.
    /// </summary>
    private (long Row, long Seq, string Mac) End(Microsoft.Data.Sqlite.SqliteConnection c, Microsoft.Data.Sqlite.SqliteTransaction tx)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT COALESCE(MAX(seq), 0) FROM audit";
        var newest = (long)cmd.ExecuteScalar()!;
        if (_end is { } known)
        {
            if (known.Row == newest) return known;
            if (newest < known.Row)
                System.Diagnostics.Trace.TraceWarning($"The trail's newest rows (after row {newest}, up to {known.Row}) were removed outside Fleet; the chain goes on from what is left, and fleet audit verify names the cut where a checkpoint or the export vouched for them.");
        }
        cmd.CommandText = "SELECT body FROM audit WHERE json_valid(body) AND json_extract(body, '$.seal.stream') = $stream ORDER BY seq DESC LIMIT 1";
        cmd.Parameters.AddWithValue("$stream", Stream);
        if (cmd.ExecuteScalar() is string body && Read(body)?.Seal is { } seal) return (newest, seal.Seq, seal.Mac);
        cmd.CommandText = "SELECT COUNT(*) FROM audit";
        return (newest, 0, Fleet.Core.Audit.TrailChain.GenesisAfter((long)cmd.ExecuteScalar()!));
    }

    private static DecisionRecord? Read(string body)
    {
        try { return JsonSerializer.Deserialize<DecisionRecord>(body, Json); }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// Streams the chain through a <see cref="Fleet.Core.Audit.TrailWalk"/> inside one read transaction (one snapshot): the
    /// checkpoints first, from their index, then every record in the order it was sealed — never the whole trail in memory.
    /// Since a time: from the first record at or after it.
    /// </summary>
    public async Task<TrailVerification> VerifyAsync(DateTimeOffset? since)
    {
        // One walk at a time: a second caller waits rather than doubling the work.
        await _verifying.WaitAsync();
        try
        {
            return await WalkAsync(since);
        }
        finally
        {
            _verifying.Release();
        }
    }

    private readonly SemaphoreSlim _verifying = new(1, 1);

    private async Task<TrailVerification> WalkAsync(DateTimeOffset? since)
    {
        await using var c = db.OpenRead();
        await using var tx = c.BeginTransaction(deferred: true); // one snapshot: writers go on, the walk sees one moment
        var walk = new Fleet.Core.Audit.TrailWalk(trailKey, since is null, checkpointKey);
        var from = long.MinValue; // the whole table: a row slipped in with a number below the first is walked too
        if (since is { } at)
        {
            await using var first = c.CreateCommand();
            first.Transaction = tx;
            first.CommandText = "SELECT MIN(seq) FROM audit WHERE time >= $since";
            first.Parameters.AddWithValue("$since", at.ToUnixTimeMilliseconds());
            if (await first.ExecuteScalarAsync() is not long start) return walk.Result();
            from = start;
        }
        await foreach (var (_, checkpoint) in ReadAsync(c, tx, "SELECT id, body FROM audit WHERE kind = $k AND seq >= $from ORDER BY seq", from))
            if (checkpoint is not null && Fleet.Core.Audit.TrailWalk.IsCheckpoint(checkpoint)) walk.Expect(checkpoint);
        long unsealed = 0;
        var sealedSeen = false;
        await foreach (var (id, record) in ReadAsync(c, tx, "SELECT id, body FROM audit WHERE seq >= $from ORDER BY seq", from))
        {
            if (record is null) walk.AddUnreadable(id);
            // Records written before records were sealed come first; they are counted apart (the chain's start says how many).
            else if (record.Seal is null && !sealedSeen) { unsealed++; continue; }
            else
            {
                sealedSeen = true;
                walk.Add(record);
            }
            if (walk.Broken) break;
        }
        return walk.Result(unsealed);
    }

    private static async IAsyncEnumerable<(string Id, DecisionRecord? Record)> ReadAsync(Microsoft.Data.Sqlite.SqliteConnection c,
        Microsoft.Data.Sqlite.SqliteTransaction tx, string sql, long from)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.Parameters.AddWithValue("$from", from);
        cmd.Parameters.AddWithValue("$k", DecisionKinds.Checkpoint);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) yield return (r.GetString(0), Read(r.GetString(1)));
    }

    public async Task<TrailEnds> EndsAsync()
    {
        await using var c = db.OpenRead();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT body FROM audit ORDER BY seq DESC LIMIT 64";
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            if (Read(r.GetString(0))?.Seal is { Stream: Stream } seal)
                return new TrailEnds(Stream, [new(Stream, seal.Seq, seal.Mac)]);
        return new TrailEnds(Stream, []);
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
