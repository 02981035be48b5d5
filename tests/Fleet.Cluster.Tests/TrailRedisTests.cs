using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Silo.Tests;

namespace Fleet.Cluster.Tests;

/// <summary>The chained trail in Redis, two silo processes each appending a stream of its own: it holds; an edited record is named.</summary>
public class TrailRedisTests(SharedRedis redis) : IClassFixture<SharedRedis>
{
    /// <summary>What whoever can write Redis does: a redis-cli command against the test's Redis.</summary>
    private async Task<string> CliAsync(params string[] args)
    {
        var (host, port) = (redis.Connection.Split(':')[0], redis.Connection.Split(':')[1]);
        var (code, stdout, stderr) = await Repo.RunAsync("redis-cli", ["-h", host, "-p", port, "--raw", .. args], TimeSpan.FromSeconds(10));
        Assert.True(code == 0, stderr);
        return stdout.Trim();
    }

    [Fact]
    public async Task TwoSilosStreams_Hold_ARecordEditedInRedis_IsNamedByVerify()
    {
        await using var cluster = new ClusterSilos(redis.Connection);
        await cluster.StartAsync(2);
        for (var i = 0; i < 20; i++)
        {
            var silo = cluster.Silos[i % 2]!;
            (await silo.Http.PostAsJsonAsync("/api/v1/nodes", new { id = $"chain-{i}", domain = "chain", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } })).EnsureSuccessStatusCode();
        }
        var held = await ClusterSilos.GetAsync(cluster.Silos[0]!, "/api/v1/audit/verify");
        Assert.True(held.GetProperty("holds").GetBoolean(), held.ToString());
        Assert.True(held.GetProperty("streams").GetInt32() >= 2, held.ToString());
        Assert.True(held.GetProperty("records").GetInt64() >= 20, held.ToString());

        // Whoever can write Redis rewrites one record's reason.
        var page = await ClusterSilos.GetAsync(cluster.Silos[1]!, "/api/v1/audit?subject=node/chain-7&kind=registered&limit=1");
        var victim = page.GetProperty("records")[0].GetProperty("id").GetString()!;
        var prefix = $"fleet:{cluster.ServiceId}:audit";
        var seq = await CliAsync("HGET", $"{prefix}:ids", victim);
        var body = await CliAsync("HGET", $"{prefix}:bodies", seq);
        Assert.Contains("Registered node chain-7", body);
        await CliAsync("HSET", $"{prefix}:bodies", seq, body.Replace("Registered node chain-7", "Registered node chain-8"));

        var broken = await ClusterSilos.GetAsync(cluster.Silos[0]!, "/api/v1/audit/verify");
        Assert.False(broken.GetProperty("holds").GetBoolean());
        Assert.Equal(victim, broken.GetProperty("brokenAt").GetString());
        var (exit, stdout, stderr) = await Repo.RunAsync("dotnet", [Repo.CliDll, "--gateway", cluster.Silos[0]!.Gateway, "--key", cluster.AdminKey,
            "--service-id", cluster.ServiceId, "--cluster-id", cluster.ServiceId, "audit", "verify"], TimeSpan.FromSeconds(60));
        Assert.Equal(1, exit);
        Assert.Contains($"broken at record {victim}", stdout + stderr);

