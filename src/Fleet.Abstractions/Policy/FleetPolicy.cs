using System.Collections.Immutable;
using Fleet.Abstractions.Actions;

namespace Fleet.Abstractions.Policy;

/// <summary>
/// The whole policy: thresholds, intervals, the escalation ladder, windows and guardrails.
/// docs/policy.md documents every field and its default; <see cref="Default"/> is the built-in policy (version 0).
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.FleetPolicy")]
public sealed record FleetPolicy(
    [property: Id(0)] int Version,
    [property: Id(1)] TelemetryPolicy Telemetry,
    [property: Id(2)] HealthPolicy Health,
    [property: Id(3)] ForecastPolicy Forecast,
    [property: Id(4)] RemediationPolicy Remediation,
    [property: Id(5)] GuardrailPolicy Guardrails)
{
    /// <summary>Rows the policy adds to the action catalogue, or built-in rows it overrides (<c>actions</c> section). Default none.</summary>
    [Id(6)] public ImmutableArray<ActionSpec> Actions { get; init; } = [];

    /// <summary>How services place, move and watch their instances (<c>services</c> section).</summary>
    [Id(7)] public ServicePolicy Services { get; init; } = ServicePolicy.Default;

    /// <summary>How a silent node's death is confirmed before anything acts on it (<c>probes</c> section).</summary>
    [Id(8)] public ProbePolicy Probes { get; init; } = ProbePolicy.Default;

    /// <summary>How accounts are judged against their own history and contained (<c>security</c> section).</summary>
    [Id(9)] public SecurityPolicy Security { get; init; } = SecurityPolicy.Default;

    /// <summary>How a new version of a service is rolled out, judged and watched (<c>rollout</c> section).</summary>
    [Id(10)] public RolloutPolicy Rollout { get; init; } = RolloutPolicy.Default;

    /// <summary>What people keep for themselves: shadow mode and approvals (<c>oversight</c> section).</summary>
    [Id(11)] public OversightPolicy Oversight { get; init; } = OversightPolicy.Default;

    /// <summary>What the ladder may learn from outcomes (<c>learning</c> section); off by default.</summary>
    [Id(12)] public LearningPolicy Learning { get; init; } = LearningPolicy.Default;

    /// <summary>How links are judged, damped and rerouted around (<c>network</c> section).</summary>
    [Id(13)] public NetworkPolicy Network { get; init; } = NetworkPolicy.Default;

    /// <summary>How telemetry from Prometheus, OpenTelemetry and Alertmanager maps to nodes (<c>intake</c> section).</summary>
    [Id(14)] public IntakePolicy Intake { get; init; } = IntakePolicy.Default;

    /// <summary>How a node proves itself before it serves (<c>lifecycle</c> section); no burn-in by default.</summary>
    [Id(15)] public LifecyclePolicy Lifecycle { get; init; } = LifecyclePolicy.Default;

    public static FleetPolicy Default { get; } = new(
        0,
        new TelemetryPolicy(TimeSpan.FromSeconds(10), 3, TimeSpan.FromSeconds(30)),
        new HealthPolicy(90, 90, 90, 2, 3, 2),
        new ForecastPolicy(true, TimeSpan.FromMinutes(30), 6, 30, ActionNames.Drain),
        new RemediationPolicy(
            [
                new LadderStep(ActionNames.RestartServices, TimeSpan.FromMinutes(2)),
                new LadderStep(ActionNames.Reboot, TimeSpan.FromMinutes(5)),
                new LadderStep(ActionNames.Drain, TimeSpan.FromMinutes(10)),
                new LadderStep(ActionNames.Replace, TimeSpan.FromMinutes(20)),
                new LadderStep(ActionNames.Human, TimeSpan.Zero),
            ],
            TimeSpan.FromMinutes(1), 2.0, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1)),
        new GuardrailPolicy(1, 10, TimeSpan.FromMinutes(10), 0.3, 3, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), 20));

    /// <summary>How long a node may stay silent before it is Suspect.</summary>
    public TimeSpan SilenceToSuspect => Telemetry.ReportInterval * Telemetry.AllowedMisses;

    /// <summary>How long a node may stay silent before it is Unhealthy (twice the Suspect tolerance).</summary>
    public TimeSpan SilenceToUnhealthy => SilenceToSuspect * 2;
}

/// <param name="ReportInterval">How often nodes report. Default 10 s.</param>
/// <param name="AllowedMisses">Reports a node may miss before it is Suspect. Default 3.</param>
/// <param name="MaxTtl">The longest time-to-live a report may carry. Default 30 s.</param>
[GenerateSerializer, Immutable, Alias("fleet.TelemetryPolicy")]
public sealed record TelemetryPolicy(
    [property: Id(0)] TimeSpan ReportInterval,
    [property: Id(1)] int AllowedMisses,
    [property: Id(2)] TimeSpan MaxTtl)
{
    /// <summary>How far ahead of the silo's clock a report's timestamp may be; beyond it the report is refused (Skewed) and counted. Default 30 s.</summary>
    [Id(3)] public TimeSpan MaxClockSkew { get; init; } = TimeSpan.FromSeconds(30);
}

