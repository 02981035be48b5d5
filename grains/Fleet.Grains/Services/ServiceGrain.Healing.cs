using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Remediation;
using Fleet.Core.Services;
using Fleet.Grains.Audit;
using Fleet.Grains.Supervision;
using Fleet.Grains.Telemetry;

namespace Fleet.Grains.Services;

/// <summary>
/// An instance's healing: each failing or silent instance on a node that is fine runs the one case machine
/// (<see cref="CaseMachine"/>, as a node does) on the ladder of <c>services.healing</c> (<see cref="InstanceHealing"/>).
/// The grain only loads the case, steps it, and carries out its effects: the lease through <see cref="LeaseBroker"/> (the
/// oversight gate, then the domain's budgets and brakes), a restart through the executor, a replace by fencing.
/// </summary>
public sealed partial class ServiceGrain
{
    /// <summary>A case left Acting by an earlier activation is resumed once (the executor's ledger tells whether its key ran).</summary>
    private bool _resumeHeals = true;

    /// <summary>Steps every instance's case that has something to do, after the service's own plan.</summary>
    private async Task HealPassAsync(IReadOnlyDictionary<string, NodeView?> byNode, DateTimeOffset now)
    {
        if (S.Spec is null) return;
        NodeLook Look(ServiceInstance i) => InstanceHealing.Look(i.Node is { } n ? byNode.GetValueOrDefault(n) : null, i.Node, _policy, now);
        foreach (var id in InstanceHealing.ToStep(S, Look, _policy, now))
        {
            if (InstanceHealing.Orphaned(S, id, Look) is { } orphan)
            {
                await EndHealAsync(id, orphan.Case, $"Closed the healing case of instance {id} of service {Name}: {orphan.Why}.");
                continue;
            }
            var resume = _resumeHeals && S.Heals.TryGetValue(id, out var c) && c.Phase == RemediationPhase.Acting;
            await StepHealAsync(id, resume ? new CaseEvent.Reactivated() : CaseEvent.Tick, Look, now);
        }
        _resumeHeals = false;
    }

    /// <summary>An action of an instance's case ended; false when the key is no case's.</summary>
    private async Task<bool> HealActionCompletedAsync(ActionOutcome outcome, DateTimeOffset now)
    {
        var id = S.Heals.FirstOrDefault(kv => kv.Value.IdempotencyKey == outcome.IdempotencyKey).Key;
        if (id is null) return false;
        var views = await ViewsAsync();
        NodeLook Look(ServiceInstance i) => InstanceHealing.Look(i.Node is { } n ? views.GetValueOrDefault(n) : null, i.Node, _policy, now);
        await StepHealAsync(id, new CaseEvent.ActionFinished(outcome), Look, now);
        return true;
    }

    private async Task StepHealAsync(string id, CaseEvent e, Func<ServiceInstance, NodeLook> look, DateTimeOffset now)
    {
        if (!S.Instances.TryGetValue(id, out var instance)) return;
        var before = S.Heals.GetValueOrDefault(id);
        var subject = InstanceHealing.Subject(S, instance, look(instance), _policy, now);
        var result = CaseMachine.Step(new CaseState(before, S.HealHistory.GetValueOrDefault(id) ?? RemediationHistory.Empty), e, subject, InstanceHealing.Rules(_policy), now);
        if (result.Ignored) return;
        var closing = before is not null && result.State.Case is null ? before : null;
        SetHeal(id, result.State.Case, result.State.History);
        if (result.State.Case is { } opened && opened.CaseId != before?.CaseId
            && CaseTracing.OpenCase(Actor, opened.CaseId, opened.Action, opened.Symptom,
                [("fleet.observe", instance.LastReportAt ?? now, $"the last report of instance {id} of service {Name}"),
                 ("fleet.judge", now, $"instance {id} of service {Name}: {opened.Symptom}")]) is { } traceParent)
            SetHeal(id, opened with { TraceParent = traceParent }, result.State.History);
        foreach (var effect in result.Effects)
        {
            if (await GrainFactory.RunSharedAsync(effect, now, () => audit.FlushAsync(_pending))) continue;
            switch (effect)
            {
                case CaseEffect.Record r:
                    RecordCase(r.Draft, S.Heals.GetValueOrDefault(id) ?? closing);
                    break;
                case CaseEffect.AskLease ask:
                    using (CaseTracing.Step("fleet.lease", S.Heals.GetValueOrDefault(id)?.TraceParent, Actor, ask.Request.Action))
                    {
                        var decision = await GrainFactory.AcquireLeaseAsync(ask.Request);
                        await StepHealAsync(id, new CaseEvent.LeaseAnswered(ask.Request, decision), look, now);
                    }
                    break;
                case CaseEffect.StartAction start when start.Request.Action == ActionNames.ReplaceInstance && S.Heals[id].Preventive:
                    await ReplaceAheadAsync(id, start.Request, now);
                    return; // the case ended with the move
                case CaseEffect.StartAction start when start.Request.Action == ActionNames.ReplaceInstance:
                    await ReplaceAsync(id, start.Request, now);
                    return; // the case ended with the replace
                case CaseEffect.StartAction start:
                    // A restart starts a new process: the old one's error rates say nothing of it.
                    if (start.Request.Action == ActionNames.RestartInstance) state.State = S with { ErrorSamples = S.ErrorSamples.Remove(id) };
                    await SaveAsync(true); // the case (and its key) is written before the action starts
                    using (CaseTracing.Step("fleet.execute", S.Heals.GetValueOrDefault(id)?.TraceParent, Actor, start.Request.Action))
                        executor.Start(start.Request with
                        {
                            Parameters = ImmutableDictionary<string, string>.Empty.Add("service", Name).Add("instance", id).Add("version", instance.Version),
                        });
                    break;
            }
        }
    }

