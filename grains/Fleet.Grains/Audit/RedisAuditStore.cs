using System.Collections.Immutable;
using System.Text.Json;
using Fleet.Abstractions.Audit;
using StackExchange.Redis;

namespace Fleet.Grains.Audit;

/// <summary>
/// The decision trail in Redis. One Lua script appends a record atomically: it claims the record's id in a hash
/// (so a retried append, e.g. by a silo that died mid-write and whose grain retried elsewhere, is stored once),
/// takes the next sequence number, stores the body, and indexes the sequence number by subject and by kind.
/// Queries read an index newest first from a cursor (<see cref="AuditQuery.Before"/>), the same API as the embedded store.
/// Each silo's run appends to a stream of its own in the trail's chain: one loop seals its records in order and sends
/// them pipelined; the script stores a record only when the record before it in its stream is the one it names, so a
/// record that was not stored (a repeat) is resealed, never skipped.
/// </summary>
public sealed class RedisAuditStore : IAuditStore, IAsyncDisposable
{
    private const int Chunk = 256;
    private const int MaxBatch = 256;
    private readonly IConnectionMultiplexer redis;
    private readonly string prefix;
    private readonly byte[] _trailKey;
    private readonly string _streamBase;
    private int _streamGeneration;
    private string _stream;
    private (long Seq, string Mac) _end = (0, Fleet.Core.Audit.TrailChain.Genesis);
    private readonly System.Threading.Channels.Channel<(IReadOnlyList<DecisionRecord> Records, TaskCompletionSource Done)> _queue =
        System.Threading.Channels.Channel.CreateUnbounded<(IReadOnlyList<DecisionRecord>, TaskCompletionSource)>(new() { SingleReader = true });
    private readonly Task _loop;

    private readonly TrailExport? _export;

    private readonly System.Security.Cryptography.ECDsa? _checkpointKey;

    public RedisAuditStore(IConnectionMultiplexer redis, string prefix, byte[] trailKey, string stream, TrailExport? export = null,
        System.Security.Cryptography.ECDsa? checkpointKey = null)
    {
        _checkpointKey = checkpointKey;
        _export = export;
        this.redis = redis;
        this.prefix = prefix;
        _trailKey = trailKey;
        _streamBase = _stream = stream;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How far behind a record's time may be among later-appended ones (clock skew between silos) before a scan stops.</summary>
    public static readonly TimeSpan SinceSlack = TimeSpan.FromMinutes(5);

    private static readonly LuaScript Append = LuaScript.Prepare("""
        if redis.call('HEXISTS', @ids, @id) == 1 then return 0 end
        local last = redis.call('HGET', @ends, @stream)
        if last then
          if last ~= @previous then return -1 end
        elseif string.sub(@previous, 1, 7) ~= 'genesis' then return -1 end
        local seq = redis.call('INCR', @counter)
        redis.call('HSET', @bodies, seq, @body)
        redis.call('ZADD', @all, seq, seq)
        redis.call('ZADD', @bySubject, seq, seq)
        redis.call('ZADD', @byKind, seq, seq)
        if @byIncident ~= '' then redis.call('ZADD', @byIncident, seq, seq) end
        redis.call('ZADD', @byStream, @streamSeq, seq)
        redis.call('HSET', @ends, @stream, @mac)
        redis.call('SADD', @streams, @stream)
        redis.call('HSET', @ids, @id, seq)
        return seq
        """);

    private IDatabase Db => redis.GetDatabase();
    private RedisKey Key(string part) => $"{prefix}:{part}";

    public Task AppendAsync(IReadOnlyList<DecisionRecord> records)
    {
        if (records.Count == 0) return Task.CompletedTask;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((records, done))) throw new ObjectDisposedException(nameof(RedisAuditStore), "The trail is shutting down.");
        return done.Task;
    }

