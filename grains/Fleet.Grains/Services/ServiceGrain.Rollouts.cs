using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Rollouts;
using Fleet.Core.Text;
using Fleet.Grains.Supervision;

namespace Fleet.Grains.Services;

/// <summary>
/// Rollouts of a service: the operations a person asks for, and each pass's part — the pure <see cref="RolloutPlanner"/>
/// decides; the grain takes the step's lease (class rollout, the domains of the instances it replaces) before it marks
/// them, and frees it when the step's instances run.
/// </summary>
public sealed partial class ServiceGrain
{
    public async Task<RolloutView> DeployAsync(string version, string? strategy, string by)
    {
        if (S.Spec is not { } spec || S.Deleting) throw new ServiceNotFoundException(Name);
        _policy = policies.Current;
        var now = time.GetUtcNow();
        StartRollout(spec, version, strategy ?? RolloutPlanner.Canary, by, now);
        await PassAsync(now);
        return View()!;
    }

    /// <summary>Starts a rollout (refused when one is active, or the version already runs); the caller passes and writes.</summary>
    private void StartRollout(Abstractions.Services.ServiceSpec spec, string version, string strategy, string by, DateTimeOffset now)
    {
        if (!RolloutPlanner.Strategies.Contains(strategy))
            throw new RolloutRefusedException("bad-strategy", $"'{strategy}' is not a rollout strategy; accepted: {string.Join(", ", RolloutPlanner.Strategies)}.");
        if (S.Rollout is { Active: true } active)
            throw new RolloutRefusedException("rollout-active",
                $"Service {Name} is already rolling out {active.To} (rollout {active.Id}, {Format.Camel(active.Phase.ToString())}); promote, abort or roll it back first.");
        if (spec.Version == version)
            throw new RolloutRefusedException("same-version", $"Service {Name} already runs version {version}.");
        if (S.Desired == 0)
            throw new RolloutRefusedException("no-instances", $"Service {Name} has 0 replicas: there is nothing to roll out or judge; apply its spec with version {version} instead.");
        var rollout = RolloutPlanner.Start(S, version, strategy, by, now, _policy.Rollout);
        state.State = S with { History = RolloutPlanner.HistoryWithCurrent(S), Rollout = rollout };
        _dirty = true;
        Record(DecisionKinds.Operator, $"Rollout {rollout.Id} of service {Name} from {rollout.From} to {version} started at the request of {by} ({strategy}): " +
            $"{string.Join(", ", rollout.Steps.Select(st => $"{st.Name} to {st.Target}"))} of {S.Desired} instance(s), each judged after {Format.Duration(_policy.Rollout.StepDuration)}" +
            (strategy == RolloutPlanner.Canary ? $" against a baseline of {rollout.From} started at the same time" : "") + ".",
            ActionNames.Rollout, rule: "rollout", incidentId: Incident(rollout));
    }

    public async Task<RolloutView> RollbackAsync(string by, string? reason) => await RollBackAsync(by, reason, "rolled-back by hand");

    public async Task<RolloutView> AbortAsync(string by, string? reason)
    {
        if (S.Spec is null) throw new ServiceNotFoundException(Name);
        if (S.Rollout is not { Active: true }) throw new RolloutRefusedException("no-rollout", $"Service {Name} has no rollout under way to abort.");
        return await RollBackAsync(by, reason, "aborted");
    }

