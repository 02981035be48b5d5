using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;
using Fleet.Core.Security;
using Fleet.Silo.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace Fleet.Agent.Tests;

/// <summary>
/// The agent's own door, against a real silo and real agent processes: an Orleans client with no key at all reaches an
/// agent's observer through the gateway (Orleans routes a client's call to another client), so what keeps the host safe is
/// the cluster's signature on every action. Unsigned, tampered, forged, expired, misaddressed and replayed requests are
/// refused, reported to the node's trail, and run nothing; a restarted agent still refuses a key it ran.
/// </summary>
public class AgentDoorTests
{
    private static async Task<IHost> AnyClientAsync(string gateway)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(c =>
        {
            c.UseStaticClustering(Fleet.Client.FleetClientHostingExtensions.ParseGateways(gateway));
            c.Configure<ClusterOptions>(o => { o.ClusterId = "fleet"; o.ServiceId = "fleet"; });
            c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(20));
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<string> ObserverOfAsync(AgentCluster c, AgentProcess agent, string? not = null)
    {
        string? id = null;
        await c.WaitAsync(() => Task.FromResult((id = agent.ObserverId()) is not null && id != not), TimeSpan.FromSeconds(60), $"{agent.NodeId} attaches");
        return id!;
    }

    [Fact]
    public async Task ActionRequests_TheClusterDidNotSign_AreRefused_Reported_AndRunNothing_AndAKeyRunsOnceAcrossARestart()
    {
        await using var c = await AgentCluster.StartAsync();
        // The test holds the cluster's secret (a single silo makes it beside its key file), so it can sign as the cluster does.
        using var cluster = new ClusterKeys(File.ReadAllText(Path.Combine(c.Silo.DataDir, "cluster.secret")));
        using var stranger = ClusterKeys.Random();
        var mark = await c.TrailMarkAsync("host-a");
        using var attacker = await AnyClientAsync(c.Silo.Gateway);
        var agent = attacker.Services.GetRequiredService<IClusterClient>().GetGrain<IAgentObserver>(GrainId.Parse(await ObserverOfAsync(c, c.A)));
        var web = c.A.WebPid();
        Assert.NotNull(web);

        var request = new ActionRequest($"door-{Guid.NewGuid():N}", "host-a", ActionNames.RestartServices, "test", "lease-1", "node/host-a");
        SignedAction Signed(ClusterKeys by, string node = "host-a", TimeSpan? valid = null, ActionRequest? r = null) =>
            ActionSignatures.Sign(by.ActionSigning, by.ActionKeyId, r ?? request, node, DateTimeOffset.UtcNow + (valid ?? TimeSpan.FromMinutes(1)));

        var refusals = new (string Kind, SignedAction Action, string Says)[]
        {
            ("unsigned", Signed(cluster) with { Signature = null }, "carries no signature"),
            ("tampered", Signed(cluster) with { Request = request with { Action = "stop-web" } }, "does not verify"),
            ("forged", Signed(stranger), "does not verify"),
            ("expired", Signed(cluster, valid: TimeSpan.FromMinutes(-5)), "expired"),
            ("for-ever", Signed(cluster, valid: TimeSpan.FromDays(365)), "no action is signed for that long"),
            ("other node", Signed(cluster, node: "host-b"), "signed for node host-b"),
        };
        foreach (var (kind, action, says) in refusals)
        {
            var answer = await agent.ExecuteAsync(action);
            Assert.True(answer.Refused && !answer.Succeeded, $"{kind}: {answer}");
            Assert.Contains(says, answer.Detail);
        }
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(web, c.A.WebPid()); // nothing ran

        // Signed by the cluster: it runs, once. The same request again (a replay) answers the first run and runs nothing.
        var good = Signed(cluster);
        var ran = await agent.ExecuteAsync(good);
        Assert.True(ran.Succeeded && !ran.Refused && !ran.Replayed, ran.ToString());
        int? restarted = null;
        await c.WaitAsync(() => Task.FromResult((restarted = c.A.WebPid()) is { } p && p != web), TimeSpan.FromSeconds(20), "the web server is restarted");
        var replay = await agent.ExecuteAsync(good);
        Assert.True(replay.Replayed && replay.Succeeded, replay.ToString());
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(restarted, c.A.WebPid());

        // Every refusal and the replay are in the node's trail, each with its kind.
        List<(string Kind, string Reason)> trail = [];
        await c.WaitAsync(async () => (trail = await c.TrailAsync("host-a", mark)).Count(t => t.Kind == "denied") >= 6, TimeSpan.FromSeconds(20), "the refusals are in the trail");
        var denied = trail.Where(t => t.Kind == "denied").Select(t => t.Reason).ToList();
        Assert.Contains(denied, r => r.Contains("refused an action request") && r.Contains("carries no signature"));
        Assert.Contains(denied, r => r.Contains("does not verify"));
        Assert.Contains(denied, r => r.Contains("expired"));
        Assert.Contains(denied, r => r.Contains("signed for node host-b"));
        Assert.Contains(denied, r => r.Contains("did not run restart-services again"));

        // A crashed and restarted agent still knows the key: a fresh signature on the same key runs nothing.
        var observer = c.A.ObserverId();
        await c.A.KillAsync();
        c.A.Start();
        agent = attacker.Services.GetRequiredService<IClusterClient>().GetGrain<IAgentObserver>(GrainId.Parse(await ObserverOfAsync(c, c.A, not: observer)));
        await c.WaitAsync(() => Task.FromResult(c.A.WebPid() is not null), TimeSpan.FromSeconds(20), "the restarted agent supervises its web server");
        var before = c.A.WebPid();
        var again = await agent.ExecuteAsync(Signed(cluster));
        Assert.True(again.Replayed, again.ToString());
        Assert.Contains("ran at", again.Detail);
        Assert.Equal(ran.Succeeded, again.Succeeded);
        var known = await agent.OutcomeAsync(request.IdempotencyKey);
        Assert.True(known is { Replayed: true, Succeeded: true }, known?.ToString());
        Assert.Null(await agent.OutcomeAsync("never-sent"));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(before, c.A.WebPid());
    }

    [Fact]
    public async Task ASupervisedProcess_RunsAsTheUserItsConfigNames_WithNoCapabilities()
    {
        await using var silo = await SiloProcess.StartAsync();
        var agent = new AgentProcess("host-u");
        await using (agent)
        {
            agent.WriteConfig(silo.Gateway, "rack-u", [], key: await silo.MakeKeyAsync("agent-host-u", "agent", "host-u"), webUser: "nobody");
            agent.Start();
            var until = DateTime.UtcNow.AddSeconds(30);
            while (agent.WebPid() is null && DateTime.UtcNow < until) await Task.Delay(200);
            var pid = agent.WebPid() ?? throw new TimeoutException($"the web server did not start:\n{agent.Log}");
            var status = File.ReadAllLines($"/proc/{pid}/status").Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim());
            Assert.Equal("65534", status["Uid"].Split('\t')[0]);
            Assert.Equal(0UL, Convert.ToUInt64(status["CapEff"], 16));
            Assert.Equal(0UL, Convert.ToUInt64(status["CapAmb"], 16));
        }
    }