/// <param name="CpuDegradedPercent">CPU use at or above which a report counts as degraded. Default 90.</param>
/// <param name="MemoryDegradedPercent">Memory use at or above which a report counts as degraded. Default 90.</param>
/// <param name="DiskDegradedPercent">Disk use at or above which a report counts as degraded. Default 90.</param>
/// <param name="DegradeAfterReports">Consecutive breaching reports before Healthy turns Degraded. Default 2.</param>
/// <param name="UnhealthyAfterFailedReports">Consecutive reports with a failed check before the node is Unhealthy. Default 3.</param>
/// <param name="RecoverAfterReports">Consecutive clean reports before Degraded turns Healthy again. Default 2.</param>
[GenerateSerializer, Immutable, Alias("fleet.HealthPolicy")]
public sealed record HealthPolicy(
    [property: Id(0)] double CpuDegradedPercent,
    [property: Id(1)] double MemoryDegradedPercent,
    [property: Id(2)] double DiskDegradedPercent,
    [property: Id(3)] int DegradeAfterReports,
    [property: Id(4)] int UnhealthyAfterFailedReports,
    [property: Id(5)] int RecoverAfterReports)
{
    /// <summary>
    /// How long a check a reporter marks as starting is taken so (Degraded, not counted as failed); past it, or once the
    /// check has failed unmarked, it counts as failed — a reporter that keeps restarting, or keeps saying "starting", cannot
    /// hide a broken check. Default 5 min; 0: starting marks are not honoured.
    /// </summary>
    [Id(6)] public TimeSpan MaxStartGrace { get; init; } = TimeSpan.FromMinutes(5);
}

/// <param name="Enabled">Whether forecasts (memory, and the disk and CPU below) raise preventive actions. Default true.</param>
/// <param name="Horizon">Act when memory is forecast to run out (the disk to fill, the CPU to saturate) sooner than this. Default 30 min.</param>
/// <param name="MinSamples">Samples needed before a forecast is trusted. Default 6.</param>
/// <param name="MaxSamples">Samples kept for the regression. Default 30.</param>
/// <param name="Action">The preventive action. Default drain.</param>
[GenerateSerializer, Immutable, Alias("fleet.ForecastPolicy")]
public sealed record ForecastPolicy(
    [property: Id(0)] bool Enabled,
    [property: Id(1)] TimeSpan Horizon,
    [property: Id(2)] int MinSamples,
    [property: Id(3)] int MaxSamples,
    [property: Id(4)] string Action)
{
    /// <summary>
    /// The disk filling: forecast to reach 100 % within the horizon, on a line with an R² of at least 0.5 over at least a
    /// minute of samples — a disk that fills rises steadily; one that jumped once (a restore, a rotation) and stayed is not filling.
    /// </summary>
    [Id(5)] public ResourceForecastPolicy Disk { get; init; } = ResourceForecastPolicy.DiskDefault;

    /// <summary>
    /// CPU saturation: forecast to reach 95 % within the horizon, believed only when the trend's line explains most of the
    /// samples (R² at least 0.8) and they cover at least 3 minutes — CPU is noisy and bursts, and a line through noise
    /// or through a short burst forecasts anything.
    /// </summary>
    [Id(6)] public ResourceForecastPolicy Cpu { get; init; } = ResourceForecastPolicy.CpuDefault;

    /// <summary>
    /// A service instance's error rate (errors ÷ requests of its reports, in percent) forecast to reach 5 % within the horizon,
    /// on a line with an R² of at least 0.8 over at least 3 minutes: the instance is replaced make-before-break first.
    /// </summary>
    [Id(7)] public ResourceForecastPolicy Errors { get; init; } = ResourceForecastPolicy.ErrorsDefault;
}

/// <summary>A forecast of a node's use of one resource, in percent, from the samples its reports carry.</summary>
/// <param name="Enabled">Whether this forecast raises preventive actions (only while <c>forecast.enabled</c> is on too).</param>
/// <param name="LimitPercent">The use that counts as the failure: the disk full, the CPU saturated.</param>
/// <param name="MinFit">The least R² (0–1) the least-squares line must reach over the samples before its forecast is believed.</param>
/// <param name="MinSpan">The least time the samples must cover before their trend is believed (a burst of a few reports is not a trend).</param>
[GenerateSerializer, Immutable, Alias("fleet.ResourceForecastPolicy")]
public sealed record ResourceForecastPolicy(
    [property: Id(0)] bool Enabled,
    [property: Id(1)] double LimitPercent,
    [property: Id(2)] double MinFit,
    [property: Id(3)] TimeSpan MinSpan)
{
    public static ResourceForecastPolicy DiskDefault { get; } = new(true, 100, 0.5, TimeSpan.FromMinutes(1));

    public static ResourceForecastPolicy CpuDefault { get; } = new(true, 95, 0.8, TimeSpan.FromMinutes(3));

    public static ResourceForecastPolicy ErrorsDefault { get; } = new(true, 5, 0.8, TimeSpan.FromMinutes(3));
}

