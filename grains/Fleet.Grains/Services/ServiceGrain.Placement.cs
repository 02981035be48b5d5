using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Services;
using Fleet.Core.Text;

namespace Fleet.Grains.Services;

/// <summary>
/// Placement by negotiation: candidates from every domain's inventory, ranked, a reservation on the first node that accepts,
/// then the start action; and the stop action, each with its idempotency key (docs/services.md).
/// </summary>
public sealed partial class ServiceGrain
{
    /// <summary>How a start or stop ended (a healing action's outcome goes to its case).</summary>
    public async Task ActionCompletedAsync(ActionOutcome outcome)
    {
        _policy = policies.Current;
        if (await HealActionCompletedAsync(outcome, time.GetUtcNow()))
        {
            await PassAsync(time.GetUtcNow());
            return;
        }
        var i = S.Instances.Values.FirstOrDefault(x => x.ActionKey == outcome.IdempotencyKey);
        if (i is null || i.Node is not { } node)
        {
            LogStaleOutcome(log, Name, outcome.IdempotencyKey);
            return;
        }
        var now = time.GetUtcNow();
        _policy = policies.Current;
        var nodeGrain = GrainFactory.GetGrain<INodeGrain>(node);
        if (i.State == InstanceState.Starting)
        {
            if (outcome.Succeeded && await nodeGrain.ConfirmAsync(Name, i.Id))
            {
                Record(DecisionKinds.Executed, $"Started instance {i.Id} of service {Name} on node {node} (version {i.Version}): {outcome.Detail}.", ActionNames.StartInstance, outcome: "succeeded");
                Put(i with { State = InstanceState.Running, Since = now, ActionKey = null, Reason = null });
                state.State = S.WithStartTime(now - i.Since); // placed at i.Since: what a move of one of its instances costs
            }
            else if (outcome.Succeeded)
            {
                // It started, but the node no longer holds its room: it must not run unaccounted. Stop it; a replacement is placed.
                Record(DecisionKinds.Failed, $"Instance {i.Id} of service {Name} started on node {node}, but its reservation there had expired; stopping it and placing a replacement.",
                    ActionNames.StartInstance, outcome: "reservation-expired");
                await StopAsync(i with { Reason = "its reservation expired before it started", Moving = true }, node);
            }
            else
            {
                Record(DecisionKinds.Failed, $"Starting instance {i.Id} of service {Name} on node {node} failed: {outcome.Detail}; it is placed again elsewhere.", ActionNames.StartInstance, outcome: "failed");
                await nodeGrain.ReleasePlacementAsync(Name, i.Id);
                Put(i with { State = InstanceState.Pending, Node = null, Domain = null, Since = now, ActionKey = null, Avoid = i.Avoid.Add(node) });
            }
        }
        else if (i.State == InstanceState.Stopping && i.Fenced && !outcome.Succeeded)
        {
            // A fenced instance must not serve: its room stays held and the stop is tried again once its node is fine.
            Record(DecisionKinds.Failed, $"Stopping fenced instance {i.Id} of service {Name} on node {node} failed ({outcome.Detail}); it is tried again once the node is fine, and its room stays held until then.",
                ActionNames.StopInstance, outcome: "fence-pending");
            Put(i with { State = InstanceState.Failed, Since = now, ActionKey = null, FenceTries = i.FenceTries + 1 });
        }
        else if (i.State == InstanceState.Stopping)
        {
            Record(outcome.Succeeded ? DecisionKinds.Executed : DecisionKinds.Failed, outcome.Succeeded
                ? $"Stopped instance {i.Id} of service {Name} on node {node} ({i.Reason}): {outcome.Detail}; its reservation is freed."
                : $"Stopping instance {i.Id} of service {Name} on node {node} failed ({outcome.Detail}); its reservation is freed all the same.",
                ActionNames.StopInstance, outcome: outcome.Succeeded ? "succeeded" : "failed");
            await nodeGrain.ReleasePlacementAsync(Name, i.Id);
            state.State = S with { Instances = S.Instances.Remove(i.Id) };
        }
        _dirty = true;
        await PassAsync(now);
    }

