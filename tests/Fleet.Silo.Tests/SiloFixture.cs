using System.Net.Http.Json;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>One real silo process shared by a test class.</summary>
public sealed class SiloFixture : IAsyncLifetime
{
    public SiloProcess Silo { get; private set; } = null!;
    public HttpClient Http => Silo.Http;

    public async Task InitializeAsync() => Silo = await SiloProcess.StartAsync();

    public async Task DisposeAsync() => await Silo.DisposeAsync();

    public async Task<HttpResponseMessage> RegisterAsync(string id, string domain = "rack-a") =>
        await Http.PostAsJsonAsync("/api/v1/nodes", new { id, domain, capacity = new { cpuCores = 8, memoryBytes = 16L << 30, diskBytes = 100L << 30 }, labels = new { role = "web" } });

    public async Task<HttpResponseMessage> ReportAsync(string id, long seq, bool healthy = true, double cpu = 10) =>
        await Http.PostAsJsonAsync($"/api/v1/nodes/{id}/telemetry", new
        {
            sequence = seq, ttlSeconds = 30, cpuPercent = cpu, memoryUsedBytes = 4L << 30, memoryTotalBytes = 16L << 30, diskUsedPercent = 20,
            checks = new[] { new { name = "http", passed = healthy, detail = healthy ? null : "503" } },
        });

    private readonly Dictionary<string, string> _keys = [];

    /// <summary>A key of the given name and role, made through the API once (as an admin would), then reused.</summary>
    public async Task<string> KeyAsync(string name, string role, string? node = null)
    {
        lock (_keys) if (_keys.TryGetValue(name, out var known)) return known;
        var key = await Silo.MakeKeyAsync(name, role, node);
        lock (_keys) _keys[name] = key;
        return key;
    }

    /// <summary>An HTTP client that sends the named key (made on first use with the given role).</summary>
    public async Task<HttpClient> HttpAsAsync(string name, string role) => Silo.HttpWith(await KeyAsync(name, role));

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var r = await Http.GetAsync(path);
        Assert.True(r.IsSuccessStatusCode, $"GET {path}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }
}
