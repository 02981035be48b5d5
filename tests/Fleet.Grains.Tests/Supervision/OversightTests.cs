using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Supervision;

public sealed class OversightCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        oversight:
          shadow:
            domains: [d-shadow]
          approvals:
            actions: [reboot]
            timeout: 5m
            onTimeout: reject
        remediation:
          ladder:
            - {action: reboot, verifyWindow: 2m}
            - {action: human}
        """;
}

/// <summary>Shadow mode and approvals on an in-process silo with injected time, through the node loop.</summary>
public class OversightTests(OversightCluster f) : IClassFixture<OversightCluster>
{
    private IOversightGrain Oversight => f.Client.GetGrain<IOversightGrain>(FleetNames.Default);

    /// <summary>The node fails its check at every report while the clock moves, until the condition holds.</summary>
    private Task FailingUntilAsync(string node, Func<Task<bool>> condition, string what, TimeSpan within) =>
        f.AdvanceUntilAsync(condition, what, within, TimeSpan.FromSeconds(10), async () => await f.ReportAsync(node, healthy: false));

    [Fact]
    public async Task ShadowedDomain_RecordsTheWouldHaveDecisionOnce_HoldsNoLease_RunsNothing()
    {
        await f.RegisterAsync("sh-1", "d-shadow");
        await FailingUntilAsync("sh-1", async () => (await f.TrailAsync("node/sh-1")).Any(r => r.Kind == DecisionKinds.Shadowed), "the reboot was shadowed", TimeSpan.FromMinutes(2));
        // Many more passes: still one shadowed record, no lease, no action.
        await f.AdvanceAsync(TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("sh-1", healthy: false));
        var trail = await f.TrailAsync("node/sh-1");
        var shadowed = Assert.Single(trail, r => r.Kind == DecisionKinds.Shadowed);
        Assert.Contains("Shadow mode (oversight.shadow.domains (d-shadow)): would reboot node sh-1", shadowed.Reason);
        Assert.Contains("would have been permitted: d-shadow had 0 of 1 action slots in use", shadowed.Reason);
        Assert.Equal(ActionNames.Reboot, shadowed.Action);
        Assert.DoesNotContain(trail, r => r.Kind is DecisionKinds.Permitted or DecisionKinds.Executed);
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "sh-1");
        Assert.Empty((await f.Client.GetGrain<IDomainSupervisorGrain>("d-shadow").GetStatusAsync()).Leases);
        Assert.Equal("AwaitingLease", (await f.Node("sh-1").GetStatusAsync())!.Remediation!.Phase);
    }

    [Fact]
    public async Task ShadowSwitch_OnThenOff_TheActionRunsOnlyOnceItIsOff()
    {
        await f.RegisterAsync("sw-1", "d-switch");
        var on = await Oversight.SetShadowAsync(true, "d-switch", null, "carol", "trying the new ladder");
        Assert.Contains(on.Switches, s => s.Scope == "domain/d-switch" && s.By == "carol");
        await FailingUntilAsync("sw-1", async () => (await f.TrailAsync("node/sw-1")).Any(r => r.Kind == DecisionKinds.Shadowed), "the reboot was shadowed", TimeSpan.FromMinutes(2));
        Assert.Contains("fleet shadow on domain/d-switch by carol: trying the new ladder", (await f.TrailAsync("node/sw-1")).Single(r => r.Kind == DecisionKinds.Shadowed).Reason);
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "sw-1");

        await Oversight.SetShadowAsync(false, "d-switch", null, "carol", "trial over");
        // reboot needs an approval here: the case now asks for one (no lease while it waits), and runs once approved.
        await FailingUntilAsync("sw-1", async () => (await Oversight.ListApprovalsAsync(false)).Any(a => a.Subject == "node/sw-1"), "an approval was asked", TimeSpan.FromMinutes(2));
        Assert.Empty((await f.Client.GetGrain<IDomainSupervisorGrain>("d-switch").GetStatusAsync()).Leases);
        var approval = (await Oversight.ListApprovalsAsync(false)).Single(a => a.Subject == "node/sw-1");
        Assert.Equal(ActionNames.Reboot, approval.Action);
        Assert.Contains("check 'http' failed", approval.Why);
        var decided = await Oversight.ApproveAsync(approval.Id, "dave", "checked the rack");
        Assert.Equal(ApprovalStatus.Approved, decided.Status);
        await FailingUntilAsync("sw-1", () => Task.FromResult(f.Actuator.History.Any(a => a.Target == "sw-1" && a.Action == ActionNames.Reboot)), "the reboot ran", TimeSpan.FromMinutes(1));
        await Assert.ThrowsAsync<ActionRefusedException>(() => Oversight.RejectAsync(approval.Id, "erin", "too late"));
        await Assert.ThrowsAsync<ApprovalNotFoundException>(() => Oversight.ApproveAsync("ap-nope", "erin", null));

        var trail = await f.TrailAsync("node/sw-1");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.AwaitingApproval && r.Reason.Contains(approval.Id) && r.Reason.Contains("holds no lease while it waits"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Approved && r.Reason.Contains("at the request of dave: checked the rack"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Action == ActionNames.Reboot);
        Assert.Contains(await f.TrailAsync("fleet/default"), r => r.Kind == DecisionKinds.Operator && r.Reason.Contains("Shadow mode off for domain d-switch at the request of carol: trial over"));
    }

    [Fact]
    public async Task AnApprovalWhoseNodeRecovers_IsWithdrawn_AndCannotBeApprovedAfterwards()
    {
        await f.RegisterAsync("wd-1", "d-withdraw");
        await FailingUntilAsync("wd-1", async () => (await Oversight.ListApprovalsAsync(false)).Any(a => a.Subject == "node/wd-1"), "an approval was asked", TimeSpan.FromMinutes(2));
        var asked = (await Oversight.ListApprovalsAsync(false)).Single(a => a.Subject == "node/wd-1");
        await f.AdvanceUntilAsync(async () => (await Oversight.ListApprovalsAsync(true)).Single(a => a.Id == asked.Id).Status == ApprovalStatus.Withdrawn,
            "the approval was withdrawn", TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("wd-1"));
        var refused = await Assert.ThrowsAsync<ActionRefusedException>(() => Oversight.ApproveAsync(asked.Id, "dave", null));
        Assert.Contains("was withdrawn", refused.Message);
        Assert.Contains(await f.TrailAsync("node/wd-1"), r => r.Reason.Contains($"Withdrew approval {asked.Id}") && r.Reason.Contains("recovered on its own"));
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "wd-1");
    }

    [Fact]
    public async Task AnApprovalNoOneDecides_TakesThePolicyDefaultOnTimeout_AndTheCaseGoesToAPerson()
    {
        await f.RegisterAsync("to-1", "d-timeout");
        await FailingUntilAsync("to-1", async () => (await Oversight.ListApprovalsAsync(false)).Any(a => a.Subject == "node/to-1"), "an approval was asked", TimeSpan.FromMinutes(2));
        var asked = (await Oversight.ListApprovalsAsync(false)).Single(a => a.Subject == "node/to-1");
        Assert.Equal("reject", asked.OnTimeout);
        await FailingUntilAsync("to-1", async () => (await f.Node("to-1").GetStatusAsync())!.Remediation?.Phase == "HandedToHuman", "the case went to a person", TimeSpan.FromMinutes(8));
        var decided = (await Oversight.ListApprovalsAsync(true)).Single(a => a.Id == asked.Id);
        Assert.Equal(ApprovalStatus.Rejected, decided.Status);
        Assert.Equal("timeout", decided.DecidedBy);
        Assert.True(decided.DecidedAt >= asked.ExpiresAt);
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "to-1");
        var trail = await f.TrailAsync("node/to-1");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Rejected && r.Reason.Contains("on timeout") && r.Reason.Contains("oversight.approvals.onTimeout: reject"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.HandedToHuman && r.Guardrail == Guardrails.ApprovalRejected);
    }
}

/// <summary>The other default: an approval no one decides is approved when its time is up.</summary>
public sealed class OversightApproveCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        oversight:
          approvals:
            actions: [reboot]
            timeout: 5m
            onTimeout: approve
        remediation:
          ladder:
            - {action: reboot, verifyWindow: 2m}
            - {action: human}
        """;
}

