using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Core.Forecasting;
using Fleet.Core.Text;

namespace Fleet.Core.Health;

/// <summary>
/// Judges a node's health from its reports and its silence. Pure: the caller supplies the time.
/// Healthy turns Degraded only after a streak of breaching reports and back only after a streak of clean ones;
/// Unhealthy needs a streak of failed checks (or long silence) and leaves only after a streak of passing reports.
/// </summary>
public static class NodeMonitor
{
    /// <summary>The source of reports intake builds from a team's monitoring.</summary>
    public const string IntakeSource = "intake";

    public static Judgement OnReport(NodeHealthModel model, TelemetryReport report, DateTimeOffset receivedAt, FleetPolicy policy)
    {
        // A new run of the reporter (a new boot id) counts from the start again: not a replay.
        var newBoot = report.BootId is { } boot && boot != model.BootId && model.LastReportAt is not null;
        // Intake (a team's monitoring, docs/intake.md) and the node's own reporter number their reports differently (a
        // sample's time, a counter). While the node's own reporter is heard, intake's reports are not taken (it sees more);
        // whichever takes over from the other starts its own sequence.
        var fromIntake = report.Source == IntakeSource;
        var lastFromIntake = model.LastReport?.Source == IntakeSource;
        if (fromIntake && model.LastReport is not null && !lastFromIntake && model.ReportExpiresAt > receivedAt)
            return new Judgement(model, ReportOutcome.DuplicateOrOutOfOrder, null);
        var takesOver = model.LastReport is not null && fromIntake != lastFromIntake;
        if (report.Sequence <= model.LastSequence && !newBoot && !takesOver)
            return new Judgement(model, ReportOutcome.DuplicateOrOutOfOrder, null);
        if (report.Timestamp > receivedAt + policy.Telemetry.MaxClockSkew)
            return new Judgement(model, ReportOutcome.Skewed, null);

        var ttl = report.Ttl > policy.Telemetry.MaxTtl ? policy.Telemetry.MaxTtl : report.Ttl;
        var expiresAt = report.Timestamp + ttl;
        if (expiresAt < receivedAt)
            return new Judgement(model, ReportOutcome.Expired, null);

        var hp = policy.Health;
        // Built only for what is wrong; a plain healthy report allocates no condition, sentence or evidence (the
        // evidence and the reason are written only when the health changes, which is when they are recorded).
        ImmutableArray<NodeCondition>.Builder? conditions = null;
        var checks = report.Checks.IsDefault ? [] : report.Checks;
        // A check not passing while its reporter starts (Starting) keeps the node from Healthy but counts no failure —
        // within the policy's maxStartGrace, and only while the check has not failed unmarked (FailureNote).
        int failedCount = 0, startingCount = 0;
        foreach (var check in checks)
            if (!check.Passed) { if (FailureNote(model, check, receivedAt, hp) is null) startingCount++; else failedCount++; }
        var failedStreak = failedCount > 0 ? model.FailedStreak + 1 : 0;
        var passingStreak = failedCount + startingCount > 0 ? 0 : model.PassingStreak + 1;
        if (failedCount + startingCount > 0)
            foreach (var check in checks)
                if (!check.Passed)
                    Add(ref conditions, FailureNote(model, check, receivedAt, hp) is { } note
                        ? new NodeCondition(ConditionTypes.CheckFailed, $"check '{check.Name}' failed{Detail(check)}, {failedStreak} report(s) in a row{note}", receivedAt)
                        : new NodeCondition(ConditionTypes.CheckStarting, $"check '{check.Name}' not passing yet while it starts, inside its start grace{Detail(check)}; not counted as failed", receivedAt));

        var memoryPercent = report.MemoryTotalBytes > 0 ? 100.0 * report.MemoryUsedBytes / report.MemoryTotalBytes : 0;
        var breach = false;
        breach |= Threshold(ref conditions, ConditionTypes.CpuPressure, "CPU", report.CpuPercent, hp.CpuDegradedPercent, receivedAt);
        breach |= Threshold(ref conditions, ConditionTypes.MemoryPressure, "memory", memoryPercent, hp.MemoryDegradedPercent, receivedAt);
        breach |= Threshold(ref conditions, ConditionTypes.DiskPressure, "disk", report.DiskUsedPercent, hp.DiskDegradedPercent, receivedAt);

        var samples = model.MemorySamples.Append(new MemorySample(report.Timestamp, report.MemoryUsedBytes), policy.Forecast.MaxSamples);
        var forecast = MemoryForecaster.Forecast(samples, report.MemoryTotalBytes);
        var memoryBreach = policy.Forecast.Enabled && samples.Count >= policy.Forecast.MinSamples
            && forecast.TimeToExhaustion is { } tte && tte < policy.Forecast.Horizon;
        if (memoryBreach)
        {
            var perMinute = (long)(forecast.BytesPerSecond * 60);
            Add(ref conditions, new NodeCondition(ConditionTypes.MemoryExhaustionForecast,
                $"memory will run out in about {Format.Duration(forecast.TimeToExhaustion!.Value)} " +
                $"({Format.Bytes(report.MemoryUsedBytes)} of {Format.Bytes(report.MemoryTotalBytes)} used, rising {Format.Bytes(perMinute)}/min; " +
                $"horizon {Format.Duration(policy.Forecast.Horizon)})", receivedAt));
        }
        // The disk and the CPU, from the samples taken with the memory's (the same instants).
        var load = LoadSamples.Append(model.LoadSamples, LoadSamples.Pack(report.CpuPercent, report.DiskUsedPercent), policy.Forecast.MaxSamples);
        Trend? disk = null, cpu = null;
        if (policy.Forecast.Enabled)
        {
            disk = Breaching(LoadSamples.Forecast(samples, load, LoadFigure.Disk, policy.Forecast.Disk, policy.Forecast.MinSamples), policy.Forecast.Horizon);
            cpu = Breaching(LoadSamples.Forecast(samples, load, LoadFigure.Cpu, policy.Forecast.Cpu, policy.Forecast.MinSamples), policy.Forecast.Horizon);
        }
        if (disk is { } d)
            Add(ref conditions, new NodeCondition(ConditionTypes.DiskFullForecast,
                $"the disk will reach {Format.Percent(policy.Forecast.Disk.LimitPercent)} in about {Format.Duration(d.TimeToLimit!.Value)} " +
                $"({Format.Percent(report.DiskUsedPercent)} used, rising {Format.Percent(d.PerSecond * 60)}/min; horizon {Format.Duration(policy.Forecast.Horizon)})", receivedAt));
        if (cpu is { } c)
            Add(ref conditions, new NodeCondition(ConditionTypes.CpuSaturationForecast,
                $"CPU will reach {Format.Percent(policy.Forecast.Cpu.LimitPercent)} in about {Format.Duration(c.TimeToLimit!.Value)} " +
                $"({Format.Percent(report.CpuPercent)} now, rising {Format.Percent(c.PerSecond * 60)}/min over {Math.Min(samples.Count, load.Length)} reports{c.FitText}; " +
                $"horizon {Format.Duration(policy.Forecast.Horizon)})", receivedAt));
        var forecastBreach = memoryBreach || disk is not null || cpu is not null;

        var breachStreak = breach || forecastBreach ? model.BreachStreak + 1 : 0;
        var cleanStreak = failedCount + startingCount == 0 && !breach && !forecastBreach ? model.CleanStreak + 1 : 0;

        var previous = model.Health;
        HealthState next;
        if (failedStreak >= hp.UnhealthyAfterFailedReports) next = HealthState.Unhealthy;
        else if (previous == HealthState.Unhealthy && passingStreak < hp.RecoverAfterReports) next = HealthState.Unhealthy;
        else if (failedCount + startingCount > 0 || forecastBreach) next = HealthState.Degraded;
        else if (breach) next = previous == HealthState.Degraded || breachStreak >= hp.DegradeAfterReports ? HealthState.Degraded : HealthState.Healthy;
        else if (previous is HealthState.Degraded or HealthState.Unhealthy) next = cleanStreak >= hp.RecoverAfterReports ? HealthState.Healthy : HealthState.Degraded;
        else next = HealthState.Healthy;

        var updated = model with
        {
            Conditions = conditions is null ? [] : Carry(model.Conditions, conditions.ToImmutable()),
            LastSequence = report.Sequence,
            LastReportAt = receivedAt,
            ReportExpiresAt = expiresAt,
            BreachStreak = breachStreak,
            FailedStreak = failedStreak,
            PassingStreak = passingStreak,
            CleanStreak = cleanStreak,
            MemorySamples = samples,
            LoadSamples = load,
            Forecast = forecast,
            LastReport = Kept(model.LastReport, report),
            BootId = report.BootId ?? model.BootId,
        };
        var judgement = next == previous
            ? new Judgement(updated, ReportOutcome.Accepted, null)
            : Transition(updated, next, receivedAt, ReportReason(next, previous, updated, hp),
                ReportEvidence(report, checks, failedStreak, memoryPercent, memoryBreach ? forecast : null, disk, cpu, samples.Count, policy), ReportOutcome.Accepted);
        return newBoot ? judgement with { NewBootFrom = model.BootId ?? "(none)" } : judgement;
    }

