using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Core.Health;

namespace Fleet.Core.Learning;

/// <summary>The verified outcomes of one action for one symptom: counts, and the most recent ones in order (true: it healed).</summary>
[GenerateSerializer, Immutable, Alias("fleet.OutcomeRate")]
public sealed record OutcomeRate(
    [property: Id(0)] string Signature,
    [property: Id(1)] string Action,
    [property: Id(2)] int Successes,
    [property: Id(3)] int Failures,
    [property: Id(4)] ImmutableArray<bool> Recent,
    [property: Id(5)] DateTimeOffset LastAt)
{
    /// <summary>Outcomes kept in order (the most a policy's window may ask for).</summary>
    public const int Keep = 50;

    public OutcomeRate With(bool healed, DateTimeOffset at)
    {
        var recent = Recent.Length >= Keep ? Recent.RemoveAt(0) : Recent;
        return this with { Successes = Successes + (healed ? 1 : 0), Failures = Failures + (healed ? 0 : 1), Recent = recent.Add(healed), LastAt = at };
    }

    /// <summary>Failures among the last <paramref name="n"/> outcomes, when there are that many.</summary>
    public int? FailuresOfLast(int n) => Recent.Length < n ? null : Recent.Skip(Recent.Length - n).Count(x => !x);
}

/// <summary>
/// What the ladder learns, pure: the symptom's signature, and whether a rung should be skipped for it under the policy's
/// bounds — never a pinned action, never the last automatic rung — with the statistics that justify it in words.
/// </summary>
public static class OutcomeTable
{
    /// <summary>A symptom's signature: the kinds of condition a node shows, in order ("CheckFailed", "CheckFailed+MemoryPressure", "Silent").</summary>
    public static string Signature(IEnumerable<string> conditionTypes) =>
        string.Join('+', conditionTypes.Where(t => t is not (ConditionTypes.PeerReachable or ConditionTypes.Stale or ConditionTypes.CheckStarting)).Distinct().Order(StringComparer.Ordinal)) is { Length: > 0 } s ? s : "none";

    /// <summary>
    /// A symptom's signature with its subject's kind and the names of the checks failing ("node:CheckFailed(http)",
    /// "node:CheckFailed(disk,http)+MemoryPressure", "node:Silent", "instance:ReportsUnhealthy"): one check's failures teach
    /// only that symptom's ladder, not every node's.
    /// </summary>
    public static string Signature(string kind, IEnumerable<string> conditionTypes, IEnumerable<string> failingChecks)
    {
        var checks = string.Join(',', failingChecks.Distinct().Order(StringComparer.Ordinal).Take(8));
        var types = Signature(conditionTypes);
        if (checks.Length > 0) types = types.Replace(ConditionTypes.CheckFailed, $"{ConditionTypes.CheckFailed}({checks})", StringComparison.Ordinal);
        return $"{kind}:{types}";
    }

    /// <summary>Why the rung of <paramref name="action"/> is skipped for this symptom, or null when it is tried.</summary>
    public static string? SkipReason(LearningPolicy policy, OutcomeRate? rate, string action, bool lastAutomaticRung)
    {
        if (!policy.Enabled || rate is null || lastAutomaticRung || policy.Pinned(action)) return null;
        if (rate.FailuresOfLast(policy.Of) is not { } failures || failures < policy.Failures) return null;
        return $"{action} failed {failures} of its last {policy.Of} tries on the symptom {rate.Signature} ({rate.Successes} healed, {rate.Failures} failed in all; " +
               $"learning.skipRungAfter: {policy.Failures} failures of {policy.Of})";
    }
}