/// <param name="Action">The action this rung takes; <c>human</c> hands the case to a person.</param>
/// <param name="VerifyWindow">How long the symptom has to clear after the action.</param>
[GenerateSerializer, Immutable, Alias("fleet.LadderStep")]
public sealed record LadderStep(
    [property: Id(0)] string Action,
    [property: Id(1)] TimeSpan VerifyWindow);

/// <param name="Ladder">The escalation ladder, first rung first.</param>
/// <param name="Cooldown">The least time between two actions on one node. Default 1 min.</param>
/// <param name="BackoffMultiplier">Each further action within the flap window multiplies the cooldown. Default 2.</param>
/// <param name="MaxCooldown">The cooldown never grows past this. Default 30 min.</param>
/// <param name="Probation">How long a recovered node is watched before it counts as Healthy. Default 5 min.</param>
/// <param name="FlapWindow">A node that fails again within this time of its last action starts one rung higher. Default 1 h.</param>
[GenerateSerializer, Immutable, Alias("fleet.RemediationPolicy")]
public sealed record RemediationPolicy(
    [property: Id(0)] ImmutableArray<LadderStep> Ladder,
    [property: Id(1)] TimeSpan Cooldown,
    [property: Id(2)] double BackoffMultiplier,
    [property: Id(3)] TimeSpan MaxCooldown,
    [property: Id(4)] TimeSpan Probation,
    [property: Id(5)] TimeSpan FlapWindow);

/// <param name="MaxConcurrentPerDomain">Actions in flight at once in one domain. Default 1.</param>
/// <param name="MaxActionsPerWindow">Actions one domain may start within <paramref name="Window"/>. Default 10.</param>
/// <param name="Window">The rate window. Default 10 min.</param>
/// <param name="StormThreshold">Share (0–1) of a domain Suspect or Unhealthy at which the storm brake freezes it. Default 0.3.</param>
/// <param name="StormMinMembers">Domains smaller than this never trip the storm brake. Default 3.</param>
/// <param name="StormCooldown">The freeze holds this long after the storm ends. Default 5 min.</param>
/// <param name="LeaseDuration">A lease not released by then expires; must cover the longest verify window. Default 30 min.</param>
/// <param name="FleetMaxConcurrent">Actions in flight at once in the whole fleet. Default 20.</param>
[GenerateSerializer, Immutable, Alias("fleet.GuardrailPolicy")]
public sealed record GuardrailPolicy(
    [property: Id(0)] int MaxConcurrentPerDomain,
    [property: Id(1)] int MaxActionsPerWindow,
    [property: Id(2)] TimeSpan Window,
    [property: Id(3)] double StormThreshold,
    [property: Id(4)] int StormMinMembers,
    [property: Id(5)] TimeSpan StormCooldown,
    [property: Id(6)] TimeSpan LeaseDuration,
    [property: Id(7)] int FleetMaxConcurrent)
{
    /// <summary>
    /// What the storm brake holds back. Default <see cref="StormBrakeHolds.UnconfirmedSilence"/>: actions resting on silence
    /// no probe or peer confirmed; actions on positive evidence (a failed check, a confirmed death, a forecast, an
    /// operator) go on within the budgets.
    /// </summary>
    [Id(8)] public StormBrakeHolds StormBrakeHolds { get; init; } = StormBrakeHolds.UnconfirmedSilence;
}

[GenerateSerializer, Alias("fleet.StormBrakeHolds")]
public enum StormBrakeHolds
{
    /// <summary>Only actions that rest on unconfirmed silence (the telemetry itself is suspected, not the evidence nodes report).</summary>
    UnconfirmedSilence = 0,
    /// <summary>Every disruptive, preventive and rollout action in the domain, whatever its evidence.</summary>
    AllDisruptive = 1,
}

/// <param name="ConfirmSilence">Probe a node that turns Suspect through silence before anything acts on it. Default true.</param>
/// <param name="ActOnUnconfirmedSilence">With no probe or peer to confirm it, a silent node turns Unhealthy after twice the hold
/// (true, the default); false: silence alone never makes a node Unhealthy.</param>
/// <param name="Timeout">A direct probe's timeout when the node's probe names none. Default 1 s.</param>
/// <param name="Defaults">Probes for nodes registered with an address but no probe, by label; the first match wins. Default none.</param>
[GenerateSerializer, Immutable, Alias("fleet.ProbePolicy")]
public sealed record ProbePolicy(
    [property: Id(0)] bool ConfirmSilence,
    [property: Id(1)] bool ActOnUnconfirmedSilence,
    [property: Id(2)] TimeSpan Timeout,
    [property: Id(3)] ImmutableArray<ProbeDefault> Defaults)
{
    public static ProbePolicy Default { get; } = new(true, true, TimeSpan.FromSeconds(1), []);

    /// <summary>
    /// Networks (CIDR, e.g. <c>10.0.0.0/8</c>) the silo may probe besides each node's registered address; an address in one
    /// of them is probed even if it is loopback or link-local or one of the silo's own ports. Default none.
    /// </summary>
    [Id(4)] public ImmutableArray<string> AllowedNetworks { get; init; } = [];
}

