using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Actions;
using Fleet.Core.Text;

namespace Fleet.Core.Remediation;

/// <summary>The case machine's memory of one subject: the open case, if any, and its past actions.</summary>
public sealed record CaseState(RemediationCase? Case, RemediationHistory History)
{
    public static CaseState Empty { get; } = new(null, RemediationHistory.Empty);
}

/// <summary>What the machine sees of its subject at the moment of a step. The owner grain fills it in.</summary>
/// <param name="Subject">The subject, <c>kind/id</c>.</param>
/// <param name="Target">The node the subject's actions run on, if any.</param>
/// <param name="Judged">The subject's judged health.</param>
/// <param name="NeedsRemedy">Whether a reactive case may open now (for a node: Unhealthy and not draining).</param>
/// <param name="NeedsPrevention">Whether a preventive case may open now (for a node: memory forecast to run out, admin state none).</param>
/// <param name="Forecast">Whether the preventive trigger is still present.</param>
/// <param name="LastReportAt">When the subject last reported: verification needs a report after the action.</param>
/// <param name="Symptom">What is wrong, in words: for a preventive case (true) or a reactive one (false). Asked only when needed.</param>
/// <param name="Evidence">The figures a proposal rests on. Asked only when needed.</param>
/// <param name="Scopes">What a lease for this subject's actions touches.</param>
/// <param name="Basis">What a reactive action would rest on (a failed check, confirmed or unconfirmed silence).</param>
public sealed record CaseSubject(
    string Subject,
    string? Target,
    HealthState Judged,
    bool NeedsRemedy,
    bool NeedsPrevention,
    bool Forecast,
    DateTimeOffset? LastReportAt,
    Func<bool, string> Symptom,
    Func<IReadOnlyDictionary<string, string>> Evidence,
    ImmutableArray<string> Scopes,
    ActionBasis Basis = ActionBasis.Reported)
{
    public string Noun => Name ?? Subjects.Describe(Subject);

    /// <summary>What the case's lease request ids and action keys start with: the subject, unless several subjects share one owner (a service's instances).</summary>
    public string Key => KeyPrefix ?? Subject;

    /// <summary>Set when the subject's owner keeps several cases (one per instance): <c>service/api/api-2</c>.</summary>
    public string? KeyPrefix { get; init; }

    /// <summary>How records name the subject when its kind/id does not say it well ("instance api-2 of service api"); null: from <see cref="Subject"/>.</summary>
    public string? Name { get; init; }

    /// <summary>The symptom's signature for learning ("CheckFailed", "Silent"); null: this subject does not learn.</summary>
    public string? Signature { get; init; }

    /// <summary>What a preventive case foresees, in words ("memory exhaustion", "the disk filling and CPU saturation").</summary>
    public string Foreseen { get; init; } = "memory exhaustion";

    /// <summary>What the ladder has learned of an action on this symptom (the owner's copy of the outcome table).</summary>
    public Func<string, Learning.OutcomeRate?>? Learned { get; init; }
}

/// <summary>The rules a step follows: the ladder and its timing, the preventive rule, and what actions mean.</summary>
public sealed record CaseRules(
    RemediationPolicy Remediation,
    ForecastPolicy Forecast,
    TimeSpan LeaseDuration,
    int PolicyVersion,
    ActionCatalogue Catalogue,
    TimeSpan ReportInterval = default)
{
    /// <summary>What the ladder may learn (off by default).</summary>
    public LearningPolicy Learning { get; init; } = LearningPolicy.Default;

    /// <summary>
    /// The lease is given back once the action has run, not held through its verification: the disruption is the action
    /// itself (an instance's restart), and holding the domain's slot through the verify window would keep other cases waiting.
    /// </summary>
    public bool ReleaseAfterAction { get; init; }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FleetPolicy, CaseRules> Cache = [];

    /// <summary>The longest a denied case waits before it asks again.</summary>
    public static readonly TimeSpan MaxAskBackoff = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a case waits to ask again after its <paramref name="denials"/>-th denial in a row by one guardrail: the
    /// report interval, doubling with each further denial up to <see cref="MaxAskBackoff"/> — so a storm of denied nodes
    /// does not hammer their supervisor every tick.
    /// </summary>
    public TimeSpan AskBackoff(int denials) =>
        TimeSpan.FromTicks(Math.Min(MaxAskBackoff.Ticks, ReportInterval.Ticks * (1L << Math.Clamp(denials - 1, 0, 10))));

    /// <summary>The rules of a policy (made once per policy).</summary>
    public static CaseRules For(FleetPolicy policy) => Cache.GetValue(policy, p =>
        new(p.Remediation, p.Forecast, p.Guardrails.LeaseDuration, p.Version, ActionCatalogue.For(p), p.Telemetry.ReportInterval) { Learning = p.Learning });
}