public class OversightApproveOnTimeoutTests(OversightApproveCluster f) : IClassFixture<OversightApproveCluster>
{
    [Fact]
    public async Task AnApprovalNoOneDecides_IsApprovedOnTimeout_WhenThePolicySaysSo_AndTheActionRuns()
    {
        var oversight = f.Client.GetGrain<IOversightGrain>(FleetNames.Default);
        await f.RegisterAsync("ta-1", "d-approve");
        await f.AdvanceUntilAsync(async () => (await oversight.ListApprovalsAsync(false)).Any(a => a.Subject == "node/ta-1"), "an approval was asked",
            TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("ta-1", healthy: false));
        var asked = (await oversight.ListApprovalsAsync(false)).Single(a => a.Subject == "node/ta-1");
        Assert.Equal("approve", asked.OnTimeout);
        Assert.DoesNotContain(f.Actuator.History, a => a.Target == "ta-1"); // nothing runs while it waits
        await f.AdvanceUntilAsync(async () => f.Actuator.History.Any(a => a.Target == "ta-1" && a.Action == "reboot"), "the reboot ran once approved on timeout",
            TimeSpan.FromMinutes(8), TimeSpan.FromSeconds(10), async () => await f.ReportAsync("ta-1", healthy: false));
        var decided = (await oversight.ListApprovalsAsync(true)).Single(a => a.Id == asked.Id);
        Assert.Equal(ApprovalStatus.Approved, decided.Status);
        Assert.Equal("timeout", decided.DecidedBy);
        Assert.True(decided.DecidedAt >= asked.ExpiresAt);
        // Read until both show (on a loaded machine the trail's reader may run before the last append has landed); a failure lists the trail.
        IReadOnlyList<DecisionRecord> trail = [];
        for (var tries = 0; tries < 50; tries++)
        {
            trail = await f.TrailAsync("node/ta-1");
            if (trail.Any(r => r.Kind == DecisionKinds.Approved) && trail.Any(r => r.Kind == DecisionKinds.Executed && r.Action == "reboot")) break;
            await Task.Delay(100);
        }
        var said = string.Join("\n", trail.Select(r => $"{r.Time:HH:mm:ss} {r.Actor} {r.Kind}: {r.Reason}"));
        Assert.True(trail.Any(r => r.Kind == DecisionKinds.Approved && r.Reason.Contains("on timeout") && r.Reason.Contains("oversight.approvals.onTimeout: approve")), said);
        Assert.True(trail.Any(r => r.Kind == DecisionKinds.Executed && r.Action == "reboot"), said);
    }
}
