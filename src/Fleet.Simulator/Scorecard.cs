using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fleet.Simulator;

public sealed record FaultResult(
    string Id, string Kind, string Node, TimeSpan InjectedAt, TimeSpan? DetectedAt, TimeSpan? RecoveredAt,
    ImmutableArray<string> Actions, bool? Prevented, TimeSpan? FirstActionAt = null)
{
    public TimeSpan? TimeToDetect => DetectedAt - InjectedAt;
    /// <summary>From the fault to the first action the fleet took on its node (the remedy, or the first rung of it).</summary>
    public TimeSpan? TimeToAct => FirstActionAt - InjectedAt;
    public TimeSpan? TimeToRecover => RecoveredAt - InjectedAt;
}

/// <summary>The provisioner's side of a run: the requests it took (one per idempotency key), the machines they made, those that registered, those given back.</summary>
public sealed record ProvisionScore(int Requests, int Machines, int Registered, int GivenBack);

/// <summary>Seconds at the 50th, 95th and 99th percentiles (nearest rank); null when nothing was measured.</summary>
public sealed record Percentiles(double? P50, double? P95, double? P99, int Samples)
{
    public static Percentiles Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        double? At(double p) => sorted.Length == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Percentiles(At(50), At(95), At(99), sorted.Length);
    }
}

