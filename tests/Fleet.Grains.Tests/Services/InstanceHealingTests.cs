using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;

namespace Fleet.Grains.Tests.Services;

public sealed class HealingCluster : FleetTestCluster
{
    protected override string PolicyYaml => """
        guardrails:
          fleetMaxConcurrent: 1000
          maxConcurrentPerDomain: 5
        services:
          reconcileInterval: 2s
          healing:
            restartsBeforeReplace: 2
            backoff: 15s
            verifyWindow: 10s
            stableAfter: 20s
        """;
}

/// <summary>
/// An instance that crashes on a node that is fine is healed through the one case machine (restart in place, then replace),
/// under a lease, with its reports ordered; shadow mode holds it. Real grains on an in-process silo, the simulated actuator.
/// </summary>
public class InstanceHealingTests(HealingCluster f) : IClassFixture<HealingCluster>
{
    private readonly Dictionary<string, long> _sequences = [];

    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);

    private async Task<ServiceStatus> StartAsync(string name, params (string Id, string Domain)[] nodes)
    {
        foreach (var (id, domain) in nodes)
        {
            await f.RegisterAsync(id, domain);
            await f.ReportAsync(id);
        }
        await Service(name).ApplyAsync(ServiceTests.Spec(name, 2), "test");
        ServiceStatus? s = null;
        await FleetTestCluster.EventuallyAsync(async () => (s = await Service(name).GetAsync())!.Running == 2, $"2 instances of {name} run");
        return s!;
    }

    private Task<InstanceReportOutcome> ReportAsync(ServiceInstance i, bool healthy, long? sequence = null)
    {
        var seq = sequence ?? (_sequences[i.Id] = _sequences.GetValueOrDefault(i.Id) + 1);
        return Service(i.Id[..i.Id.LastIndexOf('-')]).ReportAsync(new InstanceReport(i.Id[..i.Id.LastIndexOf('-')], i.Id, i.Version, 10, healthy ? 0 : 9, 5, 20, FleetTestCluster.Gi, healthy, 5, f.Time.GetUtcNow())
        {
            Sequence = seq, Ttl = TimeSpan.FromSeconds(30),
        });
    }

    private IEnumerable<ActionRequest> Ran(string action, string instance) =>
        f.Actuator.History.Where(r => r.Action == action && r.Parameters.GetValueOrDefault("instance") == instance);

    [Fact]
    public async Task AnInstanceCrashOnAHealthyNode_IsRestartedInPlace_VerifiedByItsNextReport_AndAReplayedReportIsStale()
    {
        var nodes = new[] { ("hl-1", "d-hl-a"), ("hl-2", "d-hl-b") };
        var started = await StartAsync("hl-api", nodes);
        var sick = started.Instances[0];
        Assert.Equal(InstanceReportOutcome.Accepted, await ReportAsync(sick, healthy: false));

        await f.AdvanceUntilAsync(() => Task.FromResult(Ran(ActionNames.RestartInstance, sick.Id).Any()), "the instance was restarted in place", TimeSpan.FromSeconds(30),
            TimeSpan.FromSeconds(1), async () => { foreach (var (n, _) in nodes) await f.ReportAsync(n); });
        var restart = Ran(ActionNames.RestartInstance, sick.Id).Single();
        Assert.Equal(sick.Node, restart.Target);
        Assert.Equal("service/hl-api", restart.Subject);
        Assert.NotNull(restart.LeaseId); // under a lease, like every disruptive action

        // Its next report says healthy: the restart is verified, on the same node, under the same id; nothing was replaced.
        await f.AdvanceUntilAsync(async () =>
        {
            await ReportAsync(sick, healthy: true);
            return (await f.TrailAsync("service/hl-api")).Any(r => r.Kind == DecisionKinds.Verified && r.Action == ActionNames.RestartInstance);
        }, "the restart was verified", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), async () => { foreach (var (n, _) in nodes) await f.ReportAsync(n); });
        var after = (await Service("hl-api").GetAsync())!;
        var healed = after.Instances.Single(i => i.Id == sick.Id);
        Assert.Equal((InstanceState.Running, sick.Node, true), (healed.State, healed.Node, healed.Healthy));
        Assert.Equal(2, after.Up);
        Assert.Empty(Ran(ActionNames.StopInstance, sick.Id));
        var trail = await f.TrailAsync("service/hl-api");
        var proposed = trail.Single(r => r.Kind == DecisionKinds.Proposed);
        Assert.StartsWith($"Proposed restart-instance for instance {sick.Id} of service hl-api: it reports unhealthy on node {sick.Node}", proposed.Reason);
        Assert.NotNull(proposed.CaseId);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Action == ActionNames.RestartInstance && r.CaseId == proposed.CaseId);
        // The domain's lease was given back once verified.
        await FleetTestCluster.EventuallyAsync(async () => (await f.Client.GetGrain<IDomainSupervisorGrain>(sick.Domain!).GetStatusAsync()).Leases.IsEmpty, "the lease was freed");

        // The verified restart is counted for learning, although this policy does not apply learning (counted always, applied on request).
        await FleetTestCluster.EventuallyAsync(async () => (await f.Client.GetGrain<ILearningGrain>(FleetNames.Default).GetTableAsync())
            .Any(r => r.Signature == "instance:ReportsUnhealthy" && r.Action == ActionNames.RestartInstance && r.Successes >= 1), "the healed restart was counted");

        // Yesterday's report replayed (a sequence already taken) changes nothing.
        Assert.Equal(InstanceReportOutcome.Stale, await ReportAsync(sick, healthy: false, sequence: 1));
        Assert.True((await Service("hl-api").GetAsync())!.Instances.Single(i => i.Id == sick.Id).Healthy);
    }

    /// <summary>An instance whose error rate climbs toward the limit is replaced make-before-break while it still serves.</summary>
    [Fact]
    public async Task AnErrorRateClimbingTowardItsLimit_IsReplacedAhead_MakeBeforeBreak_NeverBelowItsReplicas()
    {
        var nodes = new[] { ("er-1", "d-er-a"), ("er-2", "d-er-b"), ("er-3", "d-er-c") };
        var started = await StartAsync("er-api", nodes);
        var sick = started.Instances[0];
        var well = started.Instances[1];
        // 100 requests a report; errors climb 0.1 a report (10 s): 0.6 %/min, 1.8 % once the samples span 3 minutes, 5 % some 5 minutes later.
        var errors = 0.0;
        var fewest = int.MaxValue;
        // One report of each instance per 10-second step (the condition is polled many times a step: it only looks).
        await f.AdvanceUntilAsync(async () =>
        {
            var s = (await Service("er-api").GetAsync())!;
            fewest = Math.Min(fewest, s.Instances.Count(i => i.State == InstanceState.Running));
            return s.Instances.All(i => i.Id != sick.Id) && s.Running == 2;
        }, "the instance whose error rate climbs was replaced", TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(10), async () =>
        {
            foreach (var (n, _) in nodes) await f.ReportAsync(n);
            var s = (await Service("er-api").GetAsync())!;
            if (s.Instances.Any(i => i.Id == sick.Id))
            {
                var seq = _sequences[sick.Id] = _sequences.GetValueOrDefault(sick.Id) + 1;
                errors += 0.1;
                await Service("er-api").ReportAsync(new InstanceReport("er-api", sick.Id, sick.Version, 100, errors, 5, 20, FleetTestCluster.Gi, true, 5, f.Time.GetUtcNow())
                {
                    Sequence = seq, Ttl = TimeSpan.FromSeconds(30),
                });
            }
            foreach (var i in s.Instances.Where(i => i.State is InstanceState.Starting or InstanceState.Running && i.Id != sick.Id))
                await ReportAsync(i, healthy: true);
        });

        var trail = await f.TrailAsync("service/er-api");
        Assert.True(errors < 3, $"replaced well before its error rate reached 5% (it was at {errors}%): {string.Join(" | ", trail.Select(r => r.Reason))}");
        Assert.True(fewest >= 2, $"never fewer than 2 running (make-before-break): fewest {fewest}");
        var predicted = trail.Single(r => r.Kind == DecisionKinds.Predicted);
        Assert.StartsWith($"Predicted an error rate of 5% on instance {sick.Id} of service er-api: its error rate will reach 5% in about", predicted.Reason);
        Assert.Contains("R² 1", predicted.Reason);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Action == ActionNames.ReplaceInstance && r.CaseId == predicted.CaseId);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Executed && r.CaseId == predicted.CaseId && r.Outcome == "moving"
            && r.Reason.StartsWith($"Moving instance {sick.Id} of service er-api off node {sick.Node} before an error rate of 5%"));
        // The well instance, whose error rate stayed at 0, was never touched; the replacement runs elsewhere than the sick one's node.
        var now = (await Service("er-api").GetAsync())!;
        Assert.Contains(now.Instances, i => i.Id == well.Id && i.Node == well.Node);
        Assert.All(now.Instances.Where(i => i.Id != well.Id), i => Assert.NotEqual(sick.Node, i.Node));
        Assert.Empty(Ran(ActionNames.RestartInstance, sick.Id));

        // This class's other tests share the silo: these nodes stop reporting now, so they take no more instances.
        foreach (var (n, _) in nodes) await f.Node(n).CordonAsync("test", "the test is over");
    }

    [Fact]
    public async Task ACrashLoop_IsRestartedWithBackoff_ThenFencedAndReplacedOnAnotherNode()
    {
        var nodes = new[] { ("cl-1", "d-cl-a"), ("cl-2", "d-cl-b"), ("cl-3", "d-cl-c") };
        var started = await StartAsync("cl-api", nodes);
        var sick = started.Instances[0];
        ServiceStatus? now = null;
        await f.AdvanceUntilAsync(async () =>
        {
            now = await Service("cl-api").GetAsync();
            return now!.Instances.Any(i => i.Replaces == sick.Id && i.State == InstanceState.Running) && now.Instances.All(i => i.Id != sick.Id);
        }, "the crash-looping instance was replaced elsewhere and stopped where it was", TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(1), async () =>
        {
            foreach (var (n, _) in nodes) await f.ReportAsync(n);
            await ReportAsync(sick, healthy: false);
        });
        var replacement = now!.Instances.Single(i => i.Replaces == sick.Id);
        Assert.NotEqual(sick.Node, replacement.Node);
        var restarts = Ran(ActionNames.RestartInstance, sick.Id).ToList();
        Assert.Equal(2, restarts.Count); // services.healing.restartsBeforeReplace
        Assert.Single(Ran(ActionNames.StopInstance, sick.Id)); // fenced: stopped where it stood
        var trail = await f.TrailAsync("service/cl-api");
        Assert.Contains(trail, r => r.Guardrail == Guardrails.Cooldown && r.Action == ActionNames.RestartInstance); // the backoff held the second restart
        var replaced = trail.Single(r => r.Kind == DecisionKinds.Executed && r.Action == ActionNames.ReplaceInstance);
        Assert.Contains($"it is fenced on node {sick.Node}", replaced.Reason);
        Assert.Equal(InstanceReportOutcome.UnknownInstance, await ReportAsync(sick, healthy: true));
        Assert.Empty((await f.Node(sick.Node!).GetStatusAsync())!.Placements.Where(p => p.Instance == sick.Id));
    }

    [Fact]
    public async Task InShadowMode_ASickInstance_IsNotTouched_AndTheTrailSaysWhatWouldHaveRun()
    {
        var nodes = new[] { ("sh-1", "d-sh-a"), ("sh-2", "d-sh-b") };
        var started = await StartAsync("sh-api", nodes);
        var sick = started.Instances[0];
        var oversight = f.Client.GetGrain<IOversightGrain>(FleetNames.Default);
        await oversight.SetShadowAsync(true, null, null, "ops", "trying the healing policy");
        try
        {
            await f.AdvanceUntilAsync(async () => (await f.TrailAsync("service/sh-api")).Any(r => r.Kind == DecisionKinds.Shadowed),
                "the restart was shadowed", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), async () =>
                {
                    foreach (var (n, _) in nodes) await f.ReportAsync(n);
                    await ReportAsync(sick, healthy: false);
                });
            await f.AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2), async () =>
            {
                foreach (var (n, _) in nodes) await f.ReportAsync(n);
                await ReportAsync(sick, healthy: false);
            });
            Assert.Empty(Ran(ActionNames.RestartInstance, sick.Id));
            var shadowed = (await f.TrailAsync("service/sh-api")).Single(r => r.Kind == DecisionKinds.Shadowed);
            Assert.Contains($"would restart-instance instance {sick.Id} of service sh-api", shadowed.Reason);
            Assert.Equal(sick.Node, (await Service("sh-api").GetAsync())!.Instances.Single(i => i.Id == sick.Id).Node);
        }
        finally
        {
            await oversight.SetShadowAsync(false, null, null, "ops", "done");
        }
    }
}
