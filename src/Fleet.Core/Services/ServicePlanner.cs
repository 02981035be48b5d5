using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Core.Remediation;
using Fleet.Core.Text;

namespace Fleet.Core.Services;

/// <summary>What the service's owner must do after a pass, in order.</summary>
public abstract record ServiceEffect
{
    public sealed record Record(RecordDraft Draft) : ServiceEffect;

    /// <summary>Negotiate a node for this Pending instance (offers, then a reservation), then start it.</summary>
    public sealed record Place(string Instance) : ServiceEffect;

    /// <summary>Run the stop action for this instance (now Stopping); its reservation is freed when it ends.</summary>
    public sealed record Stop(string Instance, string Node) : ServiceEffect;

    /// <summary>Free the room this instance held on a node (lost with the node, or never started).</summary>
    public sealed record Release(string Instance, string Node) : ServiceEffect;
}

public sealed record ServicePlan(ServiceState State, ImmutableArray<ServiceEffect> Effects);

/// <summary>How an instance's node stands, as a service judges it.</summary>
public enum NodeStanding { Fine, Down, Draining, Lost }

/// <summary>
/// One pass of a service's loop, pure: judge each instance's node (lost, draining, down, fine), keep the count of live
/// instances at the desired replicas (new Pending ones to place, surplus ones to stop), move instances off draining nodes
/// make-before-break (the replacement runs before the old one stops), stop fenced instances where they stood, and forget
/// failed instances once replaced. An instance's own healing (restart in place, replace) is its case's: <see cref="InstanceHealing"/>.
/// </summary>
public static class ServicePlanner
{
    /// <summary>How long a failed instance stays listed when nothing replaces it (so a reader sees what happened).</summary>
    public static readonly TimeSpan KeepFailed = TimeSpan.FromMinutes(10);

    /// <summary>The wait before a failed stop of a fenced instance is tried again on a node that is fine: 30 s, doubling, at most <see cref="KeepFailed"/>.</summary>
    public static TimeSpan FenceRetry(int tries) => TimeSpan.FromTicks(Math.Min(KeepFailed.Ticks, TimeSpan.FromSeconds(30).Ticks << Math.Clamp(tries - 1, 0, 10)));

    public static bool IsUp(ServiceInstance i) => i.State == InstanceState.Running && i.Healthy != false && i.Reason is null;

    /// <summary>Serving as far as its own reports show: it reports healthy, and its last report still holds.</summary>
    public static bool Serving(ServiceInstance i, DateTimeOffset now) => i.Healthy == true && i.FreshUntil is { } until && until >= now;

    /// <summary>
    /// How a node stands for the instances on it, with the reason in words. An instance on an Unhealthy node that does not
    /// show itself serving (no fresh healthy report of its own) is lost at once: it is fenced and replaced, not left to wait
    /// for the node's own remedy to be verified.
    /// </summary>
    public static (NodeStanding Standing, string Why) Judge(NodeView? view, string nodeId, FleetPolicy policy, DateTimeOffset now, ServiceInstance? instance = null)
    {
        if (view is null) return (NodeStanding.Lost, $"node {nodeId} is no longer registered");
        if (view.Admin == AdminState.Decommissioned) return (NodeStanding.Lost, $"node {nodeId} is decommissioned");
        if (view.Judged == HealthState.Unhealthy && instance is not null && !Serving(instance, now))
            return (NodeStanding.Lost, $"node {nodeId} is Unhealthy and the instance shows no sign of serving (no fresh healthy report of its own)");
        if (view.Judged == HealthState.Unhealthy)
        {
            var unhealthyFor = now - view.JudgedSince;
            if (policy.Services.RescheduleAfter is { } after)
                return unhealthyFor >= after
                    ? (NodeStanding.Lost, $"node {nodeId} has been Unhealthy for {Format.Duration(unhealthyFor)}, past services.rescheduleAfter ({Format.Duration(after)})")
                    : (NodeStanding.Down, $"node {nodeId} is Unhealthy");
            if (view.CaseStep >= 1 || view.CasePhase == nameof(RemediationPhase.HandedToHuman))
                return (NodeStanding.Lost, $"node {nodeId} is Unhealthy and its first ladder rung ({policy.Remediation.Ladder[0].Action}) has failed");
            var grace = policy.Remediation.Ladder[0].VerifyWindow;
            return unhealthyFor >= grace
                ? (NodeStanding.Lost, $"node {nodeId} has been Unhealthy for {Format.Duration(unhealthyFor)}, longer than its first ladder rung's verify window ({Format.Duration(grace)})")
                : (NodeStanding.Down, $"node {nodeId} is Unhealthy");
        }
        if (view.Judged == HealthState.Suspect) return (NodeStanding.Down, $"node {nodeId} is Suspect (silent)");
        if (view.Admin == AdminState.Draining) return (NodeStanding.Draining, $"node {nodeId} is draining");
        return (NodeStanding.Fine, "");
    }