/// <summary>What happened to the case: a pass of the loop, or an answer from outside.</summary>
public abstract record CaseEvent
{
    /// <summary>Compare what is with what should be, and take the next step.</summary>
    public sealed record Pass : CaseEvent;

    /// <summary>The supervisors answered the lease the last step asked for.</summary>
    public sealed record LeaseAnswered(LeaseRequest Request, LeaseDecision Decision) : CaseEvent;

    /// <summary>The executor reports how an action ended. The owner steps a <see cref="Pass"/> after carrying out the
    /// effects, since they may change what the machine sees (a drain changes the admin state).</summary>
    public sealed record ActionFinished(ActionOutcome Outcome) : CaseEvent;

    /// <summary>The owner came back to life while its case was Acting: hand the same key to the executor again.</summary>
    public sealed record Reactivated : CaseEvent;

    /// <summary>The subject left the scope its lease was granted in (a node moved domain): free it and ask again.</summary>
    public sealed record LeaseLost(string Why) : CaseEvent;

    /// <summary>A person took a handed-off case back into automatic care.</summary>
    public sealed record TakenBack(string By) : CaseEvent;

    public static readonly Pass Tick = new();
}

/// <summary>A decision record to write, without the fields the owner stamps (time, actor, ids).</summary>
public sealed record RecordDraft(
    string Kind, string Reason, string? Action = null, IReadOnlyDictionary<string, string>? Evidence = null,
    string? Rule = null, string? Guardrail = null, string? Outcome = null, string? IncidentId = null)
{
    /// <summary>The case the record belongs to (the incident is the case, unless the case is part of a larger one, such as a storm).</summary>
    public string? CaseId { get; init; }
}

/// <summary>What the owner grain must do, in order.</summary>
public abstract record CaseEffect
{
    public sealed record Record(RecordDraft Draft) : CaseEffect;

    /// <summary>Ask the supervisor chain for this lease, then step again with <see cref="CaseEvent.LeaseAnswered"/>.</summary>
    public sealed record AskLease(LeaseRequest Request) : CaseEffect;

    /// <summary>Write the state, then hand the action to the executor.</summary>
    public sealed record StartAction(ActionRequest Request) : CaseEffect;

    /// <summary>Write the records so far, then free the lease in every scope that holds it.</summary>
    public sealed record ReleaseLease(string LeaseId, ImmutableArray<string> Scopes, string Outcome) : CaseEffect;

    /// <summary>Apply the action's effect on the administrative state (drain, reset).</summary>
    public sealed record ApplyAdminEffect(AdminEffect Effect) : CaseEffect;

    /// <summary>Forget the samples of the forecast a preventive action has answered.</summary>
    public sealed record ForgetForecast : CaseEffect;

    /// <summary>A rung's verified outcome on this symptom, for the outcome table.</summary>
    public sealed record Learned(string Signature, string Action, bool Healed) : CaseEffect;

    /// <summary>The case no longer needs the approval it waited for (it recovered or moved on): withdraw it.</summary>
    public sealed record WithdrawApproval(string RequestId, string Why) : CaseEffect;
}

public sealed record CaseStepResult(CaseState State, ImmutableArray<CaseEffect> Effects, bool Ignored = false)
{
    public IEnumerable<RecordDraft> Records => Effects.OfType<CaseEffect.Record>().Select(r => r.Draft);
}

