using System.Collections.Immutable;

namespace Fleet.Abstractions.Services;

[GenerateSerializer, Alias("fleet.RolloutPhase")]
public enum RolloutPhase
{
    /// <summary>Steps are being carried out and judged.</summary>
    Progressing = 0,
    /// <summary>Waiting for a person (inconclusive too often, or paused by hand): promote, resume or abort.</summary>
    Paused = 1,
    /// <summary>Every instance runs the new version; it is compared with the previous version's profile until the watch ends.</summary>
    Watching = 2,
    /// <summary>Ended: the new version is the stable one.</summary>
    Completed = 3,
    /// <summary>Instances of the new version are being replaced by the stable one.</summary>
    RollingBack = 4,
    /// <summary>Ended: every instance runs the stable version again.</summary>
    RolledBack = 5,
}

[GenerateSerializer, Alias("fleet.Verdict")]
public enum Verdict
{
    Pass = 0,
    Fail = 1,
    /// <summary>Too little to judge by (samples or requests): never a pass.</summary>
    Inconclusive = 2,
}

/// <summary>One metric's comparison: the new version's figure, the stable version's, the test's p-value and what it means.</summary>
[GenerateSerializer, Immutable, Alias("fleet.MetricJudgement")]
public sealed record MetricJudgement(
    [property: Id(0)] string Metric,
    [property: Id(1)] Verdict Verdict,
    [property: Id(2)] double? Candidate,
    [property: Id(3)] double? Baseline,
    [property: Id(4)] double? P,
    [property: Id(5)] string Text);

/// <summary>A judgement of one step (or of the watch): per metric, and the whole in words with its figures.</summary>
[GenerateSerializer, Immutable, Alias("fleet.RolloutJudgement")]
public sealed record RolloutJudgement(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] int Step,
    [property: Id(2)] Verdict Verdict,
    [property: Id(3)] int CandidateSamples,
    [property: Id(4)] int BaselineSamples,
    [property: Id(5)] string Baseline,
    [property: Id(6)] ImmutableArray<MetricJudgement> Metrics,
    [property: Id(7)] string Summary);

/// <summary>One instance report kept for judging: which side it is on, its figures, when its instance started, and the seconds it covers (since that instance's previous report).</summary>
[GenerateSerializer, Immutable, Alias("fleet.RolloutSample")]
public sealed record RolloutSample(
    [property: Id(0)] string Instance,
    [property: Id(1)] string Version,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] DateTimeOffset Started,
    [property: Id(4)] double Requests,
    [property: Id(5)] double Errors,
    [property: Id(6)] double LatencyP50Ms,
    [property: Id(7)] double LatencyP99Ms,
    [property: Id(8)] long MemoryBytes,
    [property: Id(9)] bool FreshBaseline,
    [property: Id(10)] double Seconds = 0);

/// <summary>A step of a rollout: how many instances run the new version once it is done, and what became of it.</summary>
[GenerateSerializer, Immutable, Alias("fleet.RolloutStep")]
public sealed record RolloutStep(
    [property: Id(0)] int Index,
    [property: Id(1)] string Name,
    [property: Id(2)] int Target,
    [property: Id(3)] DateTimeOffset? StartedAt = null,
    [property: Id(4)] DateTimeOffset? ReadyAt = null,
    [property: Id(5)] DateTimeOffset? EndedAt = null,
    [property: Id(6)] string? Outcome = null);

/// <summary>
/// One rollout of a service from the stable version to a new one (or a rollback by hand). Its steps, the judgements with
/// their figures, and the outcome; the samples and the profile are what the judge compares.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.Rollout")]
public sealed record Rollout(
    [property: Id(0)] int Id,
    [property: Id(1)] string From,
    [property: Id(2)] string To,
    [property: Id(3)] string Strategy,
    [property: Id(4)] DateTimeOffset StartedAt,
    [property: Id(5)] string StartedBy,
    [property: Id(6)] RolloutPhase Phase,
    [property: Id(7)] ImmutableArray<RolloutStep> Steps,
    [property: Id(8)] int Step,
    [property: Id(9)] int Extensions,
    [property: Id(10)] ImmutableArray<RolloutJudgement> Judgements,
    [property: Id(11)] ImmutableArray<string> Baseline,
    [property: Id(12)] DateTimeOffset? EndedAt = null,
    [property: Id(13)] string? Outcome = null,
    [property: Id(14)] string? PausedReason = null,
    [property: Id(15)] DateTimeOffset? PromotedAt = null,
    [property: Id(16)] DateTimeOffset? NextWatchAt = null,
    [property: Id(17)] string? LeaseId = null,
    [property: Id(18)] ImmutableArray<string> LeaseScopes = default,
    [property: Id(19)] bool StepRequested = false,
    [property: Id(20)] int LeaseAttempt = 0,
    [property: Id(21)] string? Note = null)
{
    /// <summary>The reports judged (bounded); not shown in the API.</summary>
    [Id(22)] public ImmutableArray<RolloutSample> Samples { get; init; } = [];

    /// <summary>The stable version's reports from the last judgement that had a baseline: what the watch compares with.</summary>
    [Id(23)] public ImmutableArray<RolloutSample> Profile { get; init; } = [];

    /// <summary>The guardrail that last refused the step's (or the rollback's) lease: told once, not every pass.</summary>
    [Id(24)] public string? LastDenial { get; init; }

    public bool Active => Phase is RolloutPhase.Progressing or RolloutPhase.Paused or RolloutPhase.Watching or RolloutPhase.RollingBack;
}

/// <summary>A rollout as the API shows it: without the samples it keeps for the judge.</summary>
[GenerateSerializer, Immutable, Alias("fleet.RolloutView")]
public sealed record RolloutView(
    [property: Id(0)] int Id,
    [property: Id(1)] string Service,
    [property: Id(2)] string From,
    [property: Id(3)] string To,
    [property: Id(4)] string Strategy,
    [property: Id(5)] RolloutPhase Phase,
    [property: Id(6)] DateTimeOffset StartedAt,
    [property: Id(7)] string StartedBy,
    [property: Id(8)] ImmutableArray<RolloutStep> Steps,
    [property: Id(9)] int Step,
    [property: Id(10)] ImmutableArray<RolloutJudgement> Judgements,
    [property: Id(11)] DateTimeOffset? PromotedAt,
    [property: Id(12)] DateTimeOffset? WatchUntil,
    [property: Id(13)] DateTimeOffset? EndedAt,
    [property: Id(14)] string? Outcome,
    [property: Id(15)] string? PausedReason,
    [property: Id(16)] int CandidateInstances,
    [property: Id(17)] int StableInstances)
{
    public static RolloutView Of(string service, Rollout r, TimeSpan watch, int candidate, int stable) =>
        new(r.Id, service, r.From, r.To, r.Strategy, r.Phase, r.StartedAt, r.StartedBy, r.Steps, r.Step, r.Judgements, r.PromotedAt,
            r.PromotedAt + watch, r.EndedAt, r.Outcome, r.PausedReason, candidate, stable);
}

/// <summary>A rollout operation was refused (no rollout to promote, a version already running, nothing to roll back to).</summary>
[GenerateSerializer, Alias("fleet.RolloutRefusedException")]
public sealed class RolloutRefusedException(string code, string message) : Exception(message)
{
    [Id(0)] public string Code { get; } = code;
}