    /// <summary>
    /// The report a node keeps as its last, sharing whatever did not change: its checks, source and boot id as the
    /// node's previous report had them, and passing checks and sources as other nodes report them (<see cref="SharedParts"/>).
    /// Each report arrives with fresh copies of the same few strings and arrays; kept as they came, they would outlive the
    /// call in every node (a million copies of "the same" checks) and be collected only as old objects.
    /// </summary>
    public static TelemetryReport Kept(TelemetryReport? before, TelemetryReport report)
    {
        var checks = report.Checks.IsDefaultOrEmpty ? ImmutableArray<CheckResult>.Empty
            : before is not null && !before.Checks.IsDefault && before.Checks.AsSpan().SequenceEqual(report.Checks.AsSpan()) ? before.Checks
            : SharedParts.Checks(report.Checks);
        var peers = report.Peers.IsDefaultOrEmpty ? ImmutableArray<PeerProbe>.Empty : report.Peers;
        var source = before is not null && report.Source == before.Source ? before.Source : SharedParts.Text(report.Source);
        var bootId = before is not null && report.BootId == before.BootId ? before.BootId : report.BootId;
        return checks == report.Checks && peers == report.Peers && ReferenceEquals(source, report.Source) && ReferenceEquals(bootId, report.BootId)
            ? report
            : report with { Checks = checks, Peers = peers, Source = source, BootId = bootId };
    }