/// <summary>
/// The remediation case as a pure step: (state, event, subject, rules, now) → (state, effects). Propose a rung of the
/// ladder, hold back for the cooldown, ask for a lease, start the action, verify, escalate or close — and say each step in
/// a sentence. It touches nothing outside: the owner grain carries out the effects. Any kind of subject runs it.
/// </summary>
public static class CaseMachine
{
    public static CaseStepResult Step(CaseState state, CaseEvent e, CaseSubject subject, CaseRules rules, DateTimeOffset now)
    {
        var run = new Run(state, subject, rules, now);
        switch (e)
        {
            case CaseEvent.Pass:
                run.Pass();
                break;
            case CaseEvent.LeaseAnswered a:
                run.Answered(a.Request, a.Decision);
                break;
            case CaseEvent.ActionFinished f:
                if (!run.Finished(f.Outcome)) return new CaseStepResult(state, [], Ignored: true);
                break;
            case CaseEvent.Reactivated:
                run.Resume();
                break;
            case CaseEvent.LeaseLost l:
                run.Lost(l.Why);
                break;
            case CaseEvent.TakenBack t:
                run.TakeBack(t.By);
                break;
        }
        return new CaseStepResult(run.State, run.Effects.ToImmutable());
    }

    private sealed class Run(CaseState state, CaseSubject s, CaseRules rules, DateTimeOffset now)
    {
        public CaseState State { get; private set; } = state;
        public ImmutableArray<CaseEffect>.Builder Effects { get; } = ImmutableArray.CreateBuilder<CaseEffect>();

        private RemediationCase? Case => State.Case;
        private RemediationPolicy Ladder => rules.Remediation;
        private string Noun => s.Noun;
        private bool Recovered => s.Judged is HealthState.Healthy or HealthState.Degraded;

        private void Set(RemediationCase? c) => State = State with { Case = c };

        private void Record(string kind, string reason, string? action = null, IReadOnlyDictionary<string, string>? evidence = null,
            string? rule = null, string? guardrail = null, string? outcome = null, string? incident = null) =>
            Effects.Add(new CaseEffect.Record(new RecordDraft(kind, reason, action, evidence, rule, guardrail, outcome, incident ?? Case?.CaseId) { CaseId = Case?.CaseId }));

        private string Verb(string action) => rules.Catalogue[action].Verb;

        private string Rung(RemediationCase c) => c.Preventive
            ? $"policy forecast rule, v{rules.PolicyVersion}"
            : $"policy ladder step {c.Step + 1} of {Ladder.Ladder.Length}, v{rules.PolicyVersion}";

        private static string RuleOf(RemediationCase c) => c.Preventive ? "forecast.action" : $"remediation.ladder[{c.Step}]";

