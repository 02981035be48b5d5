using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Silo.Tests;

namespace Fleet.Cluster.Tests;

/// <summary>The web view's live feed on a cluster of two silo processes: a page served by one silo shows the decisions made on the other.</summary>
public class WebFeedTests(SharedRedis redis) : IClassFixture<SharedRedis>
{
    [Fact]
    public async Task TheFeedOfOneSilo_CarriesTheRecordsMadeOnAnother()
    {
        await using var cluster = new ClusterSilos(redis.Connection);
        await cluster.StartAsync(2);
        var a = cluster.Silos[0]!;
        var b = cluster.Silos[1]!;

        using var feed = a.HttpWith(cluster.AdminKey);
        feed.Timeout = TimeSpan.FromSeconds(60);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ui/events");
        using var response = await feed.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream);

        // Nodes registered through the other silo; one whose grain lives there made its 'registered' record there.
        using var other = b.HttpWith(cluster.AdminKey);
        string? onB = null;
        // Placement reaches silo B once the cluster's membership has it as active on both sides: keep trying for a while.
        for (var i = 0; i < 120 && onB is null; i++)
        {
            if (i >= 20) await Task.Delay(250);
            var id = $"feed-{i}";
            var register = await other.PostAsJsonAsync("/api/v1/nodes", new { id, domain = "feed-rack", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } });
            Assert.True(register.IsSuccessStatusCode, await register.Content.ReadAsStringAsync());
            var status = await other.GetFromJsonAsync<JsonElement>($"/api/v1/nodes/{id}");
            if (status.TryGetProperty("hostedOn", out var host) && host.GetString() is { } h && cluster.IndexOfHost(h) == 1) onB = id;
        }
        Assert.NotNull(onB);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? line;
        var seen = false;
        while (!seen && (line = await reader.ReadLineAsync(timeout.Token)) is not null)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var record = JsonDocument.Parse(line[6..]).RootElement;
            seen = record.GetProperty("subject").GetString() == $"node/{onB}" && record.GetProperty("kind").GetString() == "registered";
        }
        Assert.True(seen, $"silo A's feed carried the registration of {onB}, made on silo B");
    }

    [Fact]
    public async Task TheCookieKeysInRedis_AreCiphertextUnderTheClusterSecret_AndServeEverySilo()
    {
        await using var cluster = new ClusterSilos(redis.Connection);
        await cluster.StartAsync(2);
        // The sign-in page carries an antiforgery token: the key ring is made (once, in Redis) by whichever silo serves it first.
        using var anonymous = cluster.Silos[0]!.HttpWith(null);
        Assert.Contains("__RequestVerificationToken", await anonymous.GetStringAsync("/ui/signin"));
        using var other = cluster.Silos[1]!.HttpWith(null);
        Assert.Contains("__RequestVerificationToken", await other.GetStringAsync("/ui/signin"));

        var (host, port) = (redis.Connection.Split(':')[0], redis.Connection.Split(':')[1]);
        var (code, stored, error) = await Repo.RunAsync("redis-cli", ["-h", host, "-p", port, "--raw", "LRANGE", $"fleet:{cluster.ServiceId}:data-protection-keys", "0", "-1"], TimeSpan.FromSeconds(10));
        Assert.True(code == 0, error);
        Assert.Contains("<encryptedKey", stored);
        Assert.Contains("fleetSeal=", stored);
        Assert.DoesNotContain("<masterKey", stored);
    }
}