    /// <summary>
    /// The replace rung: the instance is fenced where it stands (the planner stops it there and places a replacement
    /// elsewhere, away from that node), the lease is given back, and the case ends — the replacement starts afresh.
    /// </summary>
    private async Task ReplaceAsync(string id, ActionRequest request, DateTimeOffset now)
    {
        var c = S.Heals[id];
        var i = S.Instances[id];
        var why = $"healing in place did not hold ({c.Symptom}); replaced elsewhere";
        RecordCase(new RecordDraft(DecisionKinds.Executed,
            $"Replaced instance {id} of service {Name}: {c.Symptom}, and restarting it in place did not heal it; it is fenced on node {i.Node} (stopped there, never to serve again) " +
            "and a replacement is placed on another node.", ActionNames.ReplaceInstance, Outcome: "succeeded") { CaseId = c.CaseId }, c);
        Put(InstanceHealing.Fence(i, why, now));
        SetHeal(id, null, S.HealHistory.GetValueOrDefault(id));
        await SaveAsync(true); // the fence is written with its record, before the lease is given back
        if (request.LeaseId is { } lease) await GrainFactory.ReleaseLeaseAsync(lease, c.Scopes, "replaced");
    }

    /// <summary>
    /// A forecast's replace: the instance still serves, so it is moved make-before-break — a replacement is placed (not on its
    /// node) and starts first, then it stops — its error samples are forgotten, the lease given back, and the case ends.
    /// </summary>
    private async Task ReplaceAheadAsync(string id, ActionRequest request, DateTimeOffset now)
    {
        var c = S.Heals[id];
        var i = S.Instances[id];
        // The replacement is placed away from this node (placement avoids a moving instance's node) and starts first; this
        // one stops once it runs. Until then it serves where it is, and keeps its place in the count.
        RecordCase(new RecordDraft(DecisionKinds.Executed,
            $"Moving instance {id} of service {Name} off node {i.Node} before {c.Foreseen}: {c.Symptom}; a replacement starts first on another node, then this one stops.",
            ActionNames.ReplaceInstance, Outcome: "moving") { CaseId = c.CaseId }, c);
        Put(i with { Moving = true, Reason = $"replaced before {c.Foreseen}" });
        state.State = S with { ErrorSamples = S.ErrorSamples.Remove(id) };
        SetHeal(id, null, S.HealHistory.GetValueOrDefault(id));
        await SaveAsync(true);
        if (request.LeaseId is { } lease) await GrainFactory.ReleaseLeaseAsync(lease, c.Scopes, "replaced ahead");
        _dirty = true;
    }

    private async Task EndHealAsync(string id, RemediationCase c, string reason)
    {
        RecordCase(new RecordDraft(DecisionKinds.Verified, reason, c.Action, Outcome: "case-ended") { CaseId = c.CaseId }, c);
        if (c.Phase == RemediationPhase.AwaitingLease && c.LastDenial == Guardrails.Approval)
            await GrainFactory.GetGrain<IOversightGrain>(FleetNames.Default).WithdrawAsync($"{Actor}/{id}/{c.CaseId}/{c.Step}/{c.Attempt}", reason);
        SetHeal(id, null, S.Instances.ContainsKey(id) ? S.HealHistory.GetValueOrDefault(id) : null);
        await audit.FlushAsync(_pending);
        if (c.LeaseId is { } lease) await GrainFactory.ReleaseLeaseAsync(lease, c.Scopes, "case ended");
    }

    private void SetHeal(string id, RemediationCase? c, RemediationHistory? history)
    {
        var heals = c is null ? S.Heals.Remove(id) : S.Heals.SetItem(id, c);
        var histories = history is null || history == RemediationHistory.Empty ? S.HealHistory.Remove(id) : S.HealHistory.SetItem(id, history);
        if (ReferenceEquals(heals, S.Heals) && ReferenceEquals(histories, S.HealHistory)) return;
        state.State = S with { Heals = heals, HealHistory = histories };
        _dirty = true;
    }

    /// <summary>Instances gone from the service take their healing memory with them.</summary>
    private void ForgetHealsOfGone()
    {
        bool Gone(string id) => !S.Instances.TryGetValue(id, out var i) || i.State != InstanceState.Running || i.Moving;
        if (S.HealHistory.Keys.All(S.Instances.ContainsKey) && !S.ErrorSamples.Keys.Any(Gone)) return;
        state.State = S with
        {
            HealHistory = S.HealHistory.RemoveRange(S.HealHistory.Keys.Where(k => !S.Instances.ContainsKey(k))),
            ErrorSamples = S.ErrorSamples.RemoveRange(S.ErrorSamples.Keys.Where(Gone).ToList()),
        };
        _dirty = true;
    }

    private void RecordCase(RecordDraft d, RemediationCase? c)
    {
        using var step = CaseTracing.Step(CaseTracing.StepOf(d.Kind), c?.CaseId == d.CaseId ? c?.TraceParent : null, Actor, d.Action, d.Reason);
        _pending.Add(Decisions.Create(time.GetUtcNow(), Actor, Actor, d.Kind, d.Reason, _policy.Version, d.Action, d.Evidence, d.Rule, d.Guardrail,
            d.Outcome, incidentId: d.IncidentId, caseId: d.CaseId));
    }
}