    private async Task<RolloutView> RollBackAsync(string by, string? reason, string outcome)
    {
        if (S.Spec is null || S.Deleting) throw new ServiceNotFoundException(Name);
        _policy = policies.Current;
        var now = time.GetUtcNow();
        var why = string.IsNullOrWhiteSpace(reason) ? "" : $": {reason}";
        if (S.Rollout is { Active: true } r)
        {
            if (r.Phase != RolloutPhase.RollingBack)
            {
                state.State = S with { Rollout = r with { Phase = RolloutPhase.RollingBack, Outcome = outcome, Note = $"{outcome} by {by}{why}", StepRequested = false } };
                Record(DecisionKinds.Operator, $"Rollout {r.Id} of service {Name} ({r.From} → {r.To}) {outcome} at the request of {by}{why}; rolling back to {r.From}.",
                    ActionNames.Rollback, rule: "rollout", incidentId: Incident(r));
                _dirty = true;
            }
        }
        else
        {
            var back = RolloutPlanner.ManualRollback(S, by, now)
                ?? throw new RolloutRefusedException("nothing-to-roll-back", $"Service {Name} has no completed rollout to {S.Spec.Version} on record; there is no earlier version to go back to.");
            back = back with { Outcome = outcome, Note = $"rollback by {by}{why}" };
            state.State = S with { History = RolloutPlanner.HistoryWithCurrent(S), Rollout = back };
            Record(DecisionKinds.Operator, $"Rolling service {Name} back from {back.To} to {back.From} at the request of {by}{why} (rollout {back.Id}).",
                ActionNames.Rollback, rule: "rollout", incidentId: Incident(back));
            _dirty = true;
        }
        await PassAsync(now);
        return View()!;
    }

    public async Task<RolloutView> PromoteAsync(string by)
    {
        if (S.Spec is null) throw new ServiceNotFoundException(Name);
        if (S.Rollout is not { } r || r.Phase is not (RolloutPhase.Paused or RolloutPhase.Progressing or RolloutPhase.Watching))
            throw new RolloutRefusedException("no-rollout", $"Service {Name} has no rollout to promote (only a progressing, paused or watched one can be).");
        _policy = policies.Current;
        var now = time.GetUtcNow();
        if (r.Phase == RolloutPhase.Watching)
        {
            state.State = S with { Rollout = r with { Phase = RolloutPhase.Completed, EndedAt = now, Outcome = "completed" } };
            Record(DecisionKinds.Operator, $"Rollout {r.Id} of service {Name}: {by} ended the long-horizon watch of {r.To} early; {r.To} is the stable version.",
                ActionNames.Rollout, rule: "rollout.watch", incidentId: Incident(r));
        }
        else
        {
            if (r.Steps[r.Step].ReadyAt is null)
                throw new RolloutRefusedException("step-not-ready", $"Rollout {r.Id} of service {Name}: the {r.Steps[r.Step].Name} step's instances are not all running yet; promote it once they are.");
            var (next, promoted) = RolloutPlanner.Pass(r, now, _policy.Rollout, $"promoted by {by}");
            state.State = RolloutPlanner.AlignSpec(S with { Rollout = next });
            Record(DecisionKinds.Operator, $"Rollout {r.Id} of service {Name}: {by} passed the {r.Steps[r.Step].Name} step by hand" +
                (r.PausedReason is { } paused ? $" (it was paused: {paused})" : "") + ".", ActionNames.Rollout, rule: "rollout", incidentId: Incident(r));
            if (promoted) Record(DecisionKinds.Verified, RolloutPlanner.Promoted(Name, next, _policy.Rollout), ActionNames.Rollout, rule: "rollout.watch", outcome: "promoted", incidentId: Incident(r));
        }
        _dirty = true;
        await PassAsync(now);
        return View()!;
    }

    public async Task<RolloutView> ResumeAsync(string by)
    {
        if (S.Spec is null) throw new ServiceNotFoundException(Name);
        if (S.Rollout is not { Phase: RolloutPhase.Paused } r)
            throw new RolloutRefusedException("not-paused", $"Service {Name} has no paused rollout to resume.");
        _policy = policies.Current;
        var now = time.GetUtcNow();
        var step = r.Steps[r.Step];
        state.State = S with
        {
            Rollout = r with
            {
                Phase = RolloutPhase.Progressing, PausedReason = null, Extensions = 0, LeaseAttempt = r.LeaseAttempt + 1, LastDenial = null,
                Steps = step.ReadyAt is null ? r.Steps : r.Steps.SetItem(r.Step, step with { ReadyAt = now }),
            },
        };
        Record(DecisionKinds.Operator, $"Rollout {r.Id} of service {Name} resumed by {by}: the {step.Name} step is judged again after {Format.Duration(_policy.Rollout.StepDuration)} from now.",
            ActionNames.Rollout, rule: "rollout", incidentId: Incident(r));
        _dirty = true;
        await PassAsync(now);
        return View()!;
    }