        public void Pass()
        {
            var c = Case;
            if (c is null)
            {
                if (s.NeedsRemedy) c = Open(false);
                else if (s.NeedsPrevention && rules.Forecast.Enabled) c = Open(true);
                else return;
                if (c is null) return;
            }

            switch (c.Phase)
            {
                case RemediationPhase.AwaitingLease:
                    if (!c.Preventive && Recovered)
                    {
                        SummariseDenials(c);
                        if (c.LastDenial == Guardrails.Approval)
                            Effects.Add(new CaseEffect.WithdrawApproval($"{s.Key}/{c.CaseId}/{c.Step}/{c.Attempt}", $"{Noun} recovered on its own"));
                        Record(DecisionKinds.Verified, $"Closed the case on {Noun} without acting: it recovered on its own before {c.Action} was permitted.", c.Action, outcome: "recovered-without-action");
                        Close(countAsStep: false);
                        return;
                    }
                    if (c.Preventive && !s.Forecast)
                    {
                        SummariseDenials(c);
                        Record(DecisionKinds.Verified, $"Dropped the preventive {c.Action} of {Noun}: {c.Foreseen ?? s.Foreseen} is no longer forecast within {Format.Duration(rules.Forecast.Horizon)}.", c.Action, outcome: "forecast-cleared");
                        Close(countAsStep: false);
                        return;
                    }
                    if (c.AskAgainAt is { } again && now < again) return; // backing off after a denial
                    AskLease(c);
                    return;
                case RemediationPhase.Acting when now >= c.Deadline:
                    Record(DecisionKinds.Failed, $"{Verb(c.Action)} on {Noun} gave no outcome within {Format.Duration(rules.LeaseDuration)}; counted as failed ({Rung(c)}).", c.Action, outcome: "no-outcome");
                    Release(c, "no outcome in time");
                    Escalate(c, $"{c.Action} gave no outcome");
                    return;
                case RemediationPhase.Verifying:
                    if (Recovered && s.LastReportAt > c.ActedAt)
                    {
                        Record(DecisionKinds.Verified, $"Verified {c.Action} on {Noun}: the symptom cleared ({Describe(s.Judged)}); on probation for {Format.Duration(Ladder.Probation)} ({Rung(c)}).",
                            c.Action, outcome: "cleared");
                        Learned(c, true);
                        Release(c, "verified");
                        Set(Case! with { Phase = RemediationPhase.Probation, Deadline = now + Ladder.Probation });
                    }
                    else if (now >= c.Deadline)
                    {
                        Record(DecisionKinds.Failed, $"{Verb(c.Action)} did not heal {Noun}: {c.Symptom} persisted past the verify window ({Rung(c)}).", c.Action, outcome: "symptom-persisted");
                        Learned(c, false);
                        Release(c, "symptom persisted");
                        Escalate(c, $"{c.Action} did not clear the symptom");
                        Pass();
                    }
                    return;
                case RemediationPhase.Probation:
                    if (s.Judged == HealthState.Unhealthy)
                    {
                        Escalate(c, $"it failed again during probation after {c.Action}");
                        Pass();
                    }
                    else if (now >= c.Deadline && s.Judged is HealthState.Healthy)
                    {
                        Close();
                    }
                    return;
                case RemediationPhase.HandedToHuman:
                    if (s.Judged == HealthState.Healthy)
                    {
                        Record(DecisionKinds.Verified, $"Closed the hand-off of {Noun}: it reports healthy again.", outcome: "recovered-after-hand-off");
                        Close(countAsStep: false);
                    }
                    return;
            }
        }

        private RemediationCase? Open(bool preventive)
        {
            var step = preventive ? -1 : EscalationLadder.FirstStep(State.History, now, Ladder);
            var symptom = s.Symptom(preventive);
            var c = new RemediationCase(Guid.CreateVersion7(now).ToString("N")[..12], preventive, symptom, step, preventive ? rules.Forecast.Action : Ladder.Ladder[step].Action,
                RemediationPhase.AwaitingLease, now) { Signature = preventive ? null : s.Signature, Foreseen = preventive ? s.Foreseen : null };
            Set(c);
            if (!preventive)
            {
                step = Learn(step);
                c = Case! with { Step = step, Action = Ladder.Ladder[step].Action };
                Set(c);
            }
            var action = c.Action;
            if (preventive)
                Record(DecisionKinds.Predicted, $"Predicted {s.Foreseen} on {Noun}: {symptom}.", action, rule: "forecast.horizon", evidence: s.Evidence());
            if (!preventive && EscalationLadder.IsHuman(Ladder, step))
            {
                HandToHuman(c, "its earlier cases this hour already climbed the whole ladder");
                return null;
            }
            var why = !preventive && step > 0 ? $" (starting at step {step + 1}: the last case closed less than {Format.Duration(Ladder.FlapWindow)} ago)" : "";
            Record(DecisionKinds.Proposed, $"Proposed {action} for {Noun}: {symptom} ({Rung(c)}){why}.", action, evidence: s.Evidence(), rule: RuleOf(c));
            return c;
        }

        private void AskLease(RemediationCase c)
        {
            if (EscalationLadder.NextAllowedAt(State.History, now, Ladder) is { } next)
            {
                if (c.LastDenial != Guardrails.Cooldown)
                {
                    var cooldown = EscalationLadder.CurrentCooldown(State.History, now, Ladder);
                    Record(DecisionKinds.Denied, $"Held back {c.Action} on {Noun}: it is in its {Format.Duration(cooldown)} cooldown after {State.History.RecentActions.Length} recent action(s), until {next:HH:mm:ss} UTC.",
                        c.Action, guardrail: Guardrails.Cooldown, rule: "remediation.cooldown");
                    Set(c with { LastDenial = Guardrails.Cooldown });
                }
                return;
            }
            var actionClass = c.Preventive ? ActionClass.Preventive : rules.Catalogue[c.Action].Class;
            Effects.Add(new CaseEffect.AskLease(new LeaseRequest($"{s.Key}/{c.CaseId}/{c.Step}/{c.Attempt}", s.Subject, c.Action, rules.PolicyVersion, s.Scopes, actionClass,
                Basis: c.Preventive ? ActionBasis.Forecast : s.Basis) { Why = $"{c.Action} for {Noun}: {c.Symptom} ({Rung(c)})" }));
        }

