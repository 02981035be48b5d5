using System.Net.Http;
using Fleet.Silo.Tests;

namespace Fleet.Agent.Tests;

/// <summary>A real silo and two real agents, each supervising a real HTTP server; faults made with real signals.</summary>
public class ProcessCrashTests
{
    [Fact]
    public async Task SupervisedProcessKilled_DetectedRestartedByAgentVerified_TrailTellsIt()
    {
        await using var c = await AgentCluster.StartAsync();
        var mark = await c.TrailMarkAsync("host-a");
        var oldPid = c.A.WebPid()!.Value;
        Repo.Signal(oldPid, Repo.SigKill);

        await c.WaitAsync(async () => (await c.TrailAsync("host-a", mark)).Any(t => t.Kind == "verified"), TimeSpan.FromSeconds(60), "the restart was verified");
        var newPid = c.A.WebPid();
        Assert.NotNull(newPid);
        Assert.NotEqual(oldPid, newPid);
        using var http = new HttpClient();
        Assert.True((await http.GetAsync($"http://127.0.0.1:{c.A.WebPort}/")).IsSuccessStatusCode, "the restarted server answers");

        var trail = await c.TrailAsync("host-a", mark);
        var kinds = trail.Select(t => t.Kind).ToList();
        Assert.True(kinds.IndexOf("proposed") < kinds.IndexOf("permitted") && kinds.IndexOf("permitted") < kinds.IndexOf("executed") && kinds.IndexOf("executed") < kinds.IndexOf("verified"));
        Assert.Contains(trail, t => t.Kind == "health-changed" && t.Reason.Contains("check 'web-alive' failed") && t.Reason.Contains("Unhealthy"));
        Assert.Contains(trail, t => t.Kind == "executed" && t.Reason.Contains($"started web (pid {newPid})"));
    }
}

public class ProcessHangTests
{
    [Fact]
    public async Task SupervisedProcessStopped_HttpCheckTimesOut_Restarted()
    {
        await using var c = await AgentCluster.StartAsync();
        var mark = await c.TrailMarkAsync("host-a");
        var oldPid = c.A.WebPid()!.Value;
        Repo.Signal(oldPid, Repo.SigStop);
        try
        {
            await c.WaitAsync(async () => (await c.TrailAsync("host-a", mark)).Any(t => t.Kind == "verified"), TimeSpan.FromSeconds(60), "the hung server was restarted and verified");
            var trail = await c.TrailAsync("host-a", mark);
            Assert.Contains(trail, t => t.Kind == "health-changed" && t.Reason.Contains("check 'web-http' failed (no answer within 1s)"));
            Assert.NotEqual(oldPid, c.A.WebPid());
            Assert.False(Directory.Exists($"/proc/{oldPid}") && File.ReadAllText($"/proc/{oldPid}/stat").Contains(" T "), "the stopped process is gone");
        }
        finally
        {
            try { Repo.Signal(oldPid, Repo.SigKill); } catch (InvalidOperationException) { }
        }
    }
}

public class AgentDeathTests
{
    [Fact]
    public async Task AgentKilled_PeersConfirm_Unhealthy_LadderRuns_AgentBack_ProbationThenHealthy()
    {
        await using var c = await AgentCluster.StartAsync();
        var mark = await c.TrailMarkAsync("host-a");
        await c.A.KillAsync();

        await c.WaitAsync(async () => await c.HealthAsync("host-a") is "Unhealthy" or "Remediating", TimeSpan.FromSeconds(30), "host-a is declared Unhealthy");
        var trail = await c.TrailAsync("host-a", mark);
        Assert.Contains(trail, t => t.Kind == "health-changed" && t.Reason.Contains("Suspect"));
        Assert.Contains(trail, t => t.Kind == "health-changed" && t.Reason.Contains("peers host-b confirm it unreachable"));

        await c.WaitAsync(async () => (await c.TrailAsync("host-a", mark)).Any(t => t.Kind == "permitted"), TimeSpan.FromSeconds(30), "the ladder's first action is permitted");
        c.A.Start();

        await c.WaitAsync(async () => await c.HealthAsync("host-a") == "Probation", TimeSpan.FromSeconds(60), "host-a is on probation");
        await c.WaitAsync(async () => await c.HealthAsync("host-a") == "Healthy", TimeSpan.FromSeconds(30), "host-a is healthy again");
        trail = await c.TrailAsync("host-a", mark);
        Assert.Contains(trail, t => t.Kind == "executed" && t.Reason.StartsWith("Restarted services on node host-a"));
        Assert.Contains(trail, t => t.Kind == "verified");
    }
}

