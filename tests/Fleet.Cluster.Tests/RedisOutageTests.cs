using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fleet.Silo.Tests;
using Xunit.Abstractions;

namespace Fleet.Cluster.Tests;

/// <summary>Redis goes away and comes back (AOF on): the silos say so, refuse clearly, do not crash, and lose nothing.</summary>
public class RedisOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RedisStoppedAndRestarted_HealthSaysSo_ApiAnswers503_SilosRecoverWithoutLoss()
    {
        await using var redis = new RedisServer();
        await redis.StartAsync();
        await using var cluster = new ClusterSilos(redis.Connection);
        await cluster.StartAsync(2);
        var api = cluster.Any();
        for (var i = 0; i < 50; i++)
        {
            (await api.Http.PostAsJsonAsync("/api/v1/nodes", new { id = $"r-{i}", domain = $"rack-{i % 5}", capacity = new { cpuCores = 2, memoryBytes = 4L << 30, diskBytes = 10L << 30 } })).EnsureSuccessStatusCode();
            (await Report(api, $"r-{i}", 1)).EnsureSuccessStatusCode();
        }
        (await api.Http.PutAsync("/api/v1/policy?by=ops", new StringContent("guardrails:\n  maxConcurrentPerDomain: 2\n", Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();

        await redis.StopAsync();

        using (var health = await api.Http.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            var body = await health.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Unhealthy", body.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
            output.WriteLine("health during the outage: " + body.GetProperty("checks").GetProperty("redis").GetProperty("description").GetString());
        }
        // A call that needs storage (a new node's registration writes its state) is refused clearly. A plain healthy
        // report to an active node may still be taken: it changes nothing that must be written at once.
        using (var refused = await api.Http.PostAsJsonAsync("/api/v1/nodes", new { id = "r-new", domain = "rack-0", capacity = new { cpuCores = 2, memoryBytes = 4L << 30, diskBytes = 10L << 30 } }))
        {
            var text = await refused.Content.ReadAsStringAsync();
            output.WriteLine($"registration during the outage: {(int)refused.StatusCode} {text}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Contains("Redis", text);
            Assert.DoesNotContain("   at ", text);
        }
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.All(cluster.Silos, s => Assert.False(s!.HasExited, "a silo crashed while Redis was away"));

        await redis.StartAsync();
        await FailoverTests.WaitUntilAsync(async () => (await api.Http.GetAsync("/health")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "health is green again");
        await FailoverTests.WaitUntilAsync(async () => (await Report(api, "r-1", 3)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "telemetry is taken again");

        var other = cluster.Any(except: 0);
        Assert.Equal(50, (await ClusterSilos.GetAsync(other, "/api/v1/nodes")).GetArrayLength()); // r-new was never taken
        var policy = await ClusterSilos.GetAsync(other, "/api/v1/policy");
        Assert.Equal(1, policy.GetProperty("version").GetInt32());
        Assert.Equal(50, (await FailoverTests.AllAsync(other, "/api/v1/audit?kind=registered&limit=1000")).Count);
        Assert.Equal(3, (await ClusterSilos.GetAsync(other, "/api/v1/nodes/r-1")).GetProperty("lastSequence").GetInt64());
    }

    private static Task<HttpResponseMessage> Report(SiloProcess silo, string id, long seq) =>
        silo.Http.PostAsJsonAsync($"/api/v1/nodes/{id}/telemetry", new { sequence = seq, cpuPercent = 5, memoryUsedBytes = 1L << 30, memoryTotalBytes = 4L << 30 });
}
