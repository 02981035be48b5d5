using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Documents;
using YamlDotNet.RepresentationModel;

namespace Fleet.Core.Policies;

public sealed record PolicyParseResult(FleetPolicy? Policy, ImmutableArray<PolicyProblem> Problems)
{
    public bool IsValid => Policy is not null && Problems.IsEmpty;
}

/// <summary>
/// Reads a YAML policy document. Every field is optional and falls back to the built-in default; every problem
/// (syntax, unknown field, bad value, a rule across fields) is reported by its path in the document, all at once.
/// </summary>
public static partial class PolicyParser
{
    [GeneratedRegex("^[a-z][a-z0-9-]{0,63}$")]
    private static partial Regex ActionName();

    public static PolicyParseResult Parse(string yaml, int version = 0)
    {
        var problems = ImmutableArray.CreateBuilder<PolicyProblem>();
        var root = YamlReader.Load(yaml, "sections (telemetry, health, forecast, remediation, guardrails, actions)", problems, out var empty);
        if (empty) return new(FleetPolicy.Default with { Version = version }, []);
        if (root is null) return new(null, problems.ToImmutable());

        var r = new YamlReader(problems);
        var d = FleetPolicy.Default;
        r.Known(root, "", "telemetry", "health", "forecast", "remediation", "guardrails", "actions", "services", "probes", "security", "rollout", "oversight", "learning", "network", "intake", "lifecycle");

        var t = r.Section(root, "telemetry");
        var telemetry = new TelemetryPolicy(
            r.Duration(t, "telemetry.reportInterval", d.Telemetry.ReportInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
            r.Int(t, "telemetry.allowedMisses", d.Telemetry.AllowedMisses, 1, 100),
            r.Duration(t, "telemetry.maxTtl", d.Telemetry.MaxTtl, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(24)))
        {
            MaxClockSkew = r.Duration(t, "telemetry.maxClockSkew", d.Telemetry.MaxClockSkew, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)),
        };
        r.Known(t, "telemetry", "reportInterval", "allowedMisses", "maxTtl", "maxClockSkew");

        var h = r.Section(root, "health");
        var health = new HealthPolicy(
            r.Double(h, "health.cpuDegradedPercent", d.Health.CpuDegradedPercent, 1, 100),
            r.Double(h, "health.memoryDegradedPercent", d.Health.MemoryDegradedPercent, 1, 100),
            r.Double(h, "health.diskDegradedPercent", d.Health.DiskDegradedPercent, 1, 100),
            r.Int(h, "health.degradeAfterReports", d.Health.DegradeAfterReports, 1, 100),
            r.Int(h, "health.unhealthyAfterFailedReports", d.Health.UnhealthyAfterFailedReports, 1, 100),
            r.Int(h, "health.recoverAfterReports", d.Health.RecoverAfterReports, 1, 100))
        {
            MaxStartGrace = r.Duration(h, "health.maxStartGrace", d.Health.MaxStartGrace, TimeSpan.Zero, TimeSpan.FromHours(1)),
        };
        r.Known(h, "health", "cpuDegradedPercent", "memoryDegradedPercent", "diskDegradedPercent", "degradeAfterReports", "unhealthyAfterFailedReports", "recoverAfterReports", "maxStartGrace");

        var f = r.Section(root, "forecast");
        var forecast = new ForecastPolicy(
            r.Bool(f, "forecast.enabled", d.Forecast.Enabled),
            r.Duration(f, "forecast.horizon", d.Forecast.Horizon, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30)),
            r.Int(f, "forecast.minSamples", d.Forecast.MinSamples, 2, 10_000),
            r.Int(f, "forecast.maxSamples", d.Forecast.MaxSamples, 2, 10_000),
            r.Action(f, "forecast.action", d.Forecast.Action))
        {
            Disk = Resource(r, f, "disk", d.Forecast.Disk),
            Cpu = Resource(r, f, "cpu", d.Forecast.Cpu),
            Errors = Resource(r, f, "errors", d.Forecast.Errors),
        };
        r.Known(f, "forecast", "enabled", "horizon", "minSamples", "maxSamples", "action", "disk", "cpu", "errors");
        if (forecast.MaxSamples < forecast.MinSamples)
            r.Problem(f, "forecast.maxSamples", $"must be at least forecast.minSamples ({forecast.MinSamples}), was {forecast.MaxSamples}");
        if (forecast.Action == Fleet.Abstractions.Actions.ActionNames.Human)
            r.Problem(f, "forecast.action", "a preventive action must be something the fleet can do, not 'human'");