    private static string Detail(CheckResult check) => string.IsNullOrWhiteSpace(check.Detail) ? "" : $" ({check.Detail})";

    /// <summary>
    /// Null when a failing check is taken as starting: its reporter marked it, it has not failed unmarked since it last
    /// passed (no CheckFailed condition of its own), and it has been starting for less than the policy's maxStartGrace
    /// (since its CheckStarting condition, carried from report to report and over silence). Otherwise it counts as
    /// failed, and this is what its reason adds: nothing, or how long it was starting, past maxStartGrace.
    /// </summary>
    private static string? FailureNote(NodeHealthModel model, CheckResult check, DateTimeOffset receivedAt, HealthPolicy hp)
    {
        if (!check.Starting || hp.MaxStartGrace <= TimeSpan.Zero) return "";
        NodeCondition? starting = null;
        foreach (var c in model.Conditions)
        {
            if (!IsAbout(c, check.Name)) continue;
            if (c.Type == ConditionTypes.CheckFailed) return "";
            if (c.Type == ConditionTypes.CheckStarting) starting = c;
        }
        if (starting is null || receivedAt - starting.Since < hp.MaxStartGrace) return null;
        return $"; it was starting for {Format.Duration(receivedAt - starting.Since)}, past health.maxStartGrace ({Format.Duration(hp.MaxStartGrace)})";
    }

    private static bool IsAbout(NodeCondition condition, string check) =>
        condition.Reason.Length > check.Length + 8 && condition.Reason.StartsWith("check '", StringComparison.Ordinal)
        && condition.Reason.AsSpan(7).StartsWith(check, StringComparison.Ordinal) && condition.Reason[7 + check.Length] == '\'';

    private static void Add(ref ImmutableArray<NodeCondition>.Builder? conditions, NodeCondition condition) =>
        (conditions ??= ImmutableArray.CreateBuilder<NodeCondition>()).Add(condition);