/// <summary>A default probe for nodes with these labels (all of them; none matches every node).</summary>
[GenerateSerializer, Immutable, Alias("fleet.ProbeDefault")]
public sealed record ProbeDefault(
    [property: Id(0)] ImmutableDictionary<string, string> Labels,
    [property: Id(1)] Nodes.ProbeKind Kind,
    [property: Id(2)] int Port,
    [property: Id(3)] string? Path,
    [property: Id(4)] TimeSpan? Timeout);

/// <param name="RescheduleAfter">
/// How long a node may stay Unhealthy before the services on it move their instances away. Null (the default): when
/// its first ladder rung has failed, or the first rung's verify window has passed since it turned Unhealthy — so a
/// restart that would have healed it is not raced.
/// </param>
/// <param name="ReservationTtl">How long a node holds room for an instance that has not started yet. Default 2 min.</param>
/// <param name="ReconcileInterval">How often a service compares its instances with its spec (events bring it forward). Default 5 s.</param>
[GenerateSerializer, Immutable, Alias("fleet.ServicePolicy")]
public sealed record ServicePolicy(
    [property: Id(0)] TimeSpan? RescheduleAfter,
    [property: Id(1)] TimeSpan ReservationTtl,
    [property: Id(2)] TimeSpan ReconcileInterval)
{
    public static ServicePolicy Default { get; } = new(null, TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(5));

    /// <summary>How a failing or silent instance on a node that is fine is healed (<c>services.healing</c>).</summary>
    [Id(3)] public InstanceHealingPolicy Healing { get; init; } = InstanceHealingPolicy.Default;
}

/// <summary>
/// A node's life (docs/lifecycle.md). With a <see cref="BurnIn"/>, a newly registered node takes no work until it has
/// reported healthy <see cref="BurnInReports"/> times and <see cref="BurnIn"/> has passed since it registered; a failing
/// check (an Unhealthy judgement) during the burn-in quarantines it. Admitting and quarantining are lifecycle actions under
/// a lease (shadow mode and approvals hold them). Zero (the default) admits every node at once, as before lifecycles existed.
/// </summary>
/// <param name="BurnIn">How long a new node soaks before it serves. Default 0 (no burn-in).</param>
/// <param name="BurnInReports">Healthy reports a node must send during its burn-in. Default 3.</param>
[GenerateSerializer, Immutable, Alias("fleet.LifecyclePolicy")]
public sealed record LifecyclePolicy(
    [property: Id(0)] TimeSpan BurnIn,
    [property: Id(1)] int BurnInReports)
{
    public static LifecyclePolicy Default { get; } = new(TimeSpan.Zero, 3);

    /// <summary>When and how many machines the capacity supervisor asks the provisioner for (<c>lifecycle.provision</c>); off by default.</summary>
    [Id(2)] public ProvisionPolicy Provision { get; init; } = ProvisionPolicy.Default;

    /// <summary>How the consolidation planner weighs machines freed against instances moved (<c>lifecycle.consolidate</c>).</summary>
    [Id(3)] public ConsolidatePolicy Consolidate { get; init; } = ConsolidatePolicy.Default;
}

