using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>The main job's demo fleet: simulated nodes report to a real silo process, a fault is injected and healed.</summary>
public class DemoFleetTests
{
    [Fact]
    public async Task DemoFleet_CrashInjected_SiloRestartsItAndTheTrailSaysSo()
    {
        var dir = Repo.TempDir("demo");
        var scenario = Path.Combine(dir, "quick-demo.yaml");
        await File.WriteAllTextAsync(scenario, """
            name: quick-demo
            description: a crash five seconds in
            nodes: 10
            domains: 2
            reportInterval: 1s
            duration: 1h
            faults:
              - kind: crash
                at: 5s
            """);
        await using var silo = await SiloProcess.StartAsync(extraArgs: ["--Fleet:Demo:Enabled=true", $"--Fleet:Demo:Scenario={scenario}"]);

        var until = DateTime.UtcNow.AddSeconds(60);
        JsonElement executed = default;
        while (DateTime.UtcNow < until)
        {
            var page = JsonDocument.Parse(await silo.Http.GetStringAsync("/api/v1/audit?kind=executed&limit=10")).RootElement;
            if (page.GetProperty("records").GetArrayLength() > 0) { executed = page.GetProperty("records")[0].Clone(); break; }
            await Task.Delay(500);
        }
        Assert.True(executed.ValueKind == JsonValueKind.Object, "the demo's crash was acted on within a minute\n" + silo.Log);
        Assert.Equal("restart-services", executed.GetProperty("action").GetString());
        Assert.Contains("simulated restart-services", executed.GetProperty("reason").GetString());

        var nodes = JsonDocument.Parse(await silo.Http.GetStringAsync("/api/v1/nodes")).RootElement;
        Assert.Equal(10, nodes.GetArrayLength());
        var policy = JsonDocument.Parse(await silo.Http.GetStringAsync("/api/v1/policy")).RootElement;
        Assert.Equal("1s", policy.GetProperty("document").GetString()!.Split('\n')[1].Split(':')[1].Trim());
    }

    [Fact]
    public async Task DemoFleet_UnknownScenario_StartRefusedWithClearMessage()
    {
        var (code, _, err) = await Repo.RunAsync("dotnet", [Repo.SiloDll, "--Fleet:Demo:Enabled=true", "--Fleet:Demo:Scenario=no-such-thing",
            "--urls", $"http://127.0.0.1:{Repo.FreePort()}", $"--Fleet:DataDir={Repo.TempDir("demo-bad")}"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Contains("Fleet:Demo:Scenario", err);
        Assert.DoesNotContain("   at ", err);
    }
}