        public void Answered(LeaseRequest request, LeaseDecision decision)
        {
            var c = Case;
            if (c is not { Phase: RemediationPhase.AwaitingLease } || request.RequestId != $"{s.Key}/{c.CaseId}/{c.Step}/{c.Attempt}")
            {
                // The case moved on while the lease was asked for: give back what was granted.
                if (decision.Granted) Effects.Add(new CaseEffect.ReleaseLease(decision.LeaseId!, request.Scopes, "no longer needed"));
                return;
            }
            if (decision.Shadow is { } shadowedBy)
            {
                // Shadow mode: the decision and what the guardrails would have said are recorded once for this rung; nothing runs,
                // no lease is held, and the case stays on its rung (asking again now and then, in case shadow mode is turned off).
                if (!c.Shadowed)
                {
                    SummariseDenials(c);
                    Record(DecisionKinds.Shadowed, $"Shadow mode ({shadowedBy}): would {c.Action} {Noun} for {c.Symptom} ({Rung(c)}) and did nothing; it {decision.Reason}.",
                        c.Action, evidence: decision.Evidence, guardrail: Guardrails.Shadow, rule: RuleOf(c), outcome: "shadowed");
                }
                Set(Case! with { Shadowed = true, AskAgainAt = now + CaseRules.MaxAskBackoff });
                return;
            }
            if (decision.Guardrail == Guardrails.ApprovalRejected)
            {
                SummariseDenials(c);
                Record(DecisionKinds.HandedToHuman, $"Handed {Noun} to a human: {decision.Reason}; nothing runs on it automatically until a person takes it back.",
                    c.Action, evidence: decision.Evidence, guardrail: Guardrails.ApprovalRejected, rule: "oversight.approvals");
                Set(Case! with { Phase = RemediationPhase.HandedToHuman, Action = ActionNames.Human, LeaseId = null, Deadline = null });
                return;
            }
            if (!decision.Granted)
            {
                if (c.LastDenial == decision.Guardrail && c.Denials > 0)
                {
                    // The same refusal again: counted, and told once in a summary when the streak ends.
                    Set(c with
                    {
                        Denials = c.Denials + 1, LastDenialReason = decision.Reason, AskAgainAt = now + rules.AskBackoff(c.Denials + 1),
                    });
                    return;
                }
                SummariseDenials(c);
                // A denial by a storm's brake belongs to the storm's incident (the domain names it); the case keeps its own id.
                Record(DecisionKinds.Denied, $"Denied {c.Action} on {Noun}: {decision.Reason}.", c.Action, evidence: decision.Evidence, guardrail: decision.Guardrail,
                    rule: $"guardrails.{decision.Guardrail}", incident: decision.Evidence.GetValueOrDefault("incident"));
                Set(Case! with { LastDenial = decision.Guardrail, Denials = 1, DeniedSince = now, LastDenialReason = decision.Reason, AskAgainAt = null });
                return;
            }
            SummariseDenials(c);
            c = Case!;
            var key = $"{s.Key}/{c.CaseId}/{c.Step}";
            Record(DecisionKinds.Permitted, $"Permitted {c.Action} on {Noun}: {decision.Reason} (lease until {decision.ExpiresAt:HH:mm:ss} UTC).", c.Action, rule: RuleOf(c));
            var acting = c with
            {
                Phase = RemediationPhase.Acting, LeaseId = decision.LeaseId, IdempotencyKey = key, ActedAt = now, Deadline = decision.ExpiresAt,
                LastDenial = null, Scopes = request.Scopes, Denials = 0, DeniedSince = null, LastDenialReason = null, AskAgainAt = null,
            };
            State = new CaseState(acting, EscalationLadder.RecordAction(State.History, now, Ladder));
            Effects.Add(new CaseEffect.StartAction(new ActionRequest(key, s.Target, c.Action, c.Symptom, decision.LeaseId!, s.Subject)));
        }

