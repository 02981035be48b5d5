using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Policy;

namespace Fleet.Core.Remediation;

/// <summary>Which rung to take, and when the next action may start (cooldown with exponential backoff).</summary>
public static class EscalationLadder
{
    /// <summary>A case opened within the flap window of the last one starts a rung higher.</summary>
    public static int FirstStep(RemediationHistory history, DateTimeOffset now, RemediationPolicy policy) =>
        history.LastClosedAt is { } closed && now - closed < policy.FlapWindow
            ? Math.Min(history.LastStep + 1, policy.Ladder.Length - 1)
            : 0;

    public static bool IsHuman(RemediationPolicy policy, int step) =>
        step >= policy.Ladder.Length || policy.Ladder[step].Action == ActionNames.Human;

    /// <summary>The cooldown after the actions already taken within the flap window.</summary>
    public static TimeSpan CurrentCooldown(RemediationHistory history, DateTimeOffset now, RemediationPolicy policy)
    {
        var recent = history.RecentActions.Count(a => now - a < policy.FlapWindow);
        if (recent == 0) return TimeSpan.Zero;
        var factor = Math.Pow(policy.BackoffMultiplier, recent - 1);
        var ticks = Math.Min(policy.Cooldown.Ticks * factor, policy.MaxCooldown.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The earliest time the next action may start; null when nothing holds it back.</summary>
    public static DateTimeOffset? NextAllowedAt(RemediationHistory history, DateTimeOffset now, RemediationPolicy policy)
    {
        var last = history.RecentActions.Where(a => now - a < policy.FlapWindow).DefaultIfEmpty().Max();
        if (last == default) return null;
        var until = last + CurrentCooldown(history, now, policy);
        return until > now ? until : null;
    }

    public static RemediationHistory RecordAction(RemediationHistory history, DateTimeOffset at, RemediationPolicy policy) =>
        history with { RecentActions = history.RecentActions.RemoveAll(a => at - a >= policy.FlapWindow).Add(at) };

    public static RemediationHistory RecordClose(RemediationHistory history, int step, DateTimeOffset at) =>
        history with { LastStep = step, LastClosedAt = at };
}