    /// <summary>The figures behind a report's change of health: its sequence, failed checks, the three thresholds and the forecast.</summary>
    private static ImmutableDictionary<string, string> ReportEvidence(TelemetryReport report, ImmutableArray<CheckResult> checks, int failedStreak,
        double memoryPercent, MemoryForecast? breachingForecast, Trend? disk, Trend? cpu, int samples, FleetPolicy policy)
    {
        var hp = policy.Health;
        var evidence = ImmutableDictionary.CreateBuilder<string, string>();
        evidence["sequence"] = report.Sequence.ToString();
        foreach (var check in checks)
            if (!check.Passed) evidence[$"check.{check.Name}"] = (check.Starting ? "starting" : "failed") + Detail(check);
        if (failedStreak > 0) evidence["failedStreak"] = $"{failedStreak} (Unhealthy at {hp.UnhealthyAfterFailedReports})";
        evidence["CPU"] = Figure(report.CpuPercent, hp.CpuDegradedPercent);
        evidence["memory"] = Figure(memoryPercent, hp.MemoryDegradedPercent);
        evidence["disk"] = Figure(report.DiskUsedPercent, hp.DiskDegradedPercent);
        if (breachingForecast is not null)
        {
            evidence["forecast.timeToExhaustion"] = Format.Duration(breachingForecast.TimeToExhaustion!.Value);
            evidence["forecast.horizon"] = Format.Duration(policy.Forecast.Horizon);
            evidence["forecast.samples"] = samples.ToString();
        }
        if (disk is { } d)
        {
            evidence["forecast.disk.timeToLimit"] = Format.Duration(d.TimeToLimit!.Value);
            evidence["forecast.disk.perMinute"] = Format.Percent(d.PerSecond * 60);
        }
        if (cpu is { } c)
        {
            evidence["forecast.cpu.timeToLimit"] = Format.Duration(c.TimeToLimit!.Value);
            evidence["forecast.cpu.perMinute"] = Format.Percent(c.PerSecond * 60);
            if (!double.IsNaN(c.RSquared)) evidence["forecast.cpu.rSquared"] = Format.Num(Math.Round(c.RSquared, 3));
        }
        if (disk is not null || cpu is not null) evidence["forecast.horizon"] = Format.Duration(policy.Forecast.Horizon);
        return evidence.ToImmutable();
    }

    private static string Figure(double value, double threshold) => $"{Format.Percent(value)} (threshold {Format.Percent(threshold)})";

    /// <summary>Keeps a peer's latest view of the node; an older view than the one kept is ignored.</summary>
    public static NodeHealthModel OnPeerView(NodeHealthModel model, PeerView view) =>
        model.PeerViews.TryGetValue(view.ObserverNodeId, out var kept) && kept.At >= view.At
            ? model
            : model with { Peers = model.PeerViews.SetItem(view.ObserverNodeId, view) };

