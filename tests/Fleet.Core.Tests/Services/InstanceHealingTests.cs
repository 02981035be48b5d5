using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Remediation;
using Fleet.Core.Services;

namespace Fleet.Core.Tests.Services;

/// <summary>An instance's healing is the node's case machine on the ladder of services.healing: table tests of its steps.</summary>
public class InstanceHealingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly FleetPolicy Policy = FleetPolicy.Default;
    private static readonly CaseRules Rules = InstanceHealing.Rules(Policy);

    private static ServiceInstance Instance(bool? healthy, DateTimeOffset? lastReport = null, TimeSpan? ttl = null) =>
        new("api-1", "n1", "rack-a", "1.0", InstanceState.Running, T0 - TimeSpan.FromHours(1), Healthy: healthy, LastReportAt: lastReport ?? T0)
        {
            FreshUntil = (lastReport ?? T0) + (ttl ?? TimeSpan.FromSeconds(30)),
        };

    private static ServiceState State(ServiceInstance i) => ServiceState.Empty with
    {
        Spec = new ServiceSpec("api", 1, "1.0", new InstanceResources(1, 1L << 30), PlacementSpec.Default, DisruptionBudget.Default),
        Desired = 1, Instances = ImmutableDictionary<string, ServiceInstance>.Empty.Add(i.Id, i),
    };

    private static CaseStepResult Step(CaseState c, CaseEvent e, ServiceInstance i, DateTimeOffset now, NodeStanding node = NodeStanding.Fine, FleetPolicy? policy = null) =>
        CaseMachine.Step(c, e, InstanceHealing.Subject(State(i), i, new NodeLook(node, now), policy ?? Policy, now), InstanceHealing.Rules(policy ?? Policy), now);

    private static LeaseDecision Grant(LeaseRequest r) => new(true, r.RequestId, T0 + TimeSpan.FromMinutes(30), null, "permitted");

    [Fact]
    public void TheLadder_RestartsInPlaceAsOftenAsThePolicySays_ThenReplaces_ThenAPerson()
    {
        Assert.Equal([ActionNames.RestartInstance, ActionNames.RestartInstance, ActionNames.ReplaceInstance, ActionNames.Human],
            Rules.Remediation.Ladder.Select(s => s.Action).ToArray());
        var none = Policy with { Services = Policy.Services with { Healing = Policy.Services.Healing with { RestartsBeforeReplace = 0 } } };
        Assert.Equal(ActionNames.ReplaceInstance, InstanceHealing.Rules(none).Remediation.Ladder[0].Action);
        Assert.Equal(TimeSpan.FromSeconds(10), Rules.Remediation.Cooldown);
        Assert.Equal(ActionClass.Disruptive, Rules.Catalogue[ActionNames.RestartInstance].Class);
    }

    [Theory]
    [InlineData(false, 0, HealthState.Unhealthy, ActionBasis.Reported)]       // it says it is sick
    [InlineData(true, 60, HealthState.Unhealthy, ActionBasis.UnconfirmedSilence)] // it said healthy a minute ago, and nothing since (30 s TTL)
    [InlineData(true, 10, HealthState.Healthy, ActionBasis.Reported)]
    [InlineData(null, 10, HealthState.Unknown, ActionBasis.Reported)]
    public void AnInstanceIsJudgedByItsOwnReports_AndTheirTtl(bool? healthy, int reportedSecondsAgo, HealthState judged, ActionBasis basis)
    {
        var i = Instance(healthy, T0 - TimeSpan.FromSeconds(reportedSecondsAgo));
        var subject = InstanceHealing.Subject(State(i), i, new NodeLook(NodeStanding.Fine, T0), Policy, T0);
        Assert.Equal(judged, subject.Judged);
        Assert.Equal(judged == HealthState.Unhealthy, subject.NeedsRemedy);
        if (judged == HealthState.Unhealthy) Assert.Equal(basis, subject.Basis); // what an action would rest on
        Assert.Equal("instance api-1 of service api", subject.Noun);
        Assert.Equal(["domain/rack-a"], subject.Scopes.ToArray());
    }

    [Fact]
    public void SilenceIsTheInstancesOwn_OnlyWhenItsNodeReportedAfterItsLastReportStoppedHolding()
    {
        var i = Instance(true, T0 - TimeSpan.FromSeconds(60)); // held until T0 - 30 s
        Assert.Equal(HealthState.Unhealthy, InstanceHealing.Judge(i, T0, new NodeLook(NodeStanding.Fine, T0 - TimeSpan.FromSeconds(5))));
        // The node has not reported since either: the node's own judgement will say what is wrong, not the instance's case.
        Assert.Equal(HealthState.Unknown, InstanceHealing.Judge(i, T0, new NodeLook(NodeStanding.Fine, T0 - TimeSpan.FromSeconds(40))));
        Assert.False(InstanceHealing.Subject(State(i), i, new NodeLook(NodeStanding.Fine, T0 - TimeSpan.FromSeconds(40)), Policy, T0).NeedsRemedy);
    }

    [Fact]
    public void TwoInstancesOfOneService_OpeningTogether_NeverShareALeaseOrAnActionKey()
    {
        var a = Instance(false);
        var b = a with { Id = "api-2" };
        var state = State(a) with { Instances = State(a).Instances.Add(b.Id, b) };
        var keys = new[] { a, b }.Select(i => CaseMachine.Step(CaseState.Empty, CaseEvent.Tick, InstanceHealing.Subject(state, i, new NodeLook(NodeStanding.Fine, T0), Policy, T0), Rules, T0)
            .Effects.OfType<CaseEffect.AskLease>().Single().Request.RequestId).ToList();
        Assert.NotEqual(keys[0], keys[1]);
        Assert.StartsWith("service/api/api-2/", keys[1]);
    }

    [Fact]
    public void TheNewVersionOfARolloutUnderWay_IsTheRolloutsToJudge_NotHealings()
    {
        var canary = Instance(false) with { Version = "2.0" };
        var rollout = new Rollout(1, "1.0", "2.0", "canary", T0, "test", RolloutPhase.Progressing, [], 0, 0, [], []);
        var state = State(canary) with { Rollout = rollout };
        Assert.False(InstanceHealing.InCare(state, canary, new NodeLook(NodeStanding.Fine, T0)));
        Assert.True(InstanceHealing.InCare(state with { Rollout = rollout with { Phase = RolloutPhase.Watching } }, canary, new NodeLook(NodeStanding.Fine, T0)));
    }

    [Theory]
    [InlineData(NodeStanding.Down)]
    [InlineData(NodeStanding.Draining)]
    [InlineData(NodeStanding.Lost)]
    public void OnANodeThatIsNotFine_TheServicesFailoverLooksAfterIt_NotHealing(NodeStanding node)
    {
        var i = Instance(false);
        Assert.False(InstanceHealing.Subject(State(i), i, new NodeLook(node, T0), Policy, T0).NeedsRemedy);
        Assert.Empty(InstanceHealing.ToStep(State(i), _ => new NodeLook(node, T0), Policy, T0));
        var withCase = State(i) with { Heals = ImmutableDictionary<string, RemediationCase>.Empty.Add("api-1", new RemediationCase("c1", false, "x", 0, ActionNames.RestartInstance, RemediationPhase.AwaitingLease, T0)) };
        Assert.Contains("is not fine", InstanceHealing.Orphaned(withCase, "api-1", _ => new NodeLook(node, T0))!.Value.Why);
    }

    [Fact]
    public void ACrashLoop_RestartedInPlace_WithABackoffThatDoubles_ThenReplacedElsewhere()
    {
        var policy = Policy with { Services = Policy.Services with { Healing = Policy.Services.Healing with { Backoff = TimeSpan.FromSeconds(60) } } };
        var sick = Instance(false);
        DateTimeOffset At(int seconds) => T0 + TimeSpan.FromSeconds(seconds);
        ServiceInstance SickAt(int seconds) => sick with { LastReportAt = At(seconds), FreshUntil = At(seconds + 30) };
        CaseStepResult Run(CaseState c, CaseEvent e, int seconds) => Step(c, e, SickAt(seconds), At(seconds), policy: policy);

        // Proposed and asked for: a disruptive lease in the instance's domain, resting on what it reports.
        var opened = Run(CaseState.Empty, CaseEvent.Tick, 0);
        var proposed = Assert.Single(opened.Records);
        Assert.Equal(DecisionKinds.Proposed, proposed.Kind);
        Assert.StartsWith("Proposed restart-instance for instance api-1 of service api: it reports unhealthy on node n1", proposed.Reason);
        var ask = Assert.Single(opened.Effects.OfType<CaseEffect.AskLease>()).Request;
        Assert.Equal((ActionClass.Disruptive, ActionBasis.Reported, "service/api"), (ask.Class, ask.Basis, ask.Subject));

        // Granted: restart-instance on its node, owned by the service.
        var granted = Run(opened.State, new CaseEvent.LeaseAnswered(ask, Grant(ask)), 0);
        var start = Assert.Single(granted.Effects.OfType<CaseEffect.StartAction>()).Request;
        Assert.Equal((ActionNames.RestartInstance, "n1", "service/api"), (start.Action, start.Target, start.Subject));
        var ran = Run(granted.State, new CaseEvent.ActionFinished(new ActionOutcome(start.IdempotencyKey, true, "restarted", At(1))), 1);

        // Still unhealthy past the verify window (30 s): the next rung, a second restart, held back by the backoff (60 s from the first).
        var persisted = Run(ran.State, CaseEvent.Tick, 32);
        Assert.Contains(persisted.Records, r => r.Kind == DecisionKinds.Escalated && r.Reason.Contains("from restart-instance to restart-instance"));
        Assert.Contains(persisted.Records, r => r.Guardrail == Guardrails.Cooldown);
        Assert.Empty(persisted.Effects.OfType<CaseEffect.AskLease>());
        Assert.Empty(Run(persisted.State, CaseEvent.Tick, 59).Effects.OfType<CaseEffect.AskLease>());
        var second = Assert.Single(Run(persisted.State, CaseEvent.Tick, 61).Effects.OfType<CaseEffect.AskLease>()).Request;
        var granted2 = Run(persisted.State, new CaseEvent.LeaseAnswered(second, Grant(second)), 61);
        var start2 = Assert.Single(granted2.Effects.OfType<CaseEffect.StartAction>()).Request;
        var ran2 = Run(granted2.State, new CaseEvent.ActionFinished(new ActionOutcome(start2.IdempotencyKey, true, "restarted", At(61))), 61);

        // Still sick: replace-instance, after a backoff doubled to 120 s from the second restart.
        var third = Run(ran2.State, CaseEvent.Tick, 93);
        Assert.Contains(third.Records, r => r.Kind == DecisionKinds.Escalated && r.Action == ActionNames.ReplaceInstance);
        Assert.Empty(third.Effects.OfType<CaseEffect.AskLease>());
        Assert.Empty(Run(third.State, CaseEvent.Tick, 180).Effects.OfType<CaseEffect.AskLease>());
        var replace = Assert.Single(Run(third.State, CaseEvent.Tick, 182).Effects.OfType<CaseEffect.AskLease>()).Request;
        Assert.Equal(ActionNames.ReplaceInstance, replace.Action);
    }

    [Fact]
    public void ARestartThatHeals_IsVerifiedByAReportAfterIt_WatchedForStableAfter_ThenClosed()
    {
        var sick = Instance(false);
        var opened = Step(CaseState.Empty, CaseEvent.Tick, sick, T0);
        var ask = opened.Effects.OfType<CaseEffect.AskLease>().Single().Request;
        var granted = Step(opened.State, new CaseEvent.LeaseAnswered(ask, Grant(ask)), sick, T0);
        var key = granted.Effects.OfType<CaseEffect.StartAction>().Single().Request.IdempotencyKey;
        var ran = Step(granted.State, new CaseEvent.ActionFinished(new ActionOutcome(key, true, "restarted", T0)), sick, T0);
        Assert.Contains(ran.Effects, e => e is CaseEffect.ReleaseLease); // the restart was the disruption: the slot is given back before verifying

        var t1 = T0 + TimeSpan.FromSeconds(5);
        var well = Instance(true, t1);
        var verified = Step(ran.State, CaseEvent.Tick, well, t1);
        Assert.Contains(verified.Records, r => r.Kind == DecisionKinds.Verified && r.Reason.StartsWith("Verified restart-instance on instance api-1 of service api"));
        Assert.Equal(RemediationPhase.Probation, verified.State.Case!.Phase);

        var t2 = t1 + Policy.Services.Healing.StableAfter;
        var closed = Step(verified.State, CaseEvent.Tick, Instance(true, t2), t2);
        Assert.Null(closed.State.Case);
    }

    [Fact]
    public void ShadowMode_RecordsWhatWouldHaveRun_AndRunsNothing()
    {
        var sick = Instance(false);
        var opened = Step(CaseState.Empty, CaseEvent.Tick, sick, T0);
        var ask = opened.Effects.OfType<CaseEffect.AskLease>().Single().Request;
        var shadow = new LeaseDecision(false, null, null, Guardrails.Shadow, "would have been permitted: ok") { Shadow = "fleet-wide shadow mode" };
        var answered = Step(opened.State, new CaseEvent.LeaseAnswered(ask, shadow), sick, T0);
        Assert.Empty(answered.Effects.OfType<CaseEffect.StartAction>());
        var record = Assert.Single(answered.Records);
        Assert.Equal(DecisionKinds.Shadowed, record.Kind);
        Assert.Contains("would restart-instance instance api-1 of service api", record.Reason);
    }

    [Fact]
    public void ACaseOnAnInstanceThatWasFencedOrIsGone_Ends()
    {
        var i = Instance(false);
        var c = new RemediationCase("c1", false, "x", 0, ActionNames.RestartInstance, RemediationPhase.Verifying, T0);
        var state = State(i) with { Heals = ImmutableDictionary<string, RemediationCase>.Empty.Add("api-1", c) };
        Assert.Null(InstanceHealing.Orphaned(state, "api-1", _ => new NodeLook(NodeStanding.Fine, T0)));
        Assert.Equal("it was fenced and replaced elsewhere",
            InstanceHealing.Orphaned(state with { Instances = state.Instances.SetItem("api-1", InstanceHealing.Fence(i, "gone", T0)) }, "api-1", _ => new NodeLook(NodeStanding.Fine, T0))!.Value.Why);
        Assert.Equal("it no longer exists", InstanceHealing.Orphaned(state with { Instances = state.Instances.Clear() }, "api-1", _ => new NodeLook(NodeStanding.Fine, T0))!.Value.Why);
    }
}