public class RefusedActionTests
{
    [Fact]
    public async Task ActionNamingUnknownProcess_RefusedByAgent_Recorded_HandedToHuman()
    {
        const string policy = AgentCluster.FastPolicy + """

              ladder:
                - action: restart-ghost
                  verifyWindow: 10s
                - action: human
            """;
        await using var c = await AgentCluster.StartAsync(policy);
        var mark = await c.TrailMarkAsync("host-a");
        var pid = c.A.WebPid()!.Value;
        Repo.Signal(pid, Repo.SigKill);

        await c.WaitAsync(async () => (await c.TrailAsync("host-a", mark)).Any(t => t.Kind == "handed-to-human"), TimeSpan.FromSeconds(60), "the case went to a human");
        var trail = await c.TrailAsync("host-a", mark);
        Assert.Contains(trail, t => t.Kind == "failed" && t.Reason.Contains("refused by the agent: no process named 'ghost' in this agent's config"));
        Assert.Null(c.A.WebPid());
        Assert.Contains("Refused action restart-ghost", c.A.Log);
    }
}

public class AgentConfigTests
{
    [Fact]
    public async Task CheckConfig_BadFile_EveryProblemListed_Exit2()
    {
        var dir = Repo.TempDir("agent-config");
        var file = Path.Combine(dir, "bad.yaml");
        await File.WriteAllTextAsync(file, """
            node: { id: "bad id", domain: rack-1 }
            reportInterval: often
            startGrace: forever
            peers:
              - { node: host-b, address: nowhere }
            processes:
              - name: web
                command: ""
            checks:
              - name: c1
                process: ghost
              - name: c2
            actions:
              reboot: ["format:disk"]
            """);
        var (code, stdout, stderr) = await Repo.RunAsync("dotnet", [AgentProcess.AgentDll, "--config", file, "--check-config"], TimeSpan.FromSeconds(30));
        Assert.Equal(2, code);
        foreach (var expected in new[] { "node.id", "reportInterval", "startGrace", "peers[0].address", "processes[0].command", "checks[0].process", "checks[1]: give exactly one", "actions.reboot[0]" })
            Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task CheckConfig_ExampleFile_Valid()
    {
        var (code, stdout, stderr) = await Repo.RunAsync("dotnet", [AgentProcess.AgentDll, "--config", Path.Combine(Repo.Root, "deploy", "agent", "agent.yaml"), "--check-config"], TimeSpan.FromSeconds(30));
        Assert.True(code == 0, stderr);
        Assert.Contains("valid", stdout);
    }
}

public class AgentBufferTests
{
    [Fact]
    public async Task ClusterUnreachableAtFirst_AgentBuffersAndCatchesUpInOrder()
    {
        var agent = new AgentProcess("host-c");
        var httpPort = Repo.FreePort();
        var siloPort = Repo.FreePort();
        var gatewayPort = Repo.FreePort();
        // The silo does not exist yet, so no agent key can be made: the agent holds the admin key the silo will be given.
        var adminKey = TestKeys.New();
        agent.WriteConfig($"127.0.0.1:{gatewayPort}", "rack-9", [], key: adminKey);
        await using (agent)
        {
            agent.Start();
            await Task.Delay(TimeSpan.FromSeconds(4));
            Assert.NotNull(agent.WebPid()); // it supervises its processes even while the cluster is away
            await using var silo = await SiloProcess.StartAsync(Repo.TempDir("buffer-silo"), [SiloProcess.AdminKeyArg + adminKey], httpPort, siloPort, gatewayPort);
            var until = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < until && !agent.Log.Contains("buffered report(s) in order")) await Task.Delay(200);
            Assert.Contains("buffered report(s) in order", agent.Log);
            var node = System.Text.Json.JsonDocument.Parse(await silo.Http.GetStringAsync("/api/v1/nodes/host-c")).RootElement;
            Assert.True(node.GetProperty("lastSequence").GetInt64() > 0);
        }
    }
}