    [Fact]
    public async Task AnAgent_FindsTheGatewaysOverTheSilosHttp_WithItsOwnKey_AndNoRedisPassword()
    {
        await using var silo = await SiloProcess.StartAsync();
        var agent = new AgentProcess("host-h");
        await using (agent)
        {
            // The gateway list it is given points nowhere: only the discovery over HTTP can bring it to the cluster.
            agent.WriteConfig($"127.0.0.1:{Repo.FreePort()}", "rack-h", [], key: await silo.MakeKeyAsync("agent-host-h", "agent", "host-h"),
                silos: $"http://127.0.0.1:{silo.HttpPort}");
            agent.Start();
            var until = DateTime.UtcNow.AddSeconds(60);
            System.Text.Json.JsonElement node = default;
            while (DateTime.UtcNow < until)
            {
                using var r = await silo.Http.GetAsync("/api/v1/nodes/host-h");
                if (r.IsSuccessStatusCode && (node = System.Text.Json.JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement).GetProperty("lastSequence").GetInt64() > 0) break;
                await Task.Delay(250);
            }
            Assert.True(node.ValueKind == System.Text.Json.JsonValueKind.Object && node.GetProperty("lastSequence").GetInt64() > 0, agent.Log);
            // What it read: the live gateways, for any valid key (an agent's too), never without one.
            using var anonymous = silo.HttpWith(null);
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/gateways")).StatusCode);
            var list = System.Text.Json.JsonDocument.Parse(await silo.Http.GetStringAsync("/api/v1/gateways")).RootElement.GetProperty("gateways");
            Assert.Equal(silo.Gateway, Assert.Single(list.EnumerateArray()).GetString());
        }
    }
}
