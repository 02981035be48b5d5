using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Services;
using Fleet.Core.Remediation;
using Fleet.Core.Services;
using Fleet.Core.Text;

namespace Fleet.Core.Rollouts;

/// <summary>Instances a step replaces, and with which version (a fresh baseline of the stable version beside the canary).</summary>
public sealed record RolloutMove(string Instance, string ReplaceWith, bool Baseline);

/// <summary>What the service's grain must do after a rollout pass: write these records, and free the step's lease when named.</summary>
public sealed record RolloutPass(ServiceState State, ImmutableArray<RecordDraft> Records, string? ReleaseLease, ImmutableArray<string> ReleaseScopes, string ReleaseOutcome = "done");

/// <summary>
/// A rollout, pure: its steps (a canary share, then batches up to every replica), which instances each step replaces,
/// when a step is ready and judged (<see cref="RolloutJudge"/>), and what a verdict does — the next step, an extension
/// or a pause for a person, a promotion and the long-horizon watch, or a rollback to the stable version. Instances are
/// replaced make-before-break by the service's own planner (a replaced instance stops once its replacement runs), so a
/// rollout never takes instances down before others run; the grain takes the step's lease before it marks them.
/// </summary>
public static class RolloutPlanner
{
    public const int KeepHistory = 20;
    public const int MaxSamples = 4000;
    public const int MaxProfile = 400;
    public const int MaxJudgements = 100;

    public const string Canary = "canary";
    public const string Rolling = "rolling";
    public static readonly ImmutableArray<string> Strategies = [Canary, Rolling];

    /// <summary>The number of instances running the new version after each step.</summary>
    public static ImmutableArray<RolloutStep> Steps(int replicas, string strategy, RolloutPolicy p)
    {
        var steps = ImmutableArray.CreateBuilder<RolloutStep>();
        var n = Math.Max(1, replicas);
        var done = 0;
        if (strategy == Canary)
        {
            done = Math.Min(n, Math.Max(1, (int)Math.Ceiling(Math.Round(p.CanaryShare * n, 9))));
            steps.Add(new RolloutStep(0, "canary", done));
        }
        var batch = Math.Max(1, (int)Math.Ceiling(Math.Round(p.BatchShare * n, 9)));
        while (done < n)
        {
            done = Math.Min(n, done + batch);
            steps.Add(new RolloutStep(steps.Count, $"batch {steps.Count + (strategy == Canary ? 0 : 1)}", done));
        }
        return steps.ToImmutable();
    }

    public static Rollout Start(ServiceState s, string to, string strategy, string by, DateTimeOffset now, RolloutPolicy p)
    {
        var id = (s.Rollout?.Id ?? s.History.LastOrDefault()?.Id ?? 0) + 1;
        return new Rollout(id, s.Spec!.Version, to, strategy, now, by, RolloutPhase.Progressing, Steps(s.Desired, strategy, p), 0, 0, [], []);
    }

    /// <summary>
    /// A rollback by hand after a rollout ended: back to the version before the last completed one, every instance at once
    /// (make-before-break). Null when no completed rollout is on record.
    /// </summary>
    public static Rollout? ManualRollback(ServiceState s, string by, DateTimeOffset now)
    {
        var last = (s.Rollout is { Active: false } r ? s.History.Add(r) : s.History).LastOrDefault(x => x.Phase == RolloutPhase.Completed && x.To == s.Spec!.Version);
        if (last is null) return null;
        var id = (s.Rollout?.Id ?? s.History.LastOrDefault()?.Id ?? 0) + 1;
        return new Rollout(id, last.From, s.Spec!.Version, "rollback", now, by, RolloutPhase.RollingBack, [], 0, 0, [], []);
    }