    /// <summary>Negotiates a node for one Pending instance: candidates from every domain, ranked, reserved on the first that accepts, then started.</summary>
    private async Task PlaceAsync(ServiceInstance instance, string[] domains, IReadOnlyDictionary<string, NodeView?> views, DateTimeOffset now)
    {
        var spec = S.Spec!;
        var ask = new PlacementAsk(Name, instance.Id, spec.Resources.CpuCores, spec.Resources.MemoryBytes, spec.Placement.Labels, _policy.Services.ReservationTtl);
        var lists = await Task.WhenAll(domains.Select(d => GrainFactory.GetGrain<IDomainSupervisorGrain>(d).GetCandidatesAsync(ask, CandidatesPerDomain)));
        var others = S.Live.Where(i => i.Node is not null && i.Id != instance.Id).ToList();
        var perDomain = others.GroupBy(i => i.Domain!).ToDictionary(g => g.Key, g => g.Count());
        var perNode = others.GroupBy(i => i.Node!).ToDictionary(g => g.Key, g => g.Count());
        // Nodes being left are avoided (a drain); an instance a rollout replaces leaves a node that stays fine.
        var avoid = instance.Avoid.Concat(S.Instances.Values.Where(i => i.Moving && i.ReplaceWith is null && i.Node is not null).Select(i => i.Node!)).ToHashSet();
        // A replacement for a fenced instance keeps away from the node it was given up on.
        if (instance.Replaces is { } replaced && S.Instances.GetValueOrDefault(replaced) is { Fenced: true, Node: { } away }) avoid.Add(away);
        // The replacement of an instance moving off a node consolidation frees is packed where the plan would put it.
        var packing = instance.Replaces is { } moved && S.Instances.GetValueOrDefault(moved) is { Moving: true, Node: { } from } && views.GetValueOrDefault(from)?.Packing == true;
        var ranked = Placement.Rank(lists.SelectMany(l => l).Select(Placement.FromSummary), perDomain, spec.Placement.Spread, avoid, perNode, instance.Id,
            packing ? _policy.Lifecycle.Consolidate.MaxUtilisation : null, ask);
        var refusals = new List<string>();
        var cap = packing ? _policy.Lifecycle.Consolidate.MaxUtilisation : (double?)null;
        // Packed, the nodes under the cap are asked first and then, as many again, those over it: stale rows that all
        // refuse the cap never leave the replacement Pending while there is room.
        var tries = cap is { } limit
            ? ranked.Where(o => Placement.UsedAfter(o, ask) <= limit + 1e-9).Take(MaxReservationTries)
                .Concat(ranked.Where(o => !(Placement.UsedAfter(o, ask) <= limit + 1e-9)).Take(MaxReservationTries))
            : ranked.Take(MaxReservationTries);
        foreach (var candidate in tries)
        {
            // A packed replacement asks the nodes its inventory row shows under the cap to stay under it (the row may be stale:
            // another placement may have filled it since); the nodes over the cap, ranked last, are asked without one, so a
            // drain never waits for room that is not there.
            var packed = cap is { } c && Placement.UsedAfter(candidate, ask) <= c + 1e-9 ? ask with { MaxShare = c } : ask;
            var result = await GrainFactory.GetGrain<INodeGrain>(candidate.NodeId).ReserveAsync(packed);
            if (!result.Accepted)
            {
                refusals.Add(result.Offer.Refusal ?? candidate.NodeId);
                continue;
            }
            var placed = instance with
            {
                Node = candidate.NodeId, Domain = result.Offer.Domain, State = InstanceState.Starting, Since = now, Reason = null,
                ActionKey = Key(instance, "start", candidate.NodeId),
            };
            Record(DecisionKinds.Placed, $"Placed instance {instance.Id} of service {Name} on node {candidate.NodeId} in {result.Offer.Domain}: " +
                $"{Placement.WhyChosen(result.Offer, perDomain, spec.Placement.Spread)}" + (refusals.Count > 0 ? $" (refused first: {string.Join("; ", refusals)})" : "") + ".",
                ActionNames.StartInstance);
            Put(placed);
            await SaveAsync(true); // the placement is written before the start action
            executor.Start(InstanceAction(placed, ActionNames.StartInstance, candidate.NodeId));
            return;
        }
        var why = ranked.IsEmpty
            ? $"no node in {domains.Length} domain(s) has {Format.Num(spec.Resources.CpuCores)} cores and {Format.Bytes(spec.Resources.MemoryBytes)} free, takes work" +
              (spec.Placement.Labels.IsEmpty ? "" : $" and has the labels {string.Join(", ", spec.Placement.Labels.Select(kv => $"{kv.Key}={kv.Value}"))}")
            : $"every node asked refused: {string.Join("; ", refusals)}";
        if (instance.Reason != why)
        {
            Record(DecisionKinds.Escalated, $"Could not place instance {instance.Id} of service {Name}: {why}; it stays Pending and is placed as soon as capacity frees.",
                ActionNames.StartInstance, outcome: "no-capacity");
            Put(instance with { Reason = why });
        }
    }

    /// <summary>The Pending count last told to the capacity supervisor (0 after a restart: a service with Pending instances tells again).</summary>
    private int _toldPending;

    /// <summary>
    /// Tells the capacity supervisor how many instances cannot be placed for lack of room, when that changes (docs/lifecycle.md#provisioning);
    /// only while the policy provisions, or to say the demand is gone.
    /// </summary>
    private void TellDemand()
    {
        var pending = S.Spec is { } spec && !S.Deleting
            ? S.Instances.Values.Where(i => i.State == InstanceState.Pending && i.Node is null && i.Reason is not null).ToList()
            : [];
        if (pending.Count == _toldPending || (_toldPending == 0 && !_policy.Lifecycle.Provision.Enabled)) return;
        _toldPending = pending.Count;
        var r = S.Spec?.Resources;
        GrainFactory.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).DemandAsync(new Fleet.Abstractions.Lifecycle.CapacityDemand(Name, pending.Count,
            r?.CpuCores ?? 0, r?.MemoryBytes ?? 0, S.Spec?.Placement.Labels ?? ImmutableDictionary<string, string>.Empty,
            pending.Count == 0 ? time.GetUtcNow() : pending.Min(i => i.Since))).Ignore();
    }

    /// <summary>Runs the stop action for an instance (written as Stopping, with its key, before the action starts).</summary>
    private async Task StopAsync(ServiceInstance i, string node)
    {
        // Each try at stopping a fenced instance has its own key: a retry after a failure must run, not replay the failure.
        var stopping = i with { State = InstanceState.Stopping, ActionKey = Key(i, i.Fenced ? $"fence{i.FenceTries}" : "stop", node) };
        Put(stopping);
        await SaveAsync(true);
        executor.Start(InstanceAction(stopping, ActionNames.StopInstance, node));
    }

    private string Key(ServiceInstance i, string verb, string node) => $"{Actor}/{i.Id}/{verb}@{node}";

    private ActionRequest InstanceAction(ServiceInstance i, string action, string node) =>
        new(i.ActionKey!, node, action, i.Reason ?? $"{action} for service {Name}", null, Actor)
        {
            Parameters = ImmutableDictionary<string, string>.Empty.Add("service", Name).Add("instance", i.Id).Add("version", i.Version),
        };
}