/// <summary>How the loop did in one run, per fault and overall.</summary>
public sealed record Scorecard(
    string Scenario,
    int Nodes,
    int Domains,
    TimeSpan SimulatedTime,
    TimeSpan WallTime,
    ImmutableArray<FaultResult> Faults,
    Percentiles Mttd,
    Percentiles Mttr,
    int Actions,
    int FalseActions,
    ImmutableArray<string> FalseActionLog,
    int GuardrailViolations,
    int MaxInFlightPerDomain,
    int MaxInFlightFleet,
    ImmutableDictionary<string, int> Denials,
    int HandOffs,
    double Availability,
    long ReportsSent,
    long ReportsUnanswered,
    Percentiles ReportLatencyMs,
    Percentiles StepSeconds)
{
    /// <summary>The services the scenario ran, when it ran any.</summary>
    public ServiceScore? Services { get; init; }

    /// <summary>The operator's drains the scenario asked for, when it asked any.</summary>
    public DrainScore? Drains { get; init; }

    /// <summary>The deploys the scenario made, when it made any.</summary>
    public RolloutScore? Rollouts { get; init; }

    /// <summary>The links and flows the scenario ran, when it ran any.</summary>
    public NetworkScore? Network { get; init; }

    /// <summary>How the instances sat on the nodes before and after consolidation, when the scenario's policy carries it out.</summary>
    public PackingScore? Packing { get; init; }

    /// <summary>The machines the provisioner was asked for, when it was asked for any.</summary>
    public ProvisionScore? Provisioning { get; init; }

    public static string Clock(TimeSpan t) => t.TotalDays >= 1 ? $"{(int)t.TotalDays}d{t.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture)}" : t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);

    private static string S(double? seconds) => seconds is { } s ? $"{s:0.#} s" : "—";
    private static string T(TimeSpan? t) => t is { } v ? Clock(v) : "—";

    public string ToTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Scenario {Scenario}: {Nodes} nodes in {Domains} domains, {Clock(SimulatedTime)} simulated in {WallTime.TotalSeconds:0.0} s");
        sb.AppendLine();
        sb.AppendLine($"{"FAULT",-8} {"KIND",-9} {"NODE",-12} {"INJECTED",-9} {"DETECTED",-9} {"RECOVERED",-10} ACTIONS");
        foreach (var f in Faults)
        {
            var extra = (f.Prevented, f.Kind) switch
            {
                (true, _) => " (prevented)",
                (false, nameof(FaultKind.DiskFill)) => " (the disk filled)",
                (false, nameof(FaultKind.CpuRamp)) => " (the CPU saturated)",
                (false, _) => " (memory ran out)",
                _ => "",
            };
            sb.AppendLine($"{f.Id,-8} {f.Kind,-9} {f.Node,-12} {T(f.InjectedAt),-9} {T(f.DetectedAt),-9} {T(f.RecoveredAt),-10} {string.Join(", ", f.Actions)}{extra}");
        }
        sb.AppendLine();
        sb.AppendLine($"MTTD        p50 {S(Mttd.P50)}  p95 {S(Mttd.P95)}  p99 {S(Mttd.P99)}  ({Mttd.Samples} detected)");
        sb.AppendLine($"MTTR        p50 {S(Mttr.P50)}  p95 {S(Mttr.P95)}  p99 {S(Mttr.P99)}  ({Mttr.Samples} recovered)");
        sb.AppendLine($"Actions     {Actions} taken, {FalseActions} false (disruptive actions on healthy nodes)");
        sb.AppendLine($"Guardrails  {GuardrailViolations} violations; most in flight: {MaxInFlightPerDomain} in one domain, {MaxInFlightFleet} in the fleet");
        sb.AppendLine($"Denied      {(Denials.IsEmpty ? "none" : string.Join(", ", Denials.OrderBy(d => d.Key).Select(d => $"{d.Key} {d.Value}")))}");
        sb.AppendLine($"Hand-offs   {HandOffs} to a human");
        sb.AppendLine($"Available   {Availability:P3} of node-time");
        if (Services is { } sv)
            sb.AppendLine($"Services    {sv.Services} with {sv.InstancesWanted} instances; ready after {T(sv.ReadyAfter)}; {sv.InstanceSecondsLost:0} instance-seconds lost " +
                $"({sv.InstanceAvailability:P3} served); back after a node failure p50 {S(sv.InstancesBack.P50)}, p99 {S(sv.InstancesBack.P99)} ({sv.InstancesBack.Samples}); budget violations {sv.BudgetViolations}");
        if (Drains is { } dr)
            sb.AppendLine($"Drains      {dr.Done} of {dr.Asked} done; refused {(dr.RefusedBy.IsEmpty ? "never" : string.Join(", ", dr.RefusedBy.OrderBy(d => d.Key).Select(d => $"{d.Value}× by {d.Key}")))}");
        if (Rollouts is { } ro)
        {
            sb.AppendLine($"Rollouts    {ro.Deploys} deploy(s): {ro.Promoted} promoted, {ro.RolledBack} rolled back, {ro.Paused} paused, {ro.Other} other; " +
                $"bad-version instance-time {ro.BadVersionInstanceSeconds:0} s; time to rollback p50 {S(ro.TimeToRollback.P50)}, p99 {S(ro.TimeToRollback.P99)} ({ro.TimeToRollback.Samples})");
            foreach (var d in ro.Results)
                sb.AppendLine($"            {d.Service} {d.Version}{(d.Bad ? " (bad)" : "")}: deployed {T(d.DeployedAt)}, first instance {T(d.FirstStartAt)}, gone {T(d.GoneAt)}, " +
                    $"{d.InstanceSeconds:0} instance-s, {d.Outcome}");
        }
        if (Network is { } nw)
            sb.AppendLine($"Network     {nw.Links} links, {nw.Flows} flows ({nw.FlowsPlaced} placed); dropped {nw.Dropped} ({nw.DroppedUnavoidable} more with no working path at all); " +
                $"{nw.FlowSecondsWithoutPath:0} flow-seconds without a path; reroute p50 {S(nw.RerouteSeconds.P50)}, p99 {S(nw.RerouteSeconds.P99)} ({nw.RerouteSeconds.Samples}); " +
                $"{nw.Moves} moves, {nw.ShiftsOntoBrokenPaths} onto a broken path; oversubscriptions {nw.Oversubscriptions}; damped {(nw.DampedLinks.IsEmpty ? "none" : string.Join(", ", nw.DampedLinks))}");
        if (Packing is { } pk)
            sb.AppendLine($"Packing     nodes in use {pk.NodesUsedBefore} → {pk.NodesUsedAfter} ({pk.NodesRetired} retired); allocated peak {pk.PeakBefore:P0} → {pk.PeakAfter:P0}, " +
                $"mean of the nodes in use {pk.MeanBefore:P0} → {pk.MeanAfter:P0}; {pk.Moves} moves, {pk.MovedWithinWindow} of an instance within the move window of its start");
        if (Provisioning is { } pv)
            sb.AppendLine($"Provisioned {pv.Requests} request(s) for {pv.Machines} machine(s); {pv.Registered} registered; {pv.GivenBack} given back");
        sb.AppendLine($"Reports     {ReportsSent} sent in batches of up to {Simulation.BatchSize}, {ReportsUnanswered} unanswered; batch latency p50 {ReportLatencyMs.P50:0.00} ms, p99 {ReportLatencyMs.P99:0.0} ms; step work p50 {StepSeconds.P50:0.000} s, p99 {StepSeconds.P99:0.000} s");
        return sb.ToString();
    }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
