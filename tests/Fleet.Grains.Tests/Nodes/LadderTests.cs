using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;

namespace Fleet.Grains.Tests.Nodes;

public sealed class ShortLadderCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        remediation:
          ladder:
            - action: restart-services
              verifyWindow: 30s
            - action: reboot
              verifyWindow: 30s
            - action: human
          cooldown: 0s
        guardrails:
          fleetMaxConcurrent: 1000
        """;
}

public class LadderTests(ShortLadderCluster f) : IClassFixture<ShortLadderCluster>
{
    [Fact]
    public async Task SymptomPersists_ClimbsEveryRung_ThenHandsToHuman_UncordonClosesIt()
    {
        await f.RegisterAsync("stuck-1", "d-stuck");
        for (var i = 0; i < 3; i++) await f.ReportAsync("stuck-1", healthy: false);
        await f.AdvanceAsync(TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(5), async () => await f.ReportAsync("stuck-1", healthy: false));

        var status = await f.Node("stuck-1").GetStatusAsync();
        Assert.Equal("HandedToHuman", status!.Remediation!.Phase);
        Assert.Equal([ActionNames.RestartServices, ActionNames.Reboot], f.Actuator.History.Where(a => a.Target == "stuck-1").Select(a => a.Action).ToArray());

        var trail = await f.TrailAsync("node/stuck-1");
        NodeLoopTests.AssertInOrder(trail.Select(r => r.Kind).ToList(),
            DecisionKinds.Proposed, DecisionKinds.Permitted, DecisionKinds.Executed, DecisionKinds.Failed, DecisionKinds.Escalated,
            DecisionKinds.Permitted, DecisionKinds.Executed, DecisionKinds.Failed, DecisionKinds.HandedToHuman);
        Assert.Contains("persisted past the verify window", trail.First(r => r.Kind == DecisionKinds.Failed).Reason);
        Assert.Contains("Handed node stuck-1 to a human", trail.Single(r => r.Kind == DecisionKinds.HandedToHuman).Reason);

        // Still failing: no further automatic action while a person owns it.
        await f.AdvanceAsync(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("stuck-1", healthy: false));
        Assert.Equal(2, f.Actuator.History.Count(a => a.Target == "stuck-1"));

        await f.Node("stuck-1").UncordonAsync("bob", "replaced the disk by hand");
        Assert.Null((await f.Node("stuck-1").GetStatusAsync())!.Remediation);
        Assert.Contains(await f.TrailAsync("node/stuck-1"), r => r.Outcome == "resolved-by-human" && r.Reason.Contains("bob"));
    }

    [Fact]
    public async Task ActuatorRefuses_Failed_EscalatesToNextRung()
    {
        f.Actuator.Behaviour = r => r.Target == "refuse-1" && r.Action == ActionNames.RestartServices
            ? new Fleet.Grains.Actuators.ActuatorResult(false, "agent refused: no such service") : null;
        try
        {
            await f.RegisterAsync("refuse-1", "d-refuse");
            for (var i = 0; i < 3; i++) await f.ReportAsync("refuse-1", healthy: false);
            await FleetTestCluster.EventuallyAsync(async () => (await f.TrailAsync("node/refuse-1")).Any(r => r.Kind == DecisionKinds.Escalated), "the failure escalated");
            await f.ReportAsync("refuse-1", healthy: false);
            await FleetTestCluster.EventuallyAsync(() => Task.FromResult(f.Actuator.History.Any(a => a.Target == "refuse-1" && a.Action == ActionNames.Reboot)), "the reboot ran");
            var failed = (await f.TrailAsync("node/refuse-1")).First(r => r.Kind == DecisionKinds.Failed);
            Assert.Contains("no such service", failed.Reason);
        }
        finally
        {
            f.Actuator.Behaviour = null;
        }
    }
}