    /// <summary>The instances the current step (or a rollback) still has to replace; empty when it has asked for all.</summary>
    public static ImmutableArray<RolloutMove> Moves(ServiceState s)
    {
        var r = s.Rollout!;
        var placed = s.Instances.Values.Where(i => i.State is InstanceState.Running or InstanceState.Starting or InstanceState.Pending && !i.Moving).ToList();
        if (r.Phase == RolloutPhase.RollingBack)
            return [.. placed.Where(i => i.Version != r.From).OrderBy(i => i.Id, StringComparer.Ordinal).Select(i => new RolloutMove(i.Id, r.From, false))];
        if (r.Phase != RolloutPhase.Progressing || r.StepRequested || r.Step >= r.Steps.Length) return [];
        // The last step replaces every instance left on another version, however the replicas changed since the rollout began.
        var target = r.Step == r.Steps.Length - 1 ? placed.Count : r.Steps[r.Step].Target;
        var already = placed.Count(i => i.Version == r.To);
        var stable = placed.Where(i => i.Version != r.To && i.State == InstanceState.Running)
            .OrderBy(i => i.Since).ThenBy(i => i.Id, StringComparer.Ordinal).ToList();
        var count = Math.Min(Math.Max(0, target - already), stable.Count);
        var moves = stable.Take(count).Select(i => new RolloutMove(i.Id, r.To, false)).ToList();
        // Beside the canary, as many fresh instances of the stable version, started at the same moment, when there are enough to spare.
        if (r.Step == 0 && r.Strategy == Canary && stable.Count - count >= count)
            moves.AddRange(stable.Skip(count).Take(count).Select(i => new RolloutMove(i.Id, r.From, true)));
        return [.. moves];
    }

    /// <summary>Marks the moves (their replacements are placed by the service's planner) once the step's lease is granted.</summary>
    public static ServiceState Mark(ServiceState s, ImmutableArray<RolloutMove> moves, string? leaseId, ImmutableArray<string> scopes, DateTimeOffset now)
    {
        var r = s.Rollout!;
        var instances = s.Instances;
        foreach (var m in moves) instances = instances.SetItem(m.Instance, instances[m.Instance] with { Moving = true, ReplaceWith = m.ReplaceWith, Reason = null });
        var steps = r.Phase == RolloutPhase.Progressing && r.Step < r.Steps.Length ? r.Steps.SetItem(r.Step, r.Steps[r.Step] with { StartedAt = now }) : r.Steps;
        return s with
        {
            Instances = instances,
            // A rollback keeps its cause: the record of its end names it.
            Rollout = r with { StepRequested = true, Steps = steps, LeaseId = leaseId, LeaseScopes = scopes, Note = r.Phase == RolloutPhase.RollingBack ? r.Note : null },
        };
    }

    /// <summary>Replacements of baseline moves are the fresh baseline: called after the service's planner created them.</summary>
    public static ServiceState NoteBaseline(ServiceState s)
    {
        if (s.Rollout is not { Phase: RolloutPhase.Progressing, Step: 0 } r) return s;
        var fresh = s.Instances.Values.Where(i => i.Replaces is { } old && s.Instances.TryGetValue(old, out var o) && o.Moving && o.ReplaceWith == r.From && o.Version == r.From)
            .Select(i => i.Id).Where(id => !r.Baseline.Contains(id)).ToList();
        return fresh.Count == 0 ? s : s with { Rollout = r with { Baseline = r.Baseline.AddRange(fresh) } };
    }

    /// <summary>Instances of each version whose reports are kept (a large service is judged on a sample of its instances).</summary>
    public const int MaxInstancesPerVersion = 30;

    /// <summary>Reports kept per instance (at 10 s reports, the last 40 minutes).</summary>
    public const int MaxPerInstance = 240;

