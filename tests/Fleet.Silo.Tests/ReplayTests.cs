using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Fleet.Silo.Tests;

/// <summary>
/// Replay (issue 14, part 4): a real silo records its input trace during a scripted fault; replayed off-line with the
/// same policy, the trace yields that silo's own decision records; with a stricter policy, the expected differences.
/// </summary>
public class ReplayTests(ITestOutputHelper output)
{
    private const string Policy = TracingTests.Policy;

    private const string Stricter = Policy + """

        oversight:
          shadow:
            actions: [restart-services]
        """;

    private static Task<(int Code, string Out, string Err)> Fleet(SiloProcess silo, params string[] args) =>
        Repo.RunAsync("dotnet", [Repo.CliDll, .. silo.CliArgs(), .. args], TimeSpan.FromSeconds(120));

    private static Task<(int Code, string Out, string Err)> Offline(params string[] args) =>
        Repo.RunAsync("dotnet", [Repo.CliDll, .. args], TimeSpan.FromSeconds(180));

    private static (string, string, string?, string?) Key(JsonElement r) => (r.GetProperty("subject").GetString()!, r.GetProperty("kind").GetString()!,
        r.TryGetProperty("action", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null,
        r.TryGetProperty("rule", out var x) ? x.GetString() : r.TryGetProperty("policyRule", out var y) ? y.GetString() : null);

    private static string Show(IEnumerable<(string, string, string?, string?)> keys) => string.Join("\n", keys.Select(k => $"  {k.Item1} {k.Item2} {k.Item3} {k.Item4}"));

    [Fact]
    public async Task ATraceOfAScriptedFault_ReplaysToTheSilosOwnRecords_AndAStricterPolicyShowsItsDifferences()
    {
        await using var silo = await SiloProcess.StartAsync();
        var dir = Repo.TempDir("replay");
        (await silo.Http.PutAsync("/api/v1/policy?by=test", new StringContent(Policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();

        // Bad requests first: nothing starts.
        var bad = await silo.Http.PostAsJsonAsync("/api/v1/trace", new { @for = "soon" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("'soon' is not a duration", await bad.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await silo.Http.GetAsync("/api/v1/trace/file")).StatusCode);

        var (code, stdout, stderr) = await Fleet(silo, "trace", "record", "--for", "10m");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("Recording trace tr-", stdout);
        await Task.Delay(1500); // every silo learns within a second that the fleet records

        foreach (var id in new[] { "rp-1", "rp-2" })
            (await silo.Http.PostAsJsonAsync("/api/v1/nodes", new { id, domain = "rack-r", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } })).EnsureSuccessStatusCode();
        var seq = new Dictionary<string, long> { ["rp-1"] = 0, ["rp-2"] = 0 };
        async Task ReportAsync(string id, bool healthy) =>
            (await silo.Http.PostAsJsonAsync($"/api/v1/nodes/{id}/telemetry", new
            {
                sequence = ++seq[id], ttlSeconds = 30, cpuPercent = 10, memoryUsedBytes = 1L << 30, memoryTotalBytes = 8L << 30,
                checks = new[] { new { name = "http", passed = healthy, detail = healthy ? "200" : "connection refused" } },
            })).EnsureSuccessStatusCode();
        string? until = null;
        async Task<List<JsonElement>> TrailAsync(string id) =>
            [.. (await silo.Http.GetFromJsonAsync<JsonElement>($"/api/v1/audit?subject=node/{id}&limit=500{until}")).GetProperty("records").EnumerateArray()];
        async Task StepAsync(bool rp2Healthy)
        {
            await ReportAsync("rp-1", true);
            await ReportAsync("rp-2", rp2Healthy);
            await Task.Delay(500);
        }

        for (var i = 0; i < 3; i++) await StepAsync(true);
        // rp-1 falls silent past its limit (3 misses at 1 s) and comes back: the replay must judge the silence as the
        // silo did, from when rp-1's last report arrived, before the late report is delivered.
        for (var i = 0; i < 7; i++) // 3.5 s and more: Suspect after 3 s (Unhealthy after 6 s, and acted on, if the machine is slow)
        {
            await ReportAsync("rp-2", true);
            await Task.Delay(500);
        }
        for (var i = 0; i < 3; i++) await StepAsync(true);
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (DateTime.UtcNow < deadline && !(await TrailAsync("rp-2")).Any(r => r.GetProperty("kind").GetString() == "executed")) await StepAsync(false);
        deadline = DateTime.UtcNow.AddSeconds(40);
        while (DateTime.UtcNow < deadline && !(await TrailAsync("rp-2")).Any(r => r.GetProperty("kind").GetString() == "verified")) await StepAsync(true);
        for (var i = 0; i < 4; i++) await StepAsync(true);
        await Task.Delay(1500); // the last second's lines reach the trace

        (code, stdout, stderr) = await Fleet(silo, "trace", "stop");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("stopped by", stdout);
        var traceFile = Path.Combine(dir, "fault.trace");
        (code, stdout, stderr) = await Fleet(silo, "trace", "download", "--out", traceFile);
        Assert.True(code == 0, stdout + stderr);
        var lines = await File.ReadAllLinesAsync(traceFile);
        output.WriteLine($"trace: {lines.Length} lines; {stdout.Trim()}");
        Assert.Contains(lines, l => l.Contains("\"kind\":\"register\"") && l.Contains("rp-2"));
        Assert.Contains(lines, l => l.Contains("\"kind\":\"report\"") && l.Contains("connection refused"));
        // The API serves the same file.
        Assert.Equal(await File.ReadAllTextAsync(traceFile), await silo.Http.GetStringAsync("/api/v1/trace/file"));

        // The silo's records of the trace's window (after it, the nodes fall silent: the replay's trace ends there).
        var status = await silo.Http.GetFromJsonAsync<JsonElement>("/api/v1/trace");
        Assert.False(status.GetProperty("recording").GetBoolean());
        until = "&until=" + Uri.EscapeDataString(status.GetProperty("stoppedAt").GetDateTimeOffset().ToString("O"));
        var silos = (await TrailAsync("rp-1")).Concat(await TrailAsync("rp-2")).Select(Key).ToList();
        Assert.Contains(silos, k => k.Item2 == "executed" && k.Item3 == "restart-services");
        Assert.Contains(silos, k => k.Item1 == "node/rp-1" && k.Item4 == "telemetry.allowedMisses / health.unhealthyAfterFailedReports");

        // Replayed with the recorded policy, and with the same document as a candidate: the recorded run yields the
        // silo's own records (subject, kind, action, rule), and the two runs do not differ.
        var same = Path.Combine(dir, "same.yaml");
        await File.WriteAllTextAsync(same, Policy);
        (code, stdout, stderr) = await Offline("replay", traceFile, "--policy", same, "-o", "json");
        Assert.True(code == 0, stdout + stderr);
        var result = JsonDocument.Parse(stdout).RootElement;
        var replayed = result.GetProperty("recorded").GetProperty("records").EnumerateArray().Select(Key).Where(k => k.Item1.StartsWith("node/rp-")).ToList();
        var expected = silos.OrderBy(k => k.ToString()).ToList();
        var actual = replayed.OrderBy(k => k.ToString()).ToList();
        Assert.True(expected.SequenceEqual(actual), $"the silo recorded:\n{Show(expected)}\nthe replay recorded:\n{Show(actual)}");
        Assert.Equal(0, result.GetProperty("differences").GetArrayLength());

        // A stricter policy (restart-services in shadow mode): the restart is removed, a shadowed record added.
        var stricter = Path.Combine(dir, "stricter.yaml");
        await File.WriteAllTextAsync(stricter, Stricter);
        (code, stdout, stderr) = await Offline("replay", traceFile, "--policy", stricter);
        output.WriteLine(stdout);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("removed: executed restart-services on node/rp-2", stdout);
        Assert.Contains("added: shadowed restart-services on node/rp-2", stdout);
        Assert.Contains("Recorded policy:", stdout);
        Assert.Contains("Candidate policy:", stdout);
        // The recorded run restarted what the silo restarted (rp-2, and rp-1 too if a slow machine stretched its silence
        // past the Unhealthy limit); the candidate restarted nothing.
        var restarts = silos.Where(k => k.Item2 == "executed" && k.Item3 == "restart-services").ToList();
        Assert.Contains($"restart-services {restarts.Count} (on {restarts.Select(k => k.Item1).Distinct().Count()} subjects)", stdout);
        Assert.Contains("actions executed  none (on 0 subjects)", stdout);

        // Bad input: a file that is not a trace, a policy that is not valid, a missing file.
        var notTrace = Path.Combine(dir, "not.trace");
        await File.WriteAllTextAsync(notTrace, "hello\n");
        (code, _, stderr) = await Offline("replay", notTrace);
        Assert.Equal(1, code);
        Assert.Contains("is not a trace Fleet can replay", stderr);
        Assert.Contains("line 1: not a trace entry", stderr);
        var badPolicy = Path.Combine(dir, "bad.yaml");
        await File.WriteAllTextAsync(badPolicy, "guardrails:\n  maxConcurrentPerDomain: -1\n");
        (code, _, stderr) = await Offline("replay", traceFile, "--policy", badPolicy);
        Assert.Equal(1, code);
        Assert.Contains("is not a valid policy", stderr);
        (code, _, stderr) = await Offline("replay", Path.Combine(dir, "missing.trace"));
        Assert.NotEqual(0, code);
        Assert.DoesNotContain("   at ", stderr);
    }
}
