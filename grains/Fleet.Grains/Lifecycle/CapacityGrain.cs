using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Lifecycle;
using Fleet.Core.Replay;
using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Supervision;

namespace Fleet.Grains.Lifecycle;

/// <summary>
/// The capacity supervisor (<c>capacity/default</c>): feeds <see cref="Provisioning"/> (a pure step in Fleet.Core) with the
/// services' Pending demand, the permit path's answers, the provisioner's outcomes and the machines that arrive, and carries
/// out its effects. It looks again every <c>services.reconcileInterval</c> while anything is Pending or on its way, or while
/// consolidation is on: then every <c>lifecycle.consolidate.interval</c> it plans (<see cref="Consolidation"/>, pure) and frees
/// the plan's first node that has instances to move — under a lease for action consolidate on that node (shadow mode,
/// approvals, the services' budgets, the domain's budget and storm brake), one node at a time, the node drained
/// make-before-break and retired as a decommission is.
/// </summary>
[GrainType(Subjects.CapacityKind)]
public sealed class CapacityGrain(
    [PersistentState("capacity", StorageNames.Fleet)] IPersistentState<ProvisionState> state,
    PolicyCache policies, IAuditStore audit, ActionExecutor executor, TimeProvider time, Tracing.TraceRecorder trace) : Grain, ICapacityGrain, IRemindable
{
    /// <summary>
    /// While it has work (a train, requests on their way, consolidation or provisioning on), a reminder wakes it every minute:
    /// with durable reminders (Redis) it is running again after its silo is lost; every silo's start wakes it too.
    /// </summary>
    public const string Watchdog = "capacity-watchdog";

    /// <summary>Whether the watchdog is registered, as this activation last set it (null: not yet looked at).</summary>
    private bool? _reminded;
    private readonly List<DecisionRecord> _pending = [];
    private IGrainTimer? _timer;

    private ProvisionState S => state.State ?? ProvisionState.Empty;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        state.State ??= ProvisionState.Empty;
        // A request written as Asking before the silo went down is handed to the provisioner again under its key: the action
        // ledger returns its outcome if it had finished, and the provisioner ignores a repeat of the key otherwise.
        var shape = policies.Current.Lifecycle.Provision.Shape;
        foreach (var r in S.Requests.Where(r => r.Phase == ProvisionPhase.Asking)) executor.Start(Provisioning.ActionFor(r, shape));
        EnsureTimer();
        return EnsureReminderAsync();
    }

    public Task ReceiveReminder(string reminderName, TickStatus status) => reminderName == Watchdog ? EnsureReminderAsync() : Task.CompletedTask;

    private async Task EnsureReminderAsync()
    {
        var busy = Busy;
        if (busy == _reminded) return;
        if (busy) await this.RegisterOrUpdateReminder(Watchdog, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        else if (await this.GetReminder(Watchdog) is { } reminder) await this.UnregisterReminder(reminder);
        _reminded = busy;
    }

    public Task DemandAsync(CapacityDemand demand) => StepAsync(new ProvisionEvent.DemandChanged(demand), andLook: true);

    public Task ArrivedAsync(string key, string node) => StepAsync(new ProvisionEvent.Arrived(key, node));

    public Task ServingAsync(string key, string node) => StepAsync(new ProvisionEvent.Serving(key, node), andLook: true);

    public async Task ActionCompletedAsync(ActionOutcome outcome)
    {
        if (outcome.IdempotencyKey.StartsWith($"{Provisioning.Subject}/give-back/", StringComparison.Ordinal))
        {
            var node = outcome.IdempotencyKey.Split('/')[^2];
            Record(outcome.Succeeded ? DecisionKinds.Executed : DecisionKinds.Failed, outcome.Succeeded
                ? $"The provisioner took back the machine of node {node}: {outcome.Detail}."
                : $"Asking the provisioner to take back the machine of node {node} failed: {outcome.Detail}; the node stays retired.",
                outcome: outcome.Succeeded ? "released" : "failed", action: ActionNames.GiveBack);
            await audit.FlushAsync(_pending);
            return;
        }
        await StepAsync(new ProvisionEvent.ActionFinished(outcome));
    }

    public Task PolicyChangedAsync()
    {
        EnsureTimer();
        return EnsureReminderAsync();
    }

    public async Task<ConsolidationPlan> PlanAsync()
    {
        var (nodes, services) = await GatherAsync();
        return Consolidation.Plan(nodes, services, policies.Current.Lifecycle.Consolidate, time.GetUtcNow());
    }

    /// <summary>The fleet as the planner sees it: every node that takes work, with the instances on it, and every service.</summary>
    private async Task<(List<PlannedNode> Nodes, Dictionary<string, PlannedService> Services)> GatherAsync(bool everyMember = false)
    {
        var members = await MembersAsync();
        var names = await GrainFactory.GetGrain<IServiceDirectoryGrain>(FleetNames.Default).ListAsync();
        var statuses = (await Task.WhenAll(names.Select(n => GrainFactory.GetGrain<IServiceGrain>(n).GetAsync()))).OfType<ServiceStatus>().ToList();
        var instances = statuses.SelectMany(s => s.Instances.Where(i => i.Node is not null && i.State is InstanceState.Running or InstanceState.Starting)
                .Select(i => (Node: i.Node!, Planned: new PlannedInstance(s.Name, i.Id, s.Spec.Resources.CpuCores, s.Spec.Resources.MemoryBytes, i.Since) { Avoid = i.Avoid, Needs = s.Spec.Placement.Labels })))
            .ToLookup(x => x.Node, x => x.Planned);
        var nodes = new List<PlannedNode>();
        foreach (var m in members.Where(m => everyMember ? m.Admin != AdminState.Decommissioned : TakesWork(m)).OrderBy(m => m.NodeId, StringComparer.Ordinal))
        {
            // A row written before nodes kept their room in it: the node is asked.
            var (cpu, memory) = m.CpuCores > 0 ? (m.CpuCores, m.MemoryBytes)
                : await GrainFactory.GetGrain<INodeGrain>(m.NodeId).GetStatusAsync() is { } st ? (st.Capacity.CpuCores, st.Capacity.MemoryBytes) : (0, 0L);
            nodes.Add(new PlannedNode(m.NodeId, m.Domain, cpu, memory, cpu > 0 && TakesWork(m), [.. instances[m.NodeId]]) { Labels = m.Labels });
        }
        var services = statuses.ToDictionary(s => s.Name, s => new PlannedService(s.Name, s.Spec.Placement.Spread, Math.Max(1, s.DesiredReplicas - s.MinHealthy), s.MedianStart,
            s.Rollout is not null || s.Instances.Any(i => i.Moving || i.State is InstanceState.Starting or InstanceState.Stopping or InstanceState.Failed)));
        return (nodes, services);
    }

    /// <summary>One look of consolidation: follow the node being freed, or (every interval) plan and free the next one.</summary>
    private async Task ConsolidateAsync()
    {
        var policy = policies.Current;
        var now = time.GetUtcNow();
        if (S.Consolidating is { } run)
        {
            var node = await GrainFactory.GetGrain<INodeGrain>(run.Node).GetStatusAsync();
            if ((node is null || node.Stage == LifecycleStage.Retired) && run.Action == ActionNames.GiveBack)
            {
                Record(DecisionKinds.Executed, $"Gave back node {run.Node}: {run.Why}; it is retired, and the provisioner is asked to release the machine.",
                    rule: "lifecycle.provision.headroom", outcome: "given-back", action: ActionNames.GiveBack);
                await audit.FlushAsync(_pending);
                executor.Start(new ActionRequest($"{Provisioning.Subject}/give-back/{run.Node}/{run.Since.ToUnixTimeMilliseconds()}", run.Node, ActionNames.GiveBack, run.Why, run.LeaseId, Provisioning.Subject)
                {
                    Parameters = ImmutableDictionary<string, string>.Empty.Add("domain", node?.Domain ?? ""),
                });
            }
            else if (node is null || node.Stage == LifecycleStage.Retired)
            {
                Record(DecisionKinds.Executed, $"Freed node {run.Node} to consolidate the fleet: its {run.Moves} instance(s) moved off make-before-break and it is retired ({run.Why}).",
                    rule: "lifecycle.consolidate", outcome: "freed");
                // A node freed: the next plan is made at the next look, not an interval later — a fleet with many nodes to
                // free frees them one after another, each as soon as the last has retired (the interval paces plans that free nothing).
                if (run.Action == ActionNames.Consolidate) state.State = S with { LastPlanAt = null };
            }
            else if (node.Stage != LifecycleStage.Draining)
                Record(DecisionKinds.Escalated, $"Freeing node {run.Node} was stopped ({node.StageReason}); consolidation goes on with its next plan.", outcome: "stopped");
            else return;
            state.State = S with { Consolidating = null };
            return;
        }
        // While a train retires a domain, nothing else takes capacity away: the room it was started on stays.
        if (S.Train is { Running: true }) return;
        if (!policy.Lifecycle.Consolidate.Enabled || S.LastPlanAt is { } last && now - last < policy.Lifecycle.Consolidate.Interval)
        {
            await GiveBackAsync(now);
            return;
        }
        // The next plan comes at once after a freed node; an empty machine due to be given back goes first (give-back
        // otherwise runs only between plans, and would wait while consolidation has nodes to free).
        if (S.LastPlanAt is null)
        {
            await GiveBackAsync(now);
            if (S.Consolidating is not null) return;
        }
        state.State = S with { LastPlanAt = now };
        var (nodes, services) = await GatherAsync();
        var plan = Consolidation.Plan(nodes, services, policy.Lifecycle.Consolidate, now);
        if (plan.Freed.FirstOrDefault(c => c.Moves.Length > 0) is not { } pick) return;
        var domain = nodes.First(n => n.NodeId == pick.NodeId).Domain;
        var scopes = ImmutableArray.Create(Subjects.Domain(domain)).AddRange(pick.Moves.Select(m => m.Service).Distinct().Order(StringComparer.Ordinal).Select(Subjects.Service));
        var request = new LeaseRequest($"{Provisioning.Subject}/consolidate/{pick.NodeId}/{S.Runs + 1}", Subjects.Node(pick.NodeId), ActionNames.Consolidate, policy.Version, scopes,
            ActionClass.Disruptive, Basis: ActionBasis.Reported) { Why = $"free node {pick.NodeId}: {pick.Why}", Size = pick.Moves.Length };
        await RetireAsync(request, $"free node {pick.NodeId} ({pick.Why}; moves: {Moves(pick)})", pick.Why, pick.Moves.Length, "lifecycle.consolidate", now);
    }

    /// <summary>
    /// Asks the permit path for a retirement (consolidate or give-back) and hands the granted lease to the node; a refusal is
    /// recorded once per node and guardrail (shadow mode says what would have run).
    /// </summary>
    private async Task RetireAsync(LeaseRequest request, string what, string why, int moves, string rule, DateTimeOffset now)
    {
        var nodeId = Subjects.IdOf(request.Subject);
        var decision = await GrainFactory.AcquireLeaseAsync(request);
        if (!decision.Granted)
        {
            var held = $"{request.Action}:{nodeId}:{decision.HeldBy}";
            if (S.ConsolidationHeldBy != held)
                Record(decision.HeldKind,
                    decision.Shadow is { } shadow
                        ? $"Shadow mode ({shadow}): would {what} and did nothing; it {decision.Reason}."
                        : $"Held back: {what}: {decision.Reason}.",
                    decision.Evidence, decision.HeldBy, rule, decision.Shadow is not null ? "shadowed" : null, request.Action);
            state.State = S with { ConsolidationHeldBy = held, Runs = decision.AsksAnew ? S.Runs + 1 : S.Runs };
            return;
        }
        var lease = new HeldLease(decision.LeaseId!, request.Action, request.Scopes, decision.ExpiresAt!.Value);
        Record(DecisionKinds.Permitted, $"Permitted: {what}: {decision.Reason}.", rule: rule, action: request.Action);
        await audit.FlushAsync(_pending);
        bool taken;
        try
        {
            taken = await GrainFactory.GetGrain<INodeGrain>(nodeId).RetireUnderLeaseAsync(lease, why);
        }
        catch
        {
            await GrainFactory.ReleaseLeaseAsync(lease.LeaseId, request.Scopes, "the node could not be asked");
            throw;
        }
        if (!taken)
        {
            await GrainFactory.ReleaseLeaseAsync(lease.LeaseId, request.Scopes, "the node was no longer free to retire");
            state.State = S with { Runs = S.Runs + 1 };
            return;
        }
        state.State = S with
        {
            Consolidating = new ConsolidationRun(nodeId, lease.LeaseId, now, moves, why) { Action = request.Action }, Runs = S.Runs + 1, ConsolidationHeldBy = null,
        };
    }

    /// <summary>
    /// While provisioning is on: serving nodes with nothing on them are counted, and those beyond the headroom that have been
    /// empty for the policy's window are given back, the longest empty first, one at a time — never while instances wait for room.
    /// </summary>
    private async Task GiveBackAsync(DateTimeOffset now)
    {
        var policy = policies.Current;
        var p = policy.Lifecycle.Provision;
        if (!p.Enabled)
        {
            if (!S.EmptySince.IsEmpty) state.State = S with { EmptySince = ImmutableDictionary<string, DateTimeOffset>.Empty };
            return;
        }
        var members = await MembersAsync();
        var empty = members.Where(m => m.Admin == AdminState.None && Fleet.Core.Services.Placement.TakesWork(m.Health) && m.Instances == 0).ToDictionary(m => m.NodeId);
        var since = empty.Keys.ToImmutableDictionary(n => n, n => S.EmptySince.TryGetValue(n, out var at) ? at : now);
        if (!since.OrderBy(kv => kv.Key).SequenceEqual(S.EmptySince.OrderBy(kv => kv.Key))) state.State = S with { EmptySince = since };
        if (since.Count <= p.Headroom || S.Demands.Values.Any(d => d.Pending > 0)) return;
        // Only machines the provisioner brought (their label names the request) are given back to it; every empty node counts as headroom.
        var oldest = since.Where(kv => now - kv.Value >= p.GiveBackAfter && empty[kv.Key].Labels?.ContainsKey(ProvisionLabels.Request) == true)
            .OrderBy(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        if (oldest.Count == 0) return;
        var (node, at) = oldest[0];
        var why = $"empty since {at:HH:mm:ss} UTC, longer than {Core.Text.Format.Duration(p.GiveBackAfter)}, with {since.Count} empty node(s) against a headroom of {p.Headroom}";
        var request = new LeaseRequest($"{Provisioning.Subject}/give-back/{node}/{S.Runs + 1}", Subjects.Node(node), ActionNames.GiveBack, policy.Version,
            [Subjects.Domain(empty[node].Domain)], ActionClass.Lifecycle, Basis: ActionBasis.Reported) { Why = $"give back node {node}: {why}" };
        await RetireAsync(request, $"give back node {node} ({why})", why, 0, "lifecycle.provision.headroom", now);
    }

    private async Task<List<NodeSummary>> MembersAsync()
    {
        var domains = (await GrainFactory.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync()).Domains;
        return (await Task.WhenAll(domains.Select(d => GrainFactory.GetGrain<IDomainSupervisorGrain>(d).GetMembersAsync()))).SelectMany(m => m).ToList();
    }

    private static bool TakesWork(NodeSummary m) => m.Admin == AdminState.None && Fleet.Core.Services.Placement.TakesWork(m.Health);

    public async Task<TrainRun> RetireDomainAsync(string domain, string by, string? reason, int batch = 1, bool force = false)
    {
        if (trace.On) trace.Add(new TraceEntry { Kind = TraceKinds.RetireDomain, At = time.GetUtcNow(), Domain = domain, By = by, Reason = reason, Batch = batch, Force = force });
        var domains = (await GrainFactory.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync()).Domains;
        if (!domains.Contains(domain)) throw new DomainNotFoundException(domain);
        if (S.Train is { Running: true } running)
        {
            if (running.Domain == domain) return running;
            throw new ActionRefusedException("maintenance-train",
                $"The maintenance train is retiring {running.Domain} (started by {running.By} at {running.Since:HH:mm:ss} UTC; {running.Progress}); one domain at a time keeps the rest of the fleet serving. " +
                $"Stop it first: fleet domains retire {running.Domain} --stop.");
        }
        var (nodes, _) = await GatherAsync(everyMember: true);
        var members = nodes.Count(n => n.Domain == domain);
        if (members == 0) throw new ActionRefusedException("nothing-to-retire", $"Domain {domain} has no node in service: nothing to retire.");
        var now = time.GetUtcNow();
        var policy = policies.Current;
        if (MaintenanceTrain.Room(domain, nodes) is { } lacking)
        {
            if (!force)
            {
                _pending.Add(Decisions.Create(now, Provisioning.Subject, Subjects.Domain(domain), DecisionKinds.Denied,
                    $"Refused to retire domain {domain} for {by}: {lacking}; the rest of the fleet must hold its work first (add capacity, or --force with a reason).",
                    policy.Version, ActionNames.Decommission, rule: "maintenance train", guardrail: "capacity"));
                await audit.FlushAsync(_pending);
                throw new ActionRefusedException("capacity", $"Retiring domain {domain} was refused: {lacking}. Add capacity first, or repeat with --force and a reason (each node still drains through its services' budgets).");
            }
            if (string.IsNullOrWhiteSpace(reason))
                throw new ActionRefusedException("capacity", $"Retiring domain {domain} with --force needs a reason: {lacking}.");
        }
        var run = new TrainRun(domain, by, reason, now, Math.Clamp(batch, 1, Core.Validation.InputRules.MaxTrainBatch)) { Nodes = members };
        state.State = S with { Train = run };
        _pending.Add(Decisions.Create(now, Provisioning.Subject, Subjects.Domain(domain), DecisionKinds.Operator,
            $"Maintenance train for domain {domain} started by {by}" + (string.IsNullOrWhiteSpace(reason) ? "" : $": {reason}") +
            $"; its {members} node(s) are cordoned and retired {run.Batch} at a time, each drained through its services' budgets under a lease" +
            (force ? " (forced: the rest of the fleet may lack room for all of its instances)" : "; the rest of the fleet has room for its instances") + ".",
            policy.Version, ActionNames.Decommission, rule: "maintenance train"));
        // Written (with its record) before the first step: a step that fails leaves a train the next tick carries on.
        await state.WriteStateAsync();
        await audit.FlushAsync(_pending);
        await TrainAsync();
        await state.WriteStateAsync();
        await audit.FlushAsync(_pending);
        EnsureTimer();
        await EnsureReminderAsync();
        return S.Train!;
    }

    public async Task<TrainRun> StopTrainAsync(string domain, string by, string? reason)
    {
        if (trace.On) trace.Add(new TraceEntry { Kind = TraceKinds.StopTrain, At = time.GetUtcNow(), Domain = domain, By = by, Reason = reason });
        if (S.Train is not { Running: true } run || run.Domain != domain)
            throw new ActionRefusedException("no-train", $"No maintenance train is retiring {domain}" + (S.Train is { Running: true } other ? $" (the running one retires {other.Domain})." : "."));
        var now = time.GetUtcNow();
        var stopped = run with { Finished = now, Progress = $"stopped by {by}" + (string.IsNullOrWhiteSpace(reason) ? "" : $" ({reason})") + $" after {run.Progress}" };
        state.State = S with { Train = stopped };
        // What the train cordoned and never asked to retire takes work again (a node a person cordoned before it stays cordoned).
        var uncordoned = new List<string>();
        var members = await GrainFactory.GetGrain<IDomainSupervisorGrain>(run.Domain).GetMembersAsync();
        foreach (var m in members.Where(m => m.Admin == AdminState.Cordoned && run.Cordoned.Contains(m.NodeId) && !run.Started.Contains(m.NodeId)))
        {
            try
            {
                await Decided(() => GrainFactory.GetGrain<INodeGrain>(m.NodeId).UncordonAsync(by, $"the maintenance train of {run.Domain} was stopped"));
                uncordoned.Add(m.NodeId);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _pending.Add(Decisions.Create(now, Provisioning.Subject, Subjects.Domain(run.Domain), DecisionKinds.Failed,
                    $"Could not uncordon node {m.NodeId} as the maintenance train of {run.Domain} stopped: {e.Message}; uncordon it by hand.", policies.Current.Version,
                    ActionNames.Decommission, rule: "maintenance train", outcome: "failed"));
            }
        }
        if (uncordoned.Count > 0) state.State = S with { Train = stopped = stopped with { Progress = stopped.Progress + $"; uncordoned {string.Join(", ", uncordoned)}" } };
        _pending.Add(Decisions.Create(now, Provisioning.Subject, Subjects.Domain(run.Domain), DecisionKinds.Operator,
            $"Maintenance train for domain {run.Domain} stopped by {by}" + (string.IsNullOrWhiteSpace(reason) ? "" : $": {reason}") +
            $" ({run.Progress}); no further node is asked; nodes already draining finish (fleet nodes admit stops one).",
            policies.Current.Version, ActionNames.Decommission, rule: "maintenance train", outcome: "stopped"));
        await state.WriteStateAsync();
        await audit.FlushAsync(_pending);
        EnsureTimer();
        await EnsureReminderAsync();
        return stopped;
    }

    /// <summary>One step of the running train: cordon the members not yet asked, ask the next to retire, note arrival.</summary>
    private async Task TrainAsync()
    {
        if (S.Train is not { Running: true } run) return;
        var now = time.GetUtcNow();
        var policy = policies.Current;
        var members = await GrainFactory.GetGrain<IDomainSupervisorGrain>(run.Domain).GetMembersAsync();
        var step = MaintenanceTrain.Next(run, [.. members.Select(m => new TrainCar(m.NodeId, m.Admin))]);
        run = step.Run;
        var why = $"maintenance train of {run.Domain}" + (string.IsNullOrWhiteSpace(run.Reason) ? "" : $": {run.Reason}");
        foreach (var id in step.Cordon)
        {
            try
            {
                await Decided(() => GrainFactory.GetGrain<INodeGrain>(id).CordonAsync(run.By, why));
                if (!run.Cordoned.Contains(id)) run = run with { Cordoned = run.Cordoned.Add(id) };
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                run = Failed(run, id, "cordon", e, now);
            }
        }
        foreach (var id in step.Retire)
        {
            var requestId = $"{Provisioning.Subject}/train/{run.Domain}/{id}/{run.Attempts}";
            LeaseDecision decision;
            try
            {
                decision = await GrainFactory.GetGrain<INodeGrain>(id).DecommissionForTrainAsync(requestId, run.By, why);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                run = Failed(run, id, "retire", e, now);
                break;
            }
            if (decision.Granted)
            {
                run = run with { Started = run.Started.Contains(id) ? run.Started : run.Started.Add(id), HeldBy = null };
                continue;
            }
            var guardrail = decision.HeldBy;
            var held = $"{id}:{guardrail}";
            if (run.HeldBy != held)
                _pending.Add(Decisions.Create(now, Provisioning.Subject, Subjects.Domain(run.Domain), decision.HeldKind,
                    decision.Shadow is { } shadow
                        ? $"Shadow mode ({shadow}): the maintenance train of {run.Domain} would retire node {id} and did nothing; it {decision.Reason}."
                        : $"Held back: the maintenance train of {run.Domain} may not retire node {id} yet: {decision.Reason}; it asks again every {Core.Text.Format.Duration(policy.Services.ReconcileInterval)}.",
                    policy.Version, ActionNames.Decommission, decision.Evidence, rule: "maintenance train", guardrail: guardrail,
                    outcome: decision.Shadow is not null ? "shadowed" : null));
            run = run with { HeldBy = held, Attempts = decision.AsksAnew ? run.Attempts + 1 : run.Attempts };
            break;
        }
        if (step.Done)
        {
            run = run with { Finished = now };
            _pending.Add(Decisions.Create(now, Provisioning.Subject, Subjects.Domain(run.Domain), DecisionKinds.Verified,
                $"Maintenance train for domain {run.Domain} {run.Progress}.", policy.Version, ActionNames.Decommission, rule: "maintenance train", outcome: "retired"));
        }
        if (!Equals(run, S.Train)) state.State = S with { Train = run };
    }

    /// <summary>A node the train could not ask (gone, or not answering): recorded once, asked again next time.</summary>
    private TrainRun Failed(TrainRun run, string node, string what, Exception e, DateTimeOffset now)
    {
        var held = $"{node}:failed";
        if (run.HeldBy != held)
            _pending.Add(Decisions.Create(now, Provisioning.Subject, Subjects.Domain(run.Domain), DecisionKinds.Failed,
                $"The maintenance train of {run.Domain} could not {what} node {node}: {e.Message}; it asks again every {Core.Text.Format.Duration(policies.Current.Services.ReconcileInterval)}.",
                policies.Current.Version, ActionNames.Decommission, rule: "maintenance train", outcome: "failed"));
        return run with { HeldBy = held };
    }

    /// <summary>Makes a call that carries out the train's own decision: not an input line of a recorded trace (the train's line is).</summary>
    private static async Task<T> Decided<T>(Func<Task<T>> call)
    {
        RequestContext.Set(TraceKinds.Decided, true);
        try { return await call(); }
        finally { RequestContext.Remove(TraceKinds.Decided); }
    }

    private static string Moves(ConsolidationCandidate c) => string.Join(", ", c.Moves.Select(m => $"{m.Instance} of {m.Service} to {m.To}"));

    private void Record(string kind, string reason, IReadOnlyDictionary<string, string>? evidence = null, string? guardrail = null, string? rule = null, string? outcome = null,
        string action = ActionNames.Consolidate) =>
        _pending.Add(Decisions.Create(time.GetUtcNow(), Provisioning.Subject, Provisioning.Subject, kind, reason, policies.Current.Version, action,
            evidence, rule: rule, guardrail: guardrail, outcome: outcome));

    public Task<CapacityStatus> GetStatusAsync()
    {
        var policy = policies.Current.Lifecycle.Provision;
        return Task.FromResult(new CapacityStatus([.. S.Demands.Values.OrderBy(d => d.Service, StringComparer.Ordinal)], S.Requests, S.HeldBy,
            Provisioning.Describe(S, policy, time.GetUtcNow())) { Train = S.Train });
    }

    private async Task StepAsync(ProvisionEvent e, bool andLook = false)
    {
        var before = S;
        await RunAsync(e);
        if (andLook) await RunAsync(new ProvisionEvent.Tick());
        if (e is ProvisionEvent.Tick)
        {
            try
            {
                await TrainAsync();
            }
            catch (Exception x) when (x is not OutOfMemoryException)
            {
                // The train's own trouble (its domain's supervisor not answering) never stops provisioning and consolidation.
                Record(DecisionKinds.Failed, $"The maintenance train's step failed: {x.Message}; it is tried again at the next look.", outcome: "failed", action: ActionNames.Decommission);
            }
            await ConsolidateAsync();
        }
        if (!ReferenceEquals(before, S)) await state.WriteStateAsync();
        await audit.FlushAsync(_pending);
        EnsureTimer();
        await EnsureReminderAsync();
    }

    private async Task RunAsync(ProvisionEvent e)
    {
        var policy = policies.Current;
        var now = time.GetUtcNow();
        var provision = policy.Lifecycle.Provision;
        // New machines never go to a domain a train is retiring (while another domain is there to take them).
        if (S.Train is { Running: true } train && !provision.Domains.IsDefaultOrEmpty && provision.Domains.Contains(train.Domain) && provision.Domains.Length > 1)
            provision = provision with { Domains = provision.Domains.Remove(train.Domain) };
        var step = Provisioning.Step(S, e, provision, policy.Version, now);
        state.State = step.State;
        foreach (var effect in step.Effects)
        {
            switch (effect)
            {
                case ProvisionEffect.Record r:
                    _pending.Add(Decisions.Create(now, Provisioning.Subject, Provisioning.Subject, r.Draft.Kind, r.Draft.Reason, policy.Version, r.Draft.Action,
                        r.Draft.Evidence, rule: r.Draft.Rule, guardrail: r.Draft.Guardrail, outcome: r.Draft.Outcome));
                    break;
                case ProvisionEffect.AskLease ask:
                    await RunAsync(new ProvisionEvent.LeaseAnswered(ask.Request, await GrainFactory.AcquireLeaseAsync(ask.Request)));
                    break;
                case ProvisionEffect.StartAction start:
                    // The request is written (as Asking) before the provisioner is called, so a restart finds its key.
                    await state.WriteStateAsync();
                    await audit.FlushAsync(_pending);
                    executor.Start(start.Request);
                    break;
                case ProvisionEffect.ReleaseLease release:
                    await audit.FlushAsync(_pending);
                    await GrainFactory.ReleaseLeaseAsync(release.LeaseId, release.Scopes, release.Outcome);
                    break;
            }
        }
    }

    /// <summary>A timer while something is Pending or on its way (an idle supervisor is let go); its period follows the policy.</summary>
    /// <summary>Something is Pending or on its way, a node is being freed, a train runs, or consolidation or provisioning is on.</summary>
    private bool Busy => !S.Demands.IsEmpty || S.Requests.Any(r => r.Phase is ProvisionPhase.Asking or ProvisionPhase.Sent)
        || S.Consolidating is not null || S.Train is { Running: true } || policies.Current.Lifecycle.Consolidate.Enabled || policies.Current.Lifecycle.Provision.Enabled;

    private void EnsureTimer()
    {
        var busy = Busy;
        if (!busy)
        {
            _timer?.Dispose();
            _timer = null;
            return;
        }
        if (_timer is not null) return;
        var period = policies.Current.Services.ReconcileInterval;
        _timer = this.RegisterGrainTimer(() => StepAsync(new ProvisionEvent.Tick()), new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }
}
