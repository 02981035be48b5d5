using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fleet.Silo.Tests;

public class ApiTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    [Fact]
    public async Task RegisterReportQuery_EndToEnd()
    {
        Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync("api-1", "rack-q")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync("api-2", "rack-q")).StatusCode);
        var ok = await (await f.ReportAsync("api-1", 1)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Accepted", ok.GetProperty("outcome").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await f.ReportAsync("api-1", 1)).StatusCode);

        var batch = await f.Http.PostAsJsonAsync("/api/v1/telemetry", new object[]
        {
            new { nodeId = "api-1", sequence = 2, cpuPercent = 10, memoryUsedBytes = 1, memoryTotalBytes = 10 },
            new { nodeId = "api-2", sequence = 1, cpuPercent = 10, memoryUsedBytes = 1, memoryTotalBytes = 10 },
        });
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        var results = await batch.Content.ReadFromJsonAsync<JsonElement>();
        Assert.All(results.EnumerateArray(), r => Assert.Equal("Accepted", r.GetProperty("outcome").GetString()));

        var node = await f.GetJsonAsync("/api/v1/nodes/api-1");
        Assert.Equal("Healthy", node.GetProperty("health").GetString());
        Assert.Equal(2, node.GetProperty("lastSequence").GetInt64());
        Assert.Equal("web", node.GetProperty("labels").GetProperty("role").GetString());

        var list = await f.GetJsonAsync("/api/v1/nodes?domain=rack-q&health=healthy");
        Assert.Equal(new[] { "api-1", "api-2" }, list.EnumerateArray().Select(n => n.GetProperty("nodeId").GetString()!).ToArray());

        // Who drained is the credential's name: a "by" in the body is not taken over it.
        using var alice = await f.HttpAsAsync("alice", "operator");
        var drained = await alice.PostAsJsonAsync("/api/v1/nodes/api-2/drain", new { by = "mallory", reason = "kernel upgrade" });
        Assert.Equal("Draining", (await drained.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("health").GetString());
        Assert.Single((await f.GetJsonAsync("/api/v1/nodes?health=Draining")).EnumerateArray());

        var audit = await f.GetJsonAsync("/api/v1/audit?subject=node/api-2&kind=operator");
        var rec = Assert.Single(audit.GetProperty("records").EnumerateArray());
        Assert.Contains("at the request of alice", rec.GetProperty("reason").GetString());
        Assert.DoesNotContain("mallory", rec.GetProperty("reason").GetString());
        Assert.Contains("kernel upgrade", rec.GetProperty("reason").GetString());
        var since = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(5).ToString("O"));
        Assert.Empty((await f.GetJsonAsync($"/api/v1/audit?subject=node/api-2&since={since}")).GetProperty("records").EnumerateArray());
    }

    [Fact]
    public async Task Drain_RefusedByABudget_409NamesTheGuardrail_StateUnchanged_ForceWithReasonPasses()
    {
        var put = await f.Http.PutAsync("/api/v1/policy?by=ops", new StringContent("guardrails:\n  maxConcurrentPerDomain: 0\n", Encoding.UTF8, "text/yaml"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        try
        {
            Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync("drn-1", "rack-drn")).StatusCode);
            var refused = await f.Http.PostAsJsonAsync("/api/v1/nodes/drn-1/drain", new { by = "bob", reason = "disk swap" });
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("max-concurrent-per-domain", problem.GetProperty("guardrail").GetString());
            Assert.Contains("rack-drn had 0 of 0 action slots in use", problem.GetProperty("detail").GetString());
            Assert.Equal("None", (await f.GetJsonAsync("/api/v1/nodes/drn-1")).GetProperty("adminState").GetString());

            var noReason = await f.Http.PostAsJsonAsync("/api/v1/nodes/drn-1/drain", new { by = "bob", force = true });
            Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
            Assert.True((await noReason.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("reason", out _));

            var forced = await f.Http.PostAsJsonAsync("/api/v1/nodes/drn-1/drain", new { by = "bob", reason = "disk swap, window agreed", force = true });
            Assert.Equal(HttpStatusCode.OK, forced.StatusCode);
            Assert.Equal("Draining", (await forced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("adminState").GetString());

            var trail = (await f.GetJsonAsync("/api/v1/audit?subject=node/drn-1")).GetProperty("records").EnumerateArray().ToList();
            Assert.Contains(trail, r => r.GetProperty("kind").GetString() == "denied" && r.GetProperty("guardrail").GetString() == "max-concurrent-per-domain");
            Assert.Contains(trail, r => r.GetProperty("kind").GetString() == "permitted" && r.GetProperty("reason").GetString()!.Contains("(forced)"));
            Assert.Contains(trail, r => r.GetProperty("kind").GetString() == "released" && r.GetProperty("outcome").GetString() == "nothing left to move");
            Assert.Equal(HttpStatusCode.NotFound, (await f.Http.PostAsJsonAsync("/api/v1/nodes/never-seen/drain", new { by = "bob" })).StatusCode);
        }
        finally
        {
            await f.Http.PutAsync("/api/v1/policy?by=ops", new StringContent("guardrails:\n  maxConcurrentPerDomain: 1\n", Encoding.UTF8, "text/yaml"));
        }
    }

    [Fact]
    public async Task Reports_NewBootIdStartsTheSequenceAgain_SkewedRefusedAndCounted_ProbeCheckedAtRegistration()
    {
        var node = new { id = "sig-1", domain = "rack-sig", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 10L << 30 }, address = "192.0.2.9",
            probe = new { kind = "tcp", address = "192.0.2.9:9", timeoutMs = 500 } };
        // The silo probes only where it should: the node's registered address (or the policy's probes.allowedNetworks),
        // never loopback, a link-local (cloud metadata) address or another host — refused at registration, naming why.
        foreach (var (address, probe, field, says) in new[]
        {
            ("192.0.2.9", new { kind = "tcp", address = "127.0.0.1:9", timeoutMs = 500 }, "probe.address", "a loopback address"),
            ("192.0.2.9", new { kind = "http", address = "http://169.254.169.254/latest/meta-data/", timeoutMs = 500 }, "probe.address", "a link-local address"),
            ("192.0.2.9", new { kind = "tcp", address = "192.0.2.10:22", timeoutMs = 500 }, "probe.address", "neither the node's registered address"),
            ("192.0.2.9", new { kind = "http", address = "http://metadata.internal/", timeoutMs = 500 }, "probe.address", "not the node's registered address"),
            ("169.254.169.254", new { kind = "tcp", address = "169.254.169.254:80", timeoutMs = 500 }, "address", "a link-local address"),
        })
        {
            using var refused = await f.Http.PostAsJsonAsync("/api/v1/nodes", node with { address = address, probe = probe });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var errors = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Contains(says, errors.GetProperty(field)[0].GetString());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/nodes/sig-1")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await f.Http.PostAsJsonAsync("/api/v1/nodes", node)).StatusCode);
        var badProbe = await f.Http.PostAsJsonAsync("/api/v1/nodes", node with { probe = new { kind = "tcp", address = "no-port-here", timeoutMs = 500 } });
        Assert.Equal(HttpStatusCode.BadRequest, badProbe.StatusCode);
        Assert.True((await badProbe.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("probe.address", out _));
        Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/nodes", node with { probe = new { kind = "smoke", address = "192.0.2.9:9", timeoutMs = 500 } })).StatusCode);

        object Report(long seq, string boot, DateTimeOffset? at = null) => new { sequence = seq, bootId = boot, timestamp = at ?? DateTimeOffset.UtcNow, cpuPercent = 5, memoryUsedBytes = 1L << 30, memoryTotalBytes = 8L << 30 };
        Assert.Equal(HttpStatusCode.OK, (await f.Http.PostAsJsonAsync("/api/v1/nodes/sig-1/telemetry", Report(900, "run-1"))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await f.Http.PostAsJsonAsync("/api/v1/nodes/sig-1/telemetry", Report(1, "run-1"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await f.Http.PostAsJsonAsync("/api/v1/nodes/sig-1/telemetry", Report(1, "run-2"))).StatusCode);
        var skewed = await f.Http.PostAsJsonAsync("/api/v1/nodes/sig-1/telemetry", Report(2, "run-2", DateTimeOffset.UtcNow.AddMinutes(3)));
        Assert.Equal(HttpStatusCode.Conflict, skewed.StatusCode);
        Assert.Equal("Skewed", (await skewed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outcome").GetString());
        var status = await f.GetJsonAsync("/api/v1/nodes/sig-1");
        Assert.Equal("run-2", status.GetProperty("bootId").GetString());
        Assert.Equal(1, status.GetProperty("refusedReports").GetProperty("Skewed").GetInt32());
        Assert.Equal(1, status.GetProperty("refusedReports").GetProperty("DuplicateOrOutOfOrder").GetInt32());
        Assert.Equal(1, status.GetProperty("lastSequence").GetInt64());
    }

    [Fact]
    public async Task Reports_CheckStarting_DegradedNotUnhealthy_UnmarkedFailuresCount()
    {
        Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync("start-1", "rack-start")).StatusCode);
        object Report(long seq, bool starting) => new
        {
            sequence = seq, ttlSeconds = 30, cpuPercent = 5, memoryUsedBytes = 1L << 30, memoryTotalBytes = 8L << 30,
            checks = new[] { new { name = "http", passed = false, detail = "connection refused", starting } },
        };
        for (var seq = 1; seq <= 6; seq++)
            Assert.Equal(HttpStatusCode.OK, (await f.Http.PostAsJsonAsync("/api/v1/nodes/start-1/telemetry", Report(seq, starting: true))).StatusCode);
        var node = await f.GetJsonAsync("/api/v1/nodes/start-1");
        Assert.Equal("Degraded", node.GetProperty("health").GetString());
        var condition = Assert.Single(node.GetProperty("conditions").EnumerateArray());
        Assert.Equal("CheckStarting", condition.GetProperty("type").GetString());
        Assert.Contains("not passing yet while it starts, inside its start grace (connection refused)", condition.GetProperty("reason").GetString());

        for (var seq = 7; seq <= 9; seq++)
            Assert.Equal(HttpStatusCode.OK, (await f.Http.PostAsJsonAsync("/api/v1/nodes/start-1/telemetry", Report(seq, starting: false))).StatusCode);
        Assert.Contains((await f.GetJsonAsync("/api/v1/nodes/start-1")).GetProperty("health").GetString(), new[] { "Unhealthy", "Remediating" });
    }

    [Fact]
    public async Task Policy_GetPutVersioned()
    {
        var before = await f.GetJsonAsync("/api/v1/policy");
        var v = before.GetProperty("version").GetInt32();
        using var ops = await f.HttpAsAsync("ops", "admin");
        var put = await ops.PutAsync("/api/v1/policy?by=someone-else", new StringContent("guardrails:\n  maxConcurrentPerDomain: 3\n", Encoding.UTF8, "text/yaml"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var after = await f.GetJsonAsync("/api/v1/policy");
        Assert.Equal(v + 1, after.GetProperty("version").GetInt32());
        Assert.Equal("ops", after.GetProperty("appliedBy").GetString());
        Assert.Equal(3, after.GetProperty("policy").GetProperty("guardrails").GetProperty("maxConcurrentPerDomain").GetInt32());
    }

    public static TheoryData<string, string, string, int> BadRequests => new()
    {
        { "POST", "/api/v1/nodes", "{\"id\":", 400 },
        { "POST", "/api/v1/nodes", "{\"id\":\"bad id\",\"domain\":\"r\",\"capacity\":{\"cpuCores\":1,\"memoryBytes\":1,\"diskBytes\":1}}", 400 },
        { "POST", "/api/v1/nodes", "{\"id\":\"n\",\"domain\":\"r\"}", 400 },
        { "POST", "/api/v1/nodes", "{\"id\":\"n\",\"domain\":\"r\",\"capacity\":{\"cpuCores\":\"many\"}}", 400 },
        { "POST", "/api/v1/nodes", "[]", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":1,\"cpuPercent\":150,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":1,\"cpuPercent\":10,\"memoryUsedBytes\":20,\"memoryTotalBytes\":10}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":-1,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"cpuPercent\":10}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":1,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10,\"ttlSeconds\":-5}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":1,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10,\"checks\":[{\"name\":\"x y\",\"passed\":true}]}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":1,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10,\"checks\":[{\"name\":\"x\"}]}", 400 },
        { "POST", "/api/v1/telemetry", "[{\"nodeId\":\"bad-1\",\"sequence\":5,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10},{\"nodeId\":\"bad-1\",\"sequence\":6,\"cpuPercent\":-1,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}]", 400 },
        { "POST", "/api/v1/nodes/never-registered/telemetry", "{\"sequence\":1,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", 404 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":9,\"timestamp\":\"2099-01-01T00:00:00Z\",\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":9,\"timestamp\":\"2001-01-01T00:00:00Z\",\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":9,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":9223372036854775807}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":9,\"cpuPercent\":\"NaN\",\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", 400 },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":9,\"cpuPercent\":1e999,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", 400 },
        { "POST", "/api/v1/nodes", "{\"id\":\"" + new string('x', 129) + "\",\"domain\":\"r\",\"capacity\":{\"cpuCores\":1,\"memoryBytes\":1,\"diskBytes\":1}}", 400 },
        { "POST", "/api/v1/telemetry", "[" + string.Join(",", Enumerable.Repeat("{\"nodeId\":\"bad-1\",\"sequence\":9,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10,\"checks\":[{\"name\":\"padding\",\"passed\":true,\"detail\":\"" + new string('p', 900) + "\"}]}", 9000)) + "]", 413 },
        { "GET", "/api/v1/nodes/never-registered", "", 404 },
        { "GET", "/api/v1/nodes?health=Sickish", "", 400 },
        { "GET", "/api/v1/nodes?domain=a%20b", "", 400 },
        { "GET", "/api/v1/audit?kind=whatever", "", 400 },
        { "GET", "/api/v1/audit?limit=0", "", 400 },
        { "GET", "/api/v1/audit?since=yesterday", "", 400 },
        { "PUT", "/api/v1/policy", "telemetry:\n  reportInterval: sometimes\n", 422 },
        { "PUT", "/api/v1/policy", "- just\n- a list\n", 422 },
        { "POST", "/api/v1/fleet/freeze", "{\"by\":\"x\"}", 400 },
        { "POST", "/api/v1/nodes/never-registered/cordon", "{}", 404 },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInput_ClearError_StateUnchanged(string method, string path, string body, int expected)
    {
        await f.RegisterAsync("bad-1", "rack-bad");
        await f.ReportAsync("bad-1", 1);
        var nodeBefore = (await f.GetJsonAsync("/api/v1/nodes/bad-1")).GetRawText();
        var policyBefore = (await f.GetJsonAsync("/api/v1/policy")).GetProperty("version").GetInt32();
        var auditBefore = (await f.GetJsonAsync("/api/v1/audit?subject=node/bad-1&limit=1000")).GetProperty("records").GetArrayLength();

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.ExpectContinue = true; // an oversized body is refused (413) before it is sent
        if (body.Length > 0) request.Content = new StringContent(body, Encoding.UTF8, path.EndsWith("/policy") ? "text/yaml" : "application/json");
        using var response = await f.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(expected, (int)response.StatusCode);
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
        if (expected != 413) // Kestrel refuses an oversized body itself, before any endpoint runs: a bare 413
        {
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.True(problem.TryGetProperty("title", out _) || problem.TryGetProperty("problems", out _), text);
        }

        Assert.Equal(nodeBefore, (await f.GetJsonAsync("/api/v1/nodes/bad-1")).GetRawText());
        Assert.Equal(policyBefore, (await f.GetJsonAsync("/api/v1/policy")).GetProperty("version").GetInt32());
        Assert.Equal(auditBefore, (await f.GetJsonAsync("/api/v1/audit?subject=node/bad-1&limit=1000")).GetProperty("records").GetArrayLength());
        Assert.False((await f.GetJsonAsync("/api/v1/fleet")).GetProperty("fleet").GetProperty("frozen").GetBoolean());
    }

    [Fact]
    public async Task Health_Metrics_OpenApi_Dashboard_Served()
    {
        await f.RegisterAsync("obs-1", "rack-obs");
        await f.ReportAsync("obs-1", 1);
        var health = await f.GetJsonAsync("/health");
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("store").GetProperty("status").GetString());

        var metrics = await f.Http.GetStringAsync("/metrics");
        Assert.Matches(@"fleet_nodes\{[^}]*health=""Healthy""[^}]*\} [1-9]", metrics);
        Assert.Contains("fleet_reports_total{", metrics);
        Assert.Contains("fleet_decision_latency_seconds_bucket", metrics);
        Assert.Contains("orleans_", metrics);

        var openapi = await f.GetJsonAsync("/openapi/v1.json");
        var paths = openapi.GetProperty("paths");
        foreach (var p in new[] { "/api/v1/nodes", "/api/v1/nodes/{id}/telemetry", "/api/v1/audit", "/api/v1/policy", "/api/v1/telemetry" })
            Assert.True(paths.TryGetProperty(p, out _), $"OpenAPI lacks {p}");

        var dashboard = await f.Http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("<html", await dashboard.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        var counters = await f.Http.GetStringAsync("/dashboard/DashboardCounters");
        Assert.Contains($"\"proxyPort\":{f.Silo.GatewayPort}", counters);
        Assert.Contains("Fleet.Grains.Nodes.NodeGrain", await f.Http.GetStringAsync("/dashboard/GrainTypes"));
    }
}
