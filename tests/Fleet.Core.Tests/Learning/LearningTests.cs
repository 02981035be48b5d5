using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Learning;
using Fleet.Core.Policies;
using Fleet.Core.Remediation;

namespace Fleet.Core.Tests.Learning;

public class LearningTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static FleetPolicy Policy(string learning) => PolicyParser.Parse("learning:\n" + learning).Policy!;

    private static OutcomeRate Rate(string action, params bool[] outcomes)
    {
        var r = new OutcomeRate("CheckFailed", action, 0, 0, [], T0);
        foreach (var o in outcomes) r = r.With(o, T0);
        return r;
    }

    private static CaseSubject Node(Func<string, OutcomeRate?> learned) =>
        new("node/web-01", "web-01", HealthState.Unhealthy, NeedsRemedy: true, NeedsPrevention: false, Forecast: false, T0,
            _ => "check 'http' failed (connection refused), 3 report(s) in a row", () => ImmutableDictionary<string, string>.Empty, ["domain/rack-a"])
        {
            Signature = "CheckFailed", Learned = learned,
        };

    [Fact]
    public void Policy_ParsesTheBound_AndRefusesNonsense()
    {
        var p = Policy("  skipRungAfter: \"5 failures of 6\"\n  pin: [reboot]\n").Learning;
        Assert.Equal((5, 6), (p.Failures, p.Of));
        Assert.True(p.Pinned("reboot"));
        var bad = PolicyParser.Parse("learning:\n  skipRungAfter: \"7 failures of 6\"\n");
        Assert.Null(bad.Policy);
        Assert.Contains(bad.Problems, x => x.Path == "learning.skipRungAfter" && x.Message.Contains("'F failures of N'"));
        Assert.False(FleetPolicy.Default.Learning.Enabled);
    }

    [Fact]
    public void SkipReason_OnlyWithEnoughFailuresInTheWindow_NeverPinned_NeverTheLastRung()
    {
        var policy = Policy("  skipRungAfter: \"5 failures of 6\"\n  pin: [reboot]\n").Learning;
        var bad = Rate("restart-services", true, false, false, false, false, false);
        Assert.Contains("restart-services failed 5 of its last 6 tries on the symptom CheckFailed (1 healed, 5 failed in all; learning.skipRungAfter: 5 failures of 6)",
            OutcomeTable.SkipReason(policy, bad, "restart-services", lastAutomaticRung: false));
        Assert.Null(OutcomeTable.SkipReason(policy, Rate("restart-services", false, false, false, false, false), "restart-services", false)); // only 5 outcomes
        Assert.Null(OutcomeTable.SkipReason(policy, Rate("restart-services", false, false, false, true, true, false), "restart-services", false)); // 4 of 6
        Assert.Null(OutcomeTable.SkipReason(policy, bad with { Action = "reboot" }, "reboot", false)); // pinned
        Assert.Null(OutcomeTable.SkipReason(policy, bad, "restart-services", lastAutomaticRung: true)); // the last automatic rung is always tried
        Assert.Null(OutcomeTable.SkipReason(LearningPolicy.Default, bad, "restart-services", false)); // off by default
        Assert.Equal("CheckFailed+MemoryPressure", OutcomeTable.Signature(["MemoryPressure", "CheckFailed", "Stale"]));
        Assert.Equal("CheckFailed", OutcomeTable.Signature(["CheckStarting", "CheckFailed"])); // a check still starting is no part of the symptom
        Assert.Equal("node:CheckFailed(disk,http)+MemoryPressure", OutcomeTable.Signature("node", ["MemoryPressure", "CheckFailed"], ["http", "disk", "http"]));
        Assert.Equal("node:Silent", OutcomeTable.Signature("node", ["Silent", "Stale"], []));
    }

    [Fact]
    public void ACaseSkipsARungThatAlmostNeverHealsThisSymptom_RecordingWhy_AndLearnsItsOutcome()
    {
        var rules = CaseRules.For(Policy("  skipRungAfter: \"5 failures of 6\"\n") with { Version = 3 });
        var rates = new Dictionary<string, OutcomeRate> { ["restart-services"] = Rate("restart-services", false, false, false, true, false, false) };
        var opened = CaseMachine.Step(CaseState.Empty, CaseEvent.Tick, Node(a => rates.GetValueOrDefault(a)), rules, T0);
        var c = opened.State.Case!;
        Assert.Equal(1, c.Step);
        Assert.Equal(ActionNames.Reboot, c.Action);
        var skipped = Assert.Single(opened.Records, r => r.Kind == DecisionKinds.Escalated);
        Assert.StartsWith("Skipped restart-services for node web-01: restart-services failed 5 of its last 6 tries", skipped.Reason);
        Assert.EndsWith("trying reboot instead.", skipped.Reason);
        Assert.Equal("learning.skipRungAfter", skipped.Rule);
        Assert.Equal("FFFHFF", skipped.Evidence!["recent"]);
        Assert.Contains(opened.Records, r => r.Kind == DecisionKinds.Proposed && r.Action == ActionNames.Reboot);

        // Its rung's outcome is learned: the reboot fails here, and the effect says so.
        var ask = Assert.IsType<CaseEffect.AskLease>(opened.Effects.Last());
        var granted = CaseMachine.Step(opened.State, new CaseEvent.LeaseAnswered(ask.Request, new LeaseDecision(true, ask.Request.RequestId, T0.AddMinutes(30), null, "ok")),
            Node(a => rates.GetValueOrDefault(a)), rules, T0);
        var start = Assert.IsType<CaseEffect.StartAction>(granted.Effects.Last());
        var failed = CaseMachine.Step(granted.State, new CaseEvent.ActionFinished(new ActionOutcome(start.Request.IdempotencyKey, false, "unreachable", T0.AddSeconds(5))),
            Node(a => rates.GetValueOrDefault(a)), rules, T0.AddSeconds(5));
        var learned = Assert.Single(failed.Effects.OfType<CaseEffect.Learned>());
        Assert.Equal(("CheckFailed", ActionNames.Reboot, false), (learned.Signature, learned.Action, learned.Healed));

        // Without learning, the same history changes nothing.
        var plain = CaseMachine.Step(CaseState.Empty, CaseEvent.Tick, Node(a => rates.GetValueOrDefault(a)), CaseRules.For(FleetPolicy.Default), T0);
        Assert.Equal(0, plain.State.Case!.Step);
    }
}