    /// <summary>Judges silence and staleness. <paramref name="watchingSince"/> is when this monitor began to watch (its activation).</summary>
    public static Judgement OnTick(NodeHealthModel model, DateTimeOffset now, DateTimeOffset watchingSince, FleetPolicy policy)
    {
        var lastHeard = model.LastReportAt is { } at && at > watchingSince ? at : watchingSince;
        var silence = now - lastHeard;
        var expired = model.ReportExpiresAt is { } exp && exp < now;
        // The common case, kept cheap: a node that reports on time and carries no silence condition.
        if (silence < policy.SilenceToSuspect && !expired && !model.Conditions.Any(c => IsSilenceCondition(c.Type)))
            return new Judgement(model, ReportOutcome.Accepted, null);
        var evidence = ImmutableDictionary<string, string>.Empty
            .Add("silence", Format.Duration(silence))
            .Add("suspectAfter", Format.Duration(policy.SilenceToSuspect))
            .Add("unhealthyAfter", Format.Duration(policy.SilenceToUnhealthy));

        var conditions = model.Conditions.RemoveAll(c => IsSilenceCondition(c.Type));
        // Views no older than the Suspect tolerance — peers' probes, and the silo's own probe — tell a dead node from a
        // broken path to the monitor.
        var fresh = model.PeerViews.Values.Where(v => now - v.At <= policy.SilenceToSuspect).OrderBy(v => v.ObserverNodeId, StringComparer.Ordinal).ToList();
        var reachable = fresh.Where(v => v.Reachable).ToList();
        var unreachable = fresh.Where(v => !v.Reachable).ToList();
        if (fresh.Count > 0)
            evidence = evidence.Add("peers", string.Join(", ", fresh.Select(v =>
                $"{v.ObserverNodeId}: {(v.Reachable ? "reachable" : "unreachable")}{(string.IsNullOrEmpty(v.Detail) ? "" : $" ({v.Detail})")}")));
        if (expired)
            conditions = conditions.Add(Keep(model, ConditionTypes.Stale,
                $"the last report (sequence {model.LastSequence}) expired {Format.Duration(now - model.ReportExpiresAt!.Value)} ago", now));
        if (silence >= policy.SilenceToSuspect)
            conditions = conditions.Add(Keep(model, ConditionTypes.Silent,
                $"no report for {Format.Duration(silence)} (Suspect after {Format.Duration(policy.SilenceToSuspect)}, Unhealthy after {Format.Duration(policy.SilenceToUnhealthy)})", now));

        // Silence breaks the streaks: a node that went quiet must earn its recovery with fresh reports.
        var updated = silence >= policy.SilenceToSuspect
            ? model with { Conditions = conditions, PassingStreak = 0, CleanStreak = 0 }
            : model with { Conditions = conditions };
        if (silence >= policy.SilenceToSuspect && reachable.Count > 0)
        {
            // The silo's own probe answering is proof the node lives; a peer's is a strong hint.
            var proven = reachable.Any(v => v.ObserverNodeId == PeerView.SiloProbe);
            var path = proven ? "the path to the monitor is broken, not the node" : "the path to the monitor may be broken, not the node";
            updated = updated with { Conditions = updated.Conditions.Add(Keep(model, ConditionTypes.PeerReachable,
                $"{Who(reachable)} still {Verb(reachable, "reach", "reaches")} it: {path}", now)) };
            return model.Health is HealthState.Healthy or HealthState.Degraded or HealthState.Unknown
                ? Transition(updated, HealthState.Suspect, now,
                    $"it sent no report for {Format.Duration(silence)}, but {Who(reachable, its: true)} still {Verb(reachable, "reach", "reaches")} it, so " +
                    (proven ? "the path to the monitor is what is broken" : "the path to the monitor may be what is broken"), evidence, ReportOutcome.Accepted)
                : new Judgement(updated, ReportOutcome.Accepted, null);
        }
        // Probes confirm a node already Suspect: it is first shown Suspect, then confirmed dead at once (no second hold).
        if (silence >= policy.SilenceToSuspect && unreachable.Count > 0 && model.Health is HealthState.Suspect or HealthState.Unhealthy)
        {
            updated = updated with { Conditions = updated.Conditions.Add(Keep(model, ConditionTypes.PeerUnreachable,
                $"{Who(unreachable)} {Verb(unreachable, "confirm", "confirms")} it unreachable", now)) };
            return Transition(updated, HealthState.Unhealthy, now,
                $"it sent no report for {Format.Duration(silence)} and {Who(unreachable, its: true)} {Verb(unreachable, "confirm", "confirms")} it unreachable", evidence, ReportOutcome.Accepted);
        }
        if (silence >= policy.SilenceToUnhealthy && !policy.Probes.ActOnUnconfirmedSilence)
        {
            updated = updated with { Conditions = updated.Conditions.Add(Keep(model, ConditionTypes.UnconfirmedSilence,
                $"no probe or peer could confirm its death, and the policy forbids acting on unconfirmed silence (probes.actOnUnconfirmedSilence: false)", now)) };
            return model.Health is HealthState.Healthy or HealthState.Degraded or HealthState.Unknown
                ? Transition(updated, HealthState.Suspect, now, $"it sent no report for {Format.Duration(silence)}; no probe or peer can confirm its death", evidence, ReportOutcome.Accepted)
                : new Judgement(updated, ReportOutcome.Accepted, null);
        }
        if (silence >= policy.SilenceToUnhealthy)
            return Transition(updated, HealthState.Unhealthy, now,
                $"it sent no report for {Format.Duration(silence)}, past the limit of {Format.Duration(policy.SilenceToUnhealthy)} " +
                $"({policy.Telemetry.AllowedMisses} missed reports at {Format.Duration(policy.Telemetry.ReportInterval)}, twice over)", evidence, ReportOutcome.Accepted);
        if ((silence >= policy.SilenceToSuspect || expired) && model.Health is HealthState.Healthy or HealthState.Degraded or HealthState.Unknown)
        {
            var why = silence >= policy.SilenceToSuspect
                ? $"it sent no report for {Format.Duration(silence)} ({policy.Telemetry.AllowedMisses} reports missed at {Format.Duration(policy.Telemetry.ReportInterval)}); the node or only the path to it may be down"
                : $"its last report expired {Format.Duration(now - model.ReportExpiresAt!.Value)} ago, so its health is no longer known";
            return Transition(updated, HealthState.Suspect, now, why, evidence, ReportOutcome.Accepted);
        }
        return new Judgement(updated, ReportOutcome.Accepted, null);
    }

    private static bool IsSilenceCondition(string type) => type is ConditionTypes.Stale or ConditionTypes.Silent or ConditionTypes.PeerReachable
        or ConditionTypes.PeerUnreachable or ConditionTypes.UnconfirmedSilence;

