using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fleet.Silo.Tests;

namespace Fleet.Agent.Tests;

/// <summary>A silo with the agent actuator and two agents that probe each other, each supervising a web server.</summary>
public sealed class AgentCluster : IAsyncDisposable
{
    public SiloProcess Silo { get; private set; } = null!;
    public AgentProcess A { get; } = new("host-a");
    public AgentProcess B { get; } = new("host-b");

    public const string FastPolicy = """
        telemetry:
          reportInterval: 1s
          allowedMisses: 3
        health:
          unhealthyAfterFailedReports: 2
          recoverAfterReports: 2
        remediation:
          cooldown: 0s
          probation: 5s
        """;

    public static async Task<AgentCluster> StartAsync(string policy = FastPolicy, string extraAgentConfig = "", TimeSpan? webStartDelay = null)
    {
        var c = new AgentCluster();
        c.Silo = await SiloProcess.StartAsync(extraArgs: SiloArgs);
        try
        {
            (await c.Silo.Http.PutAsync("/api/v1/policy?by=test", new StringContent(policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
            // Each agent holds a key of its own, bound to its node, as in production.
            // And the cluster's action key, so they run the actions the cluster signs (and nothing else).
            var actionKey = await c.ActionKeyAsync();
            c.A.WriteConfig(c.Silo.Gateway, "rack-1", [c.B], extraAgentConfig, await c.AgentKeyAsync("host-a"), webStartDelay, actionKey);
            c.B.WriteConfig(c.Silo.Gateway, "rack-1", [c.A], extraAgentConfig, await c.AgentKeyAsync("host-b"), webStartDelay, actionKey);
            c.A.Start();
            c.B.Start();
            await c.WaitAsync(async () => await c.HealthAsync("host-a") == "Healthy" && await c.HealthAsync("host-b") == "Healthy", TimeSpan.FromSeconds(90), "both agents report healthy");
            return c;
        }
        catch
        {
            await c.DisposeAsync(); // a start that fails leaves no silo, agent or web server running behind it
            throw;
        }
    }

    /// <summary>
    /// Starts the silo again after it died, on its own data folder and ports, with the same admin key (the agents find it
    /// where they left it).
    /// </summary>
    public async Task RestartSiloAsync()
    {
        var old = Silo;
        await old.DisposeAsync();
        Silo = await SiloProcess.StartAsync(old.DataDir, [.. SiloArgs, SiloProcess.AdminKeyArg + old.AdminKey], old.HttpPort, old.SiloPort, old.GatewayPort);
    }

    private static readonly string[] SiloArgs = ["--Fleet:Actuator:Kind=Agent", "--Fleet:Actuator:RetryDelay=00:00:01",
        "--Fleet:Actuator:MaxRetries=6", "--Fleet:Actuator:AttemptTimeout=00:00:05"];

    /// <summary>The cluster's action key (PEM) as an admin reads it for agents' config.</summary>
    public async Task<string> ActionKeyAsync() =>
        (await Silo.Http.GetFromJsonAsync<JsonElement>("/api/v1/agents/action-key")).GetProperty("publicKeyPem").GetString()!;

    /// <summary>Makes an agent key bound to <paramref name="node"/> through the API (as an admin would with fleet keys create).</summary>
    public Task<string> AgentKeyAsync(string node) => Silo.MakeKeyAsync($"agent-{node}", "agent", node);

    public async Task<string?> HealthAsync(string node)
    {
        using var r = await Silo.Http.GetAsync($"/api/v1/nodes/{node}");
        return r.IsSuccessStatusCode ? (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("health").GetString() : null;
    }

    /// <summary>
    /// The node's trail, oldest first, from record <paramref name="since"/> on (a count taken with <see cref="TrailMarkAsync"/>).
    /// A test that makes a fault reads the trail after its mark: a slow start (the supervised server not yet listening at
    /// the agent's first reports) can already have run a case of its own, verified, before the test's fault.
    /// </summary>
    public async Task<List<(string Kind, string Reason)>> TrailAsync(string node, int since = 0)
    {
        var page = await Silo.Http.GetFromJsonAsync<JsonElement>($"/api/v1/audit?subject=node/{node}&limit=1000");
        return page.GetProperty("records").EnumerateArray().Reverse().Skip(since)
            .Select(r => (r.GetProperty("kind").GetString()!, r.GetProperty("reason").GetString()!)).ToList();
    }

    /// <summary>How many records the node's trail holds now: the mark a test takes before it makes a fault.</summary>
    public async Task<int> TrailMarkAsync(string node) => (await TrailAsync(node)).Count;

    public async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            try { if (await condition()) return; } catch (HttpRequestException) { }
            await Task.Delay(200);
        }
        var report = new System.Text.StringBuilder($"Timed out waiting until {what}.");
        foreach (var agent in new[] { A, B })
        {
            string trail;
            try { trail = string.Join("\n", (await TrailAsync(agent.NodeId)).Select(t => $"{t.Kind}: {t.Reason}")); }
            catch (HttpRequestException e) { trail = $"(cannot read: {e.Message})"; }
            report.Append($"\nTrail of {agent.NodeId} (now {await HealthAsync(agent.NodeId) ?? "not registered"}):\n{trail}\nAgent {agent.NodeId}:\n{agent.Log}");
        }
        Assert.Fail(report.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Silo.DisposeAsync();
    }
}
