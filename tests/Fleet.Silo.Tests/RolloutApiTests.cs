using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>
/// Rollouts through the REST API and the CLI of a real silo process, in real time with short steps: a bad version deployed
/// with the CLI's --watch is rolled back by itself with its figures; a good one is promoted; a rollback by hand restores the
/// version before; bad requests are answered 4xx.
/// </summary>
public class RolloutApiTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    private static readonly string[] Nodes = ["ro-1", "ro-2", "ro-3"];

    private const string Policy = """
        services:
          reconcileInterval: 500ms
        rollout:
          stepDuration: 10s
          minSamples: 3
          minRequests: 50
          watch: 0s
        """;

    private Task<(int Code, string Out, string Err)> Fleet(params string[] args) =>
        Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(), .. args], TimeSpan.FromSeconds(90));

    /// <summary>Nodes report every second, and every running instance reports as its version behaves (2.0 fails 8 % of its requests).</summary>
    private async Task<(CancellationTokenSource Stop, Task Loop)> ReportingAsync(string service, string[]? nodes = null)
    {
        long seq = 0;
        var Nodes = nodes ?? RolloutApiTests.Nodes;
        foreach (var (n, i) in Nodes.Select((n, i) => (n, i)))
        {
            Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync(n, $"rack-{n}")).StatusCode);
            await f.ReportAsync(n, ++seq);
        }
        var stop = new CancellationTokenSource();
        var rng = new Random(5);
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                seq++;
                foreach (var n in Nodes) await f.ReportAsync(n, seq);
                using var got = await f.Http.GetAsync($"/api/v1/services/{service}");
                if (got.IsSuccessStatusCode)
                {
                    var s = await got.Content.ReadFromJsonAsync<JsonElement>();
                    var reports = s.GetProperty("instances").EnumerateArray().Where(i => i.GetProperty("state").GetString() == "Running").Select(i =>
                    {
                        var version = i.GetProperty("version").GetString()!;
                        var errorShare = version == "2.0" ? 0.08 : 0.01;
                        var noise = 0.8 + rng.NextDouble() * 0.4;
                        return new
                        {
                            service, instance = i.GetProperty("id").GetString(), version, requests = 50.0, errors = 50 * errorShare * noise,
                            latencyP50Ms = 20 * noise, latencyP99Ms = 80 * noise, memoryBytes = 1L << 30, healthy = true,
                        };
                    }).ToArray();
                    if (reports.Length > 0) await f.Http.PostAsJsonAsync("/api/v1/services/telemetry", reports);
                }
                try { await Task.Delay(700, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        return (stop, loop);
    }

    private async Task<JsonElement> EventuallyAsync(string path, Func<JsonElement, bool> done, string what, int seconds = 60)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        JsonElement last = default;
        while (DateTime.UtcNow < until)
        {
            using var r = await f.Http.GetAsync(path);
            if (r.IsSuccessStatusCode && done(last = await r.Content.ReadFromJsonAsync<JsonElement>())) return last;
            await Task.Delay(300);
        }
        Assert.Fail($"timed out waiting until {what}; last: {last}");
        return last;
    }

    private static bool NoRollout(JsonElement service) => !service.TryGetProperty("rollout", out var r) || r.ValueKind == JsonValueKind.Null;

    private static bool AllOn(JsonElement service, string version, int running) =>
        service.GetProperty("running").GetInt32() == running &&
        service.GetProperty("instances").EnumerateArray().All(i => i.GetProperty("version").GetString() == version && i.GetProperty("state").GetString() == "Running");

    [Fact]
    public async Task AnApprovalBySize_HoldsAnAutomaticRollback_UntilAPersonApprovesItInTheCli()
    {
        // The canary step touches one instance (no rule holds it); a rollback touching more than none waits for a person.
        var policy = Policy + """

            oversight:
              approvals:
                rules:
                  - {action: rollout, moreThan: 10}
                  - {action: rollback, moreThan: 0}
            """;
        Assert.Equal(HttpStatusCode.OK, (await f.Http.PutAsync("/api/v1/policy?by=test", new StringContent(policy, Encoding.UTF8, "text/yaml"))).StatusCode);
        var (stop, loop) = await ReportingAsync("ra-api", ["ra-1", "ra-2", "ra-3"]);
        try
        {
            var spec = "replicas: 2\nversion: \"1.0\"\nresources: {cpuCores: 1, memoryBytes: 1Gi}\n";
            Assert.Equal(HttpStatusCode.OK, (await f.Http.PutAsync("/api/v1/services/ra-api", new StringContent(spec, Encoding.UTF8, "text/yaml"))).StatusCode);
            await EventuallyAsync("/api/v1/services/ra-api", s => AllOn(s, "1.0", 2), "two 1.0 instances run");
            Assert.Equal(HttpStatusCode.OK, (await f.Http.PostAsJsonAsync("/api/v1/services/ra-api/deploy", new { version = "2.0", by = "dana" })).StatusCode);

            // The canary fails its judgement; its rollback asks for a person and holds nothing while it waits.
            var approvals = await EventuallyAsync("/api/v1/approvals", a => a.EnumerateArray().Any(x => x.GetProperty("subject").GetString() == "service/ra-api"),
                "the rollback waits for approval", 90);
            var approval = approvals.EnumerateArray().Single(x => x.GetProperty("subject").GetString() == "service/ra-api");
            Assert.Equal("rollback", approval.GetProperty("action").GetString());
            Assert.Contains("replacing", approval.GetProperty("why").GetString());
            await Task.Delay(3000);
            var waiting = await f.GetJsonAsync("/api/v1/services/ra-api");
            Assert.Equal("RollingBack", waiting.GetProperty("rollout").GetProperty("phase").GetString());
            Assert.Contains(waiting.GetProperty("instances").EnumerateArray(), i => i.GetProperty("version").GetString() == "2.0" && i.GetProperty("state").GetString() == "Running");
            var awaiting = (await f.GetJsonAsync("/api/v1/audit?subject=service/ra-api&kind=awaiting-approval&limit=10")).GetProperty("records").EnumerateArray().Single();
            Assert.Contains("oversight.approvals.rules[1]: rollback touching more than 0, and this one touches", awaiting.GetProperty("reason").GetString());
            Assert.DoesNotContain(approvals.EnumerateArray(), x => x.GetProperty("subject").GetString() == "service/ra-api" && x.GetProperty("action").GetString() == "rollout");

            // A person approves it with the CLI: the rollback runs, and 1.0 serves again.
            var (code, stdout, stderr) = await Fleet("approvals", "list");
            Assert.True(code == 0, stderr);
            var id = approval.GetProperty("id").GetString()!;
            Assert.Contains(id, stdout);
            (code, stdout, stderr) = await Fleet("approvals", "approve", id, "--reason", "the canary is bad; roll it back");
            Assert.True(code == 0, stdout + stderr);
            await EventuallyAsync("/api/v1/services/ra-api", s => AllOn(s, "1.0", 2) && NoRollout(s), "1.0 runs again once approved", 90);
            Assert.Contains((await f.GetJsonAsync("/api/v1/audit?subject=service/ra-api&kind=approved&limit=10")).GetProperty("records").EnumerateArray(),
                r => r.GetProperty("reason").GetString()!.Contains("the canary is bad"));
        }
        finally
        {
            await stop.CancelAsync();
            await loop;
        }
    }

    [Fact]
    public async Task DeployWatchRollback_ThroughTheCliAndTheApi_BadRequests4xx()
    {
        Assert.Equal(HttpStatusCode.OK, (await f.Http.PutAsync("/api/v1/policy?by=test", new StringContent(Policy, Encoding.UTF8, "text/yaml"))).StatusCode);
        var (stop, loop) = await ReportingAsync("ro-api");
        try
        {
            var spec = "replicas: 2\nversion: \"1.0\"\nresources: {cpuCores: 1, memoryBytes: 1Gi}\n";
            Assert.Equal(HttpStatusCode.OK, (await f.Http.PutAsync("/api/v1/services/ro-api", new StringContent(spec, Encoding.UTF8, "text/yaml"))).StatusCode);
            await EventuallyAsync("/api/v1/services/ro-api", s => AllOn(s, "1.0", 2), "two 1.0 instances run");

            // Bad requests.
            Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/services/ro-api/deploy", new { strategy = "canary" })).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/services/ro-api/deploy", new { version = "2.0", strategy = "yolo" })).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/services/ro-api/deploy", new { version = "has space" })).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/services/ro-api/deploy", new { version = "2.0", bogus = 1 })).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await f.Http.PostAsJsonAsync("/api/v1/services/ro-nope/deploy", new { version = "2.0" })).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/services/ro-nope/rollouts")).StatusCode);
            var same = await f.Http.PostAsJsonAsync("/api/v1/services/ro-api/deploy", new { version = "1.0" });
            Assert.Equal(HttpStatusCode.Conflict, same.StatusCode);
            Assert.Contains("already runs version 1.0", await same.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.Conflict, (await f.Http.PostAsync("/api/v1/services/ro-api/promote", null)).StatusCode);
            Assert.Equal(HttpStatusCode.Conflict, (await f.Http.PostAsync("/api/v1/services/ro-api/rollback", null)).StatusCode);

            // A bad version, deployed with the CLI and followed: rolled back by itself, with the figures.
            var (code, stdout, stderr) = await Fleet("services", "deploy", "ro-api", "--version", "2.0", "--watch", "--by", "dana");
            Assert.True(code != 0, $"a rolled-back deploy exits non-zero: {stdout} {stderr}");
            Assert.Contains("Rollout 1 of ro-api: 1.0 → 2.0 (canary): canary to 1, batch 1 to 2.", stdout);
            Assert.Contains("fail: canary 2.0 failed against a fresh baseline of 1.0 started with it: errors", stdout);
            Assert.Contains("Rolled back to 1.0.", stdout);
            await EventuallyAsync("/api/v1/services/ro-api", s => AllOn(s, "1.0", 2) && NoRollout(s), "1.0 runs again");
            var rollouts = await f.GetJsonAsync("/api/v1/services/ro-api/rollouts");
            var first = rollouts.EnumerateArray().Single();
            Assert.Equal("RolledBack", first.GetProperty("phase").GetString());
            var judgement = first.GetProperty("judgements").EnumerateArray().Single();
            Assert.Equal("Fail", judgement.GetProperty("verdict").GetString());
            var errors = judgement.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("metric").GetString() == "errors");
            Assert.True(errors.GetProperty("p").GetDouble() < 0.01);
            Assert.True(errors.GetProperty("candidate").GetDouble() > errors.GetProperty("baseline").GetDouble());

            // A good version through the API: promoted (no watch here), and the service runs it.
            var deploy = await f.Http.PostAsJsonAsync("/api/v1/services/ro-api/deploy", new { version = "3.0", strategy = "canary", by = "dana" });
            Assert.Equal(HttpStatusCode.OK, deploy.StatusCode);
            var active = await f.GetJsonAsync("/api/v1/services/ro-api");
            Assert.Equal("3.0", active.GetProperty("rollout").GetProperty("to").GetString());
            Assert.Equal(HttpStatusCode.Conflict, (await f.Http.PostAsJsonAsync("/api/v1/services/ro-api/deploy", new { version = "4.0" })).StatusCode);
            await EventuallyAsync("/api/v1/services/ro-api", s => AllOn(s, "3.0", 2) && s.GetProperty("spec").GetProperty("version").GetString() == "3.0"
                && NoRollout(s), "3.0 was promoted", 90);
            var good = (await f.GetJsonAsync("/api/v1/services/ro-api/rollouts")).EnumerateArray().First();
            Assert.Equal("Completed", good.GetProperty("phase").GetString());
            Assert.All(good.GetProperty("steps").EnumerateArray(), st => Assert.Equal("passed", st.GetProperty("outcome").GetString()));

            // A rollback by hand goes back to the version before the last completed rollout.
            (code, stdout, stderr) = await Fleet("services", "rollback", "ro-api", "--reason", "customer report", "--by", "dana");
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("(3.0 → 1.0): rolling back to 1.0", stdout.Replace("(1.0 → 3.0)", "(3.0 → 1.0)"));
            await EventuallyAsync("/api/v1/services/ro-api", s => AllOn(s, "1.0", 2) && s.GetProperty("spec").GetProperty("version").GetString() == "1.0", "1.0 runs again after the rollback");
            (code, stdout, _) = await Fleet("services", "rollouts", "ro-api");
            Assert.Equal(0, code);
            Assert.Contains("Rollout 3  1.0 → 3.0  (rollback", stdout);
            Assert.Contains("[rolled-back by hand]", stdout);

            async Task<List<string>> ReasonsAsync(string kind) => [.. (await f.GetJsonAsync($"/api/v1/audit?subject=service/ro-api&kind={kind}&limit=100"))
                .GetProperty("records").EnumerateArray().Select(r => r.GetProperty("reason").GetString()!)];
            Assert.Contains(await ReasonsAsync("failed"), r => r.StartsWith("Rollout 1 of service ro-api failed: canary 2.0 failed"));
            Assert.Contains(await ReasonsAsync("operator"), r => r.Contains("Rolling service ro-api back from 3.0 to 1.0 at the request of") && r.Contains(": customer report"));
            Assert.Equal(2, (await ReasonsAsync("rolled-back")).Count);

            // Each rollout is an incident: listed, read whole, and written up as a postmortem (the id holds slashes).
            (code, stdout, stderr) = await Fleet("incidents", "list", "--since", "1h");
            Assert.True(code == 0, stderr);
            Assert.Contains("rollout/ro-api/1", stdout);
            var incident = await f.GetJsonAsync("/api/v1/incidents/rollout/ro-api/1");
            Assert.Equal("rollout", incident.GetProperty("summary").GetProperty("kind").GetString());
            Assert.StartsWith("rolled back", incident.GetProperty("summary").GetProperty("outcome").GetString());
            Assert.NotEmpty(incident.GetProperty("records").EnumerateArray());
            var filtered = await f.GetJsonAsync("/api/v1/audit?incident=rollout/ro-api/1&kind=failed");
            Assert.Single(filtered.GetProperty("records").EnumerateArray());
            (code, stdout, stderr) = await Fleet("incidents", "postmortem", "rollout/ro-api/1");
            Assert.True(code == 0, stderr);
            Assert.StartsWith("# Postmortem: Rollout 1 of service ro-api", stdout);
            foreach (var section in new[] { "## Summary", "## Impact", "## Timeline", "## Signals", "## Decisions and their reasons", "## Guardrails that engaged", "## Outcome", "## Open questions" })
                Assert.Contains(section, stdout);
            Assert.Contains("canary 2.0 failed against a fresh baseline", stdout);
            Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/incidents/no/such/incident")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.GetAsync("/api/v1/incidents?since=yesterday-ish")).StatusCode);

            // The service's page shows its rollouts with the canary's figures.
            var html = await f.Http.GetStringAsync("/ui/services/ro-api");
            Assert.Contains("Rollout 1: 1.0 → 2.0", html);
            Assert.Contains("canary 2.0 failed against a fresh baseline of 1.0", html);
        }
        finally
        {
            await stop.CancelAsync();
            await loop;
        }
    }
}