        // Put back as it was, the chain holds again; a record stored beside the index (so no stream walks it) is named too.
        await CliAsync("HSET", $"{prefix}:bodies", seq, body);
        Assert.True((await ClusterSilos.GetAsync(cluster.Silos[1]!, "/api/v1/audit/verify")).GetProperty("holds").GetBoolean());
        await CliAsync("HSET", $"{prefix}:bodies", "999999999", body.Replace(victim, "planted"));
        var stray = await ClusterSilos.GetAsync(cluster.Silos[1]!, "/api/v1/audit/verify");
        Assert.False(stray.GetProperty("holds").GetBoolean());
        Assert.Contains("stored but", stray.GetProperty("why").GetString());
    }

    [Fact]
    public async Task ASilosStreamCutShort_IsNamedByTheOtherSilosSignedCheckpoint()
    {
        await using var cluster = new ClusterSilos(redis.Connection, "--Fleet:TrailCheckpointInterval=00:00:01");
        await cluster.StartAsync(2);
        // Records are written by the silo where a grain lives, which Orleans' placement chooses: 40 nodes in 8 domains, so
        // both silos' streams grow (20 nodes of one domain once left one silo's stream with too little to vouch for).
        var registered = 0;
        async Task RegisterAsync(int count)
        {
            for (var n = 0; n < count; n++, registered++)
            {
                var silo = cluster.Silos[registered % 2]!;
                (await silo.Http.PostAsJsonAsync("/api/v1/nodes", new { id = $"cut-{registered}", domain = $"cut-{registered % 8}", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } })).EnsureSuccessStatusCode();
            }
        }
        await RegisterAsync(40);

        // Wait for a checkpoint in one silo's stream that vouches for a position in the other's (the oldest such: the first a cut breaks).
        // A silo checkpoints only when its own stream moved, so while none vouches yet a few more nodes are registered: a silo
        // that joined late, or that placement passed over in the first 40, gets records of its own and vouches for the other.
        (string Id, string Stream, long Seq)? vouch = null;
        for (var tries = 0; tries < 120 && vouch is null; tries++)
        {
            if (tries > 0 && tries % 4 == 0) await RegisterAsync(4);
            var page = await ClusterSilos.GetAsync(cluster.Silos[0]!, "/api/v1/audit?kind=checkpoint&limit=1000");
            foreach (var c in page.GetProperty("records").EnumerateArray())
            {
                var own = c.GetProperty("seal").GetProperty("stream").GetString()!;
                foreach (var e in c.GetProperty("evidence").EnumerateObject())
                    if (e.Name.StartsWith("stream:") && e.Name[7..] != own && long.Parse(e.Value.GetString()!.Split(' ')[0]) >= 3)
                        vouch = (c.GetProperty("id").GetString()!, e.Name[7..], long.Parse(e.Value.GetString()!.Split(' ')[0]));
            }
            if (vouch is null) await Task.Delay(500);
        }
        if (vouch is null)
        {
            var streams = (await CliAsync("HKEYS", $"fleet:{cluster.ServiceId}:audit:stream-ends")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var sizes = new List<string>();
            foreach (var st in streams) sizes.Add($"{st}={await CliAsync("ZCARD", $"fleet:{cluster.ServiceId}:audit:stream:{st}")}");
            Assert.Fail($"no silo's checkpoint names the other silo's stream at #3 or later; {registered} nodes registered; streams: {string.Join(", ", sizes)}");
        }
        // The silo that writes that stream is killed (so nothing appends to it any more); the other one answers.
        var (checkpointId, stream, seq) = vouch.Value;
        var writer = cluster.Silos.FindIndex(x => x is not null && stream.Contains($":{x.SiloPort}@"));
        Assert.True(writer >= 0, stream);
        var survivor = cluster.Silos[1 - writer]!;
        await cluster.Silos[writer]!.KillAsync();
        var held = await ClusterSilos.GetOnceAnsweringAsync(survivor, "/api/v1/audit/verify");
        Assert.True(held.GetProperty("holds").GetBoolean(), held.ToString());
        Assert.True(held.GetProperty("checkpoints").GetInt32() >= 1, held.ToString());

        // Whoever can write Redis cuts that stream short from the vouched position on: the stream's own chain still holds.
        var prefix = $"fleet:{cluster.ServiceId}:audit";
        var cut = (await CliAsync("ZRANGEBYSCORE", $"{prefix}:stream:{stream}", seq.ToString(), "+inf")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(cut);
        foreach (var at in cut)
        {
            await CliAsync("HDEL", $"{prefix}:bodies", at);
            await CliAsync("ZREM", $"{prefix}:all", at);
            await CliAsync("ZREM", $"{prefix}:stream:{stream}", at);
        }

        var broken = await ClusterSilos.GetOnceAnsweringAsync(survivor, "/api/v1/audit/verify");
        Assert.False(broken.GetProperty("holds").GetBoolean(), broken.ToString());
        Assert.Equal(checkpointId, broken.GetProperty("brokenAt").GetString());
        var why = broken.GetProperty("why").GetString()!;
        Assert.Contains($"of stream {stream}", why);
        Assert.Contains("removed", why);
        var (exit, stdout, stderr) = await Repo.RunAsync("dotnet", [Repo.CliDll, "--gateway", survivor.Gateway, "--key", cluster.AdminKey,
            "--service-id", cluster.ServiceId, "--cluster-id", cluster.ServiceId, "audit", "verify"], TimeSpan.FromSeconds(60));
        Assert.Equal(1, exit);
        Assert.Contains($"broken at record {checkpointId}", stdout + stderr);
    }
}
