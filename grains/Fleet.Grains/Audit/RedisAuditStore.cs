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
/// </summary>
public sealed class RedisAuditStore(IConnectionMultiplexer redis, string prefix = "fleet:audit") : IAuditStore
{
    private const int Chunk = 256;

    /// <summary>How far behind a record's time may be among later-appended ones (clock skew between silos) before a scan stops.</summary>
    public static readonly TimeSpan SinceSlack = TimeSpan.FromMinutes(5);

    private static readonly LuaScript Append = LuaScript.Prepare("""
        if redis.call('HEXISTS', @ids, @id) == 1 then return 0 end
        local seq = redis.call('INCR', @counter)
        redis.call('HSET', @ids, @id, seq)
        redis.call('HSET', @bodies, seq, @body)
        redis.call('ZADD', @all, seq, seq)
        redis.call('ZADD', @bySubject, seq, seq)
        redis.call('ZADD', @byKind, seq, seq)
        if @byIncident ~= '' then redis.call('ZADD', @byIncident, seq, seq) end
        return seq
        """);

    private IDatabase Db => redis.GetDatabase();
    private RedisKey Key(string part) => $"{prefix}:{part}";

    public async Task AppendAsync(IReadOnlyList<DecisionRecord> records)
    {
        if (records.Count == 0) return;
        var db = Db;
        var tasks = records.Select(r => db.ScriptEvaluateAsync(Append, new
        {
            ids = Key("ids"), counter = Key("seq"), bodies = Key("bodies"), all = Key("all"),
            bySubject = Key($"subject:{r.Subject}"), byKind = Key($"kind:{r.Kind}"),
            byIncident = r.IncidentId is { } incident ? Key($"incident:{incident}") : (RedisKey)"",
            id = (RedisValue)r.Id, body = (RedisValue)JsonSerializer.Serialize(r, SqliteAuditStore.Json),
        })).ToArray();
        await Task.WhenAll(tasks);
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
