using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Principals;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Security;

public sealed class ContainmentCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        guardrails:
          fleetMaxConcurrent: 1000
        security:
          minSamples: 24
          confirmReports: 2
          stormShare: 0.3
          stormMinPrincipals: 5
          approvalRequired: ["admin@corp", "root-*"]
        """;
}

/// <summary>
/// Accounts judged against their own history, in process with injected time: an exfiltration is contained and can be
/// released, a nightly backup is not, a fleet-wide shift contains nobody, an approval-required admin is handed to a person.
/// </summary>
public class ContainmentTests(ContainmentCluster f) : IClassFixture<ContainmentCluster>
{
    private const long Mb = 1_000_000;

    private IPrincipalGrain Principal(string id) => f.Client.GetGrain<IPrincipalGrain>(id);

    /// <summary>14 days of hourly reports ending an hour ago: about 120 MB out ± 40 MB, and <paramref name="nightly"/> at 02:00 UTC if given.</summary>
    private async Task HistoryAsync(string id, int seed, long? nightly = null)
    {
        var random = new Random(seed);
        var now = f.Time.GetUtcNow();
        for (var h = 14 * 24; h >= 1; h--)
        {
            var at = now - TimeSpan.FromHours(h);
            var bytes = nightly is { } big && at.UtcDateTime.Hour == 2 ? big + random.Next(0, 200) * Mb : (80 + random.Next(0, 80)) * Mb;
            // While it learns a new nightly job, an early night may look anomalous: one window alone is never contained.
            var outcome = await Principal(id).ReportAsync(Report(id, at, bytes));
            if (outcome == PrincipalReportOutcome.Contained || nightly is null && outcome != PrincipalReportOutcome.Normal)
                Assert.Fail($"history report {h} h ago ({bytes / Mb} MB) was {outcome}: " + string.Join(" | ", (await f.TrailAsync($"principal/{id}")).Select(r => r.Reason)));
        }
    }

    private static PrincipalReport Report(string id, DateTimeOffset at, long bytesOut, int failedLogins = 0) =>
        new(id, at, TimeSpan.FromMinutes(5), bytesOut, 400, 12, 0, 1, failedLogins);

    /// <summary>Starts each test past the previous one's storm window, at a given hour of day.</summary>
    private void FreshWindowAt(int hour)
    {
        f.Time.Advance(TimeSpan.FromMinutes(20));
        var now = f.Time.GetUtcNow();
        var until = now.Date.AddHours(hour) > now ? now.Date.AddHours(hour) : now.Date.AddDays(1).AddHours(hour);
        f.Time.Advance(until - now + TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task Exfiltration_ContainedWithinTwoReports_WithTheEvidence_ThenReleased()
    {
        FreshWindowAt(14);
        await HistoryAsync("exfil@corp", 1);
        var now = f.Time.GetUtcNow();
        Assert.Equal(PrincipalReportOutcome.Anomalous, await Principal("exfil@corp").ReportAsync(Report("exfil@corp", now, 9_400 * Mb)));
        Assert.Equal(PrincipalPhase.Normal, (await Principal("exfil@corp").GetAsync())!.Phase); // one window to confirm
        Assert.Equal(PrincipalReportOutcome.Anomalous, await Principal("exfil@corp").ReportAsync(Report("exfil@corp", now + TimeSpan.FromMinutes(5), 9_100 * Mb)));
        await FleetTestCluster.EventuallyAsync(async () => (await Principal("exfil@corp").GetAsync())!.Phase == PrincipalPhase.Contained, "exfil@corp is contained");

        var action = Assert.Single(f.Actuator.History, a => a.Subject == "principal/exfil@corp");
        Assert.Equal(ContainmentActions.RevokeTokens, action.Action);
        Assert.Equal("exfil@corp", action.Parameters["principal"]);
        var trail = await f.TrailAsync("principal/exfil@corp");
        var observed = trail.Single(r => r.Kind == DecisionKinds.Observed);
        Assert.Matches(@"egress: [\d.]+ GiB in 5 min vs a baseline of [\d.]+ MiB ± [\d.]+ MiB \(median ± MAD, 14 reports at 14:00 UTC over 14 days\)", observed.Reason);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Proposed && r.Action == ContainmentActions.RevokeTokens);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Reason.Contains("containments were in flight"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Executed && r.Reason.StartsWith("Contained principal exfil@corp (revoke-tokens)"));

        // While contained, its reports stay out of its baseline.
        var samples = (await Principal("exfil@corp").GetAsync())!.Samples;
        Assert.Equal(PrincipalReportOutcome.Contained, await Principal("exfil@corp").ReportAsync(Report("exfil@corp", now + TimeSpan.FromMinutes(10), 9_000 * Mb)));
        Assert.Equal(samples, (await Principal("exfil@corp").GetAsync())!.Samples);

        await Principal("exfil@corp").ReleaseAsync("carol", "rotated the credentials; the owner confirmed the upload");
        await FleetTestCluster.EventuallyAsync(async () => (await Principal("exfil@corp").GetAsync())!.Phase == PrincipalPhase.Normal, "exfil@corp is released");
        Assert.Contains(f.Actuator.History, a => a.Subject == "principal/exfil@corp" && a.Action == ContainmentActions.Release);
        trail = await f.TrailAsync("principal/exfil@corp");
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Operator && r.Reason.Contains("Releasing principal exfil@corp at the request of carol: rotated the credentials"));
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Released);
        await Assert.ThrowsAsync<ActionRefusedException>(() => Principal("exfil@corp").ReleaseAsync("carol", "again"));
    }

    [Fact]
    public async Task NightlyBackup_WithinItsOwnHistory_IsNotContained_TheSameBurstAtNoonIs()
    {
        FreshWindowAt(2);
        await HistoryAsync("backup@corp", 2, nightly: 8_000 * Mb);
        var now = f.Time.GetUtcNow();
        Assert.Equal(2, now.UtcDateTime.Hour);
        for (var i = 0; i < 3; i++)
            Assert.Equal(PrincipalReportOutcome.Normal, await Principal("backup@corp").ReportAsync(Report("backup@corp", now + TimeSpan.FromMinutes(5 * i), 8_100 * Mb)));
        Assert.DoesNotContain(f.Actuator.History, a => a.Subject == "principal/backup@corp");

        // The same burst twelve hours later is not what this account does at noon.
        var noon = now + TimeSpan.FromHours(12);
        Assert.Equal(PrincipalReportOutcome.Anomalous, await Principal("backup@corp").ReportAsync(Report("backup@corp", noon, 8_100 * Mb)));
        Assert.Contains("reports at 14:00 UTC", (await f.TrailAsync("principal/backup@corp")).Last(r => r.Kind == DecisionKinds.Observed).Reason);
    }

    [Fact]
    public async Task FleetWideShift_IsAStorm_NobodyIsContained()
    {
        FreshWindowAt(15);
        var ids = Enumerable.Range(0, 10).Select(i => $"shift-{i}@corp").ToArray();
        for (var i = 0; i < ids.Length; i++) await HistoryAsync(ids[i], 10 + i);
        var now = f.Time.GetUtcNow();
        // A release doubles... tenfolds everyone's egress: two windows of it.
        foreach (var round in new[] { 0, 1 })
            foreach (var id in ids)
                Assert.Equal(PrincipalReportOutcome.Anomalous, await Principal(id).ReportAsync(Report(id, now + TimeSpan.FromMinutes(5 * round), 3_000 * Mb)));
        await Task.Delay(200);
        Assert.DoesNotContain(f.Actuator.History, a => ids.Any(id => a.Subject == $"principal/{id}"));
        foreach (var id in ids)
        {
            Assert.Equal(PrincipalPhase.Normal, (await Principal(id).GetAsync())!.Phase);
            var storm = Assert.Single(await f.TrailAsync($"principal/{id}"), r => r.Kind == DecisionKinds.Escalated);
            Assert.Equal(Guardrails.SecurityStorm, storm.Guardrail);
            Assert.Contains("a fleet-wide shift", storm.Reason);
        }
    }

    [Fact]
    public async Task ApprovalRequiredAdmin_WaitsForAPersonsApproval_ThenIsContainedOnceApproved()
    {
        FreshWindowAt(16);
        await HistoryAsync("admin@corp", 3);
        var now = f.Time.GetUtcNow();
        for (var i = 0; i < 3; i++)
            await Principal("admin@corp").ReportAsync(Report("admin@corp", now + TimeSpan.FromMinutes(5 * i), 200 * Mb, failedLogins: 400));
        Assert.DoesNotContain(f.Actuator.History, a => a.Subject == "principal/admin@corp");
        Assert.True((await Principal("admin@corp").GetAsync())!.ApprovalRequired);
        var trail = await f.TrailAsync("principal/admin@corp");
        var waiting = Assert.Single(trail, r => r.Kind == DecisionKinds.AwaitingApproval);
        Assert.Contains("the subject asks for a person", waiting.Reason);
        Assert.Contains("failed logins: 400 in 5 min", waiting.Reason);
        Assert.Single(trail, r => r.Kind == DecisionKinds.Denied && r.Guardrail == Guardrails.Approval);

        // A person approves it (as `fleet approvals approve` does); the next anomalous report contains it.
        var oversight = f.Client.GetGrain<IOversightGrain>(FleetNames.Default);
        var approval = Assert.Single(await oversight.ListApprovalsAsync(false), a => a.Subject == "principal/admin@corp");
        await oversight.ApproveAsync(approval.Id, "dave", "the account is compromised");
        await Principal("admin@corp").ReportAsync(Report("admin@corp", now + TimeSpan.FromMinutes(15), 200 * Mb, failedLogins: 400));
        await FleetTestCluster.EventuallyAsync(async () => (await Principal("admin@corp").GetAsync())!.Phase == PrincipalPhase.Contained, "admin@corp is contained once approved");
        Assert.Single(f.Actuator.History, a => a.Subject == "principal/admin@corp");
    }

    [Fact]
    public async Task FleetWideShadowMode_HoldsContainment_AndRecordsWhatItWouldHaveDone()
    {
        FreshWindowAt(18);
        await HistoryAsync("shadowed@corp", 4);
        var oversight = f.Client.GetGrain<IOversightGrain>(FleetNames.Default);
        await oversight.SetShadowAsync(true, null, null, "test", "a trial of the new policy");
        try
        {
            var now = f.Time.GetUtcNow();
            for (var i = 0; i < 3; i++)
                await Principal("shadowed@corp").ReportAsync(Report("shadowed@corp", now + TimeSpan.FromMinutes(5 * i), 9_000 * Mb));
            Assert.DoesNotContain(f.Actuator.History, a => a.Subject == "principal/shadowed@corp");
            Assert.Equal(PrincipalPhase.Normal, (await Principal("shadowed@corp").GetAsync())!.Phase);
            var shadowed = Assert.Single(await f.TrailAsync("principal/shadowed@corp"), r => r.Kind == DecisionKinds.Shadowed);
            Assert.Contains("would contain principal shadowed@corp (revoke-tokens) and did nothing", shadowed.Reason);
            Assert.Contains("would have been permitted", shadowed.Reason);
        }
        finally
        {
            await oversight.SetShadowAsync(false, null, null, "test", "trial over");
        }
    }

    [Fact]
    public async Task FailedContainment_IsTriedAgainOnTheNextAnomalousReport_AsANewAction()
    {
        FreshWindowAt(18);
        await HistoryAsync("retry@corp", 4);
        var failures = 0;
        f.Actuator.Behaviour = r => r.Subject == "principal/retry@corp" && r.Action == ContainmentActions.RevokeTokens && Interlocked.Increment(ref failures) == 1
            ? new Fleet.Grains.Actuators.ActuatorResult(false, "webhook refused the action with 400") : null;
        try
        {
            var now = f.Time.GetUtcNow();
            for (var i = 0; i < 2; i++) await Principal("retry@corp").ReportAsync(Report("retry@corp", now + TimeSpan.FromMinutes(5 * i), 9_000 * Mb));
            await FleetTestCluster.EventuallyAsync(async () => (await f.TrailAsync("principal/retry@corp")).Any(r => r.Kind == DecisionKinds.Failed), "the first containment failed");
            Assert.Equal(PrincipalPhase.Normal, (await Principal("retry@corp").GetAsync())!.Phase);

            await Principal("retry@corp").ReportAsync(Report("retry@corp", now + TimeSpan.FromMinutes(10), 9_000 * Mb));
            await FleetTestCluster.EventuallyAsync(async () => (await Principal("retry@corp").GetAsync())!.Phase == PrincipalPhase.Contained, "the second attempt contained it");
            var done = Assert.Single(f.Actuator.History, a => a.Subject == "principal/retry@corp");
            Assert.EndsWith("contain-1.1/revoke-tokens", done.IdempotencyKey);
            Assert.Equal(2, failures);
        }
        finally
        {
            f.Actuator.Behaviour = null;
        }
    }

    [Fact]
    public async Task TooLittleHistory_IsNotJudged()
    {
        FreshWindowAt(17);
        var now = f.Time.GetUtcNow();
        for (var i = 0; i < 5; i++) await Principal("new@corp").ReportAsync(Report("new@corp", now - TimeSpan.FromHours(5 - i), 100 * Mb));
        Assert.Equal(PrincipalReportOutcome.Normal, await Principal("new@corp").ReportAsync(Report("new@corp", now, 50_000 * Mb)));
    }
}
