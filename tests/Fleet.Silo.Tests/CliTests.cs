using System.Net.Http.Json;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>The real `fleet` CLI process against a real silo process.</summary>
public class CliTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    private Task<(int Code, string Out, string Err)> Fleet(params string[] args) =>
        Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(), .. args], TimeSpan.FromSeconds(60));

    /// <summary>The CLI with a key of its own: the trail names the key, whatever --by says.</summary>
    private async Task<(int Code, string Out, string Err)> FleetAs(string name, string role, params string[] args) =>
        await Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(await f.KeyAsync(name, role)), .. args], TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Decommission_ThroughTheCliAndRest_RetiresAnEmptyNode_WhichThenRefusesReportsAndVerbs_UntilAdmittedBack()
    {
        await f.RegisterAsync("dcm-1", "rack-dcm");
        await f.ReportAsync("dcm-1", 1);
        var (code, stdout, stderr) = await Fleet("nodes", "decommission", "dcm-1", "--reason", "end of lease");
        Assert.True(code == 0, stderr);
        Assert.Contains("dcm-1: Decommissioned [Decommissioned] stage Retired (decommissioned by", stdout);

        var node = await f.GetJsonAsync("/api/v1/nodes/dcm-1");
        Assert.Equal("Retired", node.GetProperty("stage").GetString());
        Assert.Contains("end of lease", node.GetProperty("stageReason").GetString());
        Assert.DoesNotContain((await f.GetJsonAsync("/api/v1/nodes?domain=rack-dcm")).EnumerateArray(), n => n.GetProperty("nodeId").GetString() == "dcm-1");
        var report = await f.ReportAsync("dcm-1", 2);
        Assert.Contains("decommissioned", await report.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        var cordon = await f.Http.PostAsJsonAsync("/api/v1/nodes/dcm-1/cordon", new { reason = "x" });
        Assert.Equal(System.Net.HttpStatusCode.Conflict, cordon.StatusCode);
        Assert.Equal("decommissioned", (await cordon.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("guardrail").GetString());
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await f.Http.PostAsJsonAsync("/api/v1/nodes/never-there/decommission", new { reason = "x" })).StatusCode);

        var admitted = await f.Http.PostAsJsonAsync("/api/v1/nodes/dcm-1/admit", new { reason = "re-imaged" });
        Assert.Equal(System.Net.HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal("Serving", (await admitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("stage").GetString());
        var trail = (await f.GetJsonAsync("/api/v1/audit?subject=node/dcm-1")).GetProperty("records").EnumerateArray().Select(r => r.GetProperty("reason").GetString()!).ToList();
        Assert.Contains(trail, r => r.StartsWith("Retired node dcm-1: every instance has moved off"));
        Assert.Contains(trail, r => r.StartsWith("Admitted node dcm-1 into service from retired"));
    }

    [Fact]
    public async Task DomainsRetire_ThroughTheCliAndRest_RetiresEveryNode_RefusesBadInputUnknownDomainsAndASecondTrain()
    {
        foreach (var n in new[] { "trn-1", "trn-2" })
        {
            await f.RegisterAsync(n, "rack-trn");
            await f.ReportAsync(n, 1);
        }
        var (code, stdout, stderr) = await Fleet("domains", "retire", "rack-trn", "--batch", "2", "--reason", "rack refresh");
        Assert.True(code == 0, stderr);
        Assert.Contains("Maintenance train for rack-trn (running), started by", stdout);
        Assert.Contains("2 at a time", stdout);

        // REST: a bad batch names its field, an unknown domain is not found, a second domain waits for this train.
        var bad = await f.Http.PostAsJsonAsync("/api/v1/domains/rack-trn2/retire", new { reason = "x", batch = 0 });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("batch", out _));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await f.Http.PostAsJsonAsync("/api/v1/domains/never-there/retire", new { reason = "x" })).StatusCode);

        JsonElement train = default;
        for (var tries = 0; tries < 300; tries++)
        {
            if ((await f.GetJsonAsync("/api/v1/capacity")).TryGetProperty("train", out train) && train.ValueKind == JsonValueKind.Object
                && train.TryGetProperty("finished", out var finished) && finished.ValueKind != JsonValueKind.Null) break;
            await Task.Delay(100);
        }
        Assert.StartsWith("arrived: 2 node(s) retired", train.GetProperty("progress").GetString());
        foreach (var n in new[] { "trn-1", "trn-2" })
            Assert.Equal("Retired", (await f.GetJsonAsync($"/api/v1/nodes/{n}")).GetProperty("stage").GetString());
        var stop = await f.Http.PostAsJsonAsync("/api/v1/domains/rack-trn/retire/stop", new { reason = "x" });
        Assert.Equal(System.Net.HttpStatusCode.Conflict, stop.StatusCode);
        Assert.Equal("no-train", (await stop.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("guardrail").GetString());
        (code, stdout, stderr) = await Fleet("capacity");
        Assert.True(code == 0, stderr);
        Assert.Contains("Maintenance train for rack-trn (finished", stdout);
        var trail = (await f.GetJsonAsync("/api/v1/audit?subject=domain/rack-trn")).GetProperty("records").EnumerateArray().Select(r => r.GetProperty("reason").GetString()!).ToList();
        Assert.Contains(trail, r => r.StartsWith("Maintenance train for domain rack-trn started by") && r.Contains("rack refresh"));
    }

    [Fact]
    public async Task NodesListShowAndAudit_TableAndJson()
    {
        await f.RegisterAsync("cli-1", "rack-cli");
        await f.ReportAsync("cli-1", 1);

        var (code, stdout, _) = await Fleet("nodes", "list", "--domain", "rack-cli");
        Assert.Equal(0, code);
        Assert.Contains("cli-1", stdout);
        Assert.Contains("Healthy", stdout);

        (code, stdout, _) = await Fleet("nodes", "list", "--domain", "rack-cli", "-o", "json");
        Assert.Equal(0, code);
        Assert.Equal("cli-1", JsonDocument.Parse(stdout).RootElement[0].GetProperty("nodeId").GetString());

        (code, stdout, _) = await Fleet("nodes", "show", "cli-1");
        Assert.Equal(0, code);
        Assert.Contains("Health    Healthy", stdout);

        (code, _, _) = await FleetAs("dana", "operator", "nodes", "cordon", "cli-1", "--reason", "bad fan", "--by", "mallory");
        Assert.Equal(0, code);
        (code, stdout, _) = await Fleet("audit", "--node", "cli-1", "--kind", "operator");
        Assert.Equal(0, code);
        Assert.Contains("Cordoned node cli-1 at the request of dana: bad fan.", stdout);
    }

    [Fact]
    public async Task Policy_ValidateApplyHistory_InvalidRefusedWithEveryProblem()
    {
        var dir = Repo.TempDir("cli-policy");
        var bad = Path.Combine(dir, "bad.yaml");
        await File.WriteAllTextAsync(bad, "telemetry:\n  reportInterval: often\nguardrails:\n  stormThreshold: 5\n  surprise: true\n");
        var (code, stdout, _) = await Fleet("policy", "validate", bad);
        Assert.Equal(1, code);
        Assert.Contains("3 problem(s)", stdout);
        Assert.Contains("telemetry.reportInterval (line 2)", stdout);
        Assert.Contains("guardrails.stormThreshold (line 4)", stdout);
        Assert.Contains("guardrails.surprise (line 5)", stdout);

        var before = (await f.GetJsonAsync("/api/v1/policy")).GetProperty("version").GetInt32();
        (code, stdout, _) = await Fleet("policy", "apply", bad);
        Assert.Equal(1, code);
        Assert.Contains("Refused", stdout);
        Assert.Equal(before, (await f.GetJsonAsync("/api/v1/policy")).GetProperty("version").GetInt32());

        var good = Path.Combine(dir, "good.yaml");
        await File.WriteAllTextAsync(good, "telemetry:\n  reportInterval: 5s\n");
        (code, stdout, _) = await FleetAs("erin", "admin", "policy", "apply", good);
        Assert.Equal(0, code);
        Assert.Contains($"Applied policy version {before + 1}.", stdout);
        (code, stdout, _) = await Fleet("policy", "history");
        Assert.Contains("erin", stdout);
    }

    [Fact]
    public async Task Unreachable_ExitCode2_OneLine()
    {
        var (code, stdout, stderr) = await Repo.RunAsync("dotnet", [Repo.CliDll, "--gateway", $"127.0.0.1:{Repo.FreePort()}", "nodes", "list"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.StartsWith("fleet: cannot reach the cluster at 127.0.0.1:", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task PolicyDiffAndRollback_InWords_RecordingWho()
    {
        var dir = Repo.TempDir("cli-policy-diff");
        var three = Path.Combine(dir, "three.yaml");
        await File.WriteAllTextAsync(three, "guardrails:\n  maxConcurrentPerDomain: 3\n");
        var (code, stdout, stderr) = await FleetAs("erin", "admin", "policy", "apply", three);
        Assert.True(code == 0, stderr);
        var applied = (await f.GetJsonAsync("/api/v1/policy")).GetProperty("version").GetInt32();

        var four = Path.Combine(dir, "four.yaml");
        await File.WriteAllTextAsync(four, "guardrails:\n  maxConcurrentPerDomain: 4\n");
        (code, stdout, _) = await Fleet("policy", "diff", four);
        Assert.Equal(0, code);
        Assert.Contains($"Against version {applied}, 1 change(s):", stdout);
        Assert.Contains("guardrails.maxConcurrentPerDomain 3 → 4", stdout);
        (code, _, _) = await FleetAs("erin", "admin", "policy", "apply", four);
        Assert.Equal(0, code);

        (code, stdout, stderr) = await FleetAs("gina", "admin", "policy", "rollback", applied.ToString());
        Assert.True(code == 0, stderr);
        Assert.Contains($"Rolled back to version {applied}: applied as version {applied + 2}.", stdout);
        var now = await f.GetJsonAsync("/api/v1/policy");
        Assert.Equal(3, now.GetProperty("policy").GetProperty("guardrails").GetProperty("maxConcurrentPerDomain").GetInt32());
        Assert.Equal("gina", now.GetProperty("appliedBy").GetString());
        var record = (await f.GetJsonAsync("/api/v1/audit?subject=policy&kind=policy-applied&limit=1")).GetProperty("records")[0].GetProperty("reason").GetString();
        Assert.Contains($"Applied policy version {applied + 2}, rolled back to version {applied}", record);
        Assert.Contains("submitted by gina: guardrails.maxConcurrentPerDomain 4 → 3", record);

        var versions = await f.GetJsonAsync($"/api/v1/policy/diff?from={applied}&to={applied + 1}");
        Assert.Contains("guardrails.maxConcurrentPerDomain 3 → 4", versions.GetProperty("text").EnumerateArray().Select(t => t.GetString()));
        (code, stdout, _) = await FleetAs("gina", "admin", "policy", "rollback", "999");
        Assert.Equal(1, code);
        Assert.Contains("there is no version 999", stdout);
    }

    [Fact]
    public async Task FreezeUnfreeze_ShownByStatus()
    {
        var (code, _, stderr) = await Fleet("freeze");
        Assert.Equal(1, code);
        Assert.Contains("--reason", stderr);
        (code, _, _) = await FleetAs("frank", "operator", "freeze", "--reason", "quarterly failover drill");
        Assert.Equal(0, code);
        var (_, status, _) = await Fleet("status");
        Assert.Contains("Fleet FROZEN by frank", status);
        (code, _, _) = await Fleet("unfreeze");
        Assert.Equal(0, code);
        (_, status, _) = await Fleet("status");
        Assert.Contains("Fleet not frozen.", status);
    }
}
