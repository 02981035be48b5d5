using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Lifecycle;
using Fleet.Core.Replay;
using Fleet.Core.Services;
using Fleet.Grains.Supervision;

namespace Fleet.Grains.Nodes;

/// <summary>
/// The node's life (<see cref="NodeLifecycle"/>, a pure step in Fleet.Core): burn-in before it serves, quarantine when the
/// burn-in fails, a person's decommission drained through the services' budgets and retired once nothing is left on it.
/// The grain feeds the step and carries out its effects (a lease from the permit path, the retirement itself).
/// </summary>
public sealed partial class NodeGrain
{
    /// <summary>A node that is not serving (burning in, quarantined, retired) runs no remediation case and takes no work.</summary>
    private bool OutOfService => S.Stage is LifecycleStage.BurnIn or LifecycleStage.Quarantined or LifecycleStage.Retired;

    public async Task<NodeStatus> DecommissionAsync(string by, string? reason, bool force = false)
    {
        Traced(TraceKinds.Decommission, by, reason, force);
        if (S.Registration is null) throw new NodeNotRegisteredException(Id);
        await LoadPlacementsAsync();
        if (S.Stage is LifecycleStage.Draining or LifecycleStage.Retired) return Status();
        var now = time.GetUtcNow();
        if (S.DrainLease is { } held)
            Record(DecisionKinds.Permitted, $"Permitted decommission on node {Id} for {by}: it is already draining under lease {held.LeaseId} (until {held.ExpiresAt:HH:mm:ss} UTC).",
                ActionNames.Decommission);
        else if (S.Admin != AdminState.Draining || await HostsInstancesAsync(now))
            await PermitDrainAsync(ActionNames.Decommission, by, reason, force, now);
        await StartRetiringAsync(by, reason, now, $"Decommissioning node {Id} at the request of {by}" + (string.IsNullOrWhiteSpace(reason) ? "" : $": {reason}"),
            DecisionKinds.Operator, ActionNames.Decommission, rule: null);
        return Status();
    }

    public async Task<LeaseDecision> DecommissionForTrainAsync(string requestId, string by, string why)
    {
        if (S.Registration is null) throw new NodeNotRegisteredException(Id);
        await LoadPlacementsAsync();
        if (S.Stage is LifecycleStage.Draining or LifecycleStage.Retired || S.Admin == AdminState.Decommissioned)
            return new LeaseDecision(true, S.DrainLease?.LeaseId, S.DrainLease?.ExpiresAt, null, "the node is already retiring");
        var now = time.GetUtcNow();
        var decision = S.DrainLease is { } held ? new LeaseDecision(true, held.LeaseId, held.ExpiresAt, null, "it is already draining under its lease")
            : S.Admin == AdminState.Draining && !await HostsInstancesAsync(now) ? new LeaseDecision(true, null, null, null, "it is drained and empty")
            : await AskDrainAsync(ActionNames.Decommission, requestId, by, why, false, now);
        if (!decision.Granted) return decision;
        await StartRetiringAsync(by, why, now, $"Retiring node {Id} with its domain's maintenance train ({why}), started by {by}",
            DecisionKinds.Executed, ActionNames.Decommission, rule: "maintenance train");
        return decision;
    }

    /// <summary>
    /// The node takes no new work, its life steps to Draining, and it retires at once when nothing is on it (the last
    /// instance to leave wakes it otherwise). Shared by a person's decommission, the train, consolidation and give-back.
    /// </summary>
    private async Task StartRetiringAsync(string by, string? why, DateTimeOffset now, string what, string kind, string action, string? rule)
    {
        state.State = S with { Admin = AdminState.Draining };
        Record(kind, what + "; it takes no new work, its instances move off (each replacement runs before the old one stops), and it is retired once nothing is left.",
            action, rule: rule, outcome: kind == DecisionKinds.Executed ? "draining" : null);
        await LifeAsync(new LifecycleEvent.Decommissioning(by, why), now);
        await LifeTickAsync(new LifecycleEvent.Tick(), now); // a node with nothing on it retires at once
        _dirty = true;
        await CommitAsync(now, forceMember: true);
    }

    public async Task<bool> RetireUnderLeaseAsync(Fleet.Abstractions.Supervision.HeldLease lease, string why)
    {
        if (S.Registration is null || S.Stage != LifecycleStage.Serving || S.Admin != AdminState.None || S.DrainLease is not null || S.Case is not null) return false;
        await LoadPlacementsAsync();
        var now = time.GetUtcNow();
        // A node given back for being empty must still be empty: an instance placed since would be moved without its service's consent.
        if (lease.Action == ActionNames.GiveBack && await HostsInstancesAsync(now)) return false;
        _policy = policies.Current;
        state.State = S with { DrainLease = lease };
        var (doing, by, rule) = lease.Action == ActionNames.GiveBack
            ? ("Giving back node", "give-back", "lifecycle.provision.headroom")
            : ("Freeing node", "consolidation", "lifecycle.consolidate");
        await StartRetiringAsync(by, why, now, $"{doing} {Id}: {why}", DecisionKinds.Executed, lease.Action, rule);
        return true;
    }