    public Task<ImmutableArray<RolloutView>> GetRolloutsAsync()
    {
        if (S.Spec is null) throw new ServiceNotFoundException(Name);
        var all = S.History.AsEnumerable();
        if (S.Rollout is { } r) all = all.Append(r);
        return Task.FromResult(all.Reverse().Select(x => RolloutPlanner.View(Name, x, policies.Current.Rollout, S)).ToImmutableArray());
    }

    private RolloutView? View() => S.Rollout is { } r ? RolloutPlanner.View(Name, r, _policy.Rollout, S) : null;

    private string Incident(Rollout r) => Fleet.Core.Guarding.Incidents.Rollout(Name, r.Id);

    /// <summary>The rollout's part of a pass, before the service's planner: advance, then ask for the lease of what must be replaced.</summary>
    private async Task RolloutPassAsync(DateTimeOffset now)
    {
        if (S.Rollout is not { Active: true }) return;
        var pass = RolloutPlanner.Advance(S, now, _policy);
        if (!ReferenceEquals(pass.State.Rollout, S.Rollout) || !ReferenceEquals(pass.State.Spec, S.Spec)) _dirty = true;
        state.State = pass.State;
        foreach (var d in pass.Records)
            Record(d.Kind, d.Reason, d.Action, d.Guardrail, d.Rule, d.Outcome, d.Evidence, d.IncidentId);
        if (pass.ReleaseLease is { } lease) await GrainFactory.ReleaseLeaseAsync(lease, pass.ReleaseScopes, pass.ReleaseOutcome);

        var r = S.Rollout!;
        var moves = RolloutPlanner.Moves(S);
        if (moves.IsEmpty)
        {
            // A step with nothing to replace (the replicas went down meanwhile) is asked for at once: it becomes ready on the next pass.
            if (r is { Phase: RolloutPhase.Progressing, StepRequested: false })
            {
                state.State = RolloutPlanner.Mark(S, [], null, [], now);
                _dirty = true;
            }
            return;
        }
        if (r.LeaseId is { } held)
        {
            state.State = RolloutPlanner.Mark(S, moves, held, r.LeaseScopes, now);
            _dirty = true;
            return;
        }
        var action = r.Phase == RolloutPhase.RollingBack ? ActionNames.Rollback : ActionNames.Rollout;
        var scopes = moves.Select(m => S.Instances[m.Instance].Domain).OfType<string>().Distinct().Order(StringComparer.Ordinal).Select(Subjects.Domain).ToImmutableArray();
        var leaseId = $"{Actor}/rollout-{r.Id}/{(r.Phase == RolloutPhase.RollingBack ? "rollback" : $"step-{r.Step}")}.{r.LeaseAttempt}";
        // One slot in each domain it touches: the step is one action there, however many instances it replaces (they stop only once their
        // replacements run). A rollback restores what ran before: it is forced past the domains' concurrency and rate budgets (waiting for a
        // slot would leave the bad version serving), but a fleet freeze or a storm brake still holds it.
        var decision = await GrainFactory.AcquireLeaseAsync(new LeaseRequest(leaseId, Actor, action, _policy.Version, scopes, ActionClass.Rollout, Cost: 1,
            Force: r.Phase == RolloutPhase.RollingBack, Basis: r.Phase == RolloutPhase.RollingBack && r.Outcome is "aborted" or "rolled-back by hand" ? ActionBasis.Operator : ActionBasis.Reported) { Why = $"rollout {r.Id} of service {Name} ({r.From} → {r.To}): {(r.Phase == RolloutPhase.RollingBack ? $"rolling back to {r.From}" : r.Steps[r.Step].Name)}, replacing {moves.Length} instance(s)", Size = moves.Length });
        var what = string.Join(", ", moves.Select(m => m.Baseline ? $"{m.Instance} by a fresh {m.ReplaceWith} baseline" : $"{m.Instance} by {m.ReplaceWith}"));
        var stepName = r.Phase == RolloutPhase.RollingBack ? "rollback" : r.Steps[r.Step].Name;
        if (decision.Shadow is { } shadowedBy)
        {
            if (r.LastDenial != Guardrails.Shadow)
                Record(DecisionKinds.Shadowed, $"Shadow mode ({shadowedBy}): rollout {r.Id} of service {Name} would start its {stepName} step (replacing {what}) and did nothing; it {decision.Reason}.",
                    action, Guardrails.Shadow, evidence: decision.Evidence, incidentId: Incident(r), outcome: "shadowed");
            state.State = S with { Rollout = r with { LastDenial = Guardrails.Shadow } };
            _dirty = true;
            return;
        }
        if (decision.Guardrail == Guardrails.ApprovalRejected)
        {
            // Paused for a person either way; resuming (or aborting) asks anew, under a new request id.
            state.State = S with { Rollout = r with { Phase = RolloutPhase.Paused, PausedReason = decision.Reason, LeaseAttempt = r.LeaseAttempt + 1 } };
            Record(DecisionKinds.HandedToHuman, $"Rollout {r.Id} of service {Name} paused: {decision.Reason}. Resume or abort it (fleet services resume|abort {Name}).",
                action, Guardrails.ApprovalRejected, rule: "oversight.approvals", incidentId: Incident(r), outcome: "paused");
            _dirty = true;
            return;
        }
        if (!decision.Granted)
        {
            if (r.LastDenial != decision.Guardrail)
                Record(DecisionKinds.Denied, $"Rollout {r.Id} of service {Name}: the {stepName} step (replacing {what}) was not permitted: {decision.Reason}; asked again on each pass.",
                    action, decision.Guardrail, evidence: decision.Evidence, incidentId: Incident(r), outcome: "denied");
            // A wait for approval keeps its request id (the approval is found by it); any other refusal asks anew next time.
            state.State = S with { Rollout = r with { LastDenial = decision.Guardrail, LeaseAttempt = decision.Guardrail == Guardrails.Approval ? r.LeaseAttempt : r.LeaseAttempt + 1 } };
            _dirty = true;
            return;
        }
        Record(DecisionKinds.Permitted, $"Rollout {r.Id} of service {Name}: {stepName} permitted ({decision.Reason}); replacing {what}, each replacement started before the instance it replaces stops.",
            action, evidence: decision.Evidence, incidentId: Incident(r));
        state.State = RolloutPlanner.Mark(S, moves, leaseId, [.. scopes], now) is var marked ? marked with { Rollout = marked.Rollout! with { LastDenial = null } } : S;
        _dirty = true;
    }

    /// <summary>A service being deleted ends its rollout: the lease is freed and the end recorded.</summary>
    private async Task EndRolloutForDeleteAsync(string by, DateTimeOffset now)
    {
        if (S.Rollout is not { Active: true } r) return;
        if (r.LeaseId is { } lease) await GrainFactory.ReleaseLeaseAsync(lease, r.LeaseScopes.IsDefault ? [] : r.LeaseScopes, "service deleted");
        state.State = S with { Rollout = r with { Phase = RolloutPhase.RolledBack, EndedAt = now, Outcome = "service deleted", LeaseId = null, LeaseScopes = [] } };
        Record(DecisionKinds.Operator, $"Rollout {r.Id} of service {Name} ({r.From} → {r.To}) ended: the service is being deleted at the request of {by}.",
            ActionNames.Rollout, rule: "rollout", incidentId: Incident(r));
        _dirty = true;
    }
}
