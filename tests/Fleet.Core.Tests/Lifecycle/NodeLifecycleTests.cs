using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Lifecycle;
using Fleet.Core.Policies;

namespace Fleet.Core.Tests.Lifecycle;

/// <summary>A node's life as one pure step: burn-in, admission and quarantine under a lease, decommission and retirement, a person's admission.</summary>
public class NodeLifecycleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly LifeSubject Subject = new("n1", [Subjects.Domain("rack-a")]);
    private static readonly LifecycleRules BurnIn = new(TimeSpan.FromMinutes(5), 3, 7);
    private static readonly LifecycleRules NoBurnIn = LifecycleRules.For(FleetPolicy.Default);

    private static LifecycleStep Step(NodeLife life, LifecycleEvent e, DateTimeOffset now, LifecycleRules? rules = null) =>
        NodeLifecycle.Step(life, e, Subject, rules ?? BurnIn, now);

    private static NodeLife Registered(LifecycleRules? rules = null) =>
        NodeLifecycle.Step(NodeLife.Serving(T0, "unregistered"), new LifecycleEvent.Registered(), Subject, rules ?? BurnIn, T0).Life;

    private static LeaseDecision Grant(LeaseRequest r) => new(true, r.RequestId, T0 + TimeSpan.FromMinutes(30), null, "permitted");

    private static LeaseRequest Asked(LifecycleStep step) => Assert.IsType<LifecycleEffect.AskLease>(Assert.Single(step.Effects, e => e is LifecycleEffect.AskLease)).Request;

    private static IEnumerable<LifecycleEffect.Record> Records(LifecycleStep step) => step.Effects.OfType<LifecycleEffect.Record>();

    [Fact]
    public void WithNoBurnIn_ANewNodeServesAtOnce_AsBeforeLifecyclesExisted()
    {
        Assert.False(NoBurnIn.BurnsIn);
        var step = Step(NodeLife.Serving(T0, "x"), new LifecycleEvent.Registered(), T0, NoBurnIn);
        Assert.Equal(LifecycleStage.Serving, step.Life.Stage);
        Assert.Empty(step.Effects);
        Assert.Null(step.WakeAt);
    }

    [Fact]
    public void ANewNode_BurnsIn_AndIsAdmittedUnderALease_OnlyOnceItsReportsAndItsSoakAreBothDone()
    {
        var step = Step(NodeLife.Serving(T0, "x"), new LifecycleEvent.Registered(), T0);
        Assert.Equal(LifecycleStage.BurnIn, step.Life.Stage);
        Assert.Equal(T0 + TimeSpan.FromMinutes(5), step.WakeAt); // woken when the soak ends
        Assert.Contains("takes no work until it has reported healthy 3 time(s)", Assert.Single(Records(step)).Draft.Reason);

        // Three healthy reports in the first minute: not yet (the soak is 5 minutes); a degraded one does not count.
        var life = step.Life;
        foreach (var (health, at) in new[] { (HealthState.Healthy, 10), (HealthState.Degraded, 20), (HealthState.Healthy, 30), (HealthState.Healthy, 40) })
        {
            step = Step(life, new LifecycleEvent.Judged(health, "ok"), T0 + TimeSpan.FromSeconds(at));
            Assert.DoesNotContain(step.Effects, e => e is LifecycleEffect.AskLease);
            life = step.Life;
        }
        Assert.Equal(3, life.HealthyReports);
        Assert.Empty(Step(life, new LifecycleEvent.Tick(), T0 + TimeSpan.FromMinutes(4)).Effects);

        // The soak is over: the wake-up asks for the admission, as a lifecycle action on the node's domain.
        step = Step(life, new LifecycleEvent.Tick(), T0 + TimeSpan.FromMinutes(5));
        var ask = Asked(step);
        Assert.Equal(ActionNames.Admit, ask.Action);
        Assert.Equal(ActionClass.Lifecycle, ask.Class);
        Assert.Equal([Subjects.Domain("rack-a")], ask.Scopes.ToArray());
        Assert.Equal(7, ask.PolicyVersion);
        Assert.Equal(LifecycleStage.BurnIn, step.Life.Stage); // nothing moves before the permit path answers

        step = Step(step.Life, new LifecycleEvent.LeaseAnswered(ask, Grant(ask)), T0 + TimeSpan.FromMinutes(5));
        Assert.Equal(LifecycleStage.Serving, step.Life.Stage);
        var release = Assert.Single(step.Effects.OfType<LifecycleEffect.ReleaseLease>()); // admitting is done the moment it is permitted
        Assert.Equal(ask.RequestId, release.LeaseId);
        var record = Assert.Single(Records(step)).Draft;
        Assert.Equal(DecisionKinds.Executed, record.Kind);
        Assert.Contains("Admitted node n1 into service: it passed its burn-in: 3 healthy report(s) over 5 min", record.Reason);
    }

    [Fact]
    public void AFailingCheckDuringTheBurnIn_Quarantines_AndTheNodeNeverServes()
    {
        var life = Step(Registered(), new LifecycleEvent.Judged(HealthState.Healthy, "ok"), T0 + TimeSpan.FromSeconds(10)).Life;
        var step = Step(life, new LifecycleEvent.Judged(HealthState.Unhealthy, "check disk-smart failing"), T0 + TimeSpan.FromSeconds(20));
        var ask = Asked(step);
        Assert.Equal(ActionNames.Quarantine, ask.Action);
        Assert.Contains("failed its burn-in: check disk-smart failing", ask.Why);
        step = Step(step.Life, new LifecycleEvent.LeaseAnswered(ask, Grant(ask)), T0 + TimeSpan.FromSeconds(20));
        Assert.Equal(LifecycleStage.Quarantined, step.Life.Stage);
        Assert.Contains("fleet nodes admit n1", Assert.Single(Records(step)).Draft.Reason);

        // Healthy reports and time do not bring a quarantined node back: only a person does.
        var later = step.Life;
        foreach (var e in new LifecycleEvent[] { new LifecycleEvent.Judged(HealthState.Healthy, "ok"), new LifecycleEvent.Tick() })
            Assert.Equal(LifecycleStage.Quarantined, Step(later, e, T0 + TimeSpan.FromHours(1)).Life.Stage);
        step = Step(later, new LifecycleEvent.Admitted("alice", "disk replaced"), T0 + TimeSpan.FromHours(1));
        Assert.Equal(LifecycleStage.Serving, step.Life.Stage);
        Assert.Equal("Admitted node n1 into service from quarantined at the request of alice: disk replaced.", Assert.Single(Records(step)).Draft.Reason);
    }

    [Fact]
    public void ShadowMode_HoldsTheAdmission_SaysWhatWouldHaveRun_Once_AndAFailureStartsTheCountAgain()
    {
        var life = Registered();
        foreach (var s in new[] { 10, 20, 30 }) life = Step(life, new LifecycleEvent.Judged(HealthState.Healthy, "ok"), T0 + TimeSpan.FromSeconds(s)).Life;
        var at = T0 + TimeSpan.FromMinutes(6);
        var step = Step(life, new LifecycleEvent.Tick(), at);
        var ask = Asked(step);
        var shadow = new LeaseDecision(false, null, null, Guardrails.Shadow, "would have been permitted: ok") { Shadow = "fleet-wide" };
        step = Step(step.Life, new LifecycleEvent.LeaseAnswered(ask, shadow), at);
        Assert.Equal(LifecycleStage.BurnIn, step.Life.Stage);
        var record = Assert.Single(Records(step)).Draft;
        Assert.Equal(DecisionKinds.Shadowed, record.Kind);
        Assert.Equal("Shadow mode (fleet-wide): would admit node n1 (it passed its burn-in: 3 healthy report(s) over 6 min (the policy asks 3 over 5 min)) and did nothing; it would have been permitted: ok.", record.Reason);

        // Asked again at the next wake-up, the same answer is not recorded again.
        var again = Step(step.Life, new LifecycleEvent.Tick(), at + TimeSpan.FromSeconds(10));
        Assert.Equal(ask.RequestId, Asked(again).RequestId); // the same request: an approval asked for it is found again
        Assert.Empty(Records(Step(again.Life, new LifecycleEvent.LeaseAnswered(ask, shadow), at + TimeSpan.FromSeconds(10))));

        // A failure while held back: the quarantine is asked for, and the burn-in's count and soak start again.
        step = Step(again.Life, new LifecycleEvent.Judged(HealthState.Unhealthy, "memtest failed"), at + TimeSpan.FromSeconds(20));
        Assert.Equal(0, step.Life.HealthyReports);
        Assert.Equal(at + TimeSpan.FromSeconds(20) + TimeSpan.FromMinutes(5), step.Life.BurnInUntil);
        Assert.Equal(ActionNames.Quarantine, Asked(step).Action);
    }

    [Fact]
    public void AnApprovalOrAGuardrail_HoldsTheMove_RecordedAsSuch_AndAStaleAnswerGivesItsLeaseBack()
    {
        var life = Registered(BurnIn with { BurnInReports = 0 });
        var step = Step(life, new LifecycleEvent.Tick(), T0 + TimeSpan.FromMinutes(5), BurnIn with { BurnInReports = 0 });
        var ask = Asked(step);
        var approval = LeaseDecision.Deny(Guardrails.Approval, "oversight.approvals: admit needs a person's approval");
        var held = Step(step.Life, new LifecycleEvent.LeaseAnswered(ask, approval), T0 + TimeSpan.FromMinutes(5));
        Assert.Equal(DecisionKinds.AwaitingApproval, Assert.Single(Records(held)).Draft.Kind);
        Assert.Equal(LifecycleStage.BurnIn, held.Life.Stage);

        // A grant arriving after the node moved on (a person admitted it meanwhile) is given back, and changes nothing.
        var admitted = Step(held.Life, new LifecycleEvent.Admitted("bob", null), T0 + TimeSpan.FromMinutes(6)).Life;
        var stale = Step(admitted, new LifecycleEvent.LeaseAnswered(ask, Grant(ask)), T0 + TimeSpan.FromMinutes(6));
        Assert.Equal(LifecycleStage.Serving, stale.Life.Stage);
        Assert.Equal("no longer needed", Assert.Single(stale.Effects.OfType<LifecycleEffect.ReleaseLease>()).Outcome);
        Assert.Empty(Records(stale));
    }

    [Fact]
    public void ADecommission_Drains_ThenRetiresOnlyOnceEmpty_AndAPersonCanStopItOrBringTheNodeBack()
    {
        var serving = NodeLife.Serving(T0, "registered");
        var step = Step(serving, new LifecycleEvent.Decommissioning("carol", "end of lease"), T0);
        Assert.Equal(LifecycleStage.Draining, step.Life.Stage);
        Assert.Equal("decommissioned by carol: end of lease", step.Life.Why);
        Assert.Empty(Step(step.Life, new LifecycleEvent.Tick(), T0 + TimeSpan.FromMinutes(1)).Effects); // a tick does not retire: only emptiness does

        var retired = Step(step.Life, new LifecycleEvent.Emptied(), T0 + TimeSpan.FromMinutes(2));
        Assert.Equal(LifecycleStage.Retired, retired.Life.Stage);
        Assert.Single(retired.Effects.OfType<LifecycleEffect.Retire>());
        Assert.Contains("Retired node n1: every instance has moved off (decommissioned by carol: end of lease)", Assert.Single(Records(retired)).Draft.Reason);
        Assert.Equal(LifecycleStage.Retired, Step(retired.Life, new LifecycleEvent.Decommissioning("carol", null), T0 + TimeSpan.FromMinutes(3)).Life.Stage);
        Assert.Empty(Step(retired.Life, new LifecycleEvent.Judged(HealthState.Healthy, "ok"), T0 + TimeSpan.FromMinutes(3)).Effects);

        // Back from retirement: through a burn-in again when the policy asks one, at once when it does not.
        var back = Step(retired.Life, new LifecycleEvent.Admitted("dave", "re-imaged"), T0 + TimeSpan.FromHours(1));
        Assert.Equal(LifecycleStage.BurnIn, back.Life.Stage);
        Assert.Single(back.Effects.OfType<LifecycleEffect.Reinstate>());
        Assert.Equal(LifecycleStage.Serving, Step(retired.Life, new LifecycleEvent.Admitted("dave", null), T0 + TimeSpan.FromHours(1), NoBurnIn).Life.Stage);

        // Stopped while draining: it serves again, its hold lifted.
        var stopped = Step(step.Life, new LifecycleEvent.Admitted("carol", "wrong node"), T0 + TimeSpan.FromMinutes(1));
        Assert.Equal(LifecycleStage.Serving, stopped.Life.Stage);
        Assert.Single(stopped.Effects.OfType<LifecycleEffect.Reinstate>());
        Assert.StartsWith("Stopped the decommission of node n1 at the request of carol: wrong node", Assert.Single(Records(stopped)).Draft.Reason);
        Assert.Empty(Step(serving, new LifecycleEvent.Admitted("x", null), T0).Effects); // a serving node has nothing to be admitted from
    }

    [Fact]
    public void ThePolicySection_ParsesWritesAndRefusesNonsense()
    {
        var parsed = PolicyParser.Parse("lifecycle:\n  burnIn: 10m\n  burnInReports: 5\n");
        Assert.Empty(parsed.Problems);
        Assert.Equal(new LifecyclePolicy(TimeSpan.FromMinutes(10), 5), parsed.Policy!.Lifecycle);
        Assert.Equal(parsed.Policy.Lifecycle, PolicyParser.Parse(PolicyWriter.Write(parsed.Policy)).Policy!.Lifecycle);
        Assert.Equal(LifecyclePolicy.Default, PolicyParser.Parse("").Policy!.Lifecycle);
        var bad = PolicyParser.Parse("lifecycle:\n  burnIn: -1m\n  burnInReports: many\n  soak: 1h\n");
        Assert.Contains(bad.Problems, p => p.Path == "lifecycle.burnIn");
        Assert.Contains(bad.Problems, p => p.Path == "lifecycle.burnInReports");
        Assert.Contains(bad.Problems, p => p.Path.StartsWith("lifecycle") && (p.Path + p.Message).Contains("soak")); // an unknown field
    }
}
