using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fleet.Silo.Tests;

public class RestartTests
{
    [Fact]
    public async Task Sigkill_ThenNewProcessOnSameDataDir_KeepsNodesPolicyAndAudit()
    {
        var dataDir = Repo.TempDir("restart");
        var first = await SiloProcess.StartAsync(dataDir);
        var f = new SiloFixtureView(first);
        try
        {
            for (var i = 0; i < 20; i++) await f.RegisterAsync($"keep-{i}", i < 10 ? "rack-1" : "rack-2");
            for (var i = 0; i < 20; i++) await f.ReportAsync($"keep-{i}", 1);
            await first.Http.PostAsJsonAsync("/api/v1/nodes/keep-3/cordon", new { by = "alice", reason = "disk noise" });
            var put = await first.Http.PutAsync("/api/v1/policy?by=ops", new StringContent("guardrails:\n  maxConcurrentPerDomain: 2\n", Encoding.UTF8, "text/yaml"));
            put.EnsureSuccessStatusCode();
            var auditBefore = await f.AuditCountAsync();
            await first.KillAsync();
        }
        finally
        {
            await first.DisposeAsync();
        }

        await using var second = await SiloProcess.StartAsync(dataDir);
        var g = new SiloFixtureView(second);
        var nodes = await g.GetAsync("/api/v1/nodes");
        Assert.Equal(20, nodes.GetArrayLength());
        var keep3 = await g.GetAsync("/api/v1/nodes/keep-3");
        Assert.Equal("Cordoned", keep3.GetProperty("adminState").GetString());
        Assert.Equal(1, keep3.GetProperty("lastSequence").GetInt64());
        var policy = await g.GetAsync("/api/v1/policy");
        Assert.Equal(1, policy.GetProperty("version").GetInt32());
        Assert.Equal(2, policy.GetProperty("policy").GetProperty("guardrails").GetProperty("maxConcurrentPerDomain").GetInt32());
        var trail = (await g.GetAsync("/api/v1/audit?subject=node/keep-3&limit=1000")).GetProperty("records");
        Assert.Contains(trail.EnumerateArray(), r => r.GetProperty("kind").GetString() == "operator" && r.GetProperty("reason").GetString()!.Contains("disk noise"));
        Assert.True(await g.AuditCountAsync() >= 41, "registrations, first reports and the cordon survived");

        // A report with an old sequence number is still refused after the restart.
        Assert.Equal(System.Net.HttpStatusCode.Conflict, (await g.ReportAsync("keep-3", 1)).StatusCode);
    }

    [Fact]
    public async Task AMaintenanceTrainHeldWhenTheSiloIsKilled_CarriesOnAfterTheRestart_WithoutAnyoneAskingAfterIt()
    {
        var dataDir = Repo.TempDir("restart-train");
        var first = await SiloProcess.StartAsync(dataDir);
        try
        {
            var f = new SiloFixtureView(first);
            foreach (var (id, domain) in new[] { ("tr-1a", "rack-t1"), ("tr-1b", "rack-t1"), ("tr-2a", "rack-t2"), ("tr-2b", "rack-t2") })
            {
                (await f.RegisterAsync(id, domain)).EnsureSuccessStatusCode();
                (await f.ReportAsync(id, 1)).EnsureSuccessStatusCode();
            }
            // A freeze holds the train's first retirement: it is running, and nothing of rack-t1 is retired yet.
            (await first.Http.PostAsJsonAsync("/api/v1/fleet/freeze", new { reason = "change window" })).EnsureSuccessStatusCode();
            var started = await first.Http.PostAsJsonAsync("/api/v1/domains/rack-t1/retire", new { reason = "rack refresh" });
            Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync());
            var train = (await f.GetAsync("/api/v1/capacity")).GetProperty("train");
            Assert.False(train.TryGetProperty("finished", out var finished) && finished.ValueKind != JsonValueKind.Null, train.ToString());
            Assert.Equal("Serving", (await f.GetAsync("/api/v1/nodes/tr-1a")).GetProperty("stage").GetString());
            await first.KillAsync();
        }
        finally
        {
            await first.DisposeAsync();
        }

        await using var second = await SiloProcess.StartAsync(dataDir);
        var g = new SiloFixtureView(second);
        (await second.Http.PostAsJsonAsync("/api/v1/fleet/unfreeze", new { reason = "window over" })).EnsureSuccessStatusCode();
        // Nobody asks the capacity supervisor: the silo's start woke it, and the train goes on.
        var until = DateTime.UtcNow.AddSeconds(90);
        var stages = Array.Empty<string>();
        while (DateTime.UtcNow < until)
        {
            stages = [(await g.GetAsync("/api/v1/nodes/tr-1a")).GetProperty("stage").GetString()!, (await g.GetAsync("/api/v1/nodes/tr-1b")).GetProperty("stage").GetString()!];
            if (stages.All(s => s == "Retired")) break;
            await Task.Delay(500);
        }
        Assert.Equal(["Retired", "Retired"], stages);
        Assert.Equal("Serving", (await g.GetAsync("/api/v1/nodes/tr-2a")).GetProperty("stage").GetString());
    }

    [Fact]
    public async Task BadConfiguration_ExitsWithClearMessage_NoStackTrace()
    {
        var (code, _, err) = await Repo.RunAsync("dotnet", [Repo.SiloDll, "--Fleet:SiloPort=70000", "--Fleet:ClusterId=", "--urls", $"http://127.0.0.1:{Repo.FreePort()}"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Contains("SiloPort", err);
        Assert.Contains("ClusterId", err);
        Assert.DoesNotContain("   at ", err);
    }

    private sealed class SiloFixtureView(SiloProcess silo)
    {
        public Task<HttpResponseMessage> RegisterAsync(string id, string domain) =>
            silo.Http.PostAsJsonAsync("/api/v1/nodes", new { id, domain, capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 50L << 30 } });

        public Task<HttpResponseMessage> ReportAsync(string id, long seq) =>
            silo.Http.PostAsJsonAsync($"/api/v1/nodes/{id}/telemetry", new { sequence = seq, cpuPercent = 5, memoryUsedBytes = 1L << 30, memoryTotalBytes = 8L << 30 });

        public async Task<JsonElement> GetAsync(string path) => await silo.Http.GetFromJsonAsync<JsonElement>(path);

        public async Task<int> AuditCountAsync() => (await GetAsync("/api/v1/audit?limit=1000")).GetProperty("records").GetArrayLength();
    }
}