    /// <summary>Who saw it: "peers host-b, host-c", "the silo's probe (tcp 10.0.0.5:22: connection refused)", or both.</summary>
    private static string Who(IReadOnlyList<PeerView> views, bool its = false)
    {
        var peers = views.Where(v => v.ObserverNodeId != PeerView.SiloProbe).Select(v => v.ObserverNodeId).ToList();
        var probe = views.FirstOrDefault(v => v.ObserverNodeId == PeerView.SiloProbe);
        var parts = new List<string>();
        if (peers.Count > 0) parts.Add($"{(its ? "its " : "")}peers {string.Join(", ", peers)}");
        if (probe is not null) parts.Add($"the silo's probe ({probe.Detail})");
        return string.Join(" and ", parts);
    }

    private static string Verb(IReadOnlyList<PeerView> views, string plural, string singular) =>
        views.Count == 1 && views[0].ObserverNodeId == PeerView.SiloProbe ? singular : plural;

    /// <summary>The trend when it reaches its limit within the horizon; null otherwise.</summary>
    private static Trend? Breaching(Trend? trend, TimeSpan horizon) => trend is { TimeToLimit: { } t } && t < horizon ? trend : null;

    private static bool Threshold(ref ImmutableArray<NodeCondition>.Builder? conditions, string type, string what, double value, double threshold, DateTimeOffset now)
    {
        if (value < threshold) return false;
        Add(ref conditions, new NodeCondition(type, $"{what} at {Format.Percent(value)}, at or above the {Format.Percent(threshold)} threshold", now));
        return true;
    }

    private static string ReportReason(HealthState next, HealthState previous, NodeHealthModel m, HealthPolicy hp) => next switch
    {
        HealthState.Unhealthy when m.FailedStreak >= hp.UnhealthyAfterFailedReports =>
            $"{Describe(m, ConditionTypes.CheckFailed)}; Unhealthy after {hp.UnhealthyAfterFailedReports} failing reports",
        HealthState.Unhealthy => $"it is still recovering ({m.PassingStreak} of {hp.RecoverAfterReports} passing reports needed)",
        HealthState.Degraded when m.Foreseen => string.Join("; ", m.Conditions.Where(c => ConditionTypes.IsForecast(c.Type)).Select(c => c.Reason)),
        HealthState.Degraded when m.HasCondition(ConditionTypes.CheckFailed) => Describe(m, ConditionTypes.CheckFailed),
        HealthState.Degraded when m.HasCondition(ConditionTypes.CheckStarting) => Describe(m, ConditionTypes.CheckStarting),
        HealthState.Degraded when m.Conditions.Length > 0 => string.Join("; ", m.Conditions.Select(c => c.Reason)) + $" ({m.BreachStreak} report(s) in a row)",
        HealthState.Degraded => $"it is still recovering ({m.CleanStreak} of {hp.RecoverAfterReports} clean reports needed)",
        HealthState.Healthy when previous is HealthState.Degraded or HealthState.Unhealthy =>
            $"its last {Math.Max(m.CleanStreak, m.PassingStreak)} reports were clean",
        _ => "a fresh report arrived with every check passing and no threshold breached",
    };

    private static string Describe(NodeHealthModel m, string type) =>
        string.Join("; ", m.Conditions.Where(c => c.Type == type).Select(c => c.Reason));

    private static NodeCondition Keep(NodeHealthModel model, string type, string reason, DateTimeOffset now) =>
        new(type, reason, model.Conditions.FirstOrDefault(c => c.Type == type)?.Since ?? now);

    /// <summary>A condition present before keeps the time it was first seen.</summary>
    private static ImmutableArray<NodeCondition> Carry(ImmutableArray<NodeCondition> before, ImmutableArray<NodeCondition> now) =>
        now.Select(c => before.FirstOrDefault(b => b.Type == c.Type && b.Reason.Split(',')[0] == c.Reason.Split(',')[0]) is { } b
            ? c with { Since = b.Since } : c).ToImmutableArray();

    private static Judgement Transition(NodeHealthModel model, HealthState next, DateTimeOffset now, string reason,
        ImmutableDictionary<string, string> evidence, ReportOutcome outcome)
    {
        if (next == model.Health) return new Judgement(model, outcome, null);
        var change = new HealthChange(model.Health, next, reason, evidence);
        return new Judgement(model with { Health = next, HealthSince = now }, outcome, change);
    }
}
