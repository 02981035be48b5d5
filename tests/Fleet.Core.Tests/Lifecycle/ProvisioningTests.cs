using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Lifecycle;
using Fleet.Core.Policies;

namespace Fleet.Core.Tests.Lifecycle;

/// <summary>Provisioning as one pure step: how many machines, when, where, under which caps, and what the permit path's answers do.</summary>
public class ProvisioningTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly MachineShape Small = new("small", 4, 8L << 30, ImmutableDictionary<string, string>.Empty);
    private static readonly ProvisionPolicy Policy = ProvisionPolicy.Default with { Enabled = true, Shape = Small, Domains = ["rack-x", "rack-y"], PendingFor = TimeSpan.FromSeconds(30), MaxPerHour = 5, MaxTotal = 8 };

    private static CapacityDemand Demand(string service, int pending, double cpu, long memory = 1L << 30, DateTimeOffset? since = null, ImmutableDictionary<string, string>? labels = null) =>
        new(service, pending, cpu, memory, labels ?? ImmutableDictionary<string, string>.Empty, since ?? T0);

    private static ProvisionStep Step(ProvisionState s, ProvisionEvent e, DateTimeOffset now, ProvisionPolicy? policy = null) =>
        Provisioning.Step(s, e, policy ?? Policy, 4, now);

    private static ProvisionState With(params CapacityDemand[] demands) =>
        demands.Aggregate(ProvisionState.Empty, (s, d) => Step(s, new ProvisionEvent.DemandChanged(d), T0).State);

    private static LeaseRequest Asked(ProvisionStep step) => Assert.Single(step.Effects.OfType<ProvisionEffect.AskLease>()).Request;

    private static LeaseDecision Grant(LeaseRequest r) => new(true, r.RequestId, T0 + TimeSpan.FromMinutes(30), null, "permitted");

    [Theory]
    [InlineData(3, 3.0, 3)]   // 3-core instances: one a 4-core machine
    [InlineData(4, 2.0, 2)]   // 2-core instances: two a machine
    [InlineData(5, 1.5, 3)]   // 1.5-core: two a machine (3 of 4 cores), the fifth alone
    [InlineData(0, 1.0, 0)]
    public void MachinesFor_PacksFirstFit(int pending, double cpu, int machines) =>
        Assert.Equal(machines, Provisioning.MachinesFor([Demand("a", pending, cpu)], Small));

    [Fact]
    public void MachinesFor_PacksBigInstancesFirst_AndMemoryCounts()
    {
        // Two 3-core and two 1-core instances: 3+1 and 3+1 — two machines, not three.
        Assert.Equal(2, Provisioning.MachinesFor([Demand("small", 2, 1), Demand("big", 2, 3)], Small));
        Assert.Equal(2, Provisioning.MachinesFor([Demand("mem", 2, 0.5, 6L << 30)], Small)); // 6 GiB each: one a machine
    }

    [Fact]
    public void NothingIsAskedBeforeTheInstancesWerePendingForLong_ThenOneRequestUnderALease_InTheFirstDomain()
    {
        var s = With(Demand("api", 3, 3));
        Assert.Empty(Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromSeconds(29)).Effects);
        var step = Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromSeconds(30));
        var ask = Asked(step);
        Assert.Equal(ActionNames.Provision, ask.Action);
        Assert.Equal(ActionClass.Lifecycle, ask.Class);
        Assert.Equal([Subjects.Domain("rack-x")], ask.Scopes.ToArray());
        Assert.Equal(3, ask.Size); // approvals by size see the machine count
        Assert.Equal(Provisioning.Subject, ask.Subject);

        step = Step(step.State, new ProvisionEvent.LeaseAnswered(ask, Grant(ask)), T0 + TimeSpan.FromSeconds(30));
        var start = Assert.Single(step.Effects.OfType<ProvisionEffect.StartAction>()).Request;
        Assert.Equal(ask.RequestId, start.IdempotencyKey);
        Assert.Equal("small", start.Parameters["shape"]);
        Assert.Equal("rack-x", start.Parameters["domain"]);
        Assert.Equal("3", start.Parameters["count"]);
        Assert.Equal("4", start.Parameters["cpuCores"]);
        Assert.Equal(ProvisionPhase.Asking, Assert.Single(step.State.Requests).Phase);
        Assert.Contains(step.Effects.OfType<ProvisionEffect.Record>(), r => r.Draft.Kind == DecisionKinds.Permitted);

        // While it runs, and once sent, nothing more is asked for the same demand; the lease goes back once sent.
        Assert.Empty(Step(step.State, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(1)).Effects.OfType<ProvisionEffect.AskLease>());
        var sent = Step(step.State, new ProvisionEvent.ActionFinished(new ActionOutcome(ask.RequestId, true, "webhook answered 202", T0)), T0 + TimeSpan.FromMinutes(1));
        Assert.Equal(ProvisionPhase.Sent, Assert.Single(sent.State.Requests).Phase);
        Assert.Equal(ask.RequestId, Assert.Single(sent.Effects.OfType<ProvisionEffect.ReleaseLease>()).LeaseId);
        Assert.Empty(Step(sent.State, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(2)).Effects);

        // More demand: only the difference is asked for, in the next domain.
        var more = Step(sent.State, new ProvisionEvent.DemandChanged(Demand("api", 5, 3)), T0 + TimeSpan.FromMinutes(2)).State;
        var next = Asked(Step(more, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(2)));
        Assert.Equal(2, next.Size);
        Assert.Equal([Subjects.Domain("rack-y")], next.Scopes.ToArray());
        Assert.NotEqual(ask.RequestId, next.RequestId);
    }

    [Fact]
    public void ArrivalsAreCounted_OnceEach_AndMachinesThatNeverCome_StopCountingAfterTheTimeout()
    {
        var s = With(Demand("api", 2, 3));
        var step = Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromSeconds(30));
        var ask = Asked(step);
        s = Step(step.State, new ProvisionEvent.LeaseAnswered(ask, Grant(ask)), T0 + TimeSpan.FromSeconds(30)).State;
        s = Step(s, new ProvisionEvent.ActionFinished(new ActionOutcome(ask.RequestId, true, "ok", T0)), T0 + TimeSpan.FromSeconds(31)).State;
        s = Step(s, new ProvisionEvent.Arrived(ask.RequestId, "m-1"), T0 + TimeSpan.FromMinutes(2)).State;
        var again = Step(s, new ProvisionEvent.Arrived(ask.RequestId, "m-1"), T0 + TimeSpan.FromMinutes(2));
        Assert.Empty(again.Effects);
        // Arrived, but still in its burn-in: it cannot take the Pending instances yet, so it is still on its way.
        Assert.Equal(2, Assert.Single(again.State.Requests).OnTheWay);
        Assert.Empty(Step(s, new ProvisionEvent.Arrived("someone-else", "m-9"), T0).Effects); // a key no request has changes nothing
        var serving = Step(s, new ProvisionEvent.Serving(ask.RequestId, "m-1"), T0 + TimeSpan.FromMinutes(3));
        Assert.Equal("Machine m-1 of provision request " + ask.RequestId + " serves (1 of 2).", Assert.Single(serving.Effects.OfType<ProvisionEffect.Record>()).Draft.Reason);
        Assert.Equal(1, Assert.Single(serving.State.Requests).OnTheWay);
        Assert.Empty(Step(serving.State, new ProvisionEvent.Serving(ask.RequestId, "m-1"), T0 + TimeSpan.FromMinutes(3)).Effects); // told twice: counted once
        // With nothing left on its way (the request timed out here), the machine that has just begun to serve gets pendingFor to
        // take the Pending instances before anything more is asked.
        var justServing = serving.State with { Requests = [serving.State.Requests[0] with { Phase = ProvisionPhase.TimedOut }] };
        Assert.Empty(Step(justServing, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(3) + Policy.PendingFor / 2).Effects.OfType<ProvisionEffect.AskLease>());
        s = serving.State;

        // The second machine never registers: after the arrival timeout it no longer counts, and the demand asks again.
        var late = Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromSeconds(30) + Policy.ArrivalTimeout);
        Assert.Equal(ProvisionPhase.TimedOut, late.State.Requests[0].Phase);
        Assert.Contains(late.Effects.OfType<ProvisionEffect.Record>(), r => r.Draft.Reason.Contains("1 of 2 registered and 1 serve within 15 min"));
        Assert.Equal(2, Asked(late).Size); // the demand is still 2 instances Pending (the arrived machine is not yet serving them)
    }

    [Fact]
    public void TheCaps_HoldTheAsk_RecordedOnce_AndAskForWhatTheyAllow()
    {
        var slow = Policy with { ArrivalTimeout = TimeSpan.FromHours(2) }; // the machines asked for stay on their way throughout
        var s = With(Demand("api", 7, 3));
        var step = Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(1), slow);
        var ask = Asked(step);
        Assert.Equal(5, ask.Size); // 7 wanted, 5 an hour
        Assert.Contains("5 of the 7 asked for now", ask.Why);
        s = Step(step.State, new ProvisionEvent.LeaseAnswered(ask, Grant(ask)), T0 + TimeSpan.FromMinutes(1), slow).State;
        s = Step(s, new ProvisionEvent.ActionFinished(new ActionOutcome(ask.RequestId, true, "ok", T0)), T0 + TimeSpan.FromMinutes(1), slow).State;

        var capped = Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(2), slow);
        var record = Assert.Single(capped.Effects.OfType<ProvisionEffect.Record>()).Draft;
        Assert.Equal(DecisionKinds.Denied, record.Kind);
        Assert.Equal("lifecycle.provision.maxPerHour", record.Rule);
        Assert.Contains("5 machine(s) asked for in the last hour", record.Reason);
        Assert.Empty(Step(capped.State, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(3), slow).Effects); // recorded once

        // An hour on: the total cap (8) allows 3 more of the 2 still wanted.
        var later = Step(capped.State, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(62), slow);
        Assert.Equal(2, Asked(later).Size);
    }

    [Fact]
    public void AFailingProvisioner_IsAskedAgain_ButNotWithoutEnd_FailuresCountTowardTheHour()
    {
        var s = With(Demand("api", 3, 3));
        var asked = new List<int>();
        for (var minute = 1; minute <= 5; minute++)
        {
            var at = T0 + TimeSpan.FromMinutes(minute);
            var step = Step(s, new ProvisionEvent.Tick(), at);
            if (step.Effects.OfType<ProvisionEffect.AskLease>().SingleOrDefault()?.Request is not { } ask) { s = step.State; continue; }
            asked.Add(ask.Size);
            s = Step(step.State, new ProvisionEvent.LeaseAnswered(ask, Grant(ask)), at).State;
            s = Step(s, new ProvisionEvent.ActionFinished(new ActionOutcome(ask.RequestId, false, "webhook refused the action with 400", at)), at).State;
        }
        Assert.Equal([3, 2], asked.ToArray()); // 3, then the 2 the hour (5) has left; then held until the hour has passed
        Assert.All(s.Requests, r => Assert.Equal(ProvisionPhase.Failed, r.Phase));
    }

    [Fact]
    public void ShadowModeAndApprovals_HoldTheAsk_TheTrailSaysWhatWouldHaveBeenAsked_Once()
    {
        var s = With(Demand("api", 2, 3));
        var step = Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(1));
        var ask = Asked(step);
        var shadow = new LeaseDecision(false, null, null, Guardrails.Shadow, "would have been permitted: ok") { Shadow = "fleet-wide" };
        var held = Step(step.State, new ProvisionEvent.LeaseAnswered(ask, shadow), T0 + TimeSpan.FromMinutes(1));
        var record = Assert.Single(held.Effects.OfType<ProvisionEffect.Record>()).Draft;
        Assert.Equal(DecisionKinds.Shadowed, record.Kind);
        Assert.StartsWith("Shadow mode (fleet-wide): would ask the provisioner for 2 small machine(s) in rack-x", record.Reason);
        Assert.Empty(held.State.Requests);
        var again = Step(held.State, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(2));
        Assert.Equal(ask.RequestId, Asked(again).RequestId); // the same id: an approval asked for it is found again
        Assert.Empty(Step(again.State, new ProvisionEvent.LeaseAnswered(ask, shadow), T0 + TimeSpan.FromMinutes(2)).Effects.OfType<ProvisionEffect.Record>());

        var approval = LeaseDecision.Deny(Guardrails.Approval, "needs a person's approval");
        Assert.Equal(DecisionKinds.AwaitingApproval, Assert.Single(Step(again.State, new ProvisionEvent.LeaseAnswered(ask, approval), T0).Effects.OfType<ProvisionEffect.Record>()).Draft.Kind);
    }

    [Fact]
    public void DemandTheShapeCannotServe_IsNotAskedFor_AndSaysWhy_AndOffAsksNothing()
    {
        var s = With(Demand("huge", 2, 16), Demand("gpu", 1, 1, labels: ImmutableDictionary<string, string>.Empty.Add("gpu", "a100")));
        Assert.Empty(Step(s, new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(1)).Effects);
        var plan = Provisioning.Describe(s, Policy, T0 + TimeSpan.FromMinutes(1));
        Assert.Contains("an instance of huge needs 16 cores", plan);
        Assert.Contains("gpu needs the label gpu=a100", plan);
        Assert.Empty(Step(With(Demand("api", 2, 3)), new ProvisionEvent.Tick(), T0 + TimeSpan.FromMinutes(1), Policy with { Enabled = false }).Effects);
        Assert.Equal("provisioning is off (lifecycle.provision.enabled)", Provisioning.Describe(s, Policy with { Enabled = false }, T0));
    }

    [Fact]
    public void ThePolicySection_ParsesWrites_AndRefusesNonsense()
    {
        var parsed = PolicyParser.Parse("""
            lifecycle:
              provision:
                enabled: true
                shape: {name: small, cpuCores: 4, memoryBytes: 8Gi, labels: {role: web}}
                domains: [rack-x]
                pendingFor: 1m
                maxPerHour: 2
                maxTotal: 20
                arrivalTimeout: 30m
                headroom: 2
                giveBackAfter: 45m
            """);
        Assert.Empty(parsed.Problems);
        var p = parsed.Policy!.Lifecycle.Provision;
        Assert.Equal((true, "small", 4.0, 8L << 30, "web", "rack-x", TimeSpan.FromMinutes(1), 2, 20, TimeSpan.FromMinutes(30)),
            (p.Enabled, p.Shape.Name, p.Shape.CpuCores, p.Shape.MemoryBytes, p.Shape.Labels["role"], p.Domains.Single(), p.PendingFor, p.MaxPerHour, p.MaxTotal, p.ArrivalTimeout));
        Assert.Equal((2, TimeSpan.FromMinutes(45)), (p.Headroom, p.GiveBackAfter));
        var round = PolicyParser.Parse(PolicyWriter.Write(parsed.Policy)).Policy!.Lifecycle.Provision;
        Assert.Equal((2, TimeSpan.FromMinutes(45)), (round.Headroom, round.GiveBackAfter));
        Assert.Equal((p.Shape.Name, p.Shape.MemoryBytes, p.Domains.Single(), p.Shape.Labels["role"]), (round.Shape.Name, round.Shape.MemoryBytes, round.Domains.Single(), round.Shape.Labels["role"]));
        var bad = PolicyParser.Parse("lifecycle:\n  provision:\n    shape: {name: 'a b', memoryBytes: lots}\n    domains: ['no way']\n    maxPerHour: -1\n");
        foreach (var path in new[] { "lifecycle.provision.shape.name", "lifecycle.provision.shape.memoryBytes", "lifecycle.provision.domains", "lifecycle.provision.maxPerHour" })
            Assert.Contains(bad.Problems, x => x.Path == path);
    }
}