/// <summary>
/// Consolidation (docs/lifecycle.md#consolidation): a node is worth freeing when every instance on it fits elsewhere without
/// pushing a node past <see cref="MaxUtilisation"/>, spreading a service worse, or moving an instance started within
/// <see cref="MoveWindow"/>, and when <see cref="CostPerNode"/> divided by the minutes its instances take to start again
/// (each service's measured start time, else <see cref="DefaultStartTime"/>) is at least <see cref="Threshold"/>.
/// </summary>
/// <param name="Threshold">Node-hours saved per instance-minute of start time a freed node must clear. Default 0.1.</param>
/// <param name="CostPerNode">What one node costs an hour, in the threshold's unit. Default 1.</param>
/// <param name="MaxUtilisation">The most a target node may be allocated (cores or memory) after the moves. Default 0.8.</param>
/// <param name="MoveWindow">An instance started (or moved) within this is not moved again. Default 1 h.</param>
/// <param name="DefaultStartTime">A service's start time before it has been measured. Default 30 s.</param>
/// <param name="MaxNodesPerPlan">Nodes one plan frees at most. Default 5.</param>
[GenerateSerializer, Immutable, Alias("fleet.ConsolidatePolicy")]
public sealed record ConsolidatePolicy(
    [property: Id(0)] double Threshold,
    [property: Id(1)] double CostPerNode,
    [property: Id(2)] double MaxUtilisation,
    [property: Id(3)] TimeSpan MoveWindow,
    [property: Id(4)] TimeSpan DefaultStartTime,
    [property: Id(5)] int MaxNodesPerPlan)
{
    public static ConsolidatePolicy Default { get; } = new(0.1, 1, 0.8, TimeSpan.FromHours(1), TimeSpan.FromSeconds(30), 5);

    /// <summary>Carry plans out: free one node at a time (its instances moved make-before-break, then it is retired). Default false: plans are only shown.</summary>
    [Id(6)] public bool Enabled { get; init; }

    /// <summary>How often a plan is made and its first node freed. Default 10 min.</summary>
    [Id(7)] public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// What a node of each shape costs an hour (<c>lifecycle.consolidate.costs</c>), by the value of its label <c>shape</c>;
    /// a node without the label, or of a shape not listed, costs <see cref="CostPerNode"/>. Freeing a costly node saves more.
    /// </summary>
    [Id(8)] public ImmutableDictionary<string, double> Costs { get; init; } = ImmutableDictionary<string, double>.Empty;

    /// <summary>The label that names a node's shape (a provisioned machine registers with its request's shape under it).</summary>
    public const string ShapeLabel = "shape";

    /// <summary>What a node with these labels costs an hour.</summary>
    public double CostOf(IReadOnlyDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(ShapeLabel, out var shape) && Costs.TryGetValue(shape, out var cost) ? cost : CostPerNode;
}

/// <summary>
/// Provisioning (docs/lifecycle.md#provisioning): instances Pending for lack of room for <see cref="PendingFor"/> make the
/// capacity supervisor ask the provisioner (the webhook at <c>Fleet:Actuator:ProvisionWebhookUrl</c>) for machines of
/// <see cref="Shape"/>, as many as the Pending instances need (first fit) less those already on their way, in the
/// <see cref="Domains"/> in turn. Each request is a lifecycle action under a lease (shadow mode and approvals hold it),
/// capped by <see cref="MaxPerHour"/> and <see cref="MaxTotal"/>.
/// </summary>
/// <param name="Enabled">Default false.</param>
/// <param name="Shape">The machine asked for. Default <c>standard</c>, 8 cores, 32 GiB, no labels.</param>
/// <param name="Domains">Where new machines go, in turn. Default none: the domain <c>provisioned</c>.</param>
/// <param name="PendingFor">How long an instance stays Pending before machines are asked for it. Default 30 s.</param>
/// <param name="MaxPerHour">Machines asked for in any hour. Default 10.</param>
/// <param name="MaxTotal">Machines asked for in all. Default 100.</param>
/// <param name="ArrivalTimeout">How long machines asked for count as on their way (until they register). Default 15 min.</param>
[GenerateSerializer, Immutable, Alias("fleet.ProvisionPolicy")]
public sealed record ProvisionPolicy(
    [property: Id(0)] bool Enabled,
    [property: Id(1)] MachineShape Shape,
    [property: Id(2)] ImmutableArray<string> Domains,
    [property: Id(3)] TimeSpan PendingFor,
    [property: Id(4)] int MaxPerHour,
    [property: Id(5)] int MaxTotal,
    [property: Id(6)] TimeSpan ArrivalTimeout)
{
    public static ProvisionPolicy Default { get; } = new(false, MachineShape.Standard, [], TimeSpan.FromSeconds(30), 10, 100, TimeSpan.FromMinutes(15));

    /// <summary>The domain new machines go to when the policy names none.</summary>
    public const string DefaultDomain = "provisioned";

    /// <summary>Empty serving nodes kept as spare room; those beyond it are given back once empty for <see cref="GiveBackAfter"/>. Default 1.</summary>
    [Id(7)] public int Headroom { get; init; } = 1;

    /// <summary>How long a node beyond the headroom stays empty before it is given back (its stabilisation window). Default 30 min.</summary>
    [Id(8)] public TimeSpan GiveBackAfter { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>A kind of machine a provisioner can bring: its name (what the provisioner knows it by), room and labels.</summary>
[GenerateSerializer, Immutable, Alias("fleet.MachineShape")]
public sealed record MachineShape(
    [property: Id(0)] string Name,
    [property: Id(1)] double CpuCores,
    [property: Id(2)] long MemoryBytes,
    [property: Id(3)] ImmutableDictionary<string, string> Labels)
{
    public static MachineShape Standard { get; } = new("standard", 8, 32L << 30, ImmutableDictionary<string, string>.Empty);
}

/// <summary>
/// Healing of one instance (docs/services.md): an instance that reports unhealthy, or falls silent past its report's TTL,
/// on a node that is fine gets a remediation case of its own, run by the same case machine as a node's, on a ladder made
/// from this section: <c>restart-instance</c> (in place) <see cref="RestartsBeforeReplace"/> times, then
/// <c>replace-instance</c> (fenced where it stood, a replacement placed elsewhere), then a person. Between actions the
/// cooldown starts at <see cref="Backoff"/> and doubles up to <see cref="MaxBackoff"/> (a crash loop is not restarted as
/// fast as it crashes); a new case within <c>remediation.flapWindow</c> of the last starts a rung higher. Each rung is a
/// disruptive action under a lease: shadow mode, approvals, the domain's budgets and the storm brake hold it.
/// </summary>
/// <param name="Enabled">Default true.</param>
/// <param name="RestartsBeforeReplace">Restarts in place in one episode before the instance is replaced elsewhere. Default 2; 0 replaces at once.</param>
/// <param name="Backoff">The wait after the first restart before the next; doubled after each. Default 10 s.</param>
/// <param name="MaxBackoff">The longest wait between restarts. Default 5 min.</param>
/// <param name="StableAfter">How long a healed instance is watched (its case's probation) before its case closes. Default 2 min.</param>
/// <param name="VerifyWindow">How long an instance has to report healthy after a restart before the next rung. Default 30 s.</param>
[GenerateSerializer, Immutable, Alias("fleet.InstanceHealingPolicy")]
public sealed record InstanceHealingPolicy(
    [property: Id(0)] bool Enabled,
    [property: Id(1)] int RestartsBeforeReplace,
    [property: Id(2)] TimeSpan Backoff,
    [property: Id(3)] TimeSpan MaxBackoff,
    [property: Id(4)] TimeSpan StableAfter,
    [property: Id(5)] TimeSpan VerifyWindow)
{
    public static InstanceHealingPolicy Default { get; } = new(true, 2, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(30));
}

/// <summary>
/// Containment of abnormal accounts (docs/security.md). A principal's report is judged against its own history (median
/// and MAD over <see cref="Window"/>, at the same hour of day when there is enough of it) once it has
/// <see cref="MinSamples"/> reports; a robust z-score of at least <see cref="Threshold"/> on egress, requests, new
/// resources or failed logins is an anomaly.
/// </summary>
/// <param name="Threshold">Robust z-score ((value − median) / (1.4826 × MAD)) at or above which a figure is anomalous. Default 8.</param>
/// <param name="MinSamples">Reports a principal must have before it is judged at all. Default 24.</param>
/// <param name="Window">How much history the baseline keeps. Default 14d.</param>
/// <param name="Action">The containment: <c>revoke-tokens</c> (default), <c>quarantine-sessions</c> or <c>block-egress</c>.</param>
/// <param name="MaxConcurrent">Containments in flight at once across the fleet (the class's own budget). Default 5.</param>
/// <param name="StormShare">Share of judged principals anomalous within <see cref="StormWindow"/> that makes it a fleet-wide shift (no containment). Default 0.3.</param>
/// <param name="StormMinPrincipals">Judged principals needed before a share can be a storm. Default 5.</param>
/// <param name="StormWindow">How far back anomalies count toward the storm. Default 10m.</param>
/// <param name="ApprovalRequired">Principals never contained automatically (a person decides): exact ids, or a prefix ending in <c>*</c>.</param>
/// <param name="ConfirmReports">Anomalous reports in a row before containment is proposed. Default 2: one window later, so a fleet-wide shift is seen as one before any account is contained.</param>
[GenerateSerializer, Immutable, Alias("fleet.SecurityPolicy")]
public sealed record SecurityPolicy(
    [property: Id(0)] double Threshold,
    [property: Id(1)] int MinSamples,
    [property: Id(2)] TimeSpan Window,
    [property: Id(3)] string Action,
    [property: Id(4)] int MaxConcurrent,
    [property: Id(5)] double StormShare,
    [property: Id(6)] int StormMinPrincipals,
    [property: Id(7)] TimeSpan StormWindow,
    [property: Id(8)] ImmutableArray<string> ApprovalRequired,
    [property: Id(9)] int ConfirmReports = 2)
{
    public static SecurityPolicy Default { get; } = new(8, 24, TimeSpan.FromDays(14), "revoke-tokens", 5, 0.3, 5, TimeSpan.FromMinutes(10), [], 2);

    public static readonly ImmutableArray<string> Actions = ["revoke-tokens", "quarantine-sessions", "block-egress"];

    public bool NeedsApproval(string principal) =>
        !ApprovalRequired.IsDefaultOrEmpty && ApprovalRequired.Any(p => p.EndsWith('*') ? principal.StartsWith(p[..^1], StringComparison.Ordinal) : p == principal);
}

/// <summary>
/// How a new version of a service rolls out (docs/deployments.md): a canary share of the instances first, beside a
/// baseline of the stable version started at the same time, then batches; each step judged after
/// <see cref="StepDuration"/> on the instances' own reports, and the promoted version watched for <see cref="Watch"/>.
/// </summary>
/// <param name="CanaryShare">Share of the replicas replaced by the canary (at least one instance). Default 0.1.</param>
/// <param name="BatchShare">Share of the replicas replaced by each later batch (at least one). Default 0.25.</param>
/// <param name="StepDuration">How long a step is watched, once its instances run, before it is judged. Default 5m.</param>
/// <param name="MinSamples">Instance reports each side needs for a judgement; fewer is inconclusive. Default 10.</param>
/// <param name="MinRequests">Requests each side needs for the error comparison; fewer is inconclusive. Default 200.</param>
/// <param name="Significance">The p-value below which a difference counts (one-sided). Default 0.01.</param>
/// <param name="MaxErrorIncrease">How much higher the new version's error rate may be, absolute (0.01 = one percentage point). Default 0.01.</param>
/// <param name="MaxLatencyIncrease">How much higher the new version's median p50 or p99 may be, relative. Default 0.2.</param>
/// <param name="MaxMemoryGrowthPerHour">How much faster an instance's memory may grow than the stable version's, bytes per hour. Default 64 MiB.</param>
/// <param name="Warmup">Reports an instance sends this soon after it starts are not compared when the baseline is not fresh. Default 1m.</param>
/// <param name="MaxExtensions">Inconclusive judgements that extend a step before the rollout pauses for a person. Default 3.</param>
/// <param name="Watch">How long the promoted version keeps being compared with the previous version's profile. Default 4h.</param>
/// <param name="WatchWindow">The reports the watch judges: the last this long. Default 30m.</param>
[GenerateSerializer, Immutable, Alias("fleet.RolloutPolicy")]
public sealed record RolloutPolicy(
    [property: Id(0)] double CanaryShare,
    [property: Id(1)] double BatchShare,
    [property: Id(2)] TimeSpan StepDuration,
    [property: Id(3)] int MinSamples,
    [property: Id(4)] double MinRequests,
    [property: Id(5)] double Significance,
    [property: Id(6)] double MaxErrorIncrease,
    [property: Id(7)] double MaxLatencyIncrease,
    [property: Id(8)] long MaxMemoryGrowthPerHour,
    [property: Id(9)] TimeSpan Warmup,
    [property: Id(10)] int MaxExtensions,
    [property: Id(11)] TimeSpan Watch,
    [property: Id(12)] TimeSpan WatchWindow)
{
    public static RolloutPolicy Default { get; } = new(0.1, 0.25, TimeSpan.FromMinutes(5), 10, 200, 0.01, 0.01, 0.2, 64L << 20,
        TimeSpan.FromMinutes(1), 3, TimeSpan.FromHours(4), TimeSpan.FromMinutes(30));
}

/// <summary>
/// Humans as constraint designers (docs/oversight.md). <see cref="ShadowFleet"/>, <see cref="ShadowDomains"/> and
/// <see cref="ShadowActions"/> put the automation in shadow (dry-run) mode: it decides, the guardrails are evaluated and
/// recorded, nothing runs. <see cref="ApprovalActions"/> are high-risk: they wait for a person, at most
/// <see cref="ApprovalTimeout"/>, then <see cref="ApproveOnTimeout"/> decides.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.OversightPolicy")]
public sealed record OversightPolicy(
    [property: Id(0)] bool ShadowFleet,
    [property: Id(1)] ImmutableArray<string> ShadowDomains,
    [property: Id(2)] ImmutableArray<string> ShadowActions,
    [property: Id(3)] ImmutableArray<string> ApprovalActions,
    [property: Id(4)] TimeSpan ApprovalTimeout,
    [property: Id(5)] bool ApproveOnTimeout)
{
    public static OversightPolicy Default { get; } = new(false, [], [], [], TimeSpan.FromMinutes(30), false);

    /// <summary>Why the policy shadows this action in these domains, or null.</summary>
    public string? ShadowReason(string action, IEnumerable<string> domains)
    {
        if (ShadowFleet) return "oversight.shadow.fleet";
        if (!ShadowActions.IsDefaultOrEmpty && ShadowActions.Contains(action)) return $"oversight.shadow.actions ({action})";
        if (!ShadowDomains.IsDefaultOrEmpty && domains.FirstOrDefault(d => ShadowDomains.Contains(d)) is { } domain) return $"oversight.shadow.domains ({domain})";
        return null;
    }

    /// <summary>Classes of action every one of which waits for a person (<c>oversight.approvals.classes</c>).</summary>
    [Id(6)] public ImmutableArray<Supervision.ActionClass> ApprovalClasses { get; init; } = [];

    /// <summary>Approvals by action or class and size (<c>oversight.approvals.rules</c>): "a rollback of more than 10 instances".</summary>
    [Id(7)] public ImmutableArray<ApprovalRule> ApprovalRules { get; init; } = [];

    /// <summary>Which rule makes this request wait for a person, in words; null when none does.</summary>
    public string? ApprovalReason(Supervision.LeaseRequest request)
    {
        if (!ApprovalActions.IsDefaultOrEmpty && ApprovalActions.Contains(request.Action)) return $"oversight.approvals.actions ({request.Action})";
        if (!ApprovalClasses.IsDefaultOrEmpty && ApprovalClasses.Contains(request.Class)) return $"oversight.approvals.classes ({Text(request.Class)})";
        if (ApprovalRules.IsDefaultOrEmpty) return null;
        for (var i = 0; i < ApprovalRules.Length; i++)
            if (ApprovalRules[i].Matches(request))
                return $"oversight.approvals.rules[{i}]: {ApprovalRules[i].Describe()}, and this one touches {request.Size}";
        return null;
    }

    private static string Text(Supervision.ActionClass c) => char.ToLowerInvariant(c.ToString()[0]) + c.ToString()[1..];
}

/// <summary>
/// One approval rule: an action (or every action of a class, or any action) that touches more than
/// <see cref="MoreThan"/> things (<see cref="Supervision.LeaseRequest.Size"/>) waits for a person.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.ApprovalRule")]
public sealed record ApprovalRule(
    [property: Id(0)] string? Action,
    [property: Id(1)] Supervision.ActionClass? Class,
    [property: Id(2)] int MoreThan)
{
    public bool Matches(Supervision.LeaseRequest r) => (Action is null || Action == r.Action) && (Class is null || Class == r.Class) && r.Size > MoreThan;

    public string Describe() =>
        $"{Action ?? (Class is { } c ? $"every {char.ToLowerInvariant(c.ToString()[0])}{c.ToString()[1..]} action" : "any action")} touching more than {MoreThan}";
}

/// <summary>
/// Learning from outcomes (docs/oversight.md): per (symptom, action), the verified outcomes of the ladder's rungs. When a
/// rung failed at least <see cref="Failures"/> of its last <see cref="Of"/> tries for this symptom, a case skips it (never
/// the last automatic rung, never a <see cref="Pin"/>ned action), and says so with the figures. Off when <see cref="Of"/> is 0.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.LearningPolicy")]
public sealed record LearningPolicy(
    [property: Id(0)] int Failures,
    [property: Id(1)] int Of,
    [property: Id(2)] ImmutableArray<string> Pin)
{
    public static LearningPolicy Default { get; } = new(0, 0, []);

    public bool Enabled => Of > 0;

    public bool Pinned(string action) => !Pin.IsDefaultOrEmpty && Pin.Contains(action);
}

/// <summary>
/// Links and flows (docs/links.md): a link's health from its probes (with hysteresis and a TTL), route-flap damping as in
/// RFC 2439 (a penalty per flap that halves every <see cref="HalfLife"/>; suppressed above <see cref="SuppressAbove"/> until
/// it decays below <see cref="ReuseBelow"/>, at most <see cref="MaxSuppress"/>), and how flows move: up to
/// <see cref="CandidatePaths"/> shortest candidates, reservations that expire after <see cref="ReservationTtl"/> unless
/// committed, <see cref="VerifyProbes"/> probes through a new path before traffic moves, and the way back once a link has been
/// healthy for <see cref="HoldDown"/> (only when the home path is at least <see cref="ReturnGain"/> better). A loss of probes
/// on at least <see cref="StormShare"/> of the links (and <see cref="StormMinLinks"/>) within <see cref="StormWindow"/> is
/// suspect telemetry: the network's storm brake holds reroutes until it passes.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.NetworkPolicy")]
public sealed record NetworkPolicy(
    [property: Id(0)] int DownAfterProbes,
    [property: Id(1)] int UpAfterProbes,
    [property: Id(2)] int DegradedAfterProbes,
    [property: Id(3)] double DegradedLossPercent,
    [property: Id(4)] double DegradedLatencyFactor,
    [property: Id(5)] double FlapPenalty,
    [property: Id(6)] double SuppressAbove,
    [property: Id(7)] double ReuseBelow,
    [property: Id(8)] TimeSpan HalfLife,
    [property: Id(9)] TimeSpan MaxSuppress,
    [property: Id(10)] TimeSpan HoldDown,
    [property: Id(11)] bool Reoptimize,
    [property: Id(12)] double ReturnGain,
    [property: Id(13)] int CandidatePaths,
    [property: Id(14)] int VerifyProbes,
    [property: Id(15)] TimeSpan ReservationTtl,
    [property: Id(16)] double StormShare,
    [property: Id(17)] int StormMinLinks,
    [property: Id(18)] TimeSpan StormWindow,
    [property: Id(19)] TimeSpan RetryInterval)
{
    public static NetworkPolicy Default { get; } = new(2, 3, 3, 2, 3, 1000, 2000, 750, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(60),
        TimeSpan.FromSeconds(30), true, 0.1, 4, 3, TimeSpan.FromSeconds(10), 0.3, 3, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5));
}
