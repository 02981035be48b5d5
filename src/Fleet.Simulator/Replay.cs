using System.Collections.Immutable;
using System.Diagnostics;
using System.Text;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Core.Replay;
using Fleet.Core.Text;
using Fleet.Grains.Actuators;
using Fleet.Grains.Nodes;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Simulator;

/// <summary>Progress of a replay, reported about once a second.</summary>
public sealed record ReplayProgress(string Run, TimeSpan Simulated, TimeSpan Total, long Delivered);

/// <summary>What one replay of a trace did, counted from its decision records.</summary>
public sealed record ReplayScore(
    int Steps,
    long Reports,
    long Refused,
    int Records,
    ImmutableDictionary<string, int> Executed,
    ImmutableDictionary<string, int> Denied,
    int Shadowed,
    int AwaitingApproval,
    int HandOffs,
    int SubjectsActedOn,
    Percentiles SecondsToAction);

/// <summary>One run of a trace with one policy.</summary>
public sealed record ReplayRun(string Policy, ImmutableArray<ReplayRecord> Records, ReplayScore Score, TimeSpan WallTime);

/// <summary>Both runs and what differs between them.</summary>
public sealed record ReplayResult(DateTimeOffset Start, DateTimeOffset End, TimeSpan Step, int Entries, ReplayRun Recorded, ReplayRun? Candidate, ImmutableArray<ReplayDifference> Differences)
{
    public string ToText()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Trace {Start:yyyy-MM-dd HH:mm:ss} → {End:HH:mm:ss} UTC ({Format.Duration(End - Start)}, {Entries:N0} entries), replayed in steps of {Format.Duration(Step)}.");
        sb.AppendLine();
        Score(sb, Recorded);
        if (Candidate is { } c)
        {
            Score(sb, c);
            sb.AppendLine();
            if (Differences.IsEmpty) sb.AppendLine("No difference: the candidate makes the same decisions in the same steps.");
            else
            {
                sb.AppendLine($"Differences ({Count(ReplayChange.Added)} added, {Count(ReplayChange.Removed)} removed, {Count(ReplayChange.Delayed)} delayed, {Count(ReplayChange.Advanced)} advanced):");
                foreach (var d in Differences) sb.AppendLine("  " + d);
            }
        }
        return sb.ToString();
    }

    private int Count(ReplayChange change) => Differences.Count(d => d.Change == change);

    private static void Score(StringBuilder sb, ReplayRun run)
    {
        var s = run.Score;
        static string Map(ImmutableDictionary<string, int> m) => m.IsEmpty ? "none" : string.Join(", ", m.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"));
        sb.AppendLine($"{run.Policy}:");
        sb.AppendLine($"  actions executed  {Map(s.Executed)} (on {s.SubjectsActedOn} subjects); from leaving Healthy to action p50 {Sec(s.SecondsToAction.P50)}, p99 {Sec(s.SecondsToAction.P99)}");
        sb.AppendLine($"  denied            {Map(s.Denied)}");
        sb.AppendLine($"  shadowed {s.Shadowed}, awaiting approval {s.AwaitingApproval}, handed to a person {s.HandOffs}");
        sb.AppendLine($"  {s.Records:N0} records; {s.Reports:N0} reports delivered ({s.Refused:N0} refused) in {s.Steps:N0} steps; {run.WallTime.TotalSeconds:0.0} s of wall time");
    }

    private static string Sec(double? s) => s is { } v ? $"{v:0.#} s" : "—";
}

public sealed class ReplayException(string message) : Exception(message);

/// <summary>
/// Replays a recorded trace off-line, open loop, on simulated time through Fleet's real grains in a private silo: the
/// clock moves to each entry's arrival time (registrations, reports, cordons, drains, freezes, policy versions), stopping
/// on the way wherever a node's wake-up falls due (silences, case deadlines) so that it runs first, and the entry is
/// delivered as it was recorded; at the end of each step what it started is let finish (actions, verifications) — the
/// reports do not react to what the replay decides. Actions succeed (the simulated actuator); direct
/// probes are not replayed (a registration's address is left out). Run once with the recorded policy and once with a
/// candidate; <see cref="ReplayDiff"/> says what the candidate would have done differently.
/// </summary>
public static class Replayer
{
    public static readonly TimeSpan DefaultStep = TimeSpan.FromSeconds(1);

