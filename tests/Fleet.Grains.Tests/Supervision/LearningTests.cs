using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Supervision;

public sealed class LearningCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        guardrails:
          maxConcurrentPerDomain: 5
        remediation:
          cooldown: 0s
          ladder:
            - {action: restart-services, verifyWindow: 1m}
            - {action: reboot, verifyWindow: 1m}
            - {action: human}
        learning:
          skipRungAfter: "2 failures of 2"
        """;
}

/// <summary>The ladder learns from outcomes through the node loop: a rung that failed on this symptom twice is skipped by the next case, and says why.</summary>
public class LearningTests(LearningCluster f) : IClassFixture<LearningCluster>
{
    [Fact]
    public async Task ARungThatFailedTwiceOnASymptom_IsSkippedByTheNextCase_WithTheFigures()
    {
        f.Actuator.Behaviour = r => r.Action == ActionNames.RestartServices ? new Fleet.Grains.Actuators.ActuatorResult(false, "the service manager did not answer") : null;
        try
        {
            foreach (var node in new[] { "lr-1", "lr-2" })
            {
                await f.RegisterAsync(node, "d-learn");
                await f.AdvanceUntilAsync(async () => (await f.TrailAsync($"node/{node}")).Any(r => r.Kind == DecisionKinds.Failed && r.Action == ActionNames.RestartServices),
                    $"restart-services failed on {node}", TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(10), async () => await f.ReportAsync(node, healthy: false));
            }
            await FleetTestCluster.EventuallyAsync(async () => (await f.Client.GetGrain<ILearningGrain>(FleetNames.Default).GetTableAsync())
                .Any(r => r.Action == ActionNames.RestartServices && r.Failures >= 2), "the two failures were learned");
            var row = (await f.Client.GetGrain<ILearningGrain>(FleetNames.Default).GetTableAsync()).Single(r => r.Action == ActionNames.RestartServices);
            Assert.Equal("node:CheckFailed(http)", row.Signature); // the subject's kind and the failing check's name
            Assert.Equal(0, row.Successes);

            f.Time.Advance(TimeSpan.FromSeconds(10)); // the silo's copy of the table is read again
            await f.RegisterAsync("lr-3", "d-learn");
            await f.AdvanceUntilAsync(async () => (await f.TrailAsync("node/lr-3")).Any(r => r.Kind == DecisionKinds.Proposed),
                "lr-3's case opened", TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("lr-3", healthy: false));
            var trail = await f.TrailAsync("node/lr-3");
            var skipped = Assert.Single(trail, r => r.Kind == DecisionKinds.Escalated && r.PolicyRule == "learning.skipRungAfter");
            Assert.Contains("Skipped restart-services for node lr-3: restart-services failed 2 of its last 2 tries on the symptom node:CheckFailed(http)", skipped.Reason);
            Assert.Equal(ActionNames.Reboot, trail.First(r => r.Kind == DecisionKinds.Proposed).Action);
            Assert.DoesNotContain(f.Actuator.History, a => a.Target == "lr-3" && a.Action == ActionNames.RestartServices);
        }
        finally
        {
            f.Actuator.Behaviour = null;
        }
    }
}
