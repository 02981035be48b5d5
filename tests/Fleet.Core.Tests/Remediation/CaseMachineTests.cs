using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Remediation;

namespace Fleet.Core.Tests.Remediation;

/// <summary>The case machine as a table: a state, an event and what the subject looks like → the next state and the effects.</summary>
public class CaseMachineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly FleetPolicy Policy = FleetPolicy.Default with { Version = 7 };
    private static readonly CaseRules Rules = CaseRules.For(Policy);

    private static CaseSubject Node(HealthState judged, bool forecast = false, DateTimeOffset? lastReport = null, bool draining = false) =>
        new("node/web-01", "web-01", judged,
            NeedsRemedy: judged == HealthState.Unhealthy && !draining,
            NeedsPrevention: forecast && !draining,
            Forecast: forecast, lastReport ?? T0,
            preventive => preventive ? "memory will run out in about 12 min" : "check 'http' failed (connection refused), 3 report(s) in a row",
            () => ImmutableDictionary<string, string>.Empty.Add("health", judged.ToString()),
            ["domain/rack-a"]);

    private static CaseStepResult Step(CaseState state, CaseEvent e, CaseSubject subject, DateTimeOffset? at = null, CaseRules? rules = null) =>
        CaseMachine.Step(state, e, subject, rules ?? Rules, at ?? T0);

    private static string[] Kinds(CaseStepResult r) => r.Records.Select(x => x.Kind).ToArray();

    private static LeaseDecision Grant(string id) => new(true, id, T0.AddMinutes(30), null, "rack-a had 0 of 1 action slots in use");

    /// <summary>Opens a case on an Unhealthy node and gets its lease: the state is Acting on the first rung.</summary>
    private static (CaseState State, ActionRequest Action) Acting(CaseState? from = null)
    {
        var opened = Step(from ?? CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy));
        var ask = Assert.IsType<CaseEffect.AskLease>(opened.Effects.Last());
        var granted = Step(opened.State, new CaseEvent.LeaseAnswered(ask.Request, Grant(ask.Request.RequestId)), Node(HealthState.Unhealthy));
        return (granted.State, Assert.IsType<CaseEffect.StartAction>(granted.Effects.Last()).Request);
    }

    [Theory]
    [InlineData(HealthState.Healthy)]
    [InlineData(HealthState.Degraded)]
    [InlineData(HealthState.Suspect)]
    public void Pass_NothingWrong_NoCaseNoEffects(HealthState judged)
    {
        var r = Step(CaseState.Empty, CaseEvent.Tick, Node(judged));
        Assert.Null(r.State.Case);
        Assert.Empty(r.Effects);
    }

    [Fact]
    public void Pass_Unhealthy_ProposesFirstRungAndAsksForALease()
    {
        var r = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy));
        Assert.Equal([DecisionKinds.Proposed], Kinds(r));
        var proposed = r.Records.Single();
        Assert.Equal("Proposed restart-services for node web-01: check 'http' failed (connection refused), 3 report(s) in a row (policy ladder step 1 of 5, v7).", proposed.Reason);
        Assert.Equal("remediation.ladder[0]", proposed.Rule);
        Assert.Equal(r.State.Case!.CaseId, proposed.IncidentId);
        var ask = Assert.IsType<CaseEffect.AskLease>(r.Effects.Last()).Request;
        Assert.Equal("node/web-01", ask.Subject);
        Assert.Equal(["domain/rack-a"], ask.Scopes.AsEnumerable());
        Assert.Equal(ActionClass.Disruptive, ask.Class);
        Assert.Equal(RemediationPhase.AwaitingLease, r.State.Case.Phase);
    }

    [Fact]
    public void LeaseDenied_RecordedOncePerGuardrail()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy));
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        var deny = LeaseDecision.Deny(Guardrails.MaxConcurrent, "rack-a had 1 of 1 action slots in use (reboot on web-02)");
        var first = Step(opened.State, new CaseEvent.LeaseAnswered(ask, deny), Node(HealthState.Unhealthy));
        Assert.Equal("Denied restart-services on node web-01: rack-a had 1 of 1 action slots in use (reboot on web-02).", first.Records.Single().Reason);
        Assert.Equal("guardrails.max-concurrent-per-domain", first.Records.Single().Rule);
        var again = Step(first.State, new CaseEvent.LeaseAnswered(ask, deny), Node(HealthState.Unhealthy));
        Assert.Empty(again.Records);
        Assert.Equal(2, again.State.Case!.Denials);
        var storm = Step(again.State, new CaseEvent.LeaseAnswered(ask, LeaseDecision.Deny(Guardrails.StormBrake, "the storm brake is on")), Node(HealthState.Unhealthy), T0.AddMinutes(1));
        Assert.Equal(2, storm.Records.Count());
        var summary = storm.Records.First();
        Assert.Equal(("summary", Guardrails.MaxConcurrent), (summary.Outcome, summary.Guardrail));
        Assert.Equal("Denied restart-services on node web-01 2 times by max-concurrent-per-domain since 12:00:00 UTC; the last time: rack-a had 1 of 1 action slots in use (reboot on web-02).", summary.Reason);
        Assert.Equal(Guardrails.StormBrake, storm.Records.Last().Guardrail);
    }

    [Fact]
    public void RepeatedDenials_TheCaseBacksOffBeforeAskingAgain_UpToThirtySeconds()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy));
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        var deny = LeaseDecision.Deny(Guardrails.StormBrake, "the storm brake is on");
        var state = Step(opened.State, new CaseEvent.LeaseAnswered(ask, deny), Node(HealthState.Unhealthy)).State;
        Assert.IsType<CaseEffect.AskLease>(Step(state, CaseEvent.Tick, Node(HealthState.Unhealthy), T0.AddSeconds(10)).Effects.Single()); // after one denial: the next tick asks
        state = Step(state, new CaseEvent.LeaseAnswered(ask, deny), Node(HealthState.Unhealthy), T0.AddSeconds(10)).State;
        Assert.Equal(T0.AddSeconds(30), state.Case!.AskAgainAt); // 10 s report interval, doubled
        Assert.Empty(Step(state, CaseEvent.Tick, Node(HealthState.Unhealthy), T0.AddSeconds(20)).Effects);
        Assert.IsType<CaseEffect.AskLease>(Step(state, CaseEvent.Tick, Node(HealthState.Unhealthy), T0.AddSeconds(30)).Effects.Single());
        for (var i = 0; i < 8; i++) state = Step(state, new CaseEvent.LeaseAnswered(ask, deny), Node(HealthState.Unhealthy), T0.AddMinutes(i + 1)).State;
        Assert.Equal(T0.AddMinutes(8).AddSeconds(30), state.Case!.AskAgainAt);
    }

    [Fact]
    public void LeaseDenied_CarriesTheEvidence_AndTheBasisIsAsked()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy) with { Basis = ActionBasis.UnconfirmedSilence });
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        Assert.Equal(ActionBasis.UnconfirmedSilence, ask.Basis);
        var deny = LeaseDecision.Deny(Guardrails.StormBrake, "the storm brake is on in rack-a", ImmutableDictionary<string, string>.Empty.Add("storm", "3 of 5 troubled"));
        var r = Step(opened.State, new CaseEvent.LeaseAnswered(ask, deny), Node(HealthState.Unhealthy));
        Assert.Equal("3 of 5 troubled", r.Records.Single().Evidence!["storm"]);
    }

    [Fact]
    public void LeaseGranted_PermittedActingActionStartedWithKeyAndTarget()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy));
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        var r = Step(opened.State, new CaseEvent.LeaseAnswered(ask, Grant(ask.RequestId)), Node(HealthState.Unhealthy));
        Assert.Equal([DecisionKinds.Permitted], Kinds(r));
        Assert.StartsWith("Permitted restart-services on node web-01: rack-a had 0 of 1 action slots in use (lease until 12:30:00 UTC)", r.Records.Single().Reason);
        var start = Assert.IsType<CaseEffect.StartAction>(r.Effects.Last()).Request;
        Assert.Equal("web-01", start.Target);
        Assert.Equal("node/web-01", start.Subject);
        Assert.Equal(ask.RequestId, start.LeaseId);
        Assert.Equal(RemediationPhase.Acting, r.State.Case!.Phase);
        Assert.Equal(start.IdempotencyKey, r.State.Case.IdempotencyKey);
        Assert.Equal(["domain/rack-a"], r.State.Case.Scopes.AsEnumerable());
        Assert.Single(r.State.History.RecentActions);
    }

    [Fact]
    public void StaleLeaseAnswer_GrantGivenBack()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy));
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        var r = Step(CaseState.Empty, new CaseEvent.LeaseAnswered(ask, Grant(ask.RequestId)), Node(HealthState.Unhealthy));
        Assert.Equal(ask.RequestId, Assert.IsType<CaseEffect.ReleaseLease>(Assert.Single(r.Effects)).LeaseId);
    }

    [Fact]
    public void ActionSucceeded_ExecutedAndVerifying_ThenFreshHealthyReportVerifiesAndReleases()
    {
        var (acting, action) = Acting();
        var done = Step(acting, new CaseEvent.ActionFinished(new ActionOutcome(action.IdempotencyKey, true, "simulated", T0.AddSeconds(2))), Node(HealthState.Unhealthy));
        Assert.Equal([DecisionKinds.Executed], Kinds(done));
        Assert.Equal("Restarted services on node web-01: simulated; watching for the symptom to clear within 2 min (policy ladder step 1 of 5, v7).", done.Records.Single().Reason);
        Assert.Equal(RemediationPhase.Verifying, done.State.Case!.Phase);

        var stale = Step(done.State, CaseEvent.Tick, Node(HealthState.Healthy, lastReport: T0), T0.AddSeconds(3));
        Assert.Empty(stale.Effects); // no report since the action: not verified yet

        var verified = Step(done.State, CaseEvent.Tick, Node(HealthState.Healthy, lastReport: T0.AddSeconds(5)), T0.AddSeconds(5));
        Assert.Equal([DecisionKinds.Verified], Kinds(verified));
        Assert.Contains("the symptom cleared (it reports healthy); on probation for 5 min", verified.Records.Single().Reason);
        var release = Assert.IsType<CaseEffect.ReleaseLease>(verified.Effects.Last());
        Assert.Equal(("verified", action.LeaseId), (release.Outcome, release.LeaseId));
        Assert.Equal(RemediationPhase.Probation, verified.State.Case!.Phase);
        Assert.Null(verified.State.Case.LeaseId);

        var closed = Step(verified.State, CaseEvent.Tick, Node(HealthState.Healthy, lastReport: T0.AddMinutes(6)), T0.AddMinutes(6));
        Assert.Null(closed.State.Case);
        Assert.Equal(0, closed.State.History.LastStep);
    }

    [Fact]
    public void ActionFailed_FailedReleasedEscalatedToNextRung()
    {
        var (acting, action) = Acting();
        var r = Step(acting, new CaseEvent.ActionFinished(new ActionOutcome(action.IdempotencyKey, false, "agent refused", T0)), Node(HealthState.Unhealthy));
        Assert.Equal([DecisionKinds.Failed, DecisionKinds.Escalated], Kinds(r));
        Assert.Equal("Restarted services on node web-01 failed: agent refused (policy ladder step 1 of 5, v7).", r.Records.First().Reason);
        Assert.Equal("Escalated node web-01 from restart-services to reboot: restart-services failed (agent refused) (policy ladder step 2 of 5, v7).", r.Records.Last().Reason);
        Assert.IsType<CaseEffect.ReleaseLease>(r.Effects[1]);
        Assert.Equal((ActionNames.Reboot, RemediationPhase.AwaitingLease, 1), (r.State.Case!.Action, r.State.Case.Phase, r.State.Case.Step));
    }

    [Fact]
    public void VerifyWindowPassed_FailedEscalatedAndTheNextRungAskedAtOnce()
    {
        var (acting, action) = Acting();
        var done = Step(acting, new CaseEvent.ActionFinished(new ActionOutcome(action.IdempotencyKey, true, "ok", T0)), Node(HealthState.Unhealthy));
        var r = Step(done.State, CaseEvent.Tick, Node(HealthState.Unhealthy), T0.AddMinutes(2));
        Assert.Equal([DecisionKinds.Failed, DecisionKinds.Escalated], Kinds(r));
        Assert.Equal("Restarted services did not heal node web-01: check 'http' failed (connection refused), 3 report(s) in a row persisted past the verify window (policy ladder step 1 of 5, v7).",
            r.Records.First().Reason);
        Assert.Equal(ActionNames.Reboot, Assert.IsType<CaseEffect.AskLease>(r.Effects.Last()).Request.Action);
    }

    [Fact]
    public void RecentAction_NextHeldByTheCooldown_RecordedOnce_ThenAsked()
    {
        var history = RemediationHistory.Empty with { RecentActions = [T0.AddSeconds(-30)] };
        var r = Step(new CaseState(null, history), CaseEvent.Tick, Node(HealthState.Unhealthy));
        Assert.Equal([DecisionKinds.Proposed, DecisionKinds.Denied], Kinds(r));
        var held = r.Records.Last();
        Assert.Equal(Guardrails.Cooldown, held.Guardrail);
        Assert.Equal("Held back restart-services on node web-01: it is in its 60 s cooldown after 1 recent action(s), until 12:00:30 UTC.", held.Reason);
        Assert.DoesNotContain(r.Effects, e => e is CaseEffect.AskLease);
        Assert.Empty(Step(r.State, CaseEvent.Tick, Node(HealthState.Unhealthy), T0.AddSeconds(10)).Effects);
        var later = Step(r.State, CaseEvent.Tick, Node(HealthState.Unhealthy), T0.AddSeconds(31));
        Assert.IsType<CaseEffect.AskLease>(Assert.Single(later.Effects));
    }

    [Fact]
    public void RecoveredBeforePermitted_ClosedWithoutActing()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy));
        var r = Step(opened.State, CaseEvent.Tick, Node(HealthState.Healthy));
        Assert.Equal("recovered-without-action", r.Records.Single().Outcome);
        Assert.Null(r.State.Case);
        Assert.Null(r.State.History.LastClosedAt);
    }

    [Fact]
    public void LadderClimbedWithinTheHour_HandedToHuman_UntilHealthyAgain()
    {
        var history = EscalationLadder.RecordClose(RemediationHistory.Empty, Policy.Remediation.Ladder.Length - 2, T0.AddMinutes(-10));
        var r = Step(new CaseState(null, history), CaseEvent.Tick, Node(HealthState.Unhealthy));
        Assert.Equal([DecisionKinds.HandedToHuman], Kinds(r));
        Assert.Contains("Handed node web-01 to a human: its earlier cases this hour already climbed the whole ladder", r.Records.Single().Reason);
        Assert.Equal(RemediationPhase.HandedToHuman, r.State.Case!.Phase);
        Assert.Empty(Step(r.State, CaseEvent.Tick, Node(HealthState.Unhealthy)).Effects);
        var back = Step(r.State, new CaseEvent.TakenBack("alice"), Node(HealthState.Unhealthy));
        Assert.Equal("Closed the hand-off of node web-01: alice took it back into automatic care.", back.Records.Single().Reason);
        Assert.Equal(CaseState.Empty, back.State);
    }

    [Fact]
    public void Forecast_PreventiveDrain_DrainsForgetsForecastAndCloses()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Degraded, forecast: true));
        Assert.Equal([DecisionKinds.Predicted, DecisionKinds.Proposed], Kinds(opened));
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        Assert.Equal((ActionNames.Drain, ActionClass.Preventive), (ask.Action, ask.Class));
        var granted = Step(opened.State, new CaseEvent.LeaseAnswered(ask, Grant(ask.RequestId)), Node(HealthState.Degraded, forecast: true));
        var key = ((CaseEffect.StartAction)granted.Effects.Last()).Request.IdempotencyKey;
        var done = Step(granted.State, new CaseEvent.ActionFinished(new ActionOutcome(key, true, "drained", T0)), Node(HealthState.Degraded, forecast: true));
        Assert.Equal([DecisionKinds.Executed, DecisionKinds.Verified], Kinds(done));
        Assert.Equal("prevented", done.Records.Last().Outcome);
        Assert.Equal(AdminEffect.Draining, Assert.Single(done.Effects.OfType<CaseEffect.ApplyAdminEffect>()).Effect);
        Assert.Single(done.Effects.OfType<CaseEffect.ForgetForecast>());
        Assert.Null(done.State.Case);
    }

    [Fact]
    public void Forecast_OfTheDisk_SaysWhatItForesawInEveryRecord_EvenAfterTheForecastChanged()
    {
        var disk = Node(HealthState.Degraded, forecast: true) with { Foreseen = "the disk filling" };
        var opened = Step(CaseState.Empty, CaseEvent.Tick, disk);
        Assert.StartsWith("Predicted the disk filling on node web-01:", opened.Records.First().Reason);
        Assert.Equal("the disk filling", opened.State.Case!.Foreseen);
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        var granted = Step(opened.State, new CaseEvent.LeaseAnswered(ask, Grant(ask.RequestId)), disk);
        var key = ((CaseEffect.StartAction)granted.Effects.Last()).Request.IdempotencyKey;
        // By the time the drain ends, the CPU's forecast has joined: the case still names what it acted on.
        var done = Step(granted.State, new CaseEvent.ActionFinished(new ActionOutcome(key, true, "drained", T0)), disk with { Foreseen = "the disk filling and CPU saturation" });
        Assert.Contains("before the disk filling", done.Records.First().Reason);
        Assert.StartsWith("Prevented the disk filling on node web-01", done.Records.ElementAt(1).Reason);
        var dropped = Step(opened.State, CaseEvent.Tick, Node(HealthState.Healthy) with { Foreseen = "memory exhaustion" });
        Assert.Contains("the disk filling is no longer forecast", dropped.Records.Single().Reason);
    }

    [Fact]
    public void ForecastCleared_PreventiveDropped()
    {
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Degraded, forecast: true));
        var r = Step(opened.State, CaseEvent.Tick, Node(HealthState.Healthy));
        Assert.Equal("forecast-cleared", r.Records.Single().Outcome);
        Assert.Null(r.State.Case);
    }

    [Fact]
    public void StaleOutcome_Ignored()
    {
        var (acting, _) = Acting();
        var r = Step(acting, new CaseEvent.ActionFinished(new ActionOutcome("someone-else", true, "ok", T0)), Node(HealthState.Unhealthy));
        Assert.True(r.Ignored);
        Assert.Same(acting, r.State);
    }

    [Fact]
    public void Reactivated_WhileActing_ResumesTheSameKey()
    {
        var (acting, action) = Acting();
        var r = Step(acting, new CaseEvent.Reactivated(), Node(HealthState.Unhealthy));
        Assert.Equal(DecisionKinds.Observed, r.Records.Single().Kind);
        Assert.Equal(action, Assert.IsType<CaseEffect.StartAction>(r.Effects.Last()).Request);
    }

    [Fact]
    public void LeaseLost_ReleasedAndAskedAgain()
    {
        var (acting, action) = Acting();
        var r = Step(acting, new CaseEvent.LeaseLost("node moved to another domain"), Node(HealthState.Unhealthy));
        Assert.Equal(action.LeaseId, Assert.IsType<CaseEffect.ReleaseLease>(Assert.Single(r.Effects)).LeaseId);
        Assert.Equal(RemediationPhase.AwaitingLease, r.State.Case!.Phase);
    }

    [Fact]
    public void CatalogueRowFromPolicy_GivesTheVerbClassAndEffect()
    {
        var policy = Policy with
        {
            Remediation = Policy.Remediation with { Ladder = [new LadderStep("flush-cache", TimeSpan.FromMinutes(1)), new LadderStep(ActionNames.Human, TimeSpan.Zero)] },
            Actions = [new ActionSpec("flush-cache", "Flushed the cache", ActionClass.Containment)],
        };
        var rules = CaseRules.For(policy);
        var opened = Step(CaseState.Empty, CaseEvent.Tick, Node(HealthState.Unhealthy), rules: rules);
        var ask = ((CaseEffect.AskLease)opened.Effects.Last()).Request;
        Assert.Equal(ActionClass.Containment, ask.Class);
        var granted = Step(opened.State, new CaseEvent.LeaseAnswered(ask, Grant(ask.RequestId)), Node(HealthState.Unhealthy), rules: rules);
        var key = ((CaseEffect.StartAction)granted.Effects.Last()).Request.IdempotencyKey;
        var done = Step(granted.State, new CaseEvent.ActionFinished(new ActionOutcome(key, true, "ok", T0)), Node(HealthState.Unhealthy), rules: rules);
        Assert.StartsWith("Flushed the cache on node web-01: ok;", done.Records.Single().Reason);
        Assert.Empty(done.Effects.OfType<CaseEffect.ApplyAdminEffect>());
    }
}