        /// <summary>Takes an action's outcome; false when it is stale or repeated (not the case's current action).</summary>
        public bool Finished(ActionOutcome outcome)
        {
            var c = Case;
            if (c is null || c.IdempotencyKey != outcome.IdempotencyKey || c.Phase != RemediationPhase.Acting) return false;
            var rung = Rung(c);
            var spec = rules.Catalogue[c.Action];
            if (!outcome.Succeeded)
            {
                Record(DecisionKinds.Failed, $"{spec.Verb} on {Noun} failed: {outcome.Detail} ({rung}).", c.Action, outcome: "failed");
                Learned(c, false);
                Release(c, "the action failed");
                Escalate(c, $"{c.Action} failed ({outcome.Detail})");
            }
            else if (c.Preventive)
            {
                Record(DecisionKinds.Executed, $"{spec.Verb} {Noun} before {c.Foreseen ?? s.Foreseen}: {outcome.Detail} ({rung}).", c.Action, outcome: "succeeded");
                if (spec.Effect != AdminEffect.None) Effects.Add(new CaseEffect.ApplyAdminEffect(spec.Effect));
                Effects.Add(new CaseEffect.ForgetForecast());
                Record(DecisionKinds.Verified, $"Prevented {c.Foreseen ?? s.Foreseen} on {Noun}: its workload was moved off by {c.Action} while {c.Symptom}.", c.Action, outcome: "prevented");
                Release(c, "preventive action done");
                Close();
            }
            else
            {
                var window = Ladder.Ladder[Math.Min(c.Step, Ladder.Ladder.Length - 1)].VerifyWindow;
                Record(DecisionKinds.Executed, $"{spec.Verb} on {Noun}: {outcome.Detail}; watching for the symptom to clear within {Format.Duration(window)} ({rung}).",
                    c.Action, outcome: "succeeded");
                if (spec.Effect != AdminEffect.None) Effects.Add(new CaseEffect.ApplyAdminEffect(spec.Effect));
                if (rules.ReleaseAfterAction) Release(c, "action done; verifying");
                Set(Case! with { Phase = RemediationPhase.Verifying, ActedAt = outcome.CompletedAt, Deadline = outcome.CompletedAt + window });
            }
            return true;
        }

        public void Resume()
        {
            if (Case is not { Phase: RemediationPhase.Acting, IdempotencyKey: { } key, LeaseId: { } lease } c) return;
            Record(DecisionKinds.Observed, $"Resumed {c.Action} on {Noun} after its grain was reactivated; the action ledger tells whether key {key} already ran.", c.Action);
            Effects.Add(new CaseEffect.StartAction(new ActionRequest(key, s.Target, c.Action, c.Symptom, lease, s.Subject)));
        }

        public void Lost(string why)
        {
            if (Case is not { LeaseId: { } lease } c) return;
            Effects.Add(new CaseEffect.ReleaseLease(lease, c.Scopes, why));
            Set(c with { Phase = RemediationPhase.AwaitingLease, LeaseId = null, Scopes = [] });
        }

        public void TakeBack(string by)
        {
            if (Case is not { Phase: RemediationPhase.HandedToHuman }) return;
            Record(DecisionKinds.Verified, $"Closed the hand-off of {Noun}: {by} took it back into automatic care.", outcome: "resolved-by-human");
            State = CaseState.Empty;
        }

