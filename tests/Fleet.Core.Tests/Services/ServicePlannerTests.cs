using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Services;

namespace Fleet.Core.Tests.Services;

public class ServicePlannerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly FleetPolicy Policy = FleetPolicy.Default;

    private static ServiceSpec Spec(int replicas, DisruptionBudget? budget = null) =>
        new("api", replicas, "1.0", new InstanceResources(1, 1L << 30), PlacementSpec.Default, budget ?? DisruptionBudget.Default);

    private static ServiceInstance Running(string id, string node, string domain = "a") => new(id, node, domain, "1.0", InstanceState.Running, T0);

    private static ServiceState State(int desired, params ServiceInstance[] instances) => ServiceState.Empty with
    {
        Spec = Spec(desired), Desired = desired, NextInstance = instances.Length + 1,
        Instances = instances.ToImmutableDictionary(i => i.Id),
    };

    private static NodeView View(string node, HealthState judged = HealthState.Healthy, AdminState admin = AdminState.None, TimeSpan? judgedFor = null,
        int? step = null, string? phase = null, params string[] instances) =>
        new(node, "a", judged, judged, admin, T0 - (judgedFor ?? TimeSpan.Zero), step, phase,
            [.. instances.Select(i => new NodePlacement("api", i, 1, 1L << 30, true, T0, null))]);

    [Fact]
    public void FewerThanDesired_NewPendingInstancesToPlace()
    {
        var plan = ServicePlanner.Plan(State(3, Running("api-1", "n1")), new Dictionary<string, NodeView?> { ["n1"] = View("n1", instances: "api-1") }, Policy, T0);
        Assert.Equal(3, plan.State.Live.Count());
        Assert.Equal(["api-2", "api-3"], plan.Effects.OfType<ServiceEffect.Place>().Select(p => p.Instance).ToArray());
        Assert.Equal(4, plan.State.NextInstance);
    }

    [Fact]
    public void MoreThanDesired_PendingDroppedFirst_ThenRunningStopped()
    {
        var state = State(1, Running("api-1", "n1"), Running("api-2", "n2")) with { };
        state = state with { Instances = state.Instances.Add("api-3", new ServiceInstance("api-3", null, null, "1.0", InstanceState.Pending, T0)) };
        var views = new Dictionary<string, NodeView?> { ["n1"] = View("n1", instances: "api-1"), ["n2"] = View("n2", instances: "api-2") };
        var plan = ServicePlanner.Plan(state, views, Policy, T0);
        Assert.DoesNotContain("api-3", plan.State.Instances.Keys);
        var stop = Assert.Single(plan.Effects.OfType<ServiceEffect.Stop>());
        Assert.Equal(InstanceState.Stopping, plan.State.Instances[stop.Instance].State);
    }

    /// <summary>An instance that shows itself serving: it reported healthy, and its report still holds.</summary>
    private static ServiceInstance Serving(ServiceInstance i) => i with { Healthy = true, LastReportAt = T0, FreshUntil = T0 + TimeSpan.FromSeconds(30) };

    [Fact]
    public void NodeUnhealthy_AnInstanceStillServing_DownUntilTheFirstRungFails_ThenLostAndFenced()
    {
        var state = State(2, Serving(Running("api-1", "n1")), Running("api-2", "n2"));
        var fine = View("n2", instances: "api-2");
        var fresh = ServicePlanner.Plan(state, new Dictionary<string, NodeView?> { ["n1"] = View("n1", HealthState.Unhealthy, step: 0, phase: "Verifying", instances: "api-1"), ["n2"] = fine }, Policy, T0);
        Assert.Empty(fresh.Effects.OfType<ServiceEffect.Place>());
        Assert.Equal("node n1 is Unhealthy", fresh.State.Instances["api-1"].Reason);
        Assert.False(ServicePlanner.IsUp(fresh.State.Instances["api-1"]));

        var failedRung = ServicePlanner.Plan(state, new Dictionary<string, NodeView?> { ["n1"] = View("n1", HealthState.Unhealthy, step: 1, phase: "AwaitingLease", instances: "api-1"), ["n2"] = fine }, Policy, T0);
        var lost = failedRung.State.Instances["api-1"];
        Assert.True(lost.Fenced);
        // Fenced: stopped where it stood at once (its room is freed when the stop ends), never released before.
        Assert.Equal(InstanceState.Stopping, lost.State);
        Assert.Contains(failedRung.Effects, e => e is ServiceEffect.Stop { Instance: "api-1", Node: "n1" });
        Assert.DoesNotContain(failedRung.Effects, e => e is ServiceEffect.Release);
        var record = failedRung.Effects.OfType<ServiceEffect.Record>().Single().Draft;
        Assert.Equal(DecisionKinds.Rescheduled, record.Kind);
        Assert.Equal("Rescheduled instance api-1 of service api off node n1: node n1 is Unhealthy and its first ladder rung (restart-services) has failed; a replacement is placed elsewhere, " +
            "and the instance is fenced there (stopped as soon as the node answers, so it never serves beside its replacement).", record.Reason);
        var replacement = failedRung.State.Instances.Values.Single(i => i.State == InstanceState.Pending);
        Assert.Equal("api-1", replacement.Replaces);

        var longUnhealthy = ServicePlanner.Plan(state with { Instances = state.Instances.SetItem("api-1", state.Instances["api-1"] with { FreshUntil = T0 + TimeSpan.FromHours(1) }) },
            new Dictionary<string, NodeView?> { ["n1"] = View("n1", HealthState.Unhealthy, judgedFor: TimeSpan.FromMinutes(3), instances: "api-1"), ["n2"] = fine }, Policy, T0);
        Assert.True(longUnhealthy.State.Instances["api-1"].Fenced); // a storm brake may hold the rung back: the verify window bounds the wait
    }

    [Theory]
    [InlineData(null, null, "no report at all")]
    [InlineData(false, 30, "it reports unhealthy")]
    [InlineData(true, -1, "its last healthy report no longer holds")]
    public void NodeUnhealthy_AnInstanceNotShowingItselfServing_IsFencedAndReplacedAtOnce_NotAfterTheNodesRemedy(bool? healthy, int? freshForSeconds, string because)
    {
        var i = Running("api-1", "n1") with { Healthy = healthy, LastReportAt = healthy is null ? null : T0 - TimeSpan.FromSeconds(5), FreshUntil = freshForSeconds is { } f ? T0 + TimeSpan.FromSeconds(f) : null };
        var state = State(2, i, Running("api-2", "n2"));
        var plan = ServicePlanner.Plan(state, new Dictionary<string, NodeView?>
        {
            ["n1"] = View("n1", HealthState.Unhealthy, step: 0, phase: "Verifying", instances: "api-1"), ["n2"] = View("n2", instances: "api-2"),
        }, Policy, T0);
        var lost = plan.State.Instances["api-1"];
        Assert.True(lost.Fenced, because);
        Assert.Contains("shows no sign of serving", lost.Reason);
        Assert.Contains(plan.Effects, e => e is ServiceEffect.Stop { Instance: "api-1" });
        Assert.Contains(plan.State.Instances.Values, r => r.Replaces == "api-1" && r.State == InstanceState.Pending);
    }

    [Fact]
    public void AFencedInstance_WhoseStopFailed_IsTriedAgainOnceItsNodeIsFine_AndForgottenWhenItsNodeIsGone()
    {
        var fenced = Running("api-1", "n1") with { State = InstanceState.Failed, Fenced = true, FenceTries = 1, Reason = "node n1 is Unhealthy" };
        var replacement = Running("api-2", "n2") with { Replaces = "api-1" };
        var state = State(1, fenced, replacement);
        var down = ServicePlanner.Plan(state, new Dictionary<string, NodeView?> { ["n1"] = View("n1", HealthState.Unhealthy), ["n2"] = View("n2", instances: "api-2") }, Policy, T0);
        Assert.Equal(InstanceState.Failed, down.State.Instances["api-1"].State); // kept (not forgotten though replaced), not stopped while its node is down
        Assert.DoesNotContain(down.Effects, e => e is ServiceEffect.Stop);

        var back = ServicePlanner.Plan(state, new Dictionary<string, NodeView?> { ["n1"] = View("n1"), ["n2"] = View("n2", instances: "api-2") }, Policy, T0 + TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(back.Effects, e => e is ServiceEffect.Stop); // backing off: 30 s after the failed try
        var later = ServicePlanner.Plan(state, new Dictionary<string, NodeView?> { ["n1"] = View("n1"), ["n2"] = View("n2", instances: "api-2") }, Policy, T0 + TimeSpan.FromSeconds(31));
        Assert.Contains(later.Effects, e => e is ServiceEffect.Stop { Instance: "api-1", Node: "n1" });

        var gone = ServicePlanner.Plan(state, new Dictionary<string, NodeView?> { ["n1"] = null, ["n2"] = View("n2", instances: "api-2") }, Policy, T0);
        Assert.DoesNotContain("api-1", gone.State.Instances.Keys);
        Assert.Contains(gone.Effects, e => e is ServiceEffect.Release { Instance: "api-1" });
    }

    [Fact]
    public void AnInstanceSilentOnAFineNode_CountsAsDown()
    {
        var silent = Running("api-1", "n1") with { Healthy = true, LastReportAt = T0 - TimeSpan.FromMinutes(1), FreshUntil = T0 - TimeSpan.FromSeconds(1) };
        var plan = ServicePlanner.Plan(State(1, silent), new Dictionary<string, NodeView?> { ["n1"] = View("n1", instances: "api-1") }, Policy, T0);
        Assert.StartsWith("silent since", plan.State.Instances["api-1"].Reason);
        Assert.False(ServicePlanner.IsUp(plan.State.Instances["api-1"]));
    }

    [Fact]
    public void NodeDraining_MakeBeforeBreak_OldStopsOnlyWhenTheReplacementRuns()
    {
        var state = State(2, Running("api-1", "n1"), Running("api-2", "n2"));
        var views = new Dictionary<string, NodeView?> { ["n1"] = View("n1", HealthState.Healthy, AdminState.Draining, instances: "api-1"), ["n2"] = View("n2", instances: "api-2") };
        var first = ServicePlanner.Plan(state, views, Policy, T0);
        Assert.True(first.State.Instances["api-1"].Moving);
        Assert.Empty(first.Effects.OfType<ServiceEffect.Stop>());
        var replacement = first.State.Instances.Values.Single(i => i.State == InstanceState.Pending);
        Assert.Equal("api-1", replacement.Replaces);

        var runs = first.State with { Instances = first.State.Instances.SetItem(replacement.Id, replacement with { State = InstanceState.Running, Node = "n3", Domain = "b" }) };
        views["n3"] = View("n3", instances: replacement.Id);
        var second = ServicePlanner.Plan(runs, views, Policy, T0);
        Assert.Equal("api-1", Assert.Single(second.Effects.OfType<ServiceEffect.Stop>()).Instance);
    }

    [Fact]
    public void ReservationGoneFromTheNode_InstanceLost()
    {
        var plan = ServicePlanner.Plan(State(1, Running("api-1", "n1")), new Dictionary<string, NodeView?> { ["n1"] = View("n1") }, Policy, T0);
        Assert.True(plan.State.Instances["api-1"].Fenced); // the node may still run it: it is stopped there
        Assert.Equal(InstanceState.Stopping, plan.State.Instances["api-1"].State);
        Assert.Contains("its reservation on node n1 is gone", plan.State.Instances["api-1"].Reason);
    }

    [Fact]
    public void Budget_CountsInvoluntaryLossesAndOtherHolds()
    {
        var state = State(3, Running("api-1", "n1"), Running("api-2", "n2"), Running("api-3", "n3"));
        LeaseRequest Drain(string node, string id) => new(id, $"node/{node}", "drain", 1, [$"domain/a", "service/api"]);

        var (ok, hold) = ServiceBudget.Consent(state, Drain("n1", "L1"), T0, TimeSpan.FromMinutes(30));
        Assert.True(ok.Granted);
        Assert.Equal("api would keep 2 of 3 instances running (it needs 2)", ok.Reason);
        var held = state with { Holds = state.Holds.Add("L1", hold!) };
        var (second, _) = ServiceBudget.Consent(held, Drain("n2", "L2"), T0, TimeSpan.FromMinutes(30));
        Assert.Equal(Guardrails.MinHealthy, second.Guardrail);
        Assert.Equal("api would have 1 of 3 instances running; it needs 2 (maxUnavailable 1) (1 already down: api-1 (held by another disruption))", second.Reason);

        var crashed = state with { Instances = state.Instances.SetItem("api-3", state.Instances["api-3"] with { Healthy = false }) };
        Assert.False(ServiceBudget.Consent(crashed, Drain("n1", "L3"), T0, TimeSpan.FromMinutes(30)).Decision.Granted);
        var (noInstance, none) = ServiceBudget.Consent(crashed, Drain("n9", "L4"), T0, TimeSpan.FromMinutes(30));
        Assert.True(noInstance.Granted);
        Assert.Null(none);
        Assert.Equal(2, new DisruptionBudget(0.5, null).MinHealthy(3));
        Assert.Equal(3, new DisruptionBudget(1.0, null).MinHealthy(3));
        Assert.Equal(2, new DisruptionBudget(0.66, null).MinHealthy(3));
    }
}