    /// <summary>A report of an instance, kept for the judge while the rollout is active.</summary>
    public static Rollout Sample(Rollout r, ServiceInstance i, InstanceReport report, DateTimeOffset now, TimeSpan reportInterval)
    {
        if (r.Phase is not (RolloutPhase.Progressing or RolloutPhase.Paused or RolloutPhase.Watching)) return r;
        if (i.State != InstanceState.Running || (i.Version != r.From && i.Version != r.To) || report.Version != i.Version) return r;
        if (r.Phase == RolloutPhase.Watching && i.Version != r.To) return r; // the watch compares with the recorded profile
        var mine = r.Samples.Where(x => x.Instance == i.Id).ToList();
        if (mine.Count == 0 && r.Samples.Where(x => x.Version == i.Version).Select(x => x.Instance).Distinct().Count() >= MaxInstancesPerVersion) return r;
        // Rates are per second since the instance's last report: the seconds covered weigh its counts.
        var seconds = mine.Count > 0 ? Math.Clamp((now - mine[^1].At).TotalSeconds, 0, 3 * reportInterval.TotalSeconds) : reportInterval.TotalSeconds;
        var sample = new RolloutSample(i.Id, i.Version, now, i.Since, report.Requests, report.Errors, report.LatencyP50Ms, report.LatencyP99Ms, report.MemoryBytes,
            r.Baseline.Contains(i.Id), seconds);
        var samples = r.Samples;
        if (mine.Count >= MaxPerInstance) samples = samples.Remove(mine[0]);
        if (samples.Length >= MaxSamples) samples = samples.RemoveAt(0);
        return r with { Samples = samples.Add(sample) };
    }

    /// <summary>
    /// Entering or in a rollback: replacements of the new version that are not placed yet are dropped, and the stable
    /// instances they were to replace keep running (nothing moves them any more).
    /// </summary>
    public static ServiceState Unwind(ServiceState s)
    {
        if (s.Rollout is not { Phase: RolloutPhase.RollingBack } r) return s;
        var instances = s.Instances;
        foreach (var old in s.Instances.Values.Where(i => i.Moving && i.ReplaceWith == r.To && i.State is InstanceState.Running or InstanceState.Starting))
        {
            var replacement = instances.Values.FirstOrDefault(x => x.Replaces == old.Id);
            if (replacement is not null && replacement.State != InstanceState.Pending) continue;
            if (replacement is not null) instances = instances.Remove(replacement.Id);
            instances = instances.SetItem(old.Id, old with { Moving = false, ReplaceWith = null });
        }
        return ReferenceEquals(instances, s.Instances) ? s : s with { Instances = instances };
    }