    /// <summary>An operator's verb on a retired node is refused: it is admitted back first.</summary>
    private void RefuseIfRetired(string verb)
    {
        if (S.Stage == LifecycleStage.Retired || S.Admin == AdminState.Decommissioned)
            throw new Fleet.Abstractions.Supervision.ActionRefusedException("decommissioned",
                $"Node {Id} is decommissioned ({S.Life?.Why ?? "retired"}); it cannot be {verb}. Admit it back first: fleet nodes admit {Id}.");
    }

    public async Task<NodeStatus> AdmitAsync(string by, string? reason)
    {
        Traced(TraceKinds.Admit, by, reason);
        if (S.Registration is null) throw new NodeNotRegisteredException(Id);
        await LoadPlacementsAsync();
        var now = time.GetUtcNow();
        _policy = policies.Current;
        if (S.Stage == LifecycleStage.Serving) return Status();
        await LifeAsync(new LifecycleEvent.Admitted(by, reason), now);
        _dirty = true;
        await CommitAsync(now, forceMember: true);
        return Status();
    }

    /// <summary>After a report is judged, or at a wake-up: the burn-in counts and passes, a drained decommission retires.</summary>
    private async Task LifeTickAsync(LifecycleEvent e, DateTimeOffset now)
    {
        switch (S.Stage)
        {
            case LifecycleStage.BurnIn:
                await LifeAsync(e, now);
                break;
            case LifecycleStage.Draining when !await HostsInstancesAsync(now):
                await LifeAsync(new LifecycleEvent.Emptied(), now);
                break;
        }
    }

    /// <summary>Steps the node's life with one event and carries out its effects, in order.</summary>
    /// <summary>Tells the capacity supervisor that a machine of a provision request (its label) serves.</summary>
    private void TellServing(NodeRegistration reg)
    {
        if (reg.Labels is { } labels && labels.TryGetValue(Fleet.Abstractions.Lifecycle.ProvisionLabels.Request, out var request))
            GrainFactory.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).ServingAsync(request, Id).Ignore();
    }

    private async Task LifeAsync(LifecycleEvent e, DateTimeOffset now)
    {
        if (S.Registration is not { } reg) return;
        var step = NodeLifecycle.Step(S.Life ?? NodeLife.Serving(S.EffectiveSince, "registered"), e, new LifeSubject(Id, services.DomainScope(reg.Domain)),
            LifecycleRules.For(_policy), now);
        if (!Equals(step.Life, S.Life))
        {
            var wasServing = S.Stage == LifecycleStage.Serving;
            state.State = S with { Life = step.Life };
            _dirty = true;
            // A machine the provisioner brought that starts to serve no longer counts as on its way.
            if (!wasServing && S.Stage == LifecycleStage.Serving) TellServing(reg);
        }
        foreach (var effect in step.Effects)
        {
            switch (effect)
            {
                case LifecycleEffect.Record r:
                    Record(r.Draft);
                    break;
                case LifecycleEffect.AskLease ask:
                    await LifeAsync(new LifecycleEvent.LeaseAnswered(ask.Request, await GrainFactory.AcquireLeaseAsync(ask.Request)), now);
                    break;
                case LifecycleEffect.ReleaseLease release:
                    await FlushAuditAsync();
                    await GrainFactory.ReleaseLeaseAsync(release.LeaseId, release.Scopes, release.Outcome);
                    break;
                case LifecycleEffect.Retire:
                    // The admin state moves with the stage before anything remote is asked: a failed release leaves a lease to
                    // expire on its own, never a node retired in one field and draining in the other.
                    state.State = S with { Admin = AdminState.Decommissioned };
                    if (S.Case is { } open)
                    {
                        await StepAsync(new Fleet.Core.Remediation.CaseEvent.LeaseLost("the node was retired"), now);
                        Record(DecisionKinds.Verified, $"Closed case {open.CaseId} on node {Id} ({open.Action}): the node was retired.", open.Action, outcome: "retired");
                        state.State = S with { Case = null };
                    }
                    await ReleaseDrainLeaseAsync(now, "retired");
                    break;
                case LifecycleEffect.Reinstate:
                    state.State = S with { Admin = AdminState.None };
                    await ReleaseDrainLeaseAsync(now, "the decommission was stopped");
                    break;
            }
        }
        if (step.WakeAt is { } at) wakeups.Schedule(Id, at, noLater: true);
    }

    /// <summary>The node's stage as its status shows it.</summary>
    private NodeStatus WithLife(NodeStatus status) => S.Life is not { } life ? status : status with
    {
        Stage = life.Stage, StageReason = life.Why, StageSince = life.Since,
        BurnInReports = life.Stage == LifecycleStage.BurnIn ? life.HealthyReports : null,
        BurnInUntil = life.Stage == LifecycleStage.BurnIn ? life.BurnInUntil : null,
    };
}