    /// <summary>The one loop that seals and sends this silo's records, a batch at a time, in order.</summary>
    private async Task RunAsync()
    {
        // The first stream ever sealed on a trail that already holds records (written before records were sealed) names how
        // many in its first record, so one slipped in among them later shows.
        try
        {
            var db = Db;
            if (await db.HashLengthAsync(Key("stream-ends")) == 0 && await db.SortedSetLengthAsync(Key("all")) is var older and > 0)
                _end = (0, Fleet.Core.Audit.TrailChain.GenesisAfter(older));
        }
        catch (RedisException) { /* Redis not answering yet: the stream starts from genesis */ }
        var batch = new List<(IReadOnlyList<DecisionRecord> Records, TaskCompletionSource Done)>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            var count = 0;
            while (count < MaxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
                count += item.Records.Count;
            }
            try
            {
                await StoreAsync([.. batch.SelectMany(b => b.Records)]);
                foreach (var b in batch) b.Done.TrySetResult();
            }
            catch (Exception e)
            {
                // What was stored stays stored; the rest fails to its writers. The chain goes on in a new stream, so whatever
                // this stream's end is in Redis now, no later record names a predecessor that is not there.
                _stream = $"{_streamBase}.{++_streamGeneration}";
                _end = (0, Fleet.Core.Audit.TrailChain.Genesis);
                foreach (var b in batch) b.Done.TrySetException(e);
            }
        }
    }

    /// <summary>Seals the records from the stream's end and sends them pipelined; one that was not stored (a repeat) is skipped and the rest resealed.</summary>
    private async Task StoreAsync(IReadOnlyList<DecisionRecord> records)
    {
        var db = Db;
        var from = 0;
        while (from < records.Count)
        {
            var end = _end;
            var sealedRecords = new List<DecisionRecord>();
            foreach (var record in records.Skip(from))
            {
                var r = Fleet.Core.Audit.TrailChain.Seal(_trailKey, record, _stream, end.Seq + 1, end.Mac);
                sealedRecords.Add(r);
                end = (end.Seq + 1, r.Seal!.Mac);
            }
            var sends = sealedRecords.Select(r => db.ScriptEvaluateAsync(Append, new
            {
                ids = Key("ids"), counter = Key("seq"), bodies = Key("bodies"), all = Key("all"),
                bySubject = Key($"subject:{r.Subject}"), byKind = Key($"kind:{r.Kind}"),
                byIncident = r.IncidentId is { } incident ? Key($"incident:{incident}") : (RedisKey)"",
                byStream = Key($"stream:{r.Seal!.Stream}"), ends = Key("stream-ends"), streams = Key("streams"),
                stream = (RedisValue)r.Seal.Stream, streamSeq = r.Seal.Seq, previous = (RedisValue)r.Seal.Previous, mac = (RedisValue)r.Seal.Mac,
                id = (RedisValue)r.Id, body = (RedisValue)JsonSerializer.Serialize(r, SqliteAuditStore.Json),
            })).ToArray();
            try { await Task.WhenAll(sends); }
            catch (Exception) when (sends.Any(t => t.IsCompletedSuccessfully))
            {
                // Some were stored before the failure: they are the stream's end now, and the export's, before the failure goes on.
                var done = 0;
                while (done < sends.Length && sends[done].IsCompletedSuccessfully && (long)sends[done].Result > 0)
                {
                    _end = (sealedRecords[done].Seal!.Seq, sealedRecords[done].Seal!.Mac);
                    done++;
                }
                ExportStored(sealedRecords.Take(done).ToList());
                throw;
            }
            var results = sends.Select(t => t.Result).ToArray();
            var stored = 0;
            while (stored < results.Length && (long)results[stored] > 0)
            {
                _end = (sealedRecords[stored].Seal!.Seq, sealedRecords[stored].Seal!.Mac);
                stored++;
            }
            ExportStored(sealedRecords.Take(stored).ToList());
            from += stored;
            if (stored == results.Length) break;
            if ((long)results[stored] == 0)
            {
                // A repeat (its id is stored already): it takes no place; every one after it named it and was refused (-1).
                from++;
                continue;
            }
            // Refused though not a repeat: the stream's end in Redis is not the one this silo left (it was changed behind
            // it). The chain goes on in a new stream, so no record is lost and none names a predecessor that is not there.
            _stream = $"{_streamBase}.{++_streamGeneration}";
            _end = (0, Fleet.Core.Audit.TrailChain.Genesis);
        }
    }

    private void ExportStored(List<DecisionRecord> stored)
    {
        try { _export?.Write(stored); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { System.Diagnostics.Trace.TraceWarning($"The trail's export could not be written: {e.Message}"); }
    }

    /// <summary>The trail's extent at one instant: the last sequence number given, how many bodies are stored, how many indexed.</summary>
    private static readonly LuaScript Extent = LuaScript.Prepare("""
        return { tonumber(redis.call('GET', @counter) or '0'), redis.call('HLEN', @bodies), redis.call('ZCARD', @all) }
        """);

    private readonly SemaphoreSlim _verifying = new(1, 1);

    /// <summary>
    /// Streams the chain through a <see cref="Fleet.Core.Audit.TrailWalk"/>, up to the trail's extent when the walk starts:
    /// the checkpoints first, from their kind index, then every record in the order Redis numbered them (each stream's
    /// records come in their own order), a chunk at a time — never the whole trail in memory. Since a time: each stream from
    /// its first record at or after it. One walk at a time per silo.
    /// </summary>
    public async Task<TrailVerification> VerifyAsync(DateTimeOffset? since)
    {
        await _verifying.WaitAsync();
        try
        {
            var db = Db;
            var extent = (RedisResult[])(await db.ScriptEvaluateAsync(Extent, new { counter = Key("seq"), bodies = Key("bodies"), all = Key("all") }))!;
            var (top, bodies, indexed) = ((long)extent[0], (long)extent[1], (long)extent[2]);
            var walk = new Fleet.Core.Audit.TrailWalk(_trailKey, since is null, _checkpointKey, exactStart: false);
            // Every stored body is in the index of all records (one script writes both): one outside it was put there directly.
            if (bodies != indexed)
            {
                walk.Break("(outside the index)", $"{bodies:N0} record(s) are stored but {indexed:N0} indexed: records were added to the store, or taken out of its index, directly");
                return walk.Result();
            }
            await foreach (var (_, checkpoint) in ReadAsync(db, Key($"kind:{DecisionKinds.Checkpoint}"), top))
                if (checkpoint is not null && Fleet.Core.Audit.TrailWalk.IsCheckpoint(checkpoint)) walk.Expect(checkpoint);
            long unsealed = 0;
            var sealedSeen = false;
            var started = new HashSet<string>();
            await foreach (var (seq, record) in ReadAsync(db, Key("all"), top))
            {
                if (record is null) walk.AddUnreadable($"#{seq} (global)");
                else if (record.Seal is null && !sealedSeen) { unsealed++; continue; }
                else
                {
                    sealedSeen = true;
                    if (since is { } from && record.Seal is { } seal && !started.Contains(seal.Stream))
                    {
                        if (record.Time < from) continue;
                        started.Add(seal.Stream);
                    }
                    walk.Add(record);
                }
                if (walk.Broken) break;
            }
            return walk.Result(unsealed);
        }
        finally
        {
            _verifying.Release();
        }
    }

    /// <summary>The records an index holds up to <paramref name="top"/>, in its order, a chunk at a time (null: a body that cannot be read).</summary>
    private async IAsyncEnumerable<(long Seq, DecisionRecord? Record)> ReadAsync(IDatabase db, RedisKey index, long top)
    {
        for (long skip = 0; ; skip += Chunk)
        {
            var seqs = await db.SortedSetRangeByScoreAsync(index, double.NegativeInfinity, top, Exclude.None, Order.Ascending, skip, Chunk);
            if (seqs.Length == 0) yield break;
            var found = await db.HashGetAsync(Key("bodies"), seqs);
            for (var i = 0; i < seqs.Length; i++)
            {
                if (found[i].IsNull) continue;
                DecisionRecord? record;
                try { record = JsonSerializer.Deserialize<DecisionRecord>(found[i].ToString(), SqliteAuditStore.Json); }
                catch (JsonException) { record = null; }
                yield return ((long)seqs[i], record);
            }
            if (seqs.Length < Chunk) yield break;
        }
    }

    /// <summary>Every stream's end (the MAC its last append left, and that record's position), read in one step.</summary>
    private static readonly LuaScript Ends = LuaScript.Prepare("""
        local out = {}
        local ends = redis.call('HGETALL', @ends)
        for i = 1, #ends, 2 do
          local top = redis.call('ZREVRANGE', @streamPrefix .. ends[i], 0, 0, 'WITHSCORES')
          if #top == 2 then
            table.insert(out, ends[i]); table.insert(out, top[2]); table.insert(out, ends[i + 1])
          end
        end
        return out
        """);

    public async Task<TrailEnds> EndsAsync()
    {
        var found = (RedisResult[])(await Db.ScriptEvaluateAsync(Ends, new { ends = Key("stream-ends"), streamPrefix = (RedisValue)$"{prefix}:stream:" }))!;
        var all = new List<Fleet.Core.Audit.TrailCheckpoint.End>();
        for (var i = 0; i + 2 < found.Length; i += 3)
            all.Add(new((string)found[i]!, (long)double.Parse((string)found[i + 1]!, System.Globalization.CultureInfo.InvariantCulture), (string)found[i + 2]!));
        return new TrailEnds(_stream, all);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    public async Task<AuditPage> QueryAsync(AuditQuery query)
    {
        var limit = Math.Clamp(query.Limit, 1, 1000);
        var index = query.Incident is { } inc ? Key($"incident:{inc}") : query.Subject is { } s ? Key($"subject:{s}") : query.Kind is { } k ? Key($"kind:{k}") : Key("all");
        var db = Db;
        var found = ImmutableArray.CreateBuilder<DecisionRecord>();
        var before = query.Before ?? long.MaxValue;
        long last = 0;
        var exhausted = false;
        while (found.Count < limit)
        {
            var seqs = await db.SortedSetRangeByScoreAsync(index, double.NegativeInfinity, before, Exclude.Stop, Order.Descending, 0, Chunk);
            if (seqs.Length == 0) { exhausted = true; break; }
            var bodies = await db.HashGetAsync(Key("bodies"), seqs);
            for (var i = 0; i < seqs.Length && found.Count < limit; i++)
            {
                before = (long)seqs[i];
                if (bodies[i].IsNull) continue;
                var record = JsonSerializer.Deserialize<DecisionRecord>(bodies[i].ToString(), SqliteAuditStore.Json)!;
                if (query.Kind is { } kind && record.Kind != kind) continue;
                if (query.Subject is { } subject && record.Subject != subject) continue;
                if (query.Since is { } since && record.Time < since)
                {
                    // Records are appended in time order give or take the silos' clocks: well before the start, nothing newer follows.
                    if (record.Time < since - SinceSlack) { exhausted = true; break; }
                    continue;
                }
                if (query.Until is { } until && record.Time >= until) continue;
                found.Add(record);
                last = before;
            }
            if (exhausted || seqs.Length < Chunk && found.Count < limit) { exhausted = true; break; }
        }
        return new AuditPage(found.ToImmutable(), !exhausted && found.Count == limit ? last : null);
    }
}