    /// <summary>One pass of the rollout: readiness, judgement, promotion, the watch, the end of a rollback.</summary>
    public static RolloutPass Advance(ServiceState s, DateTimeOffset now, FleetPolicy policy)
    {
        var p = policy.Rollout;
        var r = s.Rollout!;
        var name = s.Spec!.Name;
        var records = ImmutableArray.CreateBuilder<RecordDraft>();
        string? release = null;
        var releaseScopes = ImmutableArray<string>.Empty;
        var releaseOutcome = "done";
        var action = r.Phase == RolloutPhase.RollingBack ? ActionNames.Rollback : ActionNames.Rollout;
        void Record(string kind, string reason, string? outcome = null, string? rule = null, IReadOnlyDictionary<string, string>? evidence = null) =>
            records.Add(new RecordDraft(kind, reason, action, evidence, rule, Outcome: outcome, IncidentId: Guarding.Incidents.Rollout(name, r.Id)));
        void FreeLease(string outcome)
        {
            if (r.LeaseId is null) return;
            (release, releaseScopes, releaseOutcome) = (r.LeaseId, r.LeaseScopes.IsDefault ? [] : r.LeaseScopes, outcome);
            r = r with { LeaseId = null, LeaseScopes = [] };
        }
        var busy = Busy(s);

        // Old samples are of no use to any judgement still to come.
        var keep = now - (p.WatchWindow > p.StepDuration * (p.MaxExtensions + 2) ? p.WatchWindow : p.StepDuration * (p.MaxExtensions + 2));
        if (!r.Samples.IsEmpty && r.Samples[0].At < keep) r = r with { Samples = [.. r.Samples.Where(x => x.At >= keep)] };

        // An alert from the team's alerting that began firing on the service since the rollout started fails it (the new
        // version is the change it followed); one already firing before is not the new version's doing.
        if (r.Phase is RolloutPhase.Progressing or RolloutPhase.Watching
            && s.Alerts.Values.Where(a => a.StartsAt >= r.StartedAt).OrderBy(a => a.StartsAt).FirstOrDefault() is { } alert)
        {
            var why = $"alert {alert.Name} began firing on the service at {alert.StartsAt:HH:mm:ss} UTC, during the rollout ({alert.Source}" +
                (alert.Summary is { } said ? $": {said})" : ")");
            r = r with
            {
                Phase = RolloutPhase.RollingBack, Note = why, StepRequested = false,
                Steps = r.Phase == RolloutPhase.Progressing ? r.Steps.SetItem(r.Step, r.Steps[r.Step] with { EndedAt = now, Outcome = "failed" }) : r.Steps,
            };
            Record(DecisionKinds.Failed, $"Rollout {r.Id} of service {name} failed: {why}. Rolling back to {r.From}.", "failed", "rollout.alerts",
                alert.Evidence());
        }
        if (r.Phase == RolloutPhase.RollingBack)
        {
            s = Unwind(s with { Rollout = r });
            busy = Busy(s);
        }
        switch (r.Phase)
        {
            case RolloutPhase.Progressing when r.StepRequested && busy && r.Steps[r.Step] is { ReadyAt: null, StartedAt: { } started } && now >= started + StepDeadline(p):
            {
                // The step's instances did not all run in time: a version that fails to start is a failed judgement; no room is for a person.
                var step = r.Steps[r.Step];
                var failedStarts = s.Instances.Values.Where(i => i.Version == r.To && !i.Avoid.IsDefaultOrEmpty).ToList();
                if (failedStarts.Count > 0)
                {
                    var why = $"{step.Name}: {r.To} failed to start on {string.Join(", ", failedStarts.SelectMany(i => i.Avoid).Distinct())} and no instance of it ran within {Format.Duration(StepDeadline(p))}";
                    r = r with { Phase = RolloutPhase.RollingBack, Steps = r.Steps.SetItem(r.Step, step with { EndedAt = now, Outcome = "failed" }), Note = why, StepRequested = false };
                    Record(DecisionKinds.Failed, $"Rollout {r.Id} of service {name} failed: {why}. Rolling back to {r.From}.", "failed", "rollout.stepDuration");
                }
                else if (r.PausedReason is null)
                {
                    var pending = s.Instances.Values.Where(i => i.State == InstanceState.Pending && i.Reason is not null).Select(i => $"{i.Id}: {i.Reason}").FirstOrDefault();
                    r = r with { Phase = RolloutPhase.Paused, PausedReason = $"the {step.Name} step's instances did not all run within {Format.Duration(StepDeadline(p))}" + (pending is null ? "" : $" ({pending})") };
                    Record(DecisionKinds.HandedToHuman, $"Rollout {r.Id} of service {name} paused for a person: {r.PausedReason}. Resume once there is room, or abort it (fleet services resume|abort {name}).",
                        "paused", "rollout.stepDuration");
                }
                break;
            }
            case RolloutPhase.Progressing when r.StepRequested && !busy && r.Steps[r.Step].ReadyAt is null:
            {
                var step = r.Steps[r.Step];
                var onNew = s.Instances.Values.Count(i => i.State == InstanceState.Running && i.Version == r.To);
                r = r with { Steps = r.Steps.SetItem(r.Step, step with { ReadyAt = now }), Extensions = 0 };
                FreeLease("step ready");
                var baseline = r.Step == 0 && !r.Baseline.IsEmpty ? $" beside a fresh baseline of {r.Baseline.Length} {r.From} instance(s) ({string.Join(", ", r.Baseline)})" : "";
                Record(DecisionKinds.Executed, $"Rollout {r.Id} of service {name} ({r.From} → {r.To}): {step.Name} ready, {onNew} of {s.Desired} instance(s) run {r.To}{baseline}; " +
                    $"judged in {Format.Duration(p.StepDuration)}.", outcome: "step-ready");
                break;
            }
            case RolloutPhase.Progressing when r.Steps[r.Step].ReadyAt is { } ready && now >= ready + p.StepDuration * (1 + r.Extensions):
            {
                var judgement = JudgeStep(s, r, ready, now, policy);
                r = r with
                {
                    Judgements = Bounded(r.Judgements.Add(judgement)),
                    Profile = judgement.Baseline.StartsWith("the profile", StringComparison.Ordinal) ? r.Profile : ProfileOf(s, r, ready),
                };
                var evidence = Evidence(judgement);
                switch (judgement.Verdict)
                {
                    case Verdict.Pass:
                        Record(DecisionKinds.Judged, $"Rollout {r.Id} of service {name}: {judgement.Summary}.", "passed", "rollout.judgement", evidence);
                        (r, var promoted) = Pass(r, now, p);
                        if (promoted) Record(DecisionKinds.Verified, Promoted(name, r, p), "promoted", "rollout.watch");
                        break;
                    case Verdict.Fail:
                        r = r with { Phase = RolloutPhase.RollingBack, Steps = r.Steps.SetItem(r.Step, r.Steps[r.Step] with { EndedAt = now, Outcome = "failed" }), Note = judgement.Summary, StepRequested = false };
                        Record(DecisionKinds.Failed, $"Rollout {r.Id} of service {name} failed: {judgement.Summary}. Rolling back to {r.From}.", "failed", "rollout.judgement", evidence);
                        break;
                    default:
                        if (r.Extensions + 1 > p.MaxExtensions)
                        {
                            r = r with { Phase = RolloutPhase.Paused, PausedReason = $"{r.Extensions + 1} inconclusive judgement(s) in a row: {judgement.Summary}" };
                            Record(DecisionKinds.HandedToHuman, $"Rollout {r.Id} of service {name} paused for a person after {r.Extensions + 1} inconclusive judgement(s) " +
                                $"(rollout.maxExtensions {p.MaxExtensions}): {judgement.Summary}. Promote, resume or abort it (fleet services promote|resume|abort {name}).", "paused", "rollout.maxExtensions", evidence);
                        }
                        else
                        {
                            r = r with { Extensions = r.Extensions + 1 };
                            Record(DecisionKinds.Judged, $"Rollout {r.Id} of service {name}: {judgement.Summary}; the step is extended by {Format.Duration(p.StepDuration)} " +
                                $"({r.Extensions} of {p.MaxExtensions} extensions).", "extended", "rollout.minSamples", evidence);
                        }
                        break;
                }
                break;
            }
            case RolloutPhase.Watching when r.PromotedAt is { } promotedAt && now >= promotedAt + p.Watch:
            {
                var watched = r.Judgements.Count(j => j.At >= promotedAt);
                r = r with { Phase = RolloutPhase.Completed, EndedAt = now, Outcome = "completed" };
                Record(DecisionKinds.Verified, $"Rollout {r.Id} of service {name} completed: {r.To} was watched for {Format.Duration(p.Watch)} after promotion " +
                    $"({watched} judgement(s) against {r.From}'s profile, none failed); {r.To} is the stable version.", "completed", "rollout.watch");
                break;
            }
            case RolloutPhase.Watching when r.NextWatchAt is { } due && now >= due:
            {
                var candidate = r.Samples.Where(x => x.Version == r.To && x.At >= now - p.WatchWindow).ToList();
                var judgement = RolloutJudge.Judge("promoted", r.Steps.Length, r.To, candidate, r.From, r.Profile, $"the profile of {r.From} recorded during the rollout",
                    p, policy.Telemetry.ReportInterval, now);
                r = r with { NextWatchAt = now + p.StepDuration };
                if (judgement.Verdict == Verdict.Fail)
                {
                    r = r with { Judgements = Bounded(r.Judgements.Add(judgement)), Phase = RolloutPhase.RollingBack, Note = judgement.Summary };
                    Record(DecisionKinds.Failed, $"Rollout {r.Id} of service {name}: the long-horizon watch caught a regression {Format.Duration(now - r.PromotedAt!.Value)} after promotion: " +
                        $"{judgement.Summary}. Rolling back to {r.From}.", "failed", "rollout.watch", Evidence(judgement));
                }
                else if (judgement.Verdict == Verdict.Pass) r = r with { Judgements = Bounded(r.Judgements.Add(judgement)) };
                break;
            }
            case RolloutPhase.RollingBack when !busy && s.Instances.Values.All(i => i.Version == r.From || i.State == InstanceState.Failed):
            {
                var stopped = now - r.StartedAt;
                r = r with { Phase = RolloutPhase.RolledBack, EndedAt = now, Outcome = r.Outcome ?? "rolled-back" };
                FreeLease("rolled back");
                Record(DecisionKinds.RolledBack, $"Rolled back service {name} to {r.From}: no instance runs {r.To} any more ({Format.Duration(stopped)} after the rollout started)" +
                    (r.Note is { } why ? $"; cause: {why}" : "") + ".", "rolled-back");
                break;
            }
        }
        return new RolloutPass(AlignSpec(s with { Rollout = r }), records.ToImmutable(), release, releaseScopes, releaseOutcome);
    }

