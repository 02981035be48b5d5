using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Audit;
using Fleet.Core.Audit;
using Fleet.Grains.Audit;
using Fleet.Grains.Persistence;
using Fleet.Silo.Tests;

namespace Fleet.Benchmarks;

/// <summary>
/// The trail's durability and its chain (issue 34): records/s the embedded store takes with synchronous=FULL (every
/// acknowledged record on disk) beside NORMAL, in alternating rounds of the same run, from many writers at once as grains
/// write (group commit); and the chain's cost, the time to seal one record against the time the store spends on one.
/// </summary>
internal static class TrailBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        var writers = Math.Min(o.Concurrency, 128);
        Console.WriteLine($"# trail: {writers} writers, {o.Seconds} s per pass, 1-3 records per append, {Environment.ProcessorCount} cores");
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var sides = new[] { ("FULL", true), ("NORMAL", false) };
        var rates = sides.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < 3; round++)
        {
            var line = new List<string>();
            for (var k = 0; k < sides.Length; k++)
            {
                var dir = Repo.TempDir($"trail-bench-{sides[k].Item1}");
                await using var db = new SqliteBatchWriter(Path.Combine(dir, "fleet.db"), SqliteAuditStore.Schema, sides[k].Item2);
                var store = new SqliteAuditStore(db, key);
                var rate = await MeasureAsync(store, writers, TimeSpan.FromSeconds(o.Seconds));
                if (round > 0) rates[k].Add(rate);
                line.Add($"{sides[k].Item1} {rate:N0} records/s");
                var check = await store.VerifyAsync(null);
                if (!check.Holds) throw new InvalidOperationException($"the chain does not hold after the run: {check.Why}");
            }
            Console.Error.WriteLine($"  {(round == 0 ? "warm-up round, not counted" : $"round {round}")}: {string.Join(", ", line)}");
        }
        var (full, normal) = (rates[0].Average(), rates[1].Average());

        // The chain's own cost: sealing alone, one record after another.
        const int Seals = 200_000;
        var record = Record(0);
        var previous = TrailChain.Genesis;
        var sw = Stopwatch.StartNew();
        for (var i = 1; i <= Seals; i++) previous = TrailChain.Seal(key, record, "s", i, previous).Seal!.Mac;
        var sealUs = sw.Elapsed.TotalMicroseconds / Seals;

        Console.WriteLine();
        Console.WriteLine("| embedded store, group commit | records/s | FULL / NORMAL |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine($"| synchronous=FULL (default: acknowledged = on disk) | {full:N0} | {full / normal:P0} |");
        Console.WriteLine($"| synchronous=NORMAL | {normal:N0} | |");
        Console.WriteLine();
        Console.WriteLine($"| the chain | µs per record | share of the store's time per record at FULL |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine($"| seal (HMAC-SHA256 over the canonical record) | {sealUs:0.00} | {sealUs / (1_000_000 / full):P1} |");
        o.WriteJson(new Dictionary<string, double>
        {
            ["fullRecordsPerSecond"] = full, ["normalRecordsPerSecond"] = normal, ["fullOverNormal"] = full / normal, ["sealMicroseconds"] = sealUs,
        });
    }

    private static DecisionRecord Record(long i) => new(Guid.CreateVersion7().ToString("N"), DateTimeOffset.UtcNow, $"node/bench-{i % 1000}", $"node/bench-{i % 1000}",
        DecisionKinds.HealthChanged, null, $"Node bench-{i % 1000} turned Degraded: check 'http' failed (503) in 1 of 3 reports.",
        ImmutableDictionary<string, string>.Empty.Add("check", "http").Add("detail", "503"), "health", 3, null, null, null, null);

    private static async Task<double> MeasureAsync(SqliteAuditStore store, int writers, TimeSpan duration)
    {
        long written = 0;
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async w =>
        {
            var n = 0L;
            while (Stopwatch.GetTimestamp() < until)
            {
                var batch = Enumerable.Range(0, 1 + (int)(n++ % 3)).Select(_ => Record(w * 1_000_000 + n)).ToArray();
                await store.AppendAsync(batch);
                Interlocked.Add(ref written, batch.Length);
            }
        }));
        return written / sw.Elapsed.TotalSeconds;
    }
}
