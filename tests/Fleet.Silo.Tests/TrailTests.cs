using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Fleet.Silo.Tests;

/// <summary>
/// The trail that proves itself, against real silo processes: every acknowledged record survives a SIGKILL at a random
/// moment among a thousand writes, and the chain still holds after the restart; a record edited in the SQLite file is
/// named by <c>fleet audit verify</c>, which then exits non-zero.
/// </summary>
public class TrailTests
{
    private static async Task<(int Code, string Out)> VerifyAsync(SiloProcess silo)
    {
        var (code, stdout, stderr) = await Repo.RunAsync("dotnet", [Repo.CliDll, .. silo.CliArgs(), "audit", "verify"], TimeSpan.FromSeconds(60));
        return (code, stdout + stderr);
    }

    [Fact]
    public async Task SigkillAmongAThousandWrites_EveryAcknowledgedRecordIsThereAfterRestart_AndTheChainHolds()
    {
        var dir = Repo.TempDir("trail-crash");
        var silo = await SiloProcess.StartAsync(dir);
        var ports = (silo.HttpPort, silo.SiloPort, silo.GatewayPort);
        var key = silo.AdminKey!;
        (await silo.Http.PostAsJsonAsync("/api/v1/nodes", new { id = "trail-1", domain = "trail", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } })).EnsureSuccessStatusCode();
        var acknowledged = new ConcurrentBag<string>();
        var next = 0;
        var killAt = new Random().Next(100, 900);
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 8).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                var i = Interlocked.Increment(ref next);
                if (i > 1000) return;
                var mark = $"crash-test-{i:D4}";
                try
                {
                    using var r = await silo.Http.PostAsJsonAsync($"/api/v1/nodes/trail-1/{(i % 2 == 0 ? "cordon" : "uncordon")}", new { reason = mark }, stop.Token);
                    if (r.StatusCode == HttpStatusCode.OK) acknowledged.Add(mark);
                }
                catch (Exception) when (stop.IsCancellationRequested || true) { return; }
                if (i == killAt)
                {
                    await silo.KillAsync();
                    stop.Cancel();
                }
            }
        }).ToList();
        await Task.WhenAll(writers);
        if (!silo.HasExited) await silo.KillAsync();
        Assert.True(acknowledged.Count >= 50, $"only {acknowledged.Count} writes were acknowledged before the kill at {killAt}");

        await using var again = await SiloProcess.StartAsync(dir, [SiloProcess.AdminKeyArg + key], ports.HttpPort, ports.SiloPort, ports.GatewayPort);
        var stored = new HashSet<string>();
        long? before = null;
        do
        {
            var page = await again.Http.GetFromJsonAsync<JsonElement>($"/api/v1/audit?subject=node/trail-1&kind=operator&limit=1000{(before is null ? "" : $"&before={before}")}");
            foreach (var r in page.GetProperty("records").EnumerateArray())
                if (r.GetProperty("reason").GetString() is { } reason && reason.IndexOf("crash-test-", StringComparison.Ordinal) is var at and >= 0) stored.Add(reason.Substring(at, 15));
            before = page.TryGetProperty("nextBefore", out var n) && n.ValueKind == JsonValueKind.Number ? n.GetInt64() : null;
        } while (before is not null);
        var lost = acknowledged.Where(a => !stored.Contains(a)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged record(s) lost: {string.Join(", ", lost.Take(5))}");

        var (code, said) = await VerifyAsync(again);
        Assert.True(code == 0, said);
        Assert.Contains("The trail holds", said);
        // The web view's trail page says so too.
        var html = await again.Http.GetStringAsync("/ui/audit");
        Assert.Contains("id=\"verified\" data-holds=\"true\"", html);
    }

    [Fact]
    public async Task ARecordEditedInTheStore_IsNamedByVerify_WhichExitsNonZero_WhileTheExportedCopyStillHolds()
    {
        var dir = Repo.TempDir("trail-edit");
        var export = Path.Combine(dir, "export");
        await using var silo = await SiloProcess.StartAsync(dir, [$"--Fleet:TrailExport={export}"]);
        (await silo.Http.PostAsJsonAsync("/api/v1/nodes", new { id = "trail-2", domain = "trail", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } })).EnsureSuccessStatusCode();
        for (var i = 0; i < 5; i++)
            (await silo.Http.PostAsJsonAsync("/api/v1/nodes/trail-2/cordon", new { reason = $"maintenance window {i}" })).EnsureSuccessStatusCode();
        var (code, said) = await VerifyAsync(silo);
        Assert.True(code == 0, said);

        var page = await silo.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?subject=node/trail-2&kind=operator&limit=10");
        var victim = page.GetProperty("records").EnumerateArray().First(r => r.GetProperty("reason").GetString()!.Contains("maintenance window 2")).GetProperty("id").GetString()!;
        // Whoever can write the file rewrites what the record says.
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(silo.DataDir, "fleet.db")};Pooling=false"))
        {
            await db.OpenAsync();
            await using var cmd = db.CreateCommand();
            cmd.CommandText = "PRAGMA busy_timeout=5000; UPDATE audit SET body = replace(body, 'maintenance window 2', 'maintenance window 7') WHERE id = $id";
            cmd.Parameters.AddWithValue("$id", victim);
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }
        (code, said) = await VerifyAsync(silo);
        Assert.Equal(1, code);
        Assert.Contains($"broken at record {victim}", said);
        Assert.Contains("changed after it was written", said);
        var rest = await silo.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit/verify");
        Assert.False(rest.GetProperty("holds").GetBoolean());
        Assert.Equal(victim, rest.GetProperty("brokenAt").GetString());
        // The web view's trail page names it (its first check of the chain is made now: none was made before the edit).
        var html = await silo.Http.GetStringAsync("/ui/audit");
        Assert.Contains("id=\"verified\" data-holds=\"false\"", html);
        Assert.Contains($"broken at record {victim}", html);

        // The copy in the export folder is untouched: its chain holds, and it still says what was written.
        var lines = Directory.GetFiles(export, "trail-*-embedded.jsonl").SelectMany(File.ReadAllLines).ToList();
        var exported = lines.Select(l => JsonSerializer.Deserialize<Fleet.Abstractions.Audit.DecisionRecord>(l, new JsonSerializerOptions(JsonSerializerDefaults.Web))!).ToList();
        using var keys = new Fleet.Core.Security.ClusterKeys(File.ReadAllText(Path.Combine(dir, "cluster.secret")));
        Assert.True(Fleet.Core.Audit.TrailChain.VerifyAll(keys.TrailKey, exported, fromStart: true).Holds);
        Assert.Contains(exported, r => r.Id == victim && r.Reason.Contains("maintenance window 2"));
    }
}