    /// <summary>The spec's version follows the rollout: the new one once promoted, the stable one while and after rolling back.</summary>
    public static ServiceState AlignSpec(ServiceState s)
    {
        if (s.Rollout is not { } r || s.Spec is not { } spec) return s;
        var version = r.Phase switch
        {
            RolloutPhase.Watching or RolloutPhase.Completed when r.PromotedAt is not null => r.To,
            RolloutPhase.RollingBack or RolloutPhase.RolledBack => r.From,
            _ => spec.Version,
        };
        return version == spec.Version ? s : s with { Spec = spec with { Version = version } };
    }

    /// <summary>The rollout's own moves still in flight: an instance it marked, until its replacement runs and it has stopped.</summary>
    private static bool Busy(ServiceState s) => s.Instances.Values.Any(i => i.Moving && i.ReplaceWith is not null && i.State != InstanceState.Failed);

    /// <summary>How long a step's instances may take to run before the step fails (a version that does not start) or pauses (no room).</summary>
    public static TimeSpan StepDeadline(RolloutPolicy p) => p.StepDuration * 2 < TimeSpan.FromMinutes(5) ? TimeSpan.FromMinutes(5) : p.StepDuration * 2;

    /// <summary>The current step passed (by judgement, or a person's promotion): the next step, or promotion and the watch.</summary>
    public static (Rollout Rollout, bool Promoted) Pass(Rollout r, DateTimeOffset now, RolloutPolicy p, string outcome = "passed")
    {
        r = r with { Steps = r.Steps.SetItem(r.Step, r.Steps[r.Step] with { EndedAt = now, Outcome = outcome }), Extensions = 0, PausedReason = null };
        if (r.Step + 1 < r.Steps.Length) return (r with { Step = r.Step + 1, StepRequested = false, Phase = RolloutPhase.Progressing }, false);
        return (r with
        {
            Phase = p.Watch > TimeSpan.Zero ? RolloutPhase.Watching : RolloutPhase.Completed, PromotedAt = now, NextWatchAt = now + p.StepDuration,
            EndedAt = p.Watch > TimeSpan.Zero ? null : now, Outcome = p.Watch > TimeSpan.Zero ? null : "completed",
        }, true);
    }

