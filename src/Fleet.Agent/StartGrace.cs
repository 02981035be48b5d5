using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Agent;

/// <summary>
/// The agent's start grace (<c>startGrace</c>, default 30s). The processes the agent starts with itself take a moment to
/// answer; until a check has passed once, and only for that long after the agent started, its failures go out marked
/// <see cref="CheckResult.Starting"/>: the node shows Degraded ("not passing yet while it starts"), and no failure counts
/// toward Unhealthy, so the cluster does not restart a service that is still starting. A check that has passed once is
/// judged as it is from then on; once the grace is over, every check is, and the checks that never passed are logged.
/// A process check is never marked: a process that is not running has not started slowly, it has exited.
/// </summary>
public sealed partial class StartGrace(AgentConfig config, TimeProvider time, ILogger<StartGrace> log)
{
    private readonly long _startedAt = time.GetTimestamp();
    private readonly HashSet<string> _passed = new(config.Checks.Where(c => c.Process is not null).Select(c => c.Name), StringComparer.Ordinal);
    private bool _over = config.StartGraceSpan <= TimeSpan.Zero;

    /// <summary>Whether the grace still holds for some check.</summary>
    public bool Active => !_over;

    /// <summary>The results as they go out: a check that has not passed yet since the start, failing inside the grace, is marked starting.</summary>
    public ImmutableArray<CheckResult> Apply(ImmutableArray<CheckResult> results)
    {
        if (_over) return results;
        foreach (var r in results)
            if (r.Passed) _passed.Add(r.Name);
        if (time.GetElapsedTime(_startedAt) >= config.StartGraceSpan)
        {
            _over = true;
            var never = results.Where(r => !_passed.Contains(r.Name)).Select(r => r.Name).ToList(); // process checks count as passed here
            if (never.Count > 0) LogGraceOver(log, config.StartGrace, string.Join(", ", never));
            return results;
        }
        if (results.All(r => _passed.Contains(r.Name)))
        {
            _over = true;
            return results;
        }
        return [.. results.Select(r => r.Passed || _passed.Contains(r.Name) ? r : r with { Starting = true })];
    }

    [LoggerMessage(LogLevel.Warning, "The start grace of {Grace} is over and check(s) {Checks} never passed: their failures count from now on")]
    private static partial void LogGraceOver(ILogger logger, string grace, string checks);
}