public class AgentServiceInstanceTests
{
    [Fact]
    public async Task ServiceApplied_AgentsRunTheConfiguredStartScript_WithTheInstanceInItsEnvironment_ReportItsFigures_AndStopItOnDelete()
    {
        var marks = Repo.TempDir("agent-instances");
        // The instances' local figures endpoint: every started instance (from the marks its start script left), 42 requests/s.
        var figuresPort = Repo.FreePort();
        using var figures = new System.Net.HttpListener();
        figures.Prefixes.Add($"http://127.0.0.1:{figuresPort}/");
        figures.Start();
        using var stopFigures = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stopFigures.IsCancellationRequested)
            {
                System.Net.HttpListenerContext ctx;
                try { ctx = await figures.GetContextAsync().WaitAsync(stopFigures.Token); } catch { return; }
                var items = Directory.GetFiles(marks, "*.started").Select(f => File.ReadAllText(f).Trim().Split(' '))
                    .Select(w => new { service = w[0], instance = w[1], version = w[2], requests = 42.0, errors = 0.5, latencyP50Ms = 12.0, latencyP99Ms = 40.0, memoryBytes = 300L << 20, healthy = true });
                var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(items);
                ctx.Response.ContentType = "application/json";
                await ctx.Response.OutputStream.WriteAsync(body);
                ctx.Response.Close();
            }
        });
        var extra = $$"""
            instances: { url: "http://127.0.0.1:{{figuresPort}}/", every: 500ms }
            scripts:
              - { name: start-instance, command: /bin/sh, args: ["-c", "echo \"$FLEET_SERVICE $FLEET_INSTANCE $FLEET_VERSION $FLEET_ACTION_KEY\" > {{marks}}/$FLEET_INSTANCE.started"], timeout: 10s }
              - { name: stop-instance, command: /bin/sh, args: ["-c", "touch {{marks}}/$FLEET_INSTANCE.stopped"], timeout: 10s }
            actions:
              start-instance: [script:start-instance]
              stop-instance: [script:stop-instance]
            """;
        await using var c = await AgentCluster.StartAsync(extraAgentConfig: extra);
        var put = await c.Silo.Http.PutAsync("/api/v1/services/ag-api", new System.Net.Http.StringContent(
            "replicas: 2\nversion: \"7.1\"\nresources: {cpuCores: 0.5, memoryBytes: 256Mi}\n", System.Text.Encoding.UTF8, "text/yaml"));
        put.EnsureSuccessStatusCode();
        await c.WaitAsync(() => Task.FromResult(Directory.GetFiles(marks, "*.started").Length == 2), TimeSpan.FromSeconds(60), "both instances were started by the agents' scripts");
        var lines = Directory.GetFiles(marks, "*.started").Select(f => File.ReadAllText(f).Trim()).Order().ToArray();
        Assert.All(lines, l => Assert.StartsWith("ag-api ag-api-", l));
        Assert.All(lines, l => Assert.Contains(" 7.1 service/ag-api/ag-api-", l));

        // Each agent reads the local endpoint and reports the instances on its node (an agent key speaks for its own node only).
        await c.WaitAsync(async () =>
        {
            var s = System.Text.Json.JsonDocument.Parse(await c.Silo.Http.GetStringAsync("/api/v1/services/ag-api")).RootElement;
            return s.GetProperty("instances").EnumerateArray().All(i => i.TryGetProperty("load", out var load) && load.ValueKind == System.Text.Json.JsonValueKind.Object
                && load.GetProperty("requests").GetDouble() == 42);
        }, TimeSpan.FromSeconds(30), "both instances' figures were reported by the agents");
        await stopFigures.CancelAsync();
        await serving;

        (await c.Silo.Http.DeleteAsync("/api/v1/services/ag-api?by=test")).EnsureSuccessStatusCode();
        await c.WaitAsync(() => Task.FromResult(Directory.GetFiles(marks, "*.stopped").Length == 2), TimeSpan.FromSeconds(60), "both instances were stopped by the agents' scripts");
    }
}

public class SlowStartTests
{
    [Fact]
    public async Task SupervisedServerSlowToStart_DegradedWhileItStarts_NoCaseOpened_ThenHealthy()
    {
        // The web server listens only 15 s after the agent starts it (reports waiting while the agent connects expire
        // after 3 s, so a shorter delay could leave none to show): inside the agent's start grace (30s by default) its
        // failing check goes out as starting, so the node shows Degraded and is never restarted for a slow start.
        await using var c = await AgentCluster.StartAsync(webStartDelay: TimeSpan.FromSeconds(15));
        var trail = await c.TrailAsync("host-a");
        Assert.Contains(trail, t => t.Kind == "health-changed" && t.Reason.Contains("Degraded")
            && t.Reason.Contains("check 'web-http' not passing yet while it starts") && t.Reason.Contains("not counted as failed"));
        Assert.DoesNotContain(trail, t => t.Kind is "proposed" or "permitted" or "executed");
        Assert.DoesNotContain(trail, t => t.Kind == "health-changed" && t.Reason.Contains("Unhealthy"));
        Assert.Equal("Healthy", await c.HealthAsync("host-a"));
    }
}