    public static string Promoted(string name, Rollout r, RolloutPolicy p) =>
        $"Promoted {r.To} of service {name}: every instance runs it" + (p.Watch > TimeSpan.Zero
            ? $"; the long-horizon watch compares it with {r.From}'s profile every {Format.Duration(p.StepDuration)} for {Format.Duration(p.Watch)} (rollout.watch)."
            : "; rollout.watch is 0, so nothing watches it further.");

    /// <summary>
    /// Judges the step that became ready at <paramref name="ready"/>: against the fresh baseline when it runs, else the
    /// stable instances (the new instances' warm-up left out), else the profile recorded at an earlier step.
    /// </summary>
    private static RolloutJudgement JudgeStep(ServiceState s, Rollout r, DateTimeOffset ready, DateTimeOffset now, FleetPolicy policy)
    {
        var p = policy.Rollout;
        var step = r.Steps[r.Step];
        var since = r.Samples.Where(x => x.At >= ready).ToList();
        var candidate = since.Where(x => x.Version == r.To).ToList();
        var fresh = since.Where(x => x.FreshBaseline && x.Version == r.From).ToList();
        var stable = since.Where(x => x.Version == r.From).ToList();
        List<RolloutSample> baseline;
        string baselineName;
        var before = r.Samples.Where(x => x.At < ready && x.Version == r.From).ToList();
        if (r.Step == 0 && fresh.Count >= p.MinSamples)
            (baseline, baselineName) = (fresh, $"a fresh baseline of {r.From} started with it");
        else if (stable.Count >= p.MinSamples || r.Profile.IsEmpty && before.Count == 0)
        {
            candidate = candidate.Where(x => x.At - x.Started >= p.Warmup).ToList();
            (baseline, baselineName) = (stable, $"the running {r.From} instances (the first {Format.Duration(p.Warmup)} of each new instance left out)");
        }
        else if (!r.Profile.IsEmpty)
            (baseline, baselineName) = ([.. r.Profile], $"the profile of {r.From} recorded at an earlier step");
        else
        {
            // Nothing of the stable version runs beside this step (one replica, or one batch): its reports from before the step.
            candidate = candidate.Where(x => x.At - x.Started >= p.Warmup).ToList();
            (baseline, baselineName) = (before, $"{r.From}'s reports from before the step (the first {Format.Duration(p.Warmup)} of each new instance left out)");
        }
        return RolloutJudge.Judge(step.Name, r.Step, r.To, candidate, r.From, baseline, baselineName, p, policy.Telemetry.ReportInterval, now);
    }

