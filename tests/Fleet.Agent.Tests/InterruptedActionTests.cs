using Fleet.Silo.Tests;

namespace Fleet.Agent.Tests;

/// <summary>
/// An action interrupted between the agent's answer and the ledger's write: the silo is SIGKILLed while a real agent runs
/// it. The agent finishes and keeps the key in its journal; the restarted silo's node carries its case on with the same key,
/// asks the agent what became of it, and takes the answer — the action ran once.
/// </summary>
public class InterruptedActionTests
{
    [Fact]
    public async Task SiloKilledWhileTheAgentRunsAnAction_AfterRestartTheCaseGoesOn_AndTheActionRanOnce()
    {
        var marks = Repo.TempDir("interrupted");
        var log = Path.Combine(marks, "fix.log");
        const string policy = AgentCluster.FastPolicy + """

              ladder:
                - action: fix-web
                  verifyWindow: 10s
                - action: human
            """;
        var extra = $$"""
            scripts:
              - { name: fix-web, command: /bin/sh, args: ["-c", "echo start >> {{log}}; sleep 4; echo ran >> {{log}}"], timeout: 30s }
            actions:
              fix-web: [script:fix-web]
            """;
        await using var c = await AgentCluster.StartAsync(policy, extra);
        var mark = await c.TrailMarkAsync("host-a");
        Repo.Signal(c.A.WebPid()!.Value, Repo.SigKill);

        // The agent has begun the action: the silo that asked for it dies before it hears the answer.
        await c.WaitAsync(() => Task.FromResult(File.Exists(log) && File.ReadAllText(log).Contains("start")), TimeSpan.FromSeconds(60), "the agent began fix-web");
        await c.Silo.KillAsync();
        await c.WaitAsync(() => Task.FromResult(File.ReadAllText(log).Contains("ran")), TimeSpan.FromSeconds(30), "the agent finished fix-web with its silo gone");

        await c.RestartSiloAsync();
        List<(string Kind, string Reason)> trail = [];
        await c.WaitAsync(async () => (trail = await c.TrailAsync("host-a", mark)).Any(t => t.Kind == "executed"),
            TimeSpan.FromSeconds(90), "the restarted silo's node carried its case on to the action's outcome");
        Assert.Contains(trail, t => t.Kind == "observed" && t.Reason.Contains("Resumed"));
        var outcome = Assert.Single(trail, t => t.Kind == "executed");
        Assert.Contains("not run again", outcome.Reason);

        // Once at the agent: one start, one end, and no second run while the case goes on.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(["start", "ran"], File.ReadAllLines(log));
    }
}