        var m = r.Section(root, "remediation");
        var ladder = r.Ladder(m, d.Remediation.Ladder);
        var remediation = new RemediationPolicy(ladder,
            r.Duration(m, "remediation.cooldown", d.Remediation.Cooldown, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Double(m, "remediation.backoffMultiplier", d.Remediation.BackoffMultiplier, 1, 10),
            r.Duration(m, "remediation.maxCooldown", d.Remediation.MaxCooldown, TimeSpan.Zero, TimeSpan.FromDays(7)),
            r.Duration(m, "remediation.probation", d.Remediation.Probation, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Duration(m, "remediation.flapWindow", d.Remediation.FlapWindow, TimeSpan.Zero, TimeSpan.FromDays(30)));
        r.Known(m, "remediation", "ladder", "cooldown", "backoffMultiplier", "maxCooldown", "probation", "flapWindow");
        if (remediation.MaxCooldown < remediation.Cooldown)
            r.Problem(m, "remediation.maxCooldown", $"must be at least remediation.cooldown ({Durations.Write(remediation.Cooldown)})");

        var g = r.Section(root, "guardrails");
        var guardrails = new GuardrailPolicy(
            r.Int(g, "guardrails.maxConcurrentPerDomain", d.Guardrails.MaxConcurrentPerDomain, 0, 10_000),
            r.Int(g, "guardrails.maxActionsPerWindow", d.Guardrails.MaxActionsPerWindow, 0, 1_000_000),
            r.Duration(g, "guardrails.window", d.Guardrails.Window, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)),
            r.Double(g, "guardrails.stormThreshold", d.Guardrails.StormThreshold, 0.01, 1),
            r.Int(g, "guardrails.stormMinMembers", d.Guardrails.StormMinMembers, 1, 1_000_000),
            r.Duration(g, "guardrails.stormCooldown", d.Guardrails.StormCooldown, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Duration(g, "guardrails.leaseDuration", d.Guardrails.LeaseDuration, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            r.Int(g, "guardrails.fleetMaxConcurrent", d.Guardrails.FleetMaxConcurrent, 0, 1_000_000))
        {
            StormBrakeHolds = r.Enum(g, "guardrails.stormBrakeHolds", d.Guardrails.StormBrakeHolds, null),
        };
        r.Known(g, "guardrails", "maxConcurrentPerDomain", "maxActionsPerWindow", "window", "stormThreshold", "stormMinMembers", "stormCooldown", "leaseDuration", "fleetMaxConcurrent", "stormBrakeHolds");
        var longestVerify = ladder.IsDefaultOrEmpty ? TimeSpan.Zero : ladder.Max(s => s.VerifyWindow);
        if (guardrails.LeaseDuration < longestVerify)
            r.Problem(g, "guardrails.leaseDuration", $"must be at least the longest verify window of the ladder ({Durations.Write(longestVerify)}), or leases expire mid-verification");

        var actions = r.Actions(root);

        var sv = r.Section(root, "services");
        var reschedule = r.Scalar(sv, "services.rescheduleAfter", out _) is { } rt && rt != "firstRungFailed"
            ? r.Duration(sv, "services.rescheduleAfter", TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromDays(1))
            : (TimeSpan?)null;
        var services = new ServicePolicy(reschedule,
            r.Duration(sv, "services.reservationTtl", d.Services.ReservationTtl, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            r.Duration(sv, "services.reconcileInterval", d.Services.ReconcileInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)));
        r.Known(sv, "services", "rescheduleAfter", "reservationTtl", "reconcileInterval", "healing");
        var hl = r.Section(sv, "healing", "services.healing");
        var dh = d.Services.Healing;
        var healing = new InstanceHealingPolicy(r.Bool(hl, "services.healing.enabled", dh.Enabled),
            r.Int(hl, "services.healing.restartsBeforeReplace", dh.RestartsBeforeReplace, 0, 20),
            r.Duration(hl, "services.healing.backoff", dh.Backoff, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            r.Duration(hl, "services.healing.maxBackoff", dh.MaxBackoff, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            r.Duration(hl, "services.healing.stableAfter", dh.StableAfter, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            r.Duration(hl, "services.healing.verifyWindow", dh.VerifyWindow, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)));
        r.Known(hl, "services.healing", "enabled", "restartsBeforeReplace", "backoff", "maxBackoff", "stableAfter", "verifyWindow");
        if (healing.VerifyWindow > guardrails.LeaseDuration)
            r.Problem(YamlReader.Get(hl, "verifyWindow"), "services.healing.verifyWindow", $"must be at most guardrails.leaseDuration ({Durations.Write(guardrails.LeaseDuration)}), or leases expire mid-verification");
        if (healing.MaxBackoff < healing.Backoff)
            r.Problem(YamlReader.Get(hl, "maxBackoff"), "services.healing.maxBackoff", $"must be at least services.healing.backoff ({Durations.Write(healing.Backoff)})");
        services = services with { Healing = healing };

        var pr = r.Section(root, "probes");
        r.Known(pr, "probes", "confirmSilence", "actOnUnconfirmedSilence", "timeout", "defaults", "allowedNetworks");
        var networks = r.Strings(pr, "probes.allowedNetworks");
        for (var i = 0; i < networks.Length; i++)
            if (!System.Net.IPNetwork.TryParse(networks[i], out _))
                r.Problem(YamlReader.Get(pr, "allowedNetworks"), $"probes.allowedNetworks[{i}]", $"'{networks[i]}' is not a network in CIDR form (e.g. 10.0.0.0/8, 127.0.0.0/8, fd00::/8)");
        var probes = new ProbePolicy(r.Bool(pr, "probes.confirmSilence", d.Probes.ConfirmSilence),
            r.Bool(pr, "probes.actOnUnconfirmedSilence", d.Probes.ActOnUnconfirmedSilence),
            r.Duration(pr, "probes.timeout", d.Probes.Timeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(30)), r.ProbeDefaults(pr))
        {
            AllowedNetworks = networks,
        };

        var se = r.Section(root, "security");
        r.Known(se, "security", "threshold", "minSamples", "window", "action", "maxConcurrent", "stormShare", "stormMinPrincipals", "stormWindow", "approvalRequired", "confirmReports");
        var ds = d.Security;
        var containment = r.Scalar(se, "security.action", out var actionNode) ?? ds.Action;
        if (!SecurityPolicy.Actions.Contains(containment))
            r.Problem(actionNode, "security.action", $"'{containment}' is not a containment; accepted: {string.Join(", ", SecurityPolicy.Actions)}");
        var approval = r.Strings(se, "security.approvalRequired");
        var security = new SecurityPolicy(
            r.Double(se, "security.threshold", ds.Threshold, 2, 1000),
            r.Int(se, "security.minSamples", ds.MinSamples, 3, 100_000),
            r.Duration(se, "security.window", ds.Window, TimeSpan.FromHours(1), TimeSpan.FromDays(90)),
            containment,
            r.Int(se, "security.maxConcurrent", ds.MaxConcurrent, 1, 10_000),
            r.Double(se, "security.stormShare", ds.StormShare, 0.01, 1),
            r.Int(se, "security.stormMinPrincipals", ds.StormMinPrincipals, 2, 1_000_000),
            r.Duration(se, "security.stormWindow", ds.StormWindow, TimeSpan.FromSeconds(10), TimeSpan.FromDays(1)),
            approval,
            r.Int(se, "security.confirmReports", ds.ConfirmReports, 1, 100));

        var ro = r.Section(root, "rollout");
        r.Known(ro, "rollout", "canaryShare", "batchShare", "stepDuration", "minSamples", "minRequests", "significance", "maxErrorIncrease", "maxLatencyIncrease",
            "maxMemoryGrowthPerHour", "warmup", "maxExtensions", "watch", "watchWindow");
        var dr = d.Rollout;
        var rollout = new RolloutPolicy(
            r.Double(ro, "rollout.canaryShare", dr.CanaryShare, 0.01, 1),
            r.Double(ro, "rollout.batchShare", dr.BatchShare, 0.01, 1),
            r.Duration(ro, "rollout.stepDuration", dr.StepDuration, TimeSpan.FromSeconds(10), TimeSpan.FromDays(1)),
            r.Int(ro, "rollout.minSamples", dr.MinSamples, 3, 1_000_000),
            r.Double(ro, "rollout.minRequests", dr.MinRequests, 0, 1e12),
            r.Double(ro, "rollout.significance", dr.Significance, 1e-9, 0.5),
            r.Double(ro, "rollout.maxErrorIncrease", dr.MaxErrorIncrease, 0, 1),
            r.Double(ro, "rollout.maxLatencyIncrease", dr.MaxLatencyIncrease, 0, 100),
            r.Size(ro, "rollout.maxMemoryGrowthPerHour", dr.MaxMemoryGrowthPerHour, 0, 1L << 50),
            r.Duration(ro, "rollout.warmup", dr.Warmup, TimeSpan.Zero, TimeSpan.FromHours(1)),
            r.Int(ro, "rollout.maxExtensions", dr.MaxExtensions, 0, 100),
            r.Duration(ro, "rollout.watch", dr.Watch, TimeSpan.Zero, TimeSpan.FromDays(30)),
            r.Duration(ro, "rollout.watchWindow", dr.WatchWindow, TimeSpan.FromMinutes(1), TimeSpan.FromDays(1)));

        var ov = r.Section(root, "oversight");
        r.Known(ov, "oversight", "shadow", "approvals");
        var sh = r.Section(ov, "shadow", "oversight.shadow");
        r.Known(sh, "oversight.shadow", "fleet", "domains", "actions");
        var ap = r.Section(ov, "approvals", "oversight.approvals");
        r.Known(ap, "oversight.approvals", "actions", "classes", "rules", "timeout", "onTimeout");
        var onTimeout = r.Scalar(ap, "oversight.approvals.onTimeout", out var onTimeoutNode) ?? "reject";
        if (onTimeout is not ("reject" or "approve")) r.Problem(onTimeoutNode, "oversight.approvals.onTimeout", $"'{onTimeout}' is not reject or approve");
        var approvalActions = r.Strings(ap, "oversight.approvals.actions");
        foreach (var a in approvalActions.Where(a => a == ActionNames.Human))
            r.Problem(ap, "oversight.approvals.actions", $"'{a}' is a person already; it needs no approval");
        var oversight = new OversightPolicy(
            r.Bool(sh, "oversight.shadow.fleet", false), r.Strings(sh, "oversight.shadow.domains"), r.Strings(sh, "oversight.shadow.actions"),
            approvalActions, r.Duration(ap, "oversight.approvals.timeout", d.Oversight.ApprovalTimeout, TimeSpan.FromSeconds(10), TimeSpan.FromDays(7)),
            onTimeout == "approve")
        {
            ApprovalClasses = r.Classes(ap, "oversight.approvals.classes"),
            ApprovalRules = r.ApprovalRules(ap),
        };

        var le = r.Section(root, "learning");
        r.Known(le, "learning", "skipRungAfter", "pin");
        var learning = LearningPolicy.Default with { Pin = r.Strings(le, "learning.pin") };
        if (r.Scalar(le, "learning.skipRungAfter", out var skipNode) is { } skip)
        {
            var match = Regex.Match(skip.Trim(), @"^(\d+) failures? of (\d+)$");
            if (!match.Success || !int.TryParse(match.Groups[1].Value, out var failures) || !int.TryParse(match.Groups[2].Value, out var of) || failures < 1 || of < failures || of > 50)
                r.Problem(skipNode, "learning.skipRungAfter", $"'{skip}' is not 'F failures of N' with 1 ≤ F ≤ N ≤ 50 (e.g. '5 failures of 6')");
            else learning = learning with { Failures = failures, Of = of };
        }

        var ne = r.Section(root, "network");
        r.Known(ne, "network", "downAfterProbes", "upAfterProbes", "degradedAfterProbes", "degradedLossPercent", "degradedLatencyFactor", "damping", "holdDown",
            "reoptimize", "returnGain", "candidatePaths", "verifyProbes", "reservationTtl", "storm", "retryInterval");
        var dm = r.Section(ne, "damping", "network.damping");
        r.Known(dm, "network.damping", "penalty", "suppressAbove", "reuseBelow", "halfLife", "maxSuppress");
        var st = r.Section(ne, "storm", "network.storm");
        r.Known(st, "network.storm", "share", "minLinks", "window");
        var dn = d.Network;
        var network = new NetworkPolicy(
            r.Int(ne, "network.downAfterProbes", dn.DownAfterProbes, 1, 100),
            r.Int(ne, "network.upAfterProbes", dn.UpAfterProbes, 1, 100),
            r.Int(ne, "network.degradedAfterProbes", dn.DegradedAfterProbes, 1, 100),
            r.Double(ne, "network.degradedLossPercent", dn.DegradedLossPercent, 0.01, 100),
            r.Double(ne, "network.degradedLatencyFactor", dn.DegradedLatencyFactor, 1.01, 1000),
            r.Double(dm, "network.damping.penalty", dn.FlapPenalty, 0, 100_000),
            r.Double(dm, "network.damping.suppressAbove", dn.SuppressAbove, 1, 1_000_000),
            r.Double(dm, "network.damping.reuseBelow", dn.ReuseBelow, 1, 1_000_000),
            r.Duration(dm, "network.damping.halfLife", dn.HalfLife, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            r.Duration(dm, "network.damping.maxSuppress", dn.MaxSuppress, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            r.Duration(ne, "network.holdDown", dn.HoldDown, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Bool(ne, "network.reoptimize", dn.Reoptimize),
            r.Double(ne, "network.returnGain", dn.ReturnGain, 0, 10),
            r.Int(ne, "network.candidatePaths", dn.CandidatePaths, 1, 32),
            r.Int(ne, "network.verifyProbes", dn.VerifyProbes, 0, 100),
            r.Duration(ne, "network.reservationTtl", dn.ReservationTtl, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            r.Double(st, "network.storm.share", dn.StormShare, 0.01, 1),
            r.Int(st, "network.storm.minLinks", dn.StormMinLinks, 1, 1_000_000),
            r.Duration(st, "network.storm.window", dn.StormWindow, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            r.Duration(ne, "network.retryInterval", dn.RetryInterval, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)));
        if (network.ReuseBelow >= network.SuppressAbove)
            r.Problem(dm, "network.damping.reuseBelow", $"{network.ReuseBelow} must be below suppressAbove ({network.SuppressAbove})");

        var intake = r.Intake(root);

        var lc = r.Section(root, "lifecycle");
        r.Known(lc, "lifecycle", "burnIn", "burnInReports", "provision", "consolidate");
        var co = r.Section(lc, "consolidate", "lifecycle.consolidate");
        r.Known(co, "lifecycle.consolidate", "enabled", "interval", "threshold", "costPerNode", "maxUtilisation", "moveWindow", "defaultStartTime", "maxNodesPerPlan", "costs");
        var dc = d.Lifecycle.Consolidate;
        var consolidate = new ConsolidatePolicy(
            r.Double(co, "lifecycle.consolidate.threshold", dc.Threshold, 0, 1_000_000),
            r.Double(co, "lifecycle.consolidate.costPerNode", dc.CostPerNode, 0.000001, 1_000_000),
            r.Double(co, "lifecycle.consolidate.maxUtilisation", dc.MaxUtilisation, 0.05, 1),
            r.Duration(co, "lifecycle.consolidate.moveWindow", dc.MoveWindow, TimeSpan.Zero, TimeSpan.FromDays(30)),
            r.Duration(co, "lifecycle.consolidate.defaultStartTime", dc.DefaultStartTime, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)),
            r.Int(co, "lifecycle.consolidate.maxNodesPerPlan", dc.MaxNodesPerPlan, 0, 10_000))
        {
            Enabled = r.Bool(co, "lifecycle.consolidate.enabled", dc.Enabled),
            Interval = r.Duration(co, "lifecycle.consolidate.interval", dc.Interval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)),
            Costs = ShapeCosts(r, co),
        };
        var lifecycle = new LifecyclePolicy(
            r.Duration(lc, "lifecycle.burnIn", d.Lifecycle.BurnIn, TimeSpan.Zero, TimeSpan.FromDays(30)),
            r.Int(lc, "lifecycle.burnInReports", d.Lifecycle.BurnInReports, 0, 10_000)) { Provision = r.Provision(lc), Consolidate = consolidate };

        if (problems.Count > 0) return new(null, problems.ToImmutable());
        return new(new FleetPolicy(version, telemetry, health, forecast, remediation, guardrails)
        {
            Actions = actions, Services = services, Probes = probes, Security = security, Rollout = rollout, Oversight = oversight, Learning = learning,
            Network = network, Intake = intake, Lifecycle = lifecycle,
        }, []);
    }

    /// <summary>The <c>lifecycle.consolidate.costs</c> map: a node shape's name (its label <c>shape</c>) to what it costs an hour.</summary>
    private static ImmutableDictionary<string, double> ShapeCosts(YamlReader r, YamlMappingNode? consolidate)
    {
        var costs = ImmutableDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        foreach (var (shape, text) in r.StringMap(consolidate, "costs", "lifecycle.consolidate.costs"))
        {
            var node = YamlReader.Get(r.Section(consolidate, "costs", "lifecycle.consolidate.costs"), shape);
            if (!Fleet.Core.Validation.InputRules.IsValidId(shape))
                r.Problem(node, $"lifecycle.consolidate.costs.{shape}", $"'{shape}' is not a shape name (letters, digits, '-', '_', '.')");
            else if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var cost) || !double.IsFinite(cost) || cost <= 0 || cost > 1_000_000)
                r.Problem(node, $"lifecycle.consolidate.costs.{shape}", $"'{text}' is not a cost an hour (a number above 0, at most 1000000)");
            else costs[shape] = cost;
        }
        return costs.Count == 0 ? ImmutableDictionary<string, double>.Empty : costs.ToImmutable(); // none: the default's own (equal) value
    }

    /// <summary>A <c>forecast.disk</c>, <c>forecast.cpu</c> or <c>forecast.errors</c> section: whether it acts, the level that is the failure, and the fit it needs.</summary>
    private static ResourceForecastPolicy Resource(YamlReader r, YamlMappingNode? forecast, string name, ResourceForecastPolicy d)
    {
        var path = $"forecast.{name}";
        var m = r.Section(forecast, name, path);
        r.Known(m, path, "enabled", "limitPercent", "minFit", "minSpan");
        return new ResourceForecastPolicy(r.Bool(m, $"{path}.enabled", d.Enabled),
            r.Double(m, $"{path}.limitPercent", d.LimitPercent, 0.01, 100),
            r.Double(m, $"{path}.minFit", d.MinFit, 0, 1),
            r.Duration(m, $"{path}.minSpan", d.MinSpan, TimeSpan.Zero, TimeSpan.FromDays(1)));
    }

    /// <summary>The <c>lifecycle.provision</c> section: when and how many machines are asked for.</summary>
    private static ProvisionPolicy Provision(this YamlReader r, YamlMappingNode? lifecycle)
    {
        var d = ProvisionPolicy.Default;
        var pv = r.Section(lifecycle, "provision", "lifecycle.provision");
        r.Known(pv, "lifecycle.provision", "enabled", "shape", "domains", "pendingFor", "maxPerHour", "maxTotal", "arrivalTimeout", "headroom", "giveBackAfter");
        var sh = r.Section(pv, "shape", "lifecycle.provision.shape");
        r.Known(sh, "lifecycle.provision.shape", "name", "cpuCores", "memoryBytes", "labels");
        var name = r.Scalar(sh, "lifecycle.provision.shape.name", out var nameNode) ?? d.Shape.Name;
        if (!Fleet.Core.Validation.InputRules.IsValidId(name)) r.Problem(nameNode, "lifecycle.provision.shape.name", $"'{name}' is not a name (letters, digits, '-', '_', '.')");
        var memory = d.Shape.MemoryBytes;
        if (r.Scalar(sh, "lifecycle.provision.shape.memoryBytes", out var memoryNode) is { } memoryText
            && (!Fleet.Core.Services.ServiceSpecParser.TryBytes(memoryText, out memory) || memory <= 0))
            r.Problem(memoryNode, "lifecycle.provision.shape.memoryBytes", $"'{memoryText}' is not a size in bytes (e.g. 34359738368 or 32Gi)");
        var shape = new MachineShape(name, r.Double(sh, "lifecycle.provision.shape.cpuCores", d.Shape.CpuCores, 0.001, 100_000), memory,
            r.StringMap(sh, "labels", "lifecycle.provision.shape.labels"));
        var domains = r.Strings(pv, "lifecycle.provision.domains");
        foreach (var domain in domains)
            if (!Fleet.Core.Validation.InputRules.IsValidId(domain))
                r.Problem(YamlReader.Get(pv, "domains"), "lifecycle.provision.domains", $"'{domain}' is not a domain id");
        return new ProvisionPolicy(r.Bool(pv, "lifecycle.provision.enabled", d.Enabled), shape, domains,
            r.Duration(pv, "lifecycle.provision.pendingFor", d.PendingFor, TimeSpan.Zero, TimeSpan.FromDays(1)),
            r.Int(pv, "lifecycle.provision.maxPerHour", d.MaxPerHour, 0, 100_000),
            r.Int(pv, "lifecycle.provision.maxTotal", d.MaxTotal, 0, 10_000_000),
            r.Duration(pv, "lifecycle.provision.arrivalTimeout", d.ArrivalTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)))
        {
            Headroom = r.Int(pv, "lifecycle.provision.headroom", d.Headroom, 0, 1_000_000),
            GiveBackAfter = r.Duration(pv, "lifecycle.provision.giveBackAfter", d.GiveBackAfter, TimeSpan.Zero, TimeSpan.FromDays(30)),
        };
    }

    /// <summary>The <c>intake</c> section: how series and alerts from a team's monitoring name nodes and checks.</summary>
    private static IntakePolicy Intake(this YamlReader r, YamlMappingNode root)
    {
        var d = IntakePolicy.Default;
        var i = r.Section(root, "intake");
        r.Known(i, "intake", "nodeLabel", "serviceLabel", "linkLabel", "domainLabel", "domain", "register", "checks", "series");
        var se = r.Section(i, "series", "intake.series");
        r.Known(se, "intake.series", "cpuSeconds", "memoryTotal", "memoryAvailable", "filesystemSize", "filesystemAvailable", "mountpoint");
        string Name(YamlMappingNode? map, string path, string fallback)
        {
            var text = r.Scalar(map, path, out var node);
            if (text is null) return fallback;
            if (text.Length is > 0 and <= 200 && !text.Any(char.IsWhiteSpace)) return text;
            r.Problem(node, path, "must be a label or series name: 1 to 200 characters, no spaces");
            return fallback;
        }
        var domain = r.Scalar(i, "intake.domain", out var domainNode) ?? d.Domain;
        if (!Fleet.Core.Validation.InputRules.IsValidId(domain)) r.Problem(domainNode, "intake.domain", $"'{domain}' is not a domain id");
        var checks = YamlReader.Get(i, "checks") is null ? d.Checks : r.Strings(i, "intake.checks");
        for (var k = 0; k < checks.Length; k++)
            if (Fleet.Core.Intake.CheckRule.Parse(checks[k], out var why) is null) r.Problem(i, $"intake.checks[{k}]", why!);
        if (checks.Length > 50) r.Problem(i, "intake.checks", $"has {checks.Length} checks; at most 50");
        return new IntakePolicy(Name(i, "intake.nodeLabel", d.NodeLabel), Name(i, "intake.domainLabel", d.DomainLabel), domain,
            r.Bool(i, "intake.register", d.Register), checks)
        {
            ServiceLabel = Name(i, "intake.serviceLabel", d.ServiceLabel),
            LinkLabel = Name(i, "intake.linkLabel", d.LinkLabel),
            CpuSeconds = Name(se, "intake.series.cpuSeconds", d.CpuSeconds),
            MemoryTotal = Name(se, "intake.series.memoryTotal", d.MemoryTotal),
            MemoryAvailable = Name(se, "intake.series.memoryAvailable", d.MemoryAvailable),
            FilesystemSize = Name(se, "intake.series.filesystemSize", d.FilesystemSize),
            FilesystemAvailable = Name(se, "intake.series.filesystemAvailable", d.FilesystemAvailable),
            Mountpoint = Name(se, "intake.series.mountpoint", d.Mountpoint),
        };
    }

    private static string Action(this YamlReader r, YamlMappingNode? map, string path, string fallback)
    {
        var text = r.Scalar(map, path, out var node);
        if (text is null) return fallback;
        if (ActionName().IsMatch(text)) return text;
        r.Problem(node, path, $"'{text}' is not an action name (lower-case letters, digits and '-', starting with a letter)");
        return fallback;
    }

    /// <summary>The <c>actions</c> section: a mapping of action name to its catalogue row (verb, class, effect, actuator).</summary>
    private static ImmutableArray<ActionSpec> Actions(this YamlReader r, YamlMappingNode root)
    {
        var node = YamlReader.Get(root, "actions");
        if (node is null or YamlScalarNode { Value: null or "" or "~" }) return [];
        if (node is not YamlMappingNode map)
        {
            r.Problem(node, "actions", "must be a mapping of action name to its fields (verb, class, effect, actuator)");
            return [];
        }
        var rows = ImmutableArray.CreateBuilder<ActionSpec>();
        foreach (var (key, value) in map.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? "";
            var path = $"actions.{name}";
            if (!ActionName().IsMatch(name) || name == Fleet.Abstractions.Actions.ActionNames.Human)
            {
                r.Problem(key, path, $"'{name}' is not an action name (lower-case letters, digits and '-', starting with a letter; not 'human')");
                continue;
            }
            if (value is not YamlMappingNode row)
            {
                r.Problem(value, path, "must be a mapping with verb, class, effect and actuator");
                continue;
            }
            r.Known(row, path, "verb", "class", "effect", "actuator");
            var verb = r.Scalar(row, $"{path}.verb", out var verbNode);
            if (verb is not null && (verb.Trim().Length == 0 || verb.Length > 80)) r.Problem(verbNode, $"{path}.verb", "must be 1 to 80 characters");
            var actionClass = r.Enum(row, $"{path}.class", ActionClass.Disruptive, ActionClass.Placement);
            var effect = r.Enum(row, $"{path}.effect", AdminEffect.None, null);
            var actuator = r.Scalar(row, $"{path}.actuator", out var actuatorNode);
            if (actuator is not null && !Fleet.Core.Actions.ActionCatalogue.Actuators.Contains(actuator))
                r.Problem(actuatorNode, $"{path}.actuator", $"'{actuator}' is not an actuator; accepted: {string.Join(", ", Fleet.Core.Actions.ActionCatalogue.Actuators)}");
            rows.Add(new ActionSpec(name, verb?.Trim() ?? $"Ran {name}", actionClass, effect, actuator));
        }
        return rows.ToImmutable();
    }

    private static ImmutableArray<LadderStep> Ladder(this YamlReader r, YamlMappingNode? map, ImmutableArray<LadderStep> fallback)
    {
        var node = YamlReader.Get(map, "ladder");
        if (node is null) return fallback;
        if (node is not YamlSequenceNode seq)
        {
            r.Problem(node, "remediation.ladder", "must be a list of steps, each with an action and a verifyWindow");
            return fallback;
        }
        if (seq.Children.Count == 0)
        {
            r.Problem(node, "remediation.ladder", "must have at least one step");
            return fallback;
        }
        var steps = ImmutableArray.CreateBuilder<LadderStep>();
        for (var i = 0; i < seq.Children.Count; i++)
        {
            var path = $"remediation.ladder[{i}]";
            if (seq.Children[i] is not YamlMappingNode step)
            {
                r.Problem(seq.Children[i], path, "must be a mapping with an action and a verifyWindow");
                continue;
            }
            r.Known(step, path, "action", "verifyWindow");
            if (YamlReader.Get(step, "action") is null) r.Problem(step, $"{path}.action", "is required");
            var action = r.Action(step, $"{path}.action", "?");
            var isHuman = action == Fleet.Abstractions.Actions.ActionNames.Human;
            if (isHuman && i != seq.Children.Count - 1) r.Problem(step, $"{path}.action", "'human' ends the ladder, so it must be the last step");
            var verify = r.Duration(step, $"{path}.verifyWindow", isHuman ? TimeSpan.Zero : TimeSpan.FromMinutes(2), TimeSpan.Zero, TimeSpan.FromDays(1));
            if (!isHuman && verify <= TimeSpan.Zero) r.Problem(step, $"{path}.verifyWindow", "must be longer than 0s for an action the fleet runs");
            steps.Add(new LadderStep(action, verify));
        }
        return steps.ToImmutable();
    }

    /// <summary>A list of action classes in camelCase (<c>[containment, rollout]</c>).</summary>
    private static ImmutableArray<ActionClass> Classes(this YamlReader r, YamlMappingNode? map, string path)
    {
        var names = Enum.GetValues<ActionClass>().ToDictionary(c => Fleet.Core.Text.Format.Camel(c.ToString()));
        var list = ImmutableArray.CreateBuilder<ActionClass>();
        var texts = r.Strings(map, path);
        for (var i = 0; i < texts.Length; i++)
            if (names.TryGetValue(texts[i], out var c)) list.Add(c);
            else r.Problem(YamlReader.Get(map, path[(path.LastIndexOf('.') + 1)..]), $"{path}[{i}]", $"'{texts[i]}' is not a class of action; accepted: {string.Join(", ", names.Keys)}");
        return list.ToImmutable();
    }

    /// <summary><c>oversight.approvals.rules</c>: a list of <c>{action?, class?, moreThan}</c>; an action that matches one and touches more waits for a person.</summary>
    private static ImmutableArray<ApprovalRule> ApprovalRules(this YamlReader r, YamlMappingNode? approvals)
    {
        var node = YamlReader.Get(approvals, "rules");
        if (node is null) return [];
        if (node is not YamlSequenceNode seq)
        {
            r.Problem(node, "oversight.approvals.rules", "must be a list of rules, each {action or class, moreThan}");
            return [];
        }
        var rules = ImmutableArray.CreateBuilder<ApprovalRule>();
        for (var i = 0; i < seq.Children.Count; i++)
        {
            var path = $"oversight.approvals.rules[{i}]";
            if (seq.Children[i] is not YamlMappingNode rule)
            {
                r.Problem(seq.Children[i], path, "must be a mapping: {action or class, moreThan}");
                continue;
            }
            r.Known(rule, path, "action", "class", "moreThan");
            var action = r.Scalar(rule, $"{path}.action", out _);
            if (action == ActionNames.Human) r.Problem(rule, $"{path}.action", "'human' is a person already; it needs no approval");
            var classText = r.Scalar(rule, $"{path}.class", out var classNode);
            ActionClass? actionClass = null;
            if (classText is not null)
            {
                if (Enum.GetValues<ActionClass>().FirstOrDefault(c => Fleet.Core.Text.Format.Camel(c.ToString()) == classText) is var c && Fleet.Core.Text.Format.Camel(c.ToString()) == classText) actionClass = c;
                else r.Problem(classNode, $"{path}.class", $"'{classText}' is not a class of action; accepted: {string.Join(", ", Enum.GetValues<ActionClass>().Select(x => Fleet.Core.Text.Format.Camel(x.ToString())))}");
            }
            if (action is null && classText is null) r.Problem(rule, path, "names no action and no class; write action: NAME or class: CLASS");
            if (YamlReader.Get(rule, "moreThan") is null) r.Problem(rule, $"{path}.moreThan", "is required (0: every one)");
            var moreThan = r.Int(rule, $"{path}.moreThan", 0, 0, 1_000_000);
            rules.Add(new ApprovalRule(action, actionClass, moreThan));
        }
        return rules.ToImmutable();
    }

    /// <summary><c>probes.defaults</c>: a list of <c>{labels?, kind, port, path?, timeout?}</c>, the first match wins.</summary>
    private static ImmutableArray<ProbeDefault> ProbeDefaults(this YamlReader r, YamlMappingNode? probes)
    {
        var node = YamlReader.Get(probes, "defaults");
        if (node is null) return [];
        if (node is not YamlSequenceNode seq)
        {
            r.Problem(node, "probes.defaults", "must be a list of {labels, kind, port, path, timeout}");
            return [];
        }
        var list = ImmutableArray.CreateBuilder<ProbeDefault>();
        for (var i = 0; i < seq.Children.Count; i++)
        {
            var path = $"probes.defaults[{i}]";
            if (seq.Children[i] is not YamlMappingNode item)
            {
                r.Problem(seq.Children[i], path, "must be a mapping with kind and port");
                continue;
            }
            r.Known(item, path, "labels", "kind", "port", "path", "timeout");
            if (YamlReader.Get(item, "port") is null) r.Problem(item, $"{path}.port", "is required");
            var kind = r.Enum(item, $"{path}.kind", ProbeKind.Tcp, null);
            var probePath = r.Scalar(item, $"{path}.path", out var pathNode);
            if (probePath is not null && (kind != ProbeKind.Http || !probePath.StartsWith('/')))
                r.Problem(pathNode, $"{path}.path", kind != ProbeKind.Http ? "only an http probe has a path" : "must start with '/'");
            TimeSpan? timeout = YamlReader.Get(item, "timeout") is null ? null : r.Duration(item, $"{path}.timeout", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(30));
            list.Add(new ProbeDefault(r.StringMap(item, "labels", $"{path}.labels"), kind, r.Int(item, $"{path}.port", 1, 1, 65535), probePath, timeout));
        }
        return list.ToImmutable();
    }
}
