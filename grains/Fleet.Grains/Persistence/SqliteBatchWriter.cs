using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Fleet.Grains.Persistence;

/// <summary>
/// One SQLite file written by one loop: concurrent writes are grouped into a single transaction (group commit),
/// so a thousand small writes cost a few fsyncs, not a thousand. Each write's task completes once it is committed —
/// and, with <c>synchronous=FULL</c> (the default), once the commit is on disk, so an acknowledged write survives a power
/// cut as well as a killed process (<c>NORMAL</c> survives a killed process only). Reads open their own pooled connections
/// (WAL lets them run beside the writer).
/// </summary>
public sealed class SqliteBatchWriter : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private readonly string _connectionString;
    private readonly Channel<Write> _queue = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqliteConnection _writer;
    private readonly Task _loop;

    private sealed record Write(Action<SqliteConnection, SqliteTransaction> Apply, TaskCompletionSource Done);

    public SqliteBatchWriter(string path, string schema, bool fullSync = true)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true }.ToString();
        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        Execute(_writer, $"PRAGMA journal_mode=WAL; PRAGMA synchronous={(fullSync ? "FULL" : "NORMAL")}; PRAGMA busy_timeout=5000;");
        Execute(_writer, schema);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Queues a write; the task completes when the transaction holding it is committed.</summary>
    public Task WriteAsync(Action<SqliteConnection, SqliteTransaction> apply)
    {
        var write = new Write(apply, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(write)) throw new ObjectDisposedException(nameof(SqliteBatchWriter), "The store is shutting down.");
        return write.Done.Task;
    }

    public SqliteConnection OpenRead()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    private async Task RunAsync()
    {
        var batch = new List<Write>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var w)) batch.Add(w);
            var failed = new Dictionary<Write, Exception>();
            try
            {
                using var tx = _writer.BeginTransaction();
                var n = 0;
                foreach (var w in batch)
                {
                    // A savepoint per write: one bad write fails alone and leaves nothing half-done.
                    var sp = "w" + n++;
                    Execute(_writer, $"SAVEPOINT {sp}", tx);
                    try
                    {
                        w.Apply(_writer, tx);
                        Execute(_writer, $"RELEASE {sp}", tx);
                    }
                    catch (Exception e)
                    {
                        Execute(_writer, $"ROLLBACK TO {sp}; RELEASE {sp}", tx);
                        failed[w] = e;
                    }
                }
                tx.Commit();
            }
            catch (Exception e)
            {
                foreach (var w in batch) w.Done.TrySetException(e);
                continue;
            }
            foreach (var w in batch)
            {
                if (failed.TryGetValue(w, out var e)) w.Done.TrySetException(e);
                else w.Done.TrySetResult();
            }
        }
    }

    private static void Execute(SqliteConnection c, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
        _writer.Dispose();
    }
}