    public static async Task<ReplayResult> CompareAsync(InputTrace trace, string? candidatePolicy, TimeSpan step, IProgress<ReplayProgress>? progress = null, CancellationToken ct = default)
    {
        var recorded = await RunAsync(trace, null, step, progress, ct);
        if (candidatePolicy is null) return new ReplayResult(trace.Start, trace.End, step, trace.Entries.Count, recorded, null, []);
        var candidate = await RunAsync(trace, candidatePolicy, step, progress, ct);
        return new ReplayResult(trace.Start, trace.End, step, trace.Entries.Count, recorded, candidate, ReplayDiff.Compare(recorded.Records, candidate.Records, step));
    }

    /// <summary>One run: with the policies the trace recorded (<paramref name="candidatePolicy"/> null), or with the candidate from the start (the trace's later policy versions are then not applied).</summary>
    public static async Task<ReplayRun> RunAsync(InputTrace trace, string? candidatePolicy, TimeSpan step, IProgress<ReplayProgress>? progress = null, CancellationToken ct = default)
    {
        if (step <= TimeSpan.Zero) throw new ReplayException("the step must be positive");
        var wall = Stopwatch.StartNew();
        var t0 = trace.Start;
        await using var host = await SimulationHost.StartAsync(false, ct, t0 - step);
        var fake = host.Fake!;
        var grains = host.Grains;
        var executor = host.Services.GetRequiredService<ActionExecutor>();
        var wakeups = host.Services.GetRequiredService<NodeWakeups>();
        var label = candidatePolicy is null ? "Recorded policy" : "Candidate policy";

        var initial = candidatePolicy ?? trace.Entries.FirstOrDefault(e => e.Kind == TraceKinds.Policy && e.Snapshot == true && e.Version > 0)?.Document;
        if (initial is not null)
        {
            var applied = await grains.GetGrain<IPolicyGrain>(FleetNames.Default).ApplyAsync(initial, "replay");
            if (!applied.Applied)
                throw new ReplayException($"the {(candidatePolicy is null ? "recorded" : "candidate")} policy is not valid: {string.Join("; ", applied.Problems)}");
        }

        var entries = trace.Entries.Where(e => !(e.Kind == TraceKinds.Policy && (e.Snapshot == true || candidatePolicy is not null))).ToList();
        var steps = Math.Max(1, (int)Math.Ceiling((trace.End - t0) / step));
        long reports = 0, refused = 0, delivered = 0;
        var next = 0;
        var lastProgress = Stopwatch.StartNew();
        for (var s = 0; s <= steps && !ct.IsCancellationRequested; s++)
        {
            var boundary = s == steps ? trace.End : t0 + step * s; // the last step ends where the recording did
            var due = new List<TraceEntry>();
            while (next < entries.Count && entries[next].At <= boundary) due.Add(entries[next++]);
            if (due.Count > 0)
            {
                // Each input is delivered at its own arrival time, not at the step's end: a node's silence is judged from
                // when its last report arrived, and a wake-up that fell due before an input (a silence noticed a moment
                // before the late report came) runs first, as it did in the silo that recorded the trace.
                foreach (var instant in due.GroupBy(e => e.At))
                {
                    await MoveClockAsync(fake, wakeups, executor, instant.Key, ct);
                    foreach (var e in instant.Where(e => e.Node is null && e.Kind != TraceKinds.Register)) await DeliverAsync(grains, e);
                    var perNode = instant.Where(e => e.Node is not null || e.Kind == TraceKinds.Register).GroupBy(e => e.Node ?? e.Registration!.NodeId);
                    await Parallel.ForEachAsync(perNode, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (group, _) =>
                    {
                        foreach (var e in group)
                        {
                            var outcome = await DeliverAsync(grains, e);
                            if (e.Kind == TraceKinds.Report)
                            {
                                Interlocked.Increment(ref reports);
                                if (outcome is not ReportOutcome.Accepted) Interlocked.Increment(ref refused);
                            }
                        }
                    });
                    if (executor.InFlight > 0) await SettleAsync(executor, wakeups, ct);
                }
                delivered += due.Count;
            }
            await MoveClockAsync(fake, wakeups, executor, boundary, ct);
            await SettleAsync(executor, wakeups, ct);
            if (lastProgress.ElapsedMilliseconds >= 1000 || s == steps)
            {
                lastProgress.Restart();
                progress?.Report(new ReplayProgress(label, boundary - t0, trace.End - t0, delivered));
            }
        }

        var records = await RecordsAsync(grains, t0, step, ct);
        return new ReplayRun(label, records, Score(records, steps, reports, refused, step), wall.Elapsed);
    }

