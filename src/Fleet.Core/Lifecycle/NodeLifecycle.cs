using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Remediation;
using Fleet.Core.Text;

namespace Fleet.Core.Lifecycle;

/// <summary>Where one node is in its life, with why and since when (a node with none stored serves).</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodeLife")]
public sealed record NodeLife(
    [property: Id(0)] LifecycleStage Stage,
    [property: Id(1)] DateTimeOffset Since,
    [property: Id(2)] string Why)
{
    /// <summary>Healthy reports sent since the burn-in began.</summary>
    [Id(3)] public int HealthyReports { get; init; }

    /// <summary>When the burn-in's soak is over.</summary>
    [Id(4)] public DateTimeOffset? BurnInUntil { get; init; }

    /// <summary>The guardrail that last held back the stage's next move (admit or quarantine), so a repeat is not recorded again.</summary>
    [Id(5)] public string? HeldBy { get; init; }

    /// <summary>The lifecycle action asked for and not yet answered (admit or quarantine), so one answer is matched to its ask.</summary>
    [Id(6)] public string? Asked { get; init; }

    public static NodeLife Serving(DateTimeOffset since, string why) => new(LifecycleStage.Serving, since, why);
}

/// <summary>What the lifecycle reads of the policy (<c>lifecycle</c> section).</summary>
public sealed record LifecycleRules(TimeSpan BurnIn, int BurnInReports, int PolicyVersion)
{
    public static LifecycleRules For(FleetPolicy policy) => new(policy.Lifecycle.BurnIn, policy.Lifecycle.BurnInReports, policy.Version);

    /// <summary>Whether a new node burns in before it serves.</summary>
    public bool BurnsIn => BurnIn > TimeSpan.Zero;
}

/// <summary>The node a lifecycle step is about: its id and what a lease for it touches (its domain).</summary>
public sealed record LifeSubject(string Node, ImmutableArray<string> Scopes)
{
    public string Actor => $"node/{Node}";
}

/// <summary>What happened to a node's life.</summary>
public abstract record LifecycleEvent
{
    /// <summary>The node registered for the first time (or again after it was retired and admitted back).</summary>
    public sealed record Registered : LifecycleEvent;

    /// <summary>One of the node's reports was accepted and judged.</summary>
    public sealed record Judged(HealthState Health, string Why) : LifecycleEvent;

    /// <summary>Time passed (the node's wake-up).</summary>
    public sealed record Tick : LifecycleEvent;

    /// <summary>The permit path answered the lifecycle action asked for.</summary>
    public sealed record LeaseAnswered(LeaseRequest Request, LeaseDecision Decision) : LifecycleEvent;

    /// <summary>A person's decommission was permitted: the node is drained, then retired.</summary>
    public sealed record Decommissioning(string By, string? Reason) : LifecycleEvent;

    /// <summary>Nothing is placed on the node any more.</summary>
    public sealed record Emptied : LifecycleEvent;

    /// <summary>A person admits the node into service (from its burn-in, quarantine or retirement), or stops its decommission.</summary>
    public sealed record Admitted(string By, string? Reason) : LifecycleEvent;
}

/// <summary>What the node grain carries out for a lifecycle step.</summary>
public abstract record LifecycleEffect
{
    public sealed record Record(RecordDraft Draft) : LifecycleEffect;

    /// <summary>Ask the permit path (the oversight gate first) for a lifecycle action; the answer comes back as <see cref="LifecycleEvent.LeaseAnswered"/>.</summary>
    public sealed record AskLease(LeaseRequest Request) : LifecycleEffect;

    /// <summary>Give back a lease at once: admitting or quarantining is done the moment it is permitted.</summary>
    public sealed record ReleaseLease(string LeaseId, ImmutableArray<string> Scopes, string Outcome) : LifecycleEffect;

    /// <summary>The node is retired: decommissioned (no reports, no work), out of its domain's inventory, its drain's lease given back.</summary>
    public sealed record Retire : LifecycleEffect;

    /// <summary>The node is back (from retirement or a stopped decommission): no operator hold, back in its domain's inventory.</summary>
    public sealed record Reinstate : LifecycleEffect;
}

public sealed record LifecycleStep(NodeLife Life, ImmutableArray<LifecycleEffect> Effects, DateTimeOffset? WakeAt);

