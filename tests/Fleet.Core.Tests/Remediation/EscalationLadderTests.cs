using Fleet.Abstractions.Policy;
using Fleet.Core.Remediation;

namespace Fleet.Core.Tests.Remediation;

public class EscalationLadderTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly RemediationPolicy Policy = FleetPolicy.Default.Remediation;

    [Fact]
    public void FirstStep_NoHistory_Zero() => Assert.Equal(0, EscalationLadder.FirstStep(RemediationHistory.Empty, T0, Policy));

    [Fact]
    public void FirstStep_WithinFlapWindow_OneHigher()
    {
        var h = EscalationLadder.RecordClose(RemediationHistory.Empty, 1, T0);
        Assert.Equal(2, EscalationLadder.FirstStep(h, T0.AddMinutes(30), Policy));
        Assert.Equal(0, EscalationLadder.FirstStep(h, T0.AddHours(2), Policy));
    }

    [Fact]
    public void FirstStep_NeverPastTheTop()
    {
        var h = EscalationLadder.RecordClose(RemediationHistory.Empty, Policy.Ladder.Length - 1, T0);
        Assert.Equal(Policy.Ladder.Length - 1, EscalationLadder.FirstStep(h, T0.AddMinutes(1), Policy));
        Assert.True(EscalationLadder.IsHuman(Policy, Policy.Ladder.Length - 1));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(4, 8)]
    [InlineData(7, 30)] // capped at maxCooldown
    public void CurrentCooldown_BacksOffExponentially(int actions, int expectedMinutes)
    {
        var h = RemediationHistory.Empty;
        for (var i = 0; i < actions; i++) h = EscalationLadder.RecordAction(h, T0.AddSeconds(i), Policy);
        Assert.Equal(TimeSpan.FromMinutes(expectedMinutes), EscalationLadder.CurrentCooldown(h, T0.AddSeconds(actions), Policy));
    }

    [Fact]
    public void NextAllowedAt_InsideCooldown_ReturnsEnd_AfterIt_Null()
    {
        var h = EscalationLadder.RecordAction(RemediationHistory.Empty, T0, Policy);
        Assert.Equal(T0.AddMinutes(1), EscalationLadder.NextAllowedAt(h, T0.AddSeconds(30), Policy));
        Assert.Null(EscalationLadder.NextAllowedAt(h, T0.AddMinutes(1), Policy));
    }

    [Fact]
    public void RecordAction_DropsActionsOutsideFlapWindow()
    {
        var h = EscalationLadder.RecordAction(RemediationHistory.Empty, T0, Policy);
        h = EscalationLadder.RecordAction(h, T0.AddHours(2), Policy);
        Assert.Single(h.RecentActions);
    }
}
