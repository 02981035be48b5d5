using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Fleet.Abstractions.Policy;

namespace Fleet.Core.Policies;

/// <summary>Writes a policy as the YAML document <see cref="PolicyParser"/> reads.</summary>
public static class PolicyWriter
{
    public static string Write(FleetPolicy p)
    {
        static string D(TimeSpan t) => Durations.Write(t);
        static string N(double v) => v.ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.AppendLine("telemetry:");
        sb.AppendLine($"  reportInterval: {D(p.Telemetry.ReportInterval)}");
        sb.AppendLine($"  allowedMisses: {p.Telemetry.AllowedMisses}");
        sb.AppendLine($"  maxTtl: {D(p.Telemetry.MaxTtl)}");
        sb.AppendLine($"  maxClockSkew: {D(p.Telemetry.MaxClockSkew)}");
        sb.AppendLine("health:");
        sb.AppendLine($"  cpuDegradedPercent: {N(p.Health.CpuDegradedPercent)}");
        sb.AppendLine($"  memoryDegradedPercent: {N(p.Health.MemoryDegradedPercent)}");
        sb.AppendLine($"  diskDegradedPercent: {N(p.Health.DiskDegradedPercent)}");
        sb.AppendLine($"  degradeAfterReports: {p.Health.DegradeAfterReports}");
        sb.AppendLine($"  unhealthyAfterFailedReports: {p.Health.UnhealthyAfterFailedReports}");
        sb.AppendLine($"  recoverAfterReports: {p.Health.RecoverAfterReports}");
        sb.AppendLine($"  maxStartGrace: {D(p.Health.MaxStartGrace)}");
        sb.AppendLine("forecast:");
        sb.AppendLine($"  enabled: {(p.Forecast.Enabled ? "true" : "false")}");
        sb.AppendLine($"  horizon: {D(p.Forecast.Horizon)}");
        sb.AppendLine($"  minSamples: {p.Forecast.MinSamples}");
        sb.AppendLine($"  maxSamples: {p.Forecast.MaxSamples}");
        sb.AppendLine($"  action: {p.Forecast.Action}");
        foreach (var (name, rf) in new[] { ("disk", p.Forecast.Disk), ("cpu", p.Forecast.Cpu), ("errors", p.Forecast.Errors) })
        {
            sb.AppendLine($"  {name}:");
            sb.AppendLine($"    enabled: {(rf.Enabled ? "true" : "false")}");
            sb.AppendLine($"    limitPercent: {N(rf.LimitPercent)}");
            sb.AppendLine($"    minFit: {N(rf.MinFit)}");
            sb.AppendLine($"    minSpan: {D(rf.MinSpan)}");
        }
        sb.AppendLine("remediation:");
        sb.AppendLine("  ladder:");
        foreach (var step in p.Remediation.Ladder)
        {
            sb.AppendLine($"    - action: {step.Action}");
            sb.AppendLine($"      verifyWindow: {D(step.VerifyWindow)}");
        }
        sb.AppendLine($"  cooldown: {D(p.Remediation.Cooldown)}");
        sb.AppendLine($"  backoffMultiplier: {N(p.Remediation.BackoffMultiplier)}");
        sb.AppendLine($"  maxCooldown: {D(p.Remediation.MaxCooldown)}");
        sb.AppendLine($"  probation: {D(p.Remediation.Probation)}");
        sb.AppendLine($"  flapWindow: {D(p.Remediation.FlapWindow)}");
        sb.AppendLine("guardrails:");
        sb.AppendLine($"  maxConcurrentPerDomain: {p.Guardrails.MaxConcurrentPerDomain}");
        sb.AppendLine($"  maxActionsPerWindow: {p.Guardrails.MaxActionsPerWindow}");
        sb.AppendLine($"  window: {D(p.Guardrails.Window)}");
        sb.AppendLine($"  stormThreshold: {N(p.Guardrails.StormThreshold)}");
        sb.AppendLine($"  stormMinMembers: {p.Guardrails.StormMinMembers}");
        sb.AppendLine($"  stormCooldown: {D(p.Guardrails.StormCooldown)}");
        sb.AppendLine($"  leaseDuration: {D(p.Guardrails.LeaseDuration)}");
        sb.AppendLine($"  fleetMaxConcurrent: {p.Guardrails.FleetMaxConcurrent}");
        sb.AppendLine($"  stormBrakeHolds: {Fleet.Core.Text.Format.Camel(p.Guardrails.StormBrakeHolds.ToString())}");
        sb.AppendLine("probes:");
        sb.AppendLine($"  confirmSilence: {(p.Probes.ConfirmSilence ? "true" : "false")}");
        sb.AppendLine($"  actOnUnconfirmedSilence: {(p.Probes.ActOnUnconfirmedSilence ? "true" : "false")}");
        sb.AppendLine($"  timeout: {D(p.Probes.Timeout)}");
        if (!p.Probes.AllowedNetworks.IsDefaultOrEmpty) sb.AppendLine($"  allowedNetworks: [{string.Join(", ", p.Probes.AllowedNetworks)}]");
        if (!p.Probes.Defaults.IsDefaultOrEmpty)
        {
            sb.AppendLine("  defaults:");
            foreach (var pd in p.Probes.Defaults)
            {
                sb.AppendLine($"    - kind: {Fleet.Core.Text.Format.Camel(pd.Kind.ToString())}");
                sb.AppendLine($"      port: {pd.Port}");
                if (pd.Path is not null) sb.AppendLine($"      path: {pd.Path}");
                if (pd.Timeout is { } pt) sb.AppendLine($"      timeout: {D(pt)}");
                if (!pd.Labels.IsEmpty) sb.AppendLine($"      labels: {{{string.Join(", ", pd.Labels.Select(kv => $"{kv.Key}: \"{kv.Value}\""))}}}");
            }
        }
        sb.AppendLine("services:");
        sb.AppendLine($"  rescheduleAfter: {(p.Services.RescheduleAfter is { } after ? D(after) : "firstRungFailed")}");
        sb.AppendLine($"  reservationTtl: {D(p.Services.ReservationTtl)}");
        sb.AppendLine($"  reconcileInterval: {D(p.Services.ReconcileInterval)}");
        var hl = p.Services.Healing;
        sb.AppendLine("  healing:");
        sb.AppendLine($"    enabled: {(hl.Enabled ? "true" : "false")}");
        sb.AppendLine($"    restartsBeforeReplace: {hl.RestartsBeforeReplace}");
        sb.AppendLine($"    backoff: {D(hl.Backoff)}");
        sb.AppendLine($"    maxBackoff: {D(hl.MaxBackoff)}");
        sb.AppendLine($"    stableAfter: {D(hl.StableAfter)}");
        sb.AppendLine($"    verifyWindow: {D(hl.VerifyWindow)}");
        var se = p.Security;
        sb.AppendLine("security:");
        sb.AppendLine($"  threshold: {se.Threshold.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  minSamples: {se.MinSamples}");
        sb.AppendLine($"  window: {D(se.Window)}");
        sb.AppendLine($"  action: {se.Action}");
        sb.AppendLine($"  maxConcurrent: {se.MaxConcurrent}");
        sb.AppendLine($"  stormShare: {se.StormShare.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  stormMinPrincipals: {se.StormMinPrincipals}");
        sb.AppendLine($"  stormWindow: {D(se.StormWindow)}");
        sb.AppendLine($"  confirmReports: {se.ConfirmReports}");
        sb.AppendLine($"  approvalRequired: [{string.Join(", ", (se.ApprovalRequired.IsDefault ? [] : se.ApprovalRequired).Select(a => $"\"{a}\""))}]");
        var ro = p.Rollout;
        sb.AppendLine("rollout:");
        sb.AppendLine($"  canaryShare: {ro.CanaryShare.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  batchShare: {ro.BatchShare.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  stepDuration: {D(ro.StepDuration)}");
        sb.AppendLine($"  minSamples: {ro.MinSamples}");
        sb.AppendLine($"  minRequests: {ro.MinRequests.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  significance: {ro.Significance.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  maxErrorIncrease: {ro.MaxErrorIncrease.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  maxLatencyIncrease: {ro.MaxLatencyIncrease.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"  maxMemoryGrowthPerHour: {ro.MaxMemoryGrowthPerHour}");
        sb.AppendLine($"  warmup: {D(ro.Warmup)}");
        sb.AppendLine($"  maxExtensions: {ro.MaxExtensions}");
        sb.AppendLine($"  watch: {D(ro.Watch)}");
        sb.AppendLine($"  watchWindow: {D(ro.WatchWindow)}");
        var ov = p.Oversight;
        static string List(ImmutableArray<string> items) => $"[{string.Join(", ", (items.IsDefault ? [] : items).Select(a => $"\"{a}\""))}]";
        sb.AppendLine("oversight:");
        sb.AppendLine("  shadow:");
        sb.AppendLine($"    fleet: {(ov.ShadowFleet ? "true" : "false")}");
        sb.AppendLine($"    domains: {List(ov.ShadowDomains)}");
        sb.AppendLine($"    actions: {List(ov.ShadowActions)}");
        sb.AppendLine("  approvals:");
        sb.AppendLine($"    actions: {List(ov.ApprovalActions)}");
        sb.AppendLine($"    classes: {List([.. ov.ApprovalClasses.Select(c => Fleet.Core.Text.Format.Camel(c.ToString()))])}");
        if (ov.ApprovalRules.IsDefaultOrEmpty) sb.AppendLine("    rules: []");
        else
        {
            sb.AppendLine("    rules:");
            foreach (var rule in ov.ApprovalRules)
                sb.AppendLine("      - {" + string.Join(", ", new[]
                {
                    rule.Action is { } a ? $"action: {a}" : null, rule.Class is { } c ? $"class: {Fleet.Core.Text.Format.Camel(c.ToString())}" : null, $"moreThan: {rule.MoreThan}",
                }.OfType<string>()) + "}");
        }
        sb.AppendLine($"    timeout: {D(ov.ApprovalTimeout)}");
        sb.AppendLine($"    onTimeout: {(ov.ApproveOnTimeout ? "approve" : "reject")}");
        sb.AppendLine("learning:");
        if (p.Learning.Enabled) sb.AppendLine($"  skipRungAfter: \"{p.Learning.Failures} failures of {p.Learning.Of}\"");
        sb.AppendLine($"  pin: {List(p.Learning.Pin)}");
        var ne = p.Network;
        sb.AppendLine("network:");
        sb.AppendLine($"  downAfterProbes: {ne.DownAfterProbes}");
        sb.AppendLine($"  upAfterProbes: {ne.UpAfterProbes}");
        sb.AppendLine($"  degradedAfterProbes: {ne.DegradedAfterProbes}");
        sb.AppendLine($"  degradedLossPercent: {N(ne.DegradedLossPercent)}");
        sb.AppendLine($"  degradedLatencyFactor: {N(ne.DegradedLatencyFactor)}");
        sb.AppendLine("  damping:");
        sb.AppendLine($"    penalty: {N(ne.FlapPenalty)}");
        sb.AppendLine($"    suppressAbove: {N(ne.SuppressAbove)}");
        sb.AppendLine($"    reuseBelow: {N(ne.ReuseBelow)}");
        sb.AppendLine($"    halfLife: {D(ne.HalfLife)}");
        sb.AppendLine($"    maxSuppress: {D(ne.MaxSuppress)}");
        sb.AppendLine($"  holdDown: {D(ne.HoldDown)}");
        sb.AppendLine($"  reoptimize: {(ne.Reoptimize ? "true" : "false")}");
        sb.AppendLine($"  returnGain: {N(ne.ReturnGain)}");
        sb.AppendLine($"  candidatePaths: {ne.CandidatePaths}");
        sb.AppendLine($"  verifyProbes: {ne.VerifyProbes}");
        sb.AppendLine($"  reservationTtl: {D(ne.ReservationTtl)}");
        sb.AppendLine("  storm:");
        sb.AppendLine($"    share: {N(ne.StormShare)}");
        sb.AppendLine($"    minLinks: {ne.StormMinLinks}");
        sb.AppendLine($"    window: {D(ne.StormWindow)}");
        sb.AppendLine($"  retryInterval: {D(ne.RetryInterval)}");
        sb.AppendLine("lifecycle:");
        sb.AppendLine($"  burnIn: {D(p.Lifecycle.BurnIn)}");
        sb.AppendLine($"  burnInReports: {p.Lifecycle.BurnInReports}");
        var pv = p.Lifecycle.Provision;
        sb.AppendLine("  provision:");
        sb.AppendLine($"    enabled: {(pv.Enabled ? "true" : "false")}");
        sb.AppendLine("    shape:");
        sb.AppendLine($"      name: {pv.Shape.Name}");
        sb.AppendLine($"      cpuCores: {N(pv.Shape.CpuCores)}");
        sb.AppendLine($"      memoryBytes: {pv.Shape.MemoryBytes}");
        sb.AppendLine($"      labels: {{{string.Join(", ", pv.Shape.Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}: \"{kv.Value}\""))}}}");
        sb.AppendLine($"    domains: {List(pv.Domains)}");
        sb.AppendLine($"    pendingFor: {D(pv.PendingFor)}");
        sb.AppendLine($"    maxPerHour: {pv.MaxPerHour}");
        sb.AppendLine($"    maxTotal: {pv.MaxTotal}");
        sb.AppendLine($"    arrivalTimeout: {D(pv.ArrivalTimeout)}");
        sb.AppendLine($"    headroom: {pv.Headroom}");
        sb.AppendLine($"    giveBackAfter: {D(pv.GiveBackAfter)}");
        var co = p.Lifecycle.Consolidate;
        sb.AppendLine("  consolidate:");
        sb.AppendLine($"    enabled: {(co.Enabled ? "true" : "false")}");
        sb.AppendLine($"    interval: {D(co.Interval)}");
        sb.AppendLine($"    threshold: {N(co.Threshold)}");
        sb.AppendLine($"    costPerNode: {N(co.CostPerNode)}");
        sb.AppendLine($"    maxUtilisation: {N(co.MaxUtilisation)}");
        sb.AppendLine($"    moveWindow: {D(co.MoveWindow)}");
        sb.AppendLine($"    defaultStartTime: {D(co.DefaultStartTime)}");
        sb.AppendLine($"    maxNodesPerPlan: {co.MaxNodesPerPlan}");
        if (!co.Costs.IsEmpty)
        {
            sb.AppendLine("    costs:");
            foreach (var (shape, cost) in co.Costs.OrderBy(c => c.Key, StringComparer.Ordinal)) sb.AppendLine($"      {shape}: {N(cost)}");
        }
        var ik = p.Intake;
        static string Q(string text) => $"\"{text.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
        sb.AppendLine("intake:");
        sb.AppendLine($"  nodeLabel: {Q(ik.NodeLabel)}");
        sb.AppendLine($"  serviceLabel: {Q(ik.ServiceLabel)}");
        sb.AppendLine($"  linkLabel: {Q(ik.LinkLabel)}");
        sb.AppendLine($"  domainLabel: {Q(ik.DomainLabel)}");
        sb.AppendLine($"  domain: {Q(ik.Domain)}");
        sb.AppendLine($"  register: {(ik.Register ? "true" : "false")}");
        sb.AppendLine($"  checks: [{string.Join(", ", (ik.Checks.IsDefault ? [] : ik.Checks).Select(Q))}]");
        sb.AppendLine("  series:");
        sb.AppendLine($"    cpuSeconds: {Q(ik.CpuSeconds)}");
        sb.AppendLine($"    memoryTotal: {Q(ik.MemoryTotal)}");
        sb.AppendLine($"    memoryAvailable: {Q(ik.MemoryAvailable)}");
        sb.AppendLine($"    filesystemSize: {Q(ik.FilesystemSize)}");
        sb.AppendLine($"    filesystemAvailable: {Q(ik.FilesystemAvailable)}");
        sb.AppendLine($"    mountpoint: {Q(ik.Mountpoint)}");
        if (!p.Actions.IsDefaultOrEmpty)
        {
            sb.AppendLine("actions:");
            foreach (var a in p.Actions)
            {
                sb.AppendLine($"  {a.Name}:");
                sb.AppendLine($"    verb: \"{a.Verb.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
                sb.AppendLine($"    class: {Fleet.Core.Text.Format.Camel(a.Class.ToString())}");
                sb.AppendLine($"    effect: {Fleet.Core.Text.Format.Camel(a.Effect.ToString())}");
                if (a.Actuator is not null) sb.AppendLine($"    actuator: {a.Actuator}");
            }
        }
        return sb.ToString();
    }
}