    public static ServicePlan Plan(ServiceState state, IReadOnlyDictionary<string, NodeView?> nodes, FleetPolicy policy, DateTimeOffset now)
    {
        var spec = state.Spec ?? throw new InvalidOperationException("A service with no spec has nothing to plan.");
        var name = spec.Name;
        var effects = ImmutableArray.CreateBuilder<ServiceEffect>();
        var instances = state.Instances.ToBuilder();
        void Record(string kind, string reason, string? action = null, string? outcome = null) =>
            effects.Add(new ServiceEffect.Record(new RecordDraft(kind, reason, action, Outcome: outcome)));

        // 1. Judge each placed instance by its node.
        foreach (var i in state.Instances.Values.Where(i => i.Node is not null && i.State is InstanceState.Starting or InstanceState.Running))
        {
            var (standing, why) = Judge(nodes.GetValueOrDefault(i.Node!), i.Node!, policy, now, i.State == InstanceState.Running ? i : null);
            if (standing == NodeStanding.Fine && i.State == InstanceState.Running && nodes.GetValueOrDefault(i.Node!) is { } view
                && !view.Placements.Any(p => p.Service == name && p.Instance == i.Id))
                (standing, why) = (NodeStanding.Lost, $"its reservation on node {i.Node} is gone");
            switch (standing)
            {
                case NodeStanding.Lost when Reachable(nodes.GetValueOrDefault(i.Node!)):
                    // The node is still there and may come back: the instance is fenced (stopped there as soon as the node answers, its room
                    // freed then), so it never serves beside its replacement.
                    instances[i.Id] = InstanceHealing.Fence(i, why, now);
                    Record(DecisionKinds.Rescheduled, $"Rescheduled instance {i.Id} of service {name} off node {i.Node}: {why}; a replacement is placed elsewhere, " +
                        "and the instance is fenced there (stopped as soon as the node answers, so it never serves beside its replacement).", outcome: "lost");
                    break;
                case NodeStanding.Lost:
                    instances[i.Id] = i with { State = InstanceState.Failed, Since = now, Reason = why, ActionKey = null };
                    effects.Add(new ServiceEffect.Release(i.Id, i.Node!));
                    Record(DecisionKinds.Rescheduled, $"Rescheduled instance {i.Id} of service {name} off node {i.Node}: {why}; a replacement is placed elsewhere.", outcome: "lost");
                    break;
                case NodeStanding.Draining when !i.Moving && i.State == InstanceState.Running && !state.Deleting:
                    instances[i.Id] = i with { Moving = true, Reason = null };
                    Record(DecisionKinds.Rescheduled, $"Moving instance {i.Id} of service {name} off node {i.Node}: {why}; a replacement starts first, then this one stops.", outcome: "moving");
                    break;
                case NodeStanding.Down when i.Reason != why:
                    instances[i.Id] = i with { Reason = why };
                    break;
                case NodeStanding.Fine or NodeStanding.Draining:
                    // On a node that is fine, an instance whose own reports stopped counts as down (its healing case decides what to do).
                    var silent = i.State == InstanceState.Running && InstanceHealing.Silent(i, now) ? $"silent since {i.LastReportAt:HH:mm:ss} UTC" : null;
                    if (i.Reason != silent) instances[i.Id] = i with { Reason = silent };
                    break;
            }
        }

        // 2. Keep the live count at the desired replicas.
        var desired = state.Deleting ? 0 : state.Desired;
        var live = instances.Values.Where(i => i.State is InstanceState.Pending or InstanceState.Starting or InstanceState.Running && !i.Moving).ToList();
        var next = state.NextInstance;
        if (live.Count < desired)
        {
            var unreplaced = new Queue<string>(instances.Values
                .Where(i => (i.Moving || i.State == InstanceState.Failed) && !instances.Values.Any(r => r.Replaces == i.Id))
                .OrderBy(i => i.Id, StringComparer.Ordinal).Select(i => i.Id));
            for (var n = live.Count; n < desired; n++)
            {
                var id = $"{name}-{next++}";
                // A replacement runs what its rollout asks for, else the version of the instance it replaces.
                var replaces = unreplaced.Count > 0 ? instances[unreplaced.Dequeue()] : null;
                // A failed or drained instance is replaced with its own version while a rollout is under way (keeping its share), else with the spec's.
                var version = replaces is null ? spec.Version
                    : replaces.ReplaceWith ?? (state.Rollout is { Phase: RolloutPhase.Progressing or RolloutPhase.Paused } ? replaces.Version : spec.Version);
                instances[id] = new ServiceInstance(id, null, null, version, InstanceState.Pending, now, Replaces: replaces?.Id);
            }
        }
        else if (live.Count > desired)
        {
            var perDomain = live.Where(i => i.Domain is not null).GroupBy(i => i.Domain!).ToDictionary(g => g.Key, g => g.Count());
            var surplus = live
                .OrderBy(i => i.State switch { InstanceState.Pending => 0, InstanceState.Starting => 1, _ => 2 })
                .ThenByDescending(i => i.Domain is null ? 0 : perDomain[i.Domain])
                .ThenByDescending(i => i.Since)
                .Take(live.Count - desired);
            foreach (var i in surplus) StopOrDrop(i, state.Deleting ? "the service is being deleted" : $"{desired} replicas are wanted");
        }

        // 3. Make-before-break: a moving instance stops once its replacement runs (or nothing will replace it).
        foreach (var i in instances.Values.Where(i => i.Moving && i.State == InstanceState.Running).ToList())
        {
            var replacement = instances.Values.FirstOrDefault(r => r.Replaces == i.Id);
            if (replacement is { State: InstanceState.Running } || replacement is null && live.Count >= desired || state.Deleting)
                StopOrDrop(i, replacement is { State: InstanceState.Running }
                    ? $"its replacement {replacement.Id} runs on node {replacement.Node}"
                    : "no replacement is needed");
        }

        // 4. Forget failed instances once replaced (or after a while); a fenced one only once it has been stopped (or its node is gone).
        foreach (var i in instances.Values.Where(i => i.State == InstanceState.Failed && !i.Fenced).ToList())
            if (instances.Values.Any(r => r.Replaces == i.Id && r.State == InstanceState.Running) || now - i.Since >= KeepFailed || state.Deleting)
                instances.Remove(i.Id);

        // 5. Fence: stop a fenced instance where it stood — at once, and when a stop failed, again once its node is fine (backing off
        //    from 30 s to 10 min between tries), or after 10 min whatever its node says.
        foreach (var i in instances.Values.Where(i => i.State == InstanceState.Failed && i.Fenced).ToList())
        {
            var view = nodes.GetValueOrDefault(i.Node!);
            if (!Reachable(view) || state.Deleting && i.FenceTries > 0)
            {
                instances.Remove(i.Id);
                effects.Add(new ServiceEffect.Release(i.Id, i.Node!));
                Record(DecisionKinds.Observed, view is null || view.Admin == AdminState.Decommissioned
                    ? $"Forgot fenced instance {i.Id} of service {name}: node {i.Node} is {(view is null ? "no longer registered" : "decommissioned")}, so nothing is left to stop."
                    : $"Forgot fenced instance {i.Id} of service {name} with the service: its stop on node {i.Node} failed {i.FenceTries} time(s); if the node still runs it, stop it by hand.",
                    outcome: "fence-gone");
            }
            else if (i.FenceTries == 0 || now - i.Since >= KeepFailed
                     || Judge(view, i.Node!, policy, now).Standing == NodeStanding.Fine && now - i.Since >= FenceRetry(i.FenceTries))
            {
                instances[i.Id] = i with { State = InstanceState.Stopping, Since = now };
                effects.Add(new ServiceEffect.Stop(i.Id, i.Node!));
            }
        }

        // 6. Place what is pending.
        foreach (var i in instances.Values.Where(i => i.State == InstanceState.Pending).OrderBy(i => i.Id, StringComparer.Ordinal))
            effects.Add(new ServiceEffect.Place(i.Id));

        return new ServicePlan(state with { Instances = instances.ToImmutable(), NextInstance = next }, effects.ToImmutable());

        static bool Reachable(NodeView? view) => view is not null && view.Admin != AdminState.Decommissioned;

        void StopOrDrop(ServiceInstance i, string why)
        {
            if (i.Node is null || i.State == InstanceState.Pending)
            {
                instances.Remove(i.Id);
                return;
            }
            instances[i.Id] = i with { State = InstanceState.Stopping, Since = now, Reason = why };
            effects.Add(new ServiceEffect.Stop(i.Id, i.Node));
        }
    }
}
