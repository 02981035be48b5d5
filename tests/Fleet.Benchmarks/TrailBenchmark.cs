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

        // At the intake's own record rate: registering 10,000 nodes in about 4 s (the doors benchmark) writes 2,500 records/s,
        // the fastest the intake makes records. Offered at that pace (and twice it), both settings keep up or not, at what latency.
        var paced = new List<string>();
        var pacedJson = new Dictionary<string, double>();
        foreach (var offered in new[] { 2_500, 5_000 })
        {
            var results = new List<(double Rate, double P50, double P99)>();
            foreach (var (name, fullSync) in sides)
            {
                var dir = Repo.TempDir($"trail-bench-paced-{name}");
                await using var db = new SqliteBatchWriter(Path.Combine(dir, "fleet.db"), SqliteAuditStore.Schema, fullSync);
                var r = await MeasurePacedAsync(new SqliteAuditStore(db, key), offered, TimeSpan.FromSeconds(o.Seconds));
                results.Add(r);
                pacedJson[$"paced{offered}{name}PerSecond"] = r.Rate;
                pacedJson[$"paced{offered}{name}P50Ms"] = r.P50;
                pacedJson[$"paced{offered}{name}P99Ms"] = r.P99;
            }
            pacedJson[$"paced{offered}FullToNormalRatio"] = results[0].Rate / results[1].Rate;
            paced.Add($"| {offered:N0} records/s offered | {results[0].Rate:N0} (p50 {results[0].P50:0.0} ms, p99 {results[0].P99:0.0} ms) | " +
                $"{results[1].Rate:N0} (p50 {results[1].P50:0.0} ms, p99 {results[1].P99:0.0} ms) | {results[0].Rate / results[1].Rate:P0} |");
        }

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
        Console.WriteLine("| at the intake's record rate, 64 writers | FULL: records/s stored (append latency) | NORMAL | FULL / NORMAL |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var line in paced) Console.WriteLine(line);
        Console.WriteLine();
        Console.WriteLine($"| the chain | µs per record | share of the store's time per record at FULL |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine($"| seal (HMAC-SHA256 over the canonical record) | {sealUs:0.00} | {sealUs / (1_000_000 / full):P1} |");
        o.WriteJson(new Dictionary<string, double>
        {
            ["fullRecordsPerSecond"] = full, ["normalRecordsPerSecond"] = normal, ["fullOverNormal"] = full / normal, ["sealMicroseconds"] = sealUs,
            ["sealShareOfFullRecordRatio"] = sealUs / (1_000_000 / full),
        }.Concat(pacedJson).ToDictionary());
    }

    private static DecisionRecord Record(long i) => new(Guid.CreateVersion7().ToString("N"), DateTimeOffset.UtcNow, $"node/bench-{i % 1000}", $"node/bench-{i % 1000}",
        DecisionKinds.HealthChanged, null, $"Node bench-{i % 1000} turned Degraded: check 'http' failed (503) in 1 of 3 reports.",
        ImmutableDictionary<string, string>.Empty.Add("check", "http").Add("detail", "503"), "health", 3, null, null, null, null);

    /// <summary>64 writers each appending one record on a fixed schedule, <paramref name="offered"/> records/s in all; the rate stored and the append latency.</summary>
    private static async Task<(double Rate, double P50, double P99)> MeasurePacedAsync(SqliteAuditStore store, int offered, TimeSpan duration)
    {
        const int Writers = 64;
        var every = TimeSpan.FromSeconds((double)Writers / offered);
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(async w =>
        {
            var due = every * w / Writers;
            for (var n = 0L; due < duration; n++, due += every)
            {
                if (due > sw.Elapsed) await Task.Delay(due - sw.Elapsed);
                var start = Stopwatch.GetTimestamp();
                await store.AppendAsync([Record(w * 1_000_000 + n)]);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        var all = latencies.ToArray();
        return (all.Length / sw.Elapsed.TotalSeconds, Stats.Percentile(all, 50), Stats.Percentile(all, 99));
    }

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