/// <summary>
/// A node's life as one pure step (docs/lifecycle.md): (life, event, now, rules) → (life, effects, next wake-up).
/// Burn-in → Serving and Burn-in → Quarantined are lifecycle actions under a lease (shadow mode and approvals hold them; the
/// trail says what would have happened); Serving → Draining is a person's decommission, permitted as a drain is (the services'
/// budgets); Draining → Retired happens once nothing is left on the node. A person admits a node from any stage but serving.
/// </summary>
public static class NodeLifecycle
{
    public static LifecycleStep Step(NodeLife life, LifecycleEvent e, LifeSubject subject, LifecycleRules rules, DateTimeOffset now)
    {
        var effects = ImmutableArray.CreateBuilder<LifecycleEffect>();
        void Record(string kind, string reason, string? action = null, IReadOnlyDictionary<string, string>? evidence = null, string? guardrail = null,
            string? rule = null, string? outcome = null) =>
            effects.Add(new LifecycleEffect.Record(new RecordDraft(kind, reason, action, evidence, rule, guardrail, outcome)));
        var node = subject.Node;

        switch (e)
        {
            case LifecycleEvent.Registered when rules.BurnsIn:
                life = new NodeLife(LifecycleStage.BurnIn, now, $"new node: it serves once it has reported healthy {rules.BurnInReports} time(s) over {Format.Duration(rules.BurnIn)}")
                {
                    BurnInUntil = now + rules.BurnIn,
                };
                Record(DecisionKinds.Observed, $"Node {node} is burning in: it takes no work until it has reported healthy {rules.BurnInReports} time(s) and " +
                    $"{Format.Duration(rules.BurnIn)} has passed (until {now + rules.BurnIn:HH:mm:ss} UTC); a failing check quarantines it.", rule: "lifecycle.burnIn");
                break;
            case LifecycleEvent.Registered:
                life = NodeLife.Serving(now, "registered; the policy asks no burn-in");
                break;

            case LifecycleEvent.Judged j when life.Stage == LifecycleStage.BurnIn:
                if (j.Health == HealthState.Unhealthy)
                {
                    // Held back (shadow mode, an approval), the node stays in its burn-in, and its count starts again: it never serves on the reports before the failure.
                    life = life with { HealthyReports = 0, BurnInUntil = now + rules.BurnIn };
                    Ask(ActionNames.Quarantine, $"it failed its burn-in: {j.Why}");
                    break;
                }
                if (j.Health == HealthState.Healthy) life = life with { HealthyReports = life.HealthyReports + 1 };
                if (Passed(life)) Ask(ActionNames.Admit, BurnInPassed(life));
                break;
            case LifecycleEvent.Tick when life.Stage == LifecycleStage.BurnIn && Passed(life):
                Ask(ActionNames.Admit, BurnInPassed(life));
                break;

            case LifecycleEvent.LeaseAnswered a:
                Answered(a.Request, a.Decision);
                break;

            case LifecycleEvent.Decommissioning d when life.Stage != LifecycleStage.Retired:
                life = new NodeLife(LifecycleStage.Draining, now, $"decommissioned by {d.By}" + (string.IsNullOrWhiteSpace(d.Reason) ? "" : $": {d.Reason}"));
                break;
            case LifecycleEvent.Emptied when life.Stage == LifecycleStage.Draining:
                Record(DecisionKinds.Executed, $"Retired node {node}: every instance has moved off ({life.Why}); it takes no work and no reports, and stays in the trail.",
                    ActionNames.Decommission, outcome: "retired");
                life = new NodeLife(LifecycleStage.Retired, now, life.Why);
                effects.Add(new LifecycleEffect.Retire());
                break;

            case LifecycleEvent.Admitted op when life.Stage != LifecycleStage.Serving:
                var from = life.Stage;
                var words = string.IsNullOrWhiteSpace(op.Reason) ? "" : $": {op.Reason}";
                if (from == LifecycleStage.Retired && rules.BurnsIn)
                {
                    life = new NodeLife(LifecycleStage.BurnIn, now, $"admitted back from retirement by {op.By}{words}") { BurnInUntil = now + rules.BurnIn };
                    Record(DecisionKinds.Operator, $"Admitted node {node} back from retirement at the request of {op.By}{words}; it burns in again before it serves (until {now + rules.BurnIn:HH:mm:ss} UTC).");
                }
                else
                {
                    life = NodeLife.Serving(now, $"admitted by {op.By}{words}");
                    Record(DecisionKinds.Operator, from == LifecycleStage.Draining
                        ? $"Stopped the decommission of node {node} at the request of {op.By}{words}; it serves again."
                        : $"Admitted node {node} into service from {Format.Camel(from.ToString())} at the request of {op.By}{words}.");
                }
                if (from is LifecycleStage.Retired or LifecycleStage.Draining) effects.Add(new LifecycleEffect.Reinstate());
                break;
        }

        DateTimeOffset? wake = life.Stage == LifecycleStage.BurnIn && life.BurnInUntil is { } until && until > now ? until : null;
        return new LifecycleStep(life, effects.ToImmutable(), wake);

        bool Passed(NodeLife l) => now >= l.BurnInUntil && l.HealthyReports >= rules.BurnInReports;

        string BurnInPassed(NodeLife l) =>
            $"it passed its burn-in: {l.HealthyReports} healthy report(s) over {Format.Duration(now - l.Since)} (the policy asks {rules.BurnInReports} over {Format.Duration(rules.BurnIn)})";

        void Ask(string action, string why)
        {
            life = life with { Asked = action };
            effects.Add(new LifecycleEffect.AskLease(new LeaseRequest(RequestId(subject, life, action), subject.Actor, action, rules.PolicyVersion, subject.Scopes,
                ActionClass.Lifecycle, Basis: ActionBasis.Reported) { Why = $"{action} node {node}: {why}" }));
        }

        void Answered(LeaseRequest request, LeaseDecision decision)
        {
            if (life.Stage != LifecycleStage.BurnIn || life.Asked != request.Action || request.RequestId != RequestId(subject, life, request.Action))
            {
                if (decision.Granted) effects.Add(new LifecycleEffect.ReleaseLease(decision.LeaseId!, request.Scopes, "no longer needed"));
                return;
            }
            var why = request.Why?[(request.Why.IndexOf(": ", StringComparison.Ordinal) + 2)..] ?? request.Action;
            var verb = request.Action == ActionNames.Admit ? "admit" : "quarantine";
            if (!decision.Granted)
            {
                var by = $"{request.Action}:{decision.HeldBy}";
                if (life.HeldBy != by)
                {
                    if (decision.Shadow is { } shadow)
                        Record(DecisionKinds.Shadowed, $"Shadow mode ({shadow}): would {verb} node {node} ({why}) and did nothing; it {decision.Reason}.",
                            request.Action, decision.Evidence, Guardrails.Shadow, "lifecycle.burnIn", "shadowed");
                    else
                        Record(decision.HeldKind,
                            $"Held back: {verb} node {node} ({why}): {decision.Reason}.", request.Action, decision.Evidence, decision.Guardrail,
                            decision.Guardrail is { } g ? $"guardrails.{g}" : null);
                }
                life = life with { HeldBy = by, Asked = null };
                return;
            }
            effects.Add(new LifecycleEffect.ReleaseLease(decision.LeaseId!, request.Scopes, request.Action == ActionNames.Admit ? "admitted" : "quarantined"));
            if (request.Action == ActionNames.Admit)
            {
                Record(DecisionKinds.Executed, $"Admitted node {node} into service: {why}.", ActionNames.Admit, rule: "lifecycle.burnIn", outcome: "serving");
                life = NodeLife.Serving(now, why);
            }
            else
            {
                Record(DecisionKinds.Executed, $"Quarantined node {node}: {why}; it takes no work until a person admits it (fleet nodes admit {node}).",
                    ActionNames.Quarantine, rule: "lifecycle.burnIn", outcome: "quarantined");
                life = new NodeLife(LifecycleStage.Quarantined, now, why);
            }
        }
    }

    /// <summary>One request id per node, stage and action: a retry of the same ask finds the same approval.</summary>
    private static string RequestId(LifeSubject subject, NodeLife life, string action) =>
        $"{subject.Actor}/{action}/{(life.BurnInUntil ?? life.Since).ToUnixTimeMilliseconds()}"; // a failure restarts the soak: a new ask, a new approval
}
