using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Actions;
using Fleet.Core.Remediation;
using Fleet.Core.Text;

namespace Fleet.Core.Services;

/// <summary>How an instance's node looks to its healing: how it stands for the service, and when it last reported.</summary>
public sealed record NodeLook(NodeStanding Standing, DateTimeOffset? ReportedAt);

/// <summary>
/// What an instance's healing needs from the one case machine (<see cref="CaseMachine"/>, the node's own): its ladder
/// and timing from <c>services.healing</c>, how the instance stands (healthy, failing, silent) and what its case's lease
/// touches. An instance that reports unhealthy, or falls silent, on a node that is fine gets a case; a case on an
/// instance that is no longer there to heal (its node went down, it was moved or stopped) is dropped.
/// </summary>
public static class InstanceHealing
{
    private static readonly ConditionalWeakTable<FleetPolicy, CaseRules> Cache = [];

    /// <summary>
    /// The rules of an instance's case: <c>restart-instance</c> as many times as the policy says, then <c>replace-instance</c>,
    /// then a person; the cooldown between actions starts at the backoff and doubles (the crash-loop backoff); a case that
    /// opens within the remediation flap window of the last one starts a rung higher.
    /// </summary>
    public static CaseRules Rules(FleetPolicy policy) => Cache.GetValue(policy, p =>
    {
        var h = p.Services.Healing;
        var ladder = Enumerable.Repeat(new LadderStep(ActionNames.RestartInstance, h.VerifyWindow), h.RestartsBeforeReplace)
            .Append(new LadderStep(ActionNames.ReplaceInstance, h.VerifyWindow))
            .Append(new LadderStep(ActionNames.Human, TimeSpan.Zero))
            .ToImmutableArray();
        var remediation = new RemediationPolicy(ladder, h.Backoff, 2, h.MaxBackoff, h.StableAfter, p.Remediation.FlapWindow);
        // The restart is the disruption: the domain's slot is given back once it has run, not held through the verify window.
        // Its prevention: an error rate forecast to reach its limit replaces the instance, make-before-break.
        return new CaseRules(remediation, p.Forecast with { Enabled = p.Forecast.Enabled && p.Forecast.Errors.Enabled, Action = ActionNames.ReplaceInstance },
            p.Guardrails.LeaseDuration, p.Version, ActionCatalogue.For(p), p.Telemetry.ReportInterval)
        {
            ReleaseAfterAction = true,
        };
    });

    /// <summary>How long a report without a TTL of its own holds.</summary>
    public static TimeSpan DefaultTtl(FleetPolicy policy) => 3 * policy.Telemetry.ReportInterval;

    /// <summary>Silent: it has reported, and its last report no longer holds.</summary>
    public static bool Silent(ServiceInstance i, DateTimeOffset now) => i.FreshUntil is { } until && until < now;

    /// <summary>
    /// Silent on its own: silent while its node has reported since the instance's last report stopped holding. A node that
    /// went quiet too is the node's matter (its own judgement and the service's failover), not the instance's.
    /// </summary>
    public static bool SilentAlone(ServiceInstance i, DateTimeOffset now, NodeLook node) =>
        Silent(i, now) && node.ReportedAt is { } reported && reported > i.FreshUntil;

    /// <summary>The instance as a case sees it: Unhealthy when it reports so or is silent on its own, Healthy when its last report holds and says so.</summary>
    public static HealthState Judge(ServiceInstance i, DateTimeOffset now, NodeLook node) =>
        i.Healthy == false || SilentAlone(i, now, node) ? HealthState.Unhealthy
        : i.Healthy == true && !Silent(i, now) ? HealthState.Healthy
        : HealthState.Unknown;

    /// <summary>
    /// Whether the instance is one healing looks after: running where it was placed, its node fine, not being moved or
    /// replaced, and not the new version of a rollout under way (the rollout's judgement owns those).
    /// </summary>
    public static bool InCare(ServiceState state, ServiceInstance i, NodeLook node) =>
        !state.Deleting && i.State == InstanceState.Running && !i.Moving && i.ReplaceWith is null && !i.Fenced && i.Node is not null && node.Standing == NodeStanding.Fine
        && !(state.Rollout is { Phase: RolloutPhase.Progressing or RolloutPhase.Paused } r && i.Version == r.To);

