using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>Services through the REST API and the CLI of a real silo process: apply (YAML and JSON), get, scale, reports, delete; bad specs refused with state unchanged.</summary>
public class ServicesApiTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    private static readonly string[] Nodes = ["sv-1", "sv-2", "sv-3"];

    private const string ApiSpec = """
        replicas: 2
        version: "2.1"
        resources:
          cpuCores: 1
          memoryBytes: 1Gi
        placement:
          labels: {role: web}
        maxUnavailable: 1
        """;

    private Task<(int Code, string Out, string Err)> Fleet(params string[] args) =>
        Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(), .. args], TimeSpan.FromSeconds(60));

    /// <summary>Registers the nodes and keeps them reporting healthy while the test runs (a silent node is Suspect and takes no work).</summary>
    private async Task<(CancellationTokenSource Stop, Task Loop)> NodesReportingAsync()
    {
        long seq = 0;
        foreach (var (n, i) in Nodes.Select((n, i) => (n, i)))
        {
            Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync(n, $"rack-sv-{i}")).StatusCode);
            await f.ReportAsync(n, ++seq);
        }
        var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                seq++;
                foreach (var n in Nodes) await f.ReportAsync(n, seq);
                try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        return (stop, loop);
    }

    private async Task<JsonElement> EventuallyAsync(string path, Func<JsonElement, bool> done, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        JsonElement last = default;
        while (DateTime.UtcNow < until)
        {
            using var r = await f.Http.GetAsync(path);
            if (r.IsSuccessStatusCode && done(last = await r.Content.ReadFromJsonAsync<JsonElement>())) return last;
            await Task.Delay(200);
        }
        Assert.Fail($"timed out waiting until {what}; last: {last}");
        return last;
    }

    [Fact]
    public async Task ApplyGetScaleReportDelete_ThroughTheApi_BadSpecsRefusedStateUnchanged()
    {
        var (stop, loop) = await NodesReportingAsync();
        try
        {
            var put = await f.Http.PutAsync("/api/v1/services/sv-api?by=erin", new StringContent(ApiSpec, Encoding.UTF8, "text/yaml"));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var applied = await put.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(2, applied.GetProperty("desiredReplicas").GetInt32());
            var status = await EventuallyAsync("/api/v1/services/sv-api", s => s.GetProperty("running").GetInt32() == 2, "two instances run");
            var instances = status.GetProperty("instances").EnumerateArray().ToList();
            Assert.All(instances, i => Assert.Equal("2.1", i.GetProperty("version").GetString()));
            Assert.Equal(2, instances.Select(i => i.GetProperty("domain").GetString()).Distinct().Count());

            // JSON is accepted as well; the name comes from the URL.
            var json = await f.Http.PutAsync("/api/v1/services/sv-web", new StringContent("""{"replicas": 1, "resources": {"cpuCores": 0.5, "memoryBytes": 268435456}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, json.StatusCode);

            // Bad specs: every problem by its path, nothing applied.
            var bad = await f.Http.PutAsync("/api/v1/services/sv-api", new StringContent("replicas: -4\nresources:\n  cpuCores: zero\nmaxUnavailable: 1\nminHealthy: 50%\nshape: round\n", Encoding.UTF8, "text/yaml"));
            Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
            var problems = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("problems").EnumerateArray().Select(p => p.GetProperty("path").GetString()).ToHashSet();
            Assert.Superset(new HashSet<string?> { "replicas", "resources.cpuCores", "resources.memoryBytes", "maxUnavailable", "shape" }, problems);
            Assert.Equal(422, (int)(await f.Http.PutAsync("/api/v1/services/sv-api", new StringContent("name: other\n" + ApiSpec, Encoding.UTF8, "text/yaml"))).StatusCode);
            Assert.Equal(400, (int)(await f.Http.PutAsync("/api/v1/services/bad%20name", new StringContent(ApiSpec, Encoding.UTF8, "text/yaml"))).StatusCode);
            Assert.Equal(422, (int)(await f.Http.PutAsync("/api/v1/services/sv-x", new StringContent("{not json", Encoding.UTF8, "application/json"))).StatusCode);
            var unchanged = await f.GetJsonAsync("/api/v1/services/sv-api");
            Assert.Equal(1, unchanged.GetProperty("generation").GetInt32());
            Assert.Equal(2, unchanged.GetProperty("desiredReplicas").GetInt32());
            Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/services/sv-x")).StatusCode);

            // Scale.
            Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/services/sv-api/scale", new { replicas = -1 })).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/services/sv-api/scale", new { by = "erin" })).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await f.Http.PostAsJsonAsync("/api/v1/services/sv-nope/scale", new { replicas = 2 })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await f.Http.PostAsJsonAsync("/api/v1/services/sv-api/scale", new { replicas = 3, by = "erin" })).StatusCode);
            status = await EventuallyAsync("/api/v1/services/sv-api", s => s.GetProperty("running").GetInt32() == 3, "three instances run");

            // Instance reports: a bad batch is refused whole; a good one is taken, an unknown instance said so.
            var first = status.GetProperty("instances")[0].GetProperty("id").GetString();
            var refused = await f.Http.PostAsJsonAsync("/api/v1/services/telemetry", new object[]
            {
                new { service = "sv-api", instance = first, version = "2.1", requests = 10, errors = 0, latencyP50Ms = 3, latencyP99Ms = 20, memoryBytes = 1 << 20, healthy = true },
                new { service = "sv-api", instance = first, version = "2.1", requests = -5, errors = 0, latencyP50Ms = 3, latencyP99Ms = 20, memoryBytes = 1 << 20, healthy = true },
            });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.True((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("[1].requests", out _));
            var taken = await f.Http.PostAsJsonAsync("/api/v1/services/telemetry", new object[]
            {
                new { service = "sv-api", instance = first, version = "2.1", requests = 10, errors = 0, latencyP50Ms = 3, latencyP99Ms = 20, memoryBytes = 1 << 20, healthy = true, cpuPercent = 40 },
                new { service = "sv-api", instance = "sv-api-999", version = "2.1", requests = 10, errors = 0, latencyP50Ms = 3, latencyP99Ms = 20, memoryBytes = 1 << 20, healthy = true },
            });
            Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
            Assert.Equal(["Accepted", "UnknownInstance"], (await taken.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Select(r => r.GetProperty("outcome").GetString()!).ToArray());

            // Order and expiry are the reporter's word, checked: a negative sequence or a TTL out of range is refused with its
            // field named; a report replayed with a sequence already taken is answered Stale and changes nothing.
            foreach (var (wrong, field) in new (object Report, string Field)[]
            {
                (new { service = "sv-api", instance = first, version = "2.1", healthy = true, sequence = -1 }, "sequence"),
                (new { service = "sv-api", instance = first, version = "2.1", healthy = true, ttlSeconds = 0 }, "ttlSeconds"),
                (new { service = "sv-api", instance = first, version = "2.1", healthy = true, ttlSeconds = 1e9 }, "ttlSeconds"),
            })
            {
                var answer = await f.Http.PostAsJsonAsync("/api/v1/services/telemetry", new[] { wrong });
                Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
                var errors = (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
                Assert.Contains(errors.EnumerateObject(), e => e.Name.EndsWith(field, StringComparison.Ordinal));
            }
            var ordered = new { service = "sv-api", instance = first, version = "2.1", requests = 10, errors = 0, latencyP50Ms = 3, latencyP99Ms = 20, memoryBytes = 1 << 20, healthy = true, sequence = 7, ttlSeconds = 30 };
            var outcomes = new List<string>();
            for (var i = 0; i < 2; i++)
                outcomes.Add((await (await f.Http.PostAsJsonAsync("/api/v1/services/telemetry", new[] { ordered })).Content.ReadFromJsonAsync<JsonElement>())[0].GetProperty("outcome").GetString()!);
            Assert.Equal(["Accepted", "Stale"], outcomes.ToArray());

            // The CLI reads the same service; a bad spec file is refused with every problem.
            var (code, stdout, _) = await Fleet("services", "get", "sv-api");
            Assert.Equal(0, code);
            Assert.Contains("Replicas  3 wanted, 3 running", stdout);
            Assert.Contains("INSTANCE", stdout);
            (code, stdout, _) = await Fleet("services", "list", "-o", "json");
            Assert.Equal(0, code);
            Assert.Contains(JsonDocument.Parse(stdout).RootElement.EnumerateArray(), s => s.GetProperty("name").GetString() == "sv-web");
            var file = Path.Combine(Repo.TempDir("cli-services"), "bad.yaml");
            await File.WriteAllTextAsync(file, "name: sv-cli\nreplicas: 2\nresources:\n  cpuCores: 1\n  memoryBytes: lots\n");
            (code, stdout, _) = await Fleet("services", "apply", file);
            Assert.Equal(1, code);
            Assert.Contains("resources.memoryBytes (line 5)", stdout);
            (code, _, _) = await Fleet("services", "scale", "sv-api", "2", "--by", "erin");
            Assert.Equal(0, code);

            // Delete: instances stop, the service goes away.
            var deleted = await f.Http.DeleteAsync("/api/v1/services/sv-web?by=erin");
            Assert.True(deleted.StatusCode is HttpStatusCode.OK or HttpStatusCode.NoContent);
            await EventuallyAsync("/api/v1/services", list => list.EnumerateArray().All(s => s.GetProperty("name").GetString() != "sv-web"), "sv-web is gone");
            Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/services/sv-web")).StatusCode);
            var trail = (await f.GetJsonAsync("/api/v1/audit?subject=service/sv-api&limit=1000")).GetProperty("records").EnumerateArray().Select(r => r.GetProperty("kind").GetString()).ToHashSet();
            Assert.Superset(new HashSet<string?> { "operator", "placed", "executed", "scaled" }, trail);
        }
        finally
        {
            stop.Cancel();
            await loop;
        }
    }
}
