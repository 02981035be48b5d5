using System.Diagnostics;
using Fleet.Abstractions.Actions;
using Fleet.Client;
using Fleet.Core.Security;
using Fleet.Silo.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Benchmarks;

/// <summary>
/// What the doors cost (issue 28): the telemetry intake through the SDK against one embedded silo that checks every call —
/// the key, the role, the grain's own input rules, the per-credential rate limit, and a call stamp on every call between
/// its grains — beside the same silo with credentials not checked (Fleet:Auth:Enabled=false: no check, no stamp), in the
/// same run, in alternating rounds. And the cost of signing an action and of checking its signature (ECDSA P-256).
/// </summary>
internal static class DoorsBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        Console.WriteLine($"# doors: {o.Nodes} nodes, {o.Seconds} s per pass, {o.Concurrency} calls in flight, {Environment.ProcessorCount} cores");
        // Rate limits out of the way on the checked silo (a benchmark floods with one key), as the test harness does.
        await using var checkedSilo = await SiloProcess.StartAsync();
        await using var openSilo = await SiloProcess.StartAsync(extraArgs: ["--Fleet:Auth:Enabled=false"]);
        using var checkedHost = await IntakeBenchmark.ClientAsync(null, checkedSilo.Gateway, "fleet", checkedSilo.AdminKey);
        using var openHost = await IntakeBenchmark.ClientAsync(null, openSilo.Gateway, "fleet", null);
        var sides = new[] { ("checked", checkedHost.Services.GetRequiredService<IFleetClient>()), ("open", openHost.Services.GetRequiredService<IFleetClient>()) };
        foreach (var (_, client) in sides) await IntakeBenchmark.RegisterAsync(client, o.Nodes, o.Concurrency);

        var batches = o with { Concurrency = IntakeBenchmark.BatchesInFlight };
        var single = sides.Select(_ => new List<IntakeBenchmark.Result>()).ToArray();
        var batch = sides.Select(_ => new List<IntakeBenchmark.Result>()).ToArray();
        for (var round = 0; round < 3; round++)
        {
            var line = new List<string>();
            for (var k = 0; k < sides.Length; k++)
            {
                var client = sides[k].Item2;
                var one = await IntakeBenchmark.MeasureAsync(o, async (i, seq) => await client.ReportAsync(IntakeBenchmark.Id(i), IntakeBenchmark.Report(seq)));
                var many = await IntakeBenchmark.MeasureAsync(batches, async (i, seq) => await client.ReportBatchAsync(IntakeBenchmark.Batch(i, seq, o.Nodes)), IntakeBenchmark.BatchSize);
                if (round > 0)
                {
                    single[k].Add(one);
                    batch[k].Add(many);
                }
                line.Add($"{sides[k].Item1}: single {one.PerSecond:N0}/s, batch {many.PerSecond:N0}/s");
            }
            Console.Error.WriteLine($"  {(round == 0 ? "warm-up round, not counted" : $"round {round}")}: {string.Join("; ", line)}");
        }
        var (cs, os, cb, ob) = (IntakeBenchmark.Result.Mean(single[0]), IntakeBenchmark.Result.Mean(single[1]), IntakeBenchmark.Result.Mean(batch[0]), IntakeBenchmark.Result.Mean(batch[1]));

        using var keys = ClusterKeys.Random();
        using var publicKey = System.Security.Cryptography.ECDsa.Create();
        publicKey.ImportFromPem(keys.ActionPublicKeyPem);
        var request = new ActionRequest("bench-key", "web-01", ActionNames.RestartServices, "check http failed 3 times", "lease-1", "node/web-01");
        const int Signatures = 5_000;
        var sw = Stopwatch.StartNew();
        var signed = Enumerable.Range(0, Signatures).Select(i => ActionSignatures.Sign(keys.ActionSigning, keys.ActionKeyId, request with { IdempotencyKey = $"k{i}" }, "web-01", DateTimeOffset.UtcNow.AddMinutes(2))).ToList();
        var signUs = sw.Elapsed.TotalMicroseconds / Signatures;
        sw.Restart();
        var now = DateTimeOffset.UtcNow;
        if (signed.Any(a => ActionSignatures.Check(publicKey, a, "web-01", now) is not null)) throw new InvalidOperationException("a signature did not verify");
        var verifyUs = sw.Elapsed.TotalMicroseconds / Signatures;

        Console.WriteLine();
        Console.WriteLine("| intake, 1 embedded silo | checked (keys, roles, input rules, rate limit, call stamps) | not checked | checked / not checked |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine($"| reports/s, SDK, one per call | {cs.PerSecond:N0} (p50 {cs.P50:0.0} ms, p99 {cs.P99:0.0} ms) | {os.PerSecond:N0} (p50 {os.P50:0.0} ms, p99 {os.P99:0.0} ms) | {cs.PerSecond / os.PerSecond:P0} |");
        Console.WriteLine($"| reports/s, SDK batch of 1,000 | {cb.PerSecond:N0} | {ob.PerSecond:N0} | {cb.PerSecond / ob.PerSecond:P0} |");
        Console.WriteLine();
        Console.WriteLine($"| action signature (ECDSA P-256) | µs |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| sign (silo, per action sent to an agent) | {signUs:0.0} |");
        Console.WriteLine($"| check (agent, per action received) | {verifyUs:0.0} |");
        o.WriteJson(new Dictionary<string, double>
        {
            ["singleCheckedPerSecond"] = cs.PerSecond, ["singleOpenPerSecond"] = os.PerSecond, ["singleRatio"] = cs.PerSecond / os.PerSecond,
            ["singleCheckedP50Ms"] = cs.P50, ["singleCheckedP99Ms"] = cs.P99, ["singleOpenP50Ms"] = os.P50, ["singleOpenP99Ms"] = os.P99,
            ["batchCheckedPerSecond"] = cb.PerSecond, ["batchOpenPerSecond"] = ob.PerSecond, ["batchRatio"] = cb.PerSecond / ob.PerSecond,
            ["signMicroseconds"] = signUs, ["verifyMicroseconds"] = verifyUs,
        });
    }
}