    /// <summary>The case machine's view of one instance.</summary>
    public static CaseSubject Subject(ServiceState state, ServiceInstance i, NodeLook node, FleetPolicy policy, DateTimeOffset now)
    {
        var service = state.Spec!.Name;
        var judged = Judge(i, now, node);
        var inCare = InCare(state, i, node);
        var samples = state.ErrorSamples.GetValueOrDefault(i.Id);
        // An error rate forecast to reach its limit: the instance is Degraded (a healthy report does not close the case a
        // person was handed); one that already reports unhealthy is the reactive ladder's, and its forecast no longer counts.
        var errors = inCare && judged != HealthState.Unhealthy ? ErrorTrend.Breaching(samples, policy.Forecast) : null;
        if (errors is not null && judged == HealthState.Healthy) judged = HealthState.Degraded;
        return new CaseSubject(Subjects.Service(service), i.Node, inCare ? judged : HealthState.Unknown,
            NeedsRemedy: inCare && policy.Services.Healing.Enabled && judged == HealthState.Unhealthy,
            NeedsPrevention: errors is not null && policy.Services.Healing.Enabled,
            Forecast: errors is not null, i.LastReportAt,
            preventive => preventive && errors is { } t ? ErrorTrend.Describe(t, samples, policy.Forecast) : Symptom(i, now), () => Evidence(i, now),
            i.Domain is { } d ? [Subjects.Domain(d)] : [],
            i.Healthy == false ? ActionBasis.Reported : ActionBasis.UnconfirmedSilence)
        {
            Name = $"instance {i.Id} of service {service}",
            // Its outcomes are counted with every instance's, by what was wrong (learning skips rungs for nodes' cases only, for now).
            Signature = $"instance:{(i.Healthy == false ? "ReportsUnhealthy" : "Silent")}",
            // One owner, many cases: the instance in every lease id and action key, so two cases opened together never share one.
            KeyPrefix = $"{Subjects.Service(service)}/{i.Id}",
            Foreseen = ErrorTrend.Foreseen(policy.Forecast),
        };
    }

    /// <summary>What is wrong with the instance, in words.</summary>
    public static string Symptom(ServiceInstance i, DateTimeOffset now) =>
        i.Healthy == false
            ? $"it reports unhealthy on node {i.Node}" + (i.Load is { } l ? $" (errors {Format.Num(Math.Round(l.Errors, 2))}/s, p99 {Format.Num(Math.Round(l.LatencyP99Ms))} ms)" : "")
            : Silent(i, now) ? $"it has been silent on node {i.Node} since {i.LastReportAt:HH:mm:ss} UTC (its last report held until {i.FreshUntil:HH:mm:ss})"
            : "it does not report healthy";

    private static ImmutableDictionary<string, string> Evidence(ServiceInstance i, DateTimeOffset now)
    {
        var e = ImmutableDictionary<string, string>.Empty.Add("instance", i.Id).Add("node", i.Node ?? "").Add("version", i.Version)
            .Add("healthy", i.Healthy?.ToString() ?? "unknown").Add("silent", Silent(i, now).ToString());
        if (i.LastReportAt is { } at) e = e.Add("lastReport", $"{at:O}");
        if (i.Load is { } l) e = e.Add("errorsPerSecond", Format.Num(Math.Round(l.Errors, 3))).Add("p99Ms", Format.Num(Math.Round(l.LatencyP99Ms)));
        return e;
    }

    /// <summary>The instances whose case must take a step this pass: those with a case, and those in care that are unhealthy or whose error rate is forecast to reach its limit.</summary>
    public static IEnumerable<string> ToStep(ServiceState state, Func<ServiceInstance, NodeLook> look, FleetPolicy policy, DateTimeOffset now) =>
        state.Heals.Keys.Concat(policy.Services.Healing.Enabled
                ? state.Instances.Values.Where(i => !state.Heals.ContainsKey(i.Id) && InCare(state, i, look(i))
                    && (Judge(i, now, look(i)) == HealthState.Unhealthy || ErrorTrend.Breaching(state.ErrorSamples.GetValueOrDefault(i.Id), policy.Forecast) is not null)).Select(i => i.Id)
                : [])
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>How an instance's node looks to its healing: how it stands, and when it last reported.</summary>
    public static NodeLook Look(NodeView? view, string? node, FleetPolicy policy, DateTimeOffset now) =>
        node is null ? new(NodeStanding.Lost, null) : new(ServicePlanner.Judge(view, node, policy, now).Standing, view?.LastReportAt);

    /// <summary>
    /// A case whose instance is gone from care (its node went down and it was fenced, a rollout or a drain moves it, it
    /// stopped): the case ends there, its lease (if it holds one) is given back, and nothing more is tried on it.
    /// </summary>
    public static (string? Why, RemediationCase Case)? Orphaned(ServiceState state, string instance, Func<ServiceInstance, NodeLook> look)
    {
        if (!state.Heals.TryGetValue(instance, out var c)) return null;
        if (!state.Instances.TryGetValue(instance, out var i)) return ("it no longer exists", c);
        if (c.Action == ActionNames.ReplaceInstance && c.Phase != RemediationPhase.AwaitingLease) return null; // the replace itself ends it
        if (i.Fenced) return ("it was fenced and replaced elsewhere", c);
        if (i.State != InstanceState.Running) return ($"it is {i.State}", c);
        if (i.Moving || i.ReplaceWith is not null) return ("it is being replaced (a drain or a rollout)", c);
        if (look(i).Standing != NodeStanding.Fine) return ($"its node {i.Node} is not fine: the service's failover looks after it", c);
        return InCare(state, i, look(i)) ? null : ("a rollout under way judges it", c);
    }

    /// <summary>
    /// Gives an instance up where it stands: it is fenced (the service's planner stops it there, and it never serves again) and
    /// the planner places a replacement elsewhere, away from that node.
    /// </summary>
    public static ServiceInstance Fence(ServiceInstance i, string why, DateTimeOffset now) =>
        i with { State = InstanceState.Failed, Since = now, Reason = why, Fenced = true, ActionKey = null };
}