    private static async Task<ReportOutcome?> DeliverAsync(IGrainFactory grains, TraceEntry e)
    {
        var fleet = grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default);
        switch (e.Kind)
        {
            case TraceKinds.Register:
                await grains.GetGrain<INodeGrain>(e.Registration!.NodeId).RegisterAsync(e.Registration with { Address = null, Probe = null });
                return null;
            case TraceKinds.Report:
                return (await grains.GetGrain<INodeGrain>(e.Node!).ReportAsync(e.Report!)).Outcome;
            case TraceKinds.Cordon:
                await Tolerant(() => grains.GetGrain<INodeGrain>(e.Node!).CordonAsync(e.By ?? "replay", e.Reason));
                return null;
            case TraceKinds.Uncordon:
                await Tolerant(() => grains.GetGrain<INodeGrain>(e.Node!).UncordonAsync(e.By ?? "replay", e.Reason));
                return null;
            case TraceKinds.Drain:
                await Tolerant(() => grains.GetGrain<INodeGrain>(e.Node!).DrainAsync(e.By ?? "replay", e.Reason, e.Force ?? false));
                return null;
            case TraceKinds.Decommission:
                await Tolerant(() => grains.GetGrain<INodeGrain>(e.Node!).DecommissionAsync(e.By ?? "replay", e.Reason, e.Force ?? false));
                return null;
            case TraceKinds.Admit:
                await Tolerant(() => grains.GetGrain<INodeGrain>(e.Node!).AdmitAsync(e.By ?? "replay", e.Reason));
                return null;
            case TraceKinds.RetireDomain:
                await Tolerant(() => grains.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default)
                    .RetireDomainAsync(e.Domain!, e.By ?? "replay", e.Reason, e.Batch ?? 1, e.Force ?? false));
                return null;
            case TraceKinds.StopTrain:
                await Tolerant(() => grains.GetGrain<Fleet.Abstractions.Lifecycle.ICapacityGrain>(FleetNames.Default).StopTrainAsync(e.Domain!, e.By ?? "replay", e.Reason));
                return null;
            case TraceKinds.Freeze:
                await fleet.FreezeAsync(e.By ?? "replay", e.Reason ?? "recorded freeze");
                return null;
            case TraceKinds.Unfreeze:
                await fleet.UnfreezeAsync(e.By ?? "replay", e.Reason);
                return null;
            case TraceKinds.Policy:
                await grains.GetGrain<IPolicyGrain>(FleetNames.Default).ApplyAsync(e.Document!, e.By ?? "replay");
                return null;
            default:
                return null;
        }
    }

    /// <summary>An operator's request that was refused in the recording may be refused in the replay too; the refusal is in the records.</summary>
    private static async Task Tolerant(Func<Task> call)
    {
        try { await call(); }
        catch (ActionRefusedException) { }
        catch (NodeNotRegisteredException) { }
        catch (DomainNotFoundException) { }
    }

    /// <summary>
    /// Moves the simulated clock to <paramref name="to"/>, stopping at every node wake-up that falls due on the way and
    /// letting it run before going on, so that what fell due is judged at its own time and before a later input.
    /// </summary>
    private static async Task MoveClockAsync(FakeTimeProvider fake, NodeWakeups wakeups, ActionExecutor executor, DateTimeOffset to, CancellationToken ct)
    {
        while (wakeups.NextDue is { } due && due <= to && due > fake.GetUtcNow())
        {
            fake.Advance(due - fake.GetUtcNow());
            await SettleAsync(executor, wakeups, ct);
        }
        if (to > fake.GetUtcNow()) fake.Advance(to - fake.GetUtcNow());
    }

    /// <summary>Lets what the step started finish: the grains' turns, then any action in flight coming back.</summary>
    private static async Task SettleAsync(ActionExecutor executor, NodeWakeups wakeups, CancellationToken ct)
    {
        for (var pass = 0; pass < 2; pass++)
        {
            await Task.Delay(5, ct);
            // The woken nodes' turns (a judgement, a lease asked, an action started), then the actions they started.
            for (var i = 0; i < 2000 && (wakeups.Waking > 0 || executor.InFlight > 0); i++) await Task.Delay(5, ct);
        }
    }

    private static async Task<ImmutableArray<ReplayRecord>> RecordsAsync(IGrainFactory grains, DateTimeOffset t0, TimeSpan step, CancellationToken ct)
    {
        var client = FleetClientHostingExtensions.Create(grains, new FleetClientOptions { Retries = 1 });
        var all = new List<ReplayRecord>();
        long? before = null;
        do
        {
            var page = await client.QueryAuditAsync(new AuditQuery(Since: t0, Limit: 1000, Before: before), ct);
            all.AddRange(page.Records.Select(r => new ReplayRecord((int)Math.Round((r.Time - t0) / step), r.Time, r.Subject, r.Kind, r.Action, r.PolicyRule, r.Reason)));
            before = page.NextBefore;
        } while (before is not null);
        return [.. all.Where(r => r.Step >= 0).OrderBy(r => r.Time).ThenBy(r => r.Subject, StringComparer.Ordinal)];
    }

    private static ReplayScore Score(ImmutableArray<ReplayRecord> records, int steps, long reports, long refused, TimeSpan step)
    {
        static ImmutableDictionary<string, int> By(IEnumerable<ReplayRecord> rs, Func<ReplayRecord, string?> key) =>
            rs.GroupBy(r => key(r) ?? "?").ToImmutableDictionary(g => g.Key, g => g.Count());
        var executed = records.Where(r => r.Kind == DecisionKinds.Executed).ToList();
        // From a subject leaving Healthy to the first action executed after it.
        var toAction = new List<double>();
        foreach (var left in records.Where(r => r.Kind == DecisionKinds.HealthChanged && r.Reason.Contains("(was Healthy)", StringComparison.Ordinal)))
        {
            var action = executed.FirstOrDefault(r => r.Subject == left.Subject && r.Time >= left.Time);
            var back = records.FirstOrDefault(r => r.Subject == left.Subject && r.Kind == DecisionKinds.HealthChanged && r.Time > left.Time && r.Reason.Contains(" Healthy (was ", StringComparison.Ordinal));
            if (action is not null && (back is null || action.Time <= back.Time)) toAction.Add((action.Time - left.Time).TotalSeconds);
        }
        return new ReplayScore(steps, reports, refused, records.Length,
            By(executed, r => r.Action), By(records.Where(r => r.Kind == DecisionKinds.Denied), r => r.Rule),
            records.Count(r => r.Kind == DecisionKinds.Shadowed), records.Count(r => r.Kind == DecisionKinds.AwaitingApproval),
            records.Count(r => r.Kind == DecisionKinds.HandedToHuman), executed.Select(r => r.Subject).Distinct().Count(), Percentiles.Of(toAction));
    }
}
