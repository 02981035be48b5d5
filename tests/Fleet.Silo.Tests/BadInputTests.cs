using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Fleet.Silo.Tests;

/// <summary>A real silo whose client-error log lines are visible (Information), so tests can count them.</summary>
public sealed class LoggingSiloFixture : IAsyncLifetime
{
    public SiloProcess Silo { get; private set; } = null!;
    public HttpClient Http => Silo.Http;

    public async Task InitializeAsync() =>
        Silo = await SiloProcess.StartAsync(extraArgs: ["--Logging:LogLevel:Fleet.Silo.Api.BadRequests=Information"]);

    public async Task DisposeAsync() => await Silo.DisposeAsync();
}

/// <summary>Every class of client error, against a real silo process: the product's words, the field named, nothing stored, nothing logged as an error.</summary>
public class BadInputTests(LoggingSiloFixture f) : IClassFixture<LoggingSiloFixture>
{
    private const string Capacity = "\"capacity\":{\"cpuCores\":4,\"memoryBytes\":8589934592,\"diskBytes\":0}";
    private const string Report = "\"sequence\":5,\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10";

    /// <summary>method, path, body, content type, status, the field the errors name, a phrase the message has.</summary>
    public static TheoryData<string, string, string, string, int, string, string> Cases => new()
    {
        { "POST", "/api/v1/nodes", "{\"id\":\"bad-new\",\"domain\":\"r\"," + Capacity + ",\"bogus\":true}", "application/json", 400, "bogus", "accepted: id, domain, capacity" },
        { "POST", "/api/v1/nodes", "{\"id\":\"bad-new\",\"domain\":\"r\",\"capacity\":{\"cpuCore\":4,\"memoryBytes\":8589934592}}", "application/json", 400, "capacity.cpuCore", "accepted: cpuCores, memoryBytes, diskBytes" },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{" + Report + ",\"ttlSecond\":30}", "application/json", 400, "ttlSecond", "ttlSeconds" },
        { "POST", "/api/v1/telemetry", "[{\"nodeId\":\"bad-1\"," + Report + ",\"cpu\":3}]", "application/json", 400, "[0].cpu", "cpuPercent" },
        { "POST", "/api/v1/fleet/freeze", "{\"by\":\"x\",\"reason\":\"r\",\"urgent\":true}", "application/json", 400, "urgent", "accepted: by, reason" },
        { "POST", "/api/v1/nodes", "{\"id\":\"bad-new\",", "application/json", 400, "(body)", "not valid JSON at line 1" },
        { "POST", "/api/v1/nodes", "", "application/json", 400, "(body)", "is required" },
        { "POST", "/api/v1/nodes", "{\"id\":\"bad-new\"}", "text/plain", 415, "Content-Type", "send application/json" },
        { "POST", "/api/v1/nodes", "{\"id\":\"bad-new\",\"domain\":\"r\",\"capacity\":{\"cpuCores\":\"four\",\"memoryBytes\":8589934592}}", "application/json", 400, "capacity.cpuCores", "expected a number" },
        { "POST", "/api/v1/nodes/bad-1/telemetry", "{\"sequence\":\"five\",\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}", "application/json", 400, "sequence", "expected a whole number" },
        { "POST", "/api/v1/nodes", "{\"id\":\"bad-new\",\"domain\":\"r\",\"capacity\":{\"cpuCores\":4,\"memoryBytes\":1,\"diskBytes\":0}}", "application/json", 400, "capacity.memoryBytes", "at least 1 MiB" },
        { "POST", "/api/v1/nodes", "{\"id\":\"bad-new\",\"domain\":\"r\",\"capacity\":{\"cpuCores\":4,\"memoryBytes\":8589934592,\"diskBytes\":1000}}", "application/json", 400, "capacity.diskBytes", "1 MiB" },
        { "GET", "/api/v1/audit?since=yesterday-ish", "", "", 400, "since", "or a duration ago such as 15m" },
        { "GET", "/api/v1/audit?limit=abc", "", "", 400, "limit", "'abc' is not a whole number" },
        { "GET", "/api/v1/nodez", "", "", 404, "(path)", "is not an endpoint of Fleet" },
        { "GET", "/api/v1/nodes/" + new string('n', 129), "", "", 400, "id", "1 to 128 letters" },
        { "GET", "/api/v1/nodes/never-registered", "", "", 404, "id", "node 'never-registered' is not registered" },
        { "GET", "/api/v1/links/nowhere~void", "", "", 404, "id", "is not defined" },
        { "POST", "/api/v1/nodes/never-registered/cordon", "{\"reason\":\"r\"}", "application/json", 404, "id", "never-registered" },
        { "GET", "/api/v1/services/never-applied", "", "", 404, "name", "is not known" },
        { "PUT", "/api/v1/policy", "telemetry:\n  reportInterval: sometimes\n", "text/yaml", 422, "telemetry.reportInterval", "sometimes" },
        { "DELETE", "/api/v1/fleet", "", "", 405, "(method)", "accepts GET" },
        { "POST", "/api/v1/telemetry", "[" + string.Join(",", Enumerable.Repeat("{\"nodeId\":\"bad-1\"," + Report + ",\"checks\":[{\"name\":\"pad\",\"passed\":true,\"detail\":\"" + new string('p', 900) + "\"}]}", 9000)) + "]", "application/json", 413, "(body)", "MiB a request may carry" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ClientError_ProblemDocumentNamesTheField_NoFrameworkWords_NothingStored_NoErrorLogged(
        string method, string path, string body, string contentType, int status, string field, string phrase)
    {
        await Register("bad-1");
        var nodeBefore = await GetText("/api/v1/nodes/bad-1");
        var policyBefore = (await f.Http.GetFromJsonAsync<JsonElement>("/api/v1/policy")).GetProperty("version").GetInt32();

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.ExpectContinue = true; // an oversized body is refused (413) before it is sent
        if (contentType.Length > 0) request.Content = new StringContent(body, Encoding.UTF8, contentType);
        using var response = await f.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(status == (int)response.StatusCode, $"{method} {path}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("type", out _) && problem.TryGetProperty("title", out _), text);
        if (status == 422) Assert.True(problem.GetProperty("problems").GetArrayLength() > 0, $"the problems list stays beside the errors: {text}");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), $"errors name {field}: {text}");
        Assert.Contains(phrase, messages[0].GetString());
        foreach (var framework in new[] { "System.", "Microsoft.", "Nullable", "Exception", "   at ", "Fleet.Silo", "JSON value could not" })
            Assert.DoesNotContain(framework, text);

        Assert.Equal(nodeBefore, await GetText("/api/v1/nodes/bad-1"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/nodes/bad-new")).StatusCode);
        Assert.Equal(policyBefore, (await f.Http.GetFromJsonAsync<JsonElement>("/api/v1/policy")).GetProperty("version").GetInt32());
        Assert.False((await f.Http.GetFromJsonAsync<JsonElement>("/api/v1/fleet")).GetProperty("fleet").GetProperty("frozen").GetBoolean());
        Assert.DoesNotContain("fail:", f.Silo.Log);
        Assert.DoesNotContain("unhandled exception", f.Silo.Log);
    }

    [Fact]
    public async Task AuditSince_TakesADurationAgo()
    {
        using var r = await f.Http.GetAsync("/api/v1/audit?since=15m&until=2099-01-01T00:00:00Z");
        Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
    }

    /// <summary>
    /// 3,000 bad requests from one client while another keeps reporting: every good report is answered 200, the log
    /// carries at most 20 client-error lines a minute (BadRequests.LogsPerMinute; 2 windows at most in this test, so
    /// ≤ 40) and none at error level, and every bad request is counted in fleet_http_client_errors_total.
    /// </summary>
    [Fact]
    public async Task AFloodOfBadRequests_LogStaysWithinItsBound_GoodRequestsKeepBeingAnswered_AllCounted()
    {
        await Register("flood-good");
        var linesBefore = Regex.Matches(f.Silo.Log, "Client error:").Count;
        var good = Task.Run(async () =>
        {
            var answered = 0;
            for (var seq = 1; seq <= 100; seq++)
            {
                using var r = await f.Http.PostAsync("/api/v1/nodes/flood-good/telemetry", Json("{\"sequence\":" + seq + ",\"cpuPercent\":10,\"memoryUsedBytes\":1,\"memoryTotalBytes\":10}"));
                if (r.IsSuccessStatusCode) answered++;
            }
            return answered;
        });
        const int bad = 3000;
        await Parallel.ForAsync(0, bad, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            using var r = await f.Http.PostAsync("/api/v1/nodes", Json("{\"id\":\"flood-" + i + "\",\"domain\":\"r\"," + Capacity + ",\"flood\":" + i + "}"));
            Assert.Equal(400, (int)r.StatusCode);
        });
        Assert.Equal(100, await good);

        var lines = Regex.Matches(f.Silo.Log, "Client error:").Count - linesBefore;
        Assert.InRange(lines, 1, 40);
        Assert.DoesNotContain("fail:", f.Silo.Log);
        var metrics = await f.Http.GetStringAsync("/metrics");
        var counted = Regex.Matches(metrics, "^fleet_http_client_errors_total\\{(?<labels>[^}]*)\\} (?<n>\\d+)", RegexOptions.Multiline)
            .Where(m => m.Groups["labels"].Value.Contains("reason=\"unknown-field\"") && m.Groups["labels"].Value.Contains("route=\"/api/v1/nodes\""))
            .Sum(m => long.Parse(m.Groups["n"].Value));
        Assert.True(counted >= bad, $"counted {counted} unknown-field errors on /api/v1/nodes:\n{metrics}");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/nodes/flood-7")).StatusCode);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private async Task Register(string id)
    {
        using var r = await f.Http.PostAsync("/api/v1/nodes", Json("{\"id\":\"" + id + "\",\"domain\":\"rack-bad\"," + Capacity + "}"));
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
    }

    private async Task<string> GetText(string path) => await f.Http.GetStringAsync(path);
}