        /// <summary>
        /// The rung to try from <paramref name="step"/> on: a rung that almost never healed this symptom is skipped, within
        /// the policy's bounds (never the last automatic rung, never a pinned action), and each skip is recorded with its figures.
        /// </summary>
        private int Learn(int step)
        {
            if (!rules.Learning.Enabled || s.Signature is null || s.Learned is null) return step;
            while (!EscalationLadder.IsHuman(Ladder, step))
            {
                var action = Ladder.Ladder[step].Action;
                var last = step + 1 >= Ladder.Ladder.Length || EscalationLadder.IsHuman(Ladder, step + 1);
                if (Learning.OutcomeTable.SkipReason(rules.Learning, s.Learned(action), action, last) is not { } why) break;
                var rate = s.Learned(action)!;
                Record(DecisionKinds.Escalated, $"Skipped {action} for {Noun}: {why}; trying {Ladder.Ladder[step + 1].Action} instead.", Ladder.Ladder[step + 1].Action,
                    ImmutableDictionary<string, string>.Empty.Add("symptom", rate.Signature).Add("action", action).Add("healed", rate.Successes.ToString())
                        .Add("failed", rate.Failures.ToString()).Add("recent", string.Concat(rate.Recent.Select(x => x ? 'H' : 'F'))),
                    rule: "learning.skipRungAfter", outcome: "skipped");
                step++;
            }
            return step;
        }

        /// <summary>A rung's verified outcome, for the outcome table (reactive cases only: a forecast's action answers another question).</summary>
        private void Learned(RemediationCase c, bool healed)
        {
            if (!c.Preventive && c.Signature is { } signature) Effects.Add(new CaseEffect.Learned(signature, c.Action, healed));
        }

        /// <summary>Ends a streak of the same denial: more than one is told in one record ("denied 14 times by storm-brake since 10:02:11 UTC").</summary>
        private void SummariseDenials(RemediationCase c)
        {
            if (c.Denials > 1 && c.LastDenial is { } guardrail)
                Record(DecisionKinds.Denied,
                    $"Denied {c.Action} on {Noun} {c.Denials} times by {guardrail} since {c.DeniedSince:HH:mm:ss} UTC; the last time: {c.LastDenialReason}.",
                    c.Action, evidence: ImmutableDictionary<string, string>.Empty.Add("denials", c.Denials.ToString()).Add("since", $"{c.DeniedSince:O}"),
                    guardrail: guardrail, rule: $"guardrails.{guardrail}", outcome: "summary");
            if (c.Denials > 0 && Case is { } current) Set(current with { Denials = 0, DeniedSince = null, LastDenialReason = null, AskAgainAt = null });
        }

        private void Escalate(RemediationCase c, string why)
        {
            var next = c.Preventive ? 0 : c.Step + 1;
            if (!EscalationLadder.IsHuman(Ladder, next)) next = Learn(next);
            if (EscalationLadder.IsHuman(Ladder, next))
            {
                HandToHuman(c with { Step = next, LeaseId = null, Scopes = [] }, why);
                return;
            }
            var action = Ladder.Ladder[next].Action;
            var escalated = c with
            {
                Step = next, Action = action, Phase = RemediationPhase.AwaitingLease, Preventive = false, LeaseId = null, Scopes = [],
                IdempotencyKey = null, Deadline = null, LastDenial = null, Attempt = c.Attempt + 1, Symptom = s.Symptom(false), Shadowed = false,
            };
            Record(DecisionKinds.Escalated, $"Escalated {Noun} from {c.Action} to {action}: {why} ({Rung(escalated)}).", action, rule: RuleOf(escalated));
            Set(escalated);
        }

        private void HandToHuman(RemediationCase c, string why)
        {
            Record(DecisionKinds.HandedToHuman, $"Handed {Noun} to a human: {why}; the ladder has no further automatic step (policy v{rules.PolicyVersion}).",
                ActionNames.Human, rule: "remediation.ladder", evidence: s.Evidence());
            Set(c with { Phase = RemediationPhase.HandedToHuman, Action = ActionNames.Human, LeaseId = null, Deadline = null });
        }

        private void Close(bool countAsStep = true)
        {
            var c = Case!;
            State = new CaseState(null, countAsStep && !c.Preventive ? EscalationLadder.RecordClose(State.History, c.Step, now) : State.History);
        }

        /// <summary>Frees the case's lease (after the records so far are written: the verdict, then the release it caused).</summary>
        private void Release(RemediationCase c, string outcome)
        {
            if (c.LeaseId is null) return;
            Effects.Add(new CaseEffect.ReleaseLease(c.LeaseId, c.Scopes, outcome));
            if (Case is { } current) Set(current with { LeaseId = null, Scopes = [] });
        }

        private static string Describe(HealthState h) => h == HealthState.Healthy ? "it reports healthy" : "only soft thresholds remain";
    }
}
