using Fleet.Silo.Tests;

namespace Fleet.Agent.Tests;

/// <summary>
/// An action interrupted between the agent's answer and the ledger's write: the silo is SIGKILLed while a real agent runs
/// it, and started again. The node's case goes on with the same key; the action runs once at the agent either way — asked
/// about when it had finished (the agent's journal answers: nothing is sent again), or joined when it still runs.
/// </summary>
public class InterruptedActionTests
{
    private const string Policy = AgentCluster.FastPolicy + """

          ladder:
            - action: fix-web
              verifyWindow: 10s
            - action: human
        """;

    private static async Task<(AgentCluster Cluster, string Log, int Mark)> StartAsync(int seconds)
    {
        var log = Path.Combine(Repo.TempDir("interrupted"), "fix.log");
        var extra = $$"""
            scripts:
              - { name: fix-web, command: /bin/sh, args: ["-c", "echo start >> {{log}}; sleep {{seconds}}; echo ran >> {{log}}"], timeout: 60s }
            actions:
              fix-web: [script:fix-web]
            """;
        var c = await AgentCluster.StartAsync(Policy, extra);
        var mark = await c.TrailMarkAsync("host-a");
        Repo.Signal(c.A.WebPid()!.Value, Repo.SigKill);
        // The agent has begun the action: the silo that asked for it dies before it hears the answer.
        await c.WaitAsync(() => Task.FromResult(File.Exists(log) && File.ReadAllText(log).Contains("start")), TimeSpan.FromSeconds(60), "the agent began fix-web");
        await c.Silo.KillAsync();
        return (c, log, mark);
    }

    private static async Task<List<(string Kind, string Reason)>> OutcomeAsync(AgentCluster c, int mark)
    {
        List<(string Kind, string Reason)> trail = [];
        await c.WaitAsync(async () => (trail = await c.TrailAsync("host-a", mark)).Any(t => t.Kind is "executed" or "failed"),
            TimeSpan.FromSeconds(90), "the restarted silo's node carried its case on to the action's outcome");
        Assert.Contains(trail, t => t.Kind == "observed" && t.Reason.Contains("Resumed"));
        return trail;
    }

    [Fact]
    public async Task SiloKilledWhileTheAgentRunsAnAction_ItFinishesFirst_TheRestartedSiloAsksTheAgent_AndSendsNothingAgain()
    {
        var (c, log, mark) = await StartAsync(seconds: 4);
        await using var _ = c;
        await c.WaitAsync(() => Task.FromResult(File.ReadAllText(log).Contains("ran")), TimeSpan.FromSeconds(30), "the agent finished fix-web with its silo gone");

        await c.RestartSiloAsync();
        var trail = await OutcomeAsync(c, mark);
        var outcome = Assert.Single(trail, t => t.Kind is "executed" or "failed");
        Assert.Equal("executed", outcome.Kind);
        Assert.Contains("not run again", outcome.Reason);
        // Asked, not sent: a copy sent again would have been answered as a replay and reported as one.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(await c.TrailAsync("host-a", mark), t => t.Reason.Contains("did not run fix-web again"));
        Assert.Equal(["start", "ran"], File.ReadAllLines(log));
    }

    [Fact]
    public async Task SiloKilledWhileTheAgentRunsAnAction_BackWhileItStillRuns_TheCaseWaitsForItsOutcome_NotAFailure()
    {
        var (c, log, mark) = await StartAsync(seconds: 15);
        await using var _ = c;
        await c.RestartSiloAsync();
        Assert.DoesNotContain("ran", File.ReadAllText(log)); // back before the script ended

        var trail = await OutcomeAsync(c, mark);
        var outcome = Assert.Single(trail, t => t.Kind is "executed" or "failed");
        Assert.True(outcome.Kind == "executed", outcome.Reason);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(["start", "ran"], File.ReadAllLines(log));
    }
}
