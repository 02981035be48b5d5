using Microsoft.Data.Sqlite;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Fleet.Grains.Persistence;

/// <summary>
/// Grain state in an embedded SQLite file, serialized with Orleans' own serializer (so immutable records round-trip).
/// Optimistic concurrency by ETag, as Orleans expects: a write with a stale ETag fails with <see cref="InconsistentStateException"/>.
/// </summary>
public sealed class SqliteGrainStorage(SqliteBatchWriter db, Serializer serializer) : IGrainStorage
{
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS grain_state (
          state_name TEXT NOT NULL, grain_id TEXT NOT NULL, etag TEXT NOT NULL, data BLOB NOT NULL,
          PRIMARY KEY (state_name, grain_id)) WITHOUT ROWID;
        """;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var c = db.OpenRead();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT etag, data FROM grain_state WHERE state_name = $n AND grain_id = $g";
        cmd.Parameters.AddWithValue("$n", stateName);
        cmd.Parameters.AddWithValue("$g", grainId.ToString());
        await using var r = await cmd.ExecuteReaderAsync();
        if (!await r.ReadAsync())
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }
        grainState.ETag = r.GetString(0);
        grainState.State = serializer.Deserialize<T>((byte[])r.GetValue(1));
        grainState.RecordExists = true;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var data = serializer.SerializeToArray(grainState.State);
        var expected = grainState.ETag;
        var next = Guid.NewGuid().ToString("N");
        return Apply(stateName, grainId, expected, (c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO grain_state(state_name, grain_id, etag, data) VALUES ($n, $g, $e, $d) " +
                              "ON CONFLICT(state_name, grain_id) DO UPDATE SET etag = excluded.etag, data = excluded.data";
            cmd.Parameters.AddWithValue("$n", stateName);
            cmd.Parameters.AddWithValue("$g", grainId.ToString());
            cmd.Parameters.AddWithValue("$e", next);
            cmd.Parameters.AddWithValue("$d", data);
            cmd.ExecuteNonQuery();
        }, () => { grainState.ETag = next; grainState.RecordExists = true; });
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var expected = grainState.ETag;
        return Apply(stateName, grainId, expected, (c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "DELETE FROM grain_state WHERE state_name = $n AND grain_id = $g";
            cmd.Parameters.AddWithValue("$n", stateName);
            cmd.Parameters.AddWithValue("$g", grainId.ToString());
            cmd.ExecuteNonQuery();
        }, () =>
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
            grainState.State = Activator.CreateInstance<T>();
        });
    }

    private async Task Apply(string stateName, GrainId grainId, string? expectedEtag, Action<SqliteConnection, SqliteTransaction> write, Action onDone)
    {
        await db.WriteAsync((c, tx) =>
        {
            using var check = c.CreateCommand();
            check.Transaction = tx;
            check.CommandText = "SELECT etag FROM grain_state WHERE state_name = $n AND grain_id = $g";
            check.Parameters.AddWithValue("$n", stateName);
            check.Parameters.AddWithValue("$g", grainId.ToString());
            var current = check.ExecuteScalar() as string;
            if (current != expectedEtag)
                throw new InconsistentStateException($"State {stateName} of {grainId} was changed by another writer.", current ?? "(none)", expectedEtag ?? "(none)");
            write(c, tx);
        });
        onDone();
    }
}