    /// <summary>The stable version's reports since the step was ready: what later steps and the watch compare with.</summary>
    private static ImmutableArray<RolloutSample> ProfileOf(ServiceState s, Rollout r, DateTimeOffset ready)
    {
        var stable = r.Samples.Where(x => x.At >= ready && x.Version == r.From).ToList();
        if (stable.Count == 0 && r.Profile.IsEmpty) stable = r.Samples.Where(x => x.Version == r.From).ToList();
        if (stable.Count == 0) return r.Profile;
        return [.. stable.Skip(Math.Max(0, stable.Count - MaxProfile))];
    }

    private static ImmutableArray<RolloutJudgement> Bounded(ImmutableArray<RolloutJudgement> list) =>
        list.Length > MaxJudgements ? list.RemoveRange(0, list.Length - MaxJudgements) : list;

    private static Dictionary<string, string> Evidence(RolloutJudgement j) =>
        j.Metrics.ToDictionary(m => m.Metric, m => $"{m.Verdict.ToString().ToLowerInvariant()}: {m.Text}");

    /// <summary>The rollout as the API shows it.</summary>
    public static RolloutView View(string service, Rollout r, RolloutPolicy p, ServiceState s) =>
        RolloutView.Of(service, r, p.Watch, s.Instances.Values.Count(i => i.State == InstanceState.Running && i.Version == r.To),
            s.Instances.Values.Count(i => i.State == InstanceState.Running && i.Version == r.From));

    /// <summary>The history with the current rollout (if any) moved into it: before a new one starts, or the service is forgotten.</summary>
    public static ImmutableArray<Rollout> HistoryWithCurrent(ServiceState s) => s.Rollout is { } current ? Archive(s.History, current) : s.History;

    /// <summary>Keeps an ended rollout in the history, without its samples.</summary>
    public static ImmutableArray<Rollout> Archive(ImmutableArray<Rollout> history, Rollout ended)
    {
        var list = history.Add(ended with { Samples = [], Profile = [] });
        return list.Length > KeepHistory ? list.RemoveRange(0, list.Length - KeepHistory) : list;
    }
}
