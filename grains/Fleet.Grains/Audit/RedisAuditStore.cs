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
        if (last or 'genesis') ~= @previous then return -1 end
        local seq = redis.call('INCR', @counter)
        redis.call('HSET', @ids, @id, seq)
        redis.call('HSET', @bodies, seq, @body)
        redis.call('ZADD', @all, seq, seq)
        redis.call('ZADD', @bySubject, seq, seq)
        redis.call('ZADD', @byKind, seq, seq)
        if @byIncident ~= '' then redis.call('ZADD', @byIncident, seq, seq) end
        redis.call('ZADD', @byStream, @streamSeq, seq)
        redis.call('HSET', @ends, @stream, @mac)
        redis.call('SADD', @streams, @stream)
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
            var results = await Task.WhenAll(sealedRecords.Select(r => db.ScriptEvaluateAsync(Append, new
            {
                ids = Key("ids"), counter = Key("seq"), bodies = Key("bodies"), all = Key("all"),
                bySubject = Key($"subject:{r.Subject}"), byKind = Key($"kind:{r.Kind}"),
                byIncident = r.IncidentId is { } incident ? Key($"incident:{incident}") : (RedisKey)"",
                byStream = Key($"stream:{r.Seal!.Stream}"), ends = Key("stream-ends"), streams = Key("streams"),
                stream = (RedisValue)r.Seal.Stream, streamSeq = r.Seal.Seq, previous = (RedisValue)r.Seal.Previous, mac = (RedisValue)r.Seal.Mac,
                id = (RedisValue)r.Id, body = (RedisValue)JsonSerializer.Serialize(r, SqliteAuditStore.Json),
            })));
            var stored = 0;
            while (stored < results.Length && (long)results[stored] > 0)
            {
                _end = (sealedRecords[stored].Seal!.Seq, sealedRecords[stored].Seal!.Mac);
                stored++;
            }
            try { _export?.Write(sealedRecords.Take(stored).ToList()); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { System.Diagnostics.Trace.TraceWarning($"The trail's export could not be written: {e.Message}"); }
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

    public async Task<TrailVerification> VerifyAsync(DateTimeOffset? since)
    {
        var db = Db;
        var records = new List<DecisionRecord>();
        foreach (var stream in await db.SetMembersAsync(Key("streams")))
        {
            var seqs = await db.SortedSetRangeByScoreAsync(Key($"stream:{stream}"), order: Order.Ascending);
            for (var i = 0; i < seqs.Length; i += Chunk)
            {
                var bodies = await db.HashGetAsync(Key("bodies"), seqs[i..Math.Min(seqs.Length, i + Chunk)]);
                foreach (var body in bodies)
                {
                    if (body.IsNull) continue;
                    records.Add(JsonSerializer.Deserialize<DecisionRecord>(body.ToString(), SqliteAuditStore.Json)!);
                }
            }
        }
        // A count of the stored bodies beside the indexed ones: a body added or removed outside the streams shows here.
        var stored = await db.HashLengthAsync(Key("bodies"));
        var kept = since is { } from ? SinceStart(records, from) : records;
        return Fleet.Core.Audit.TrailChain.VerifyAll(_trailKey, kept, since is null, stored - records.Count, _checkpointKey);
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

    /// <summary>Each stream from its first record at or after <paramref name="since"/> on.</summary>
    private static List<DecisionRecord> SinceStart(List<DecisionRecord> records, DateTimeOffset since) =>
        [.. records.GroupBy(r => r.Seal?.Stream).SelectMany(g =>
        {
            var ordered = g.OrderBy(r => r.Seal?.Seq ?? 0).ToList();
            var first = ordered.FindIndex(r => r.Time >= since);
            return first < 0 ? [] : ordered.Skip(first);
        })];

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
