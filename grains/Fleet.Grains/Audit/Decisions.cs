using System.Collections.Immutable;
using System.Diagnostics;
using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Audit;

/// <summary>Builds decision records with the fields every record shares.</summary>
public static class Decisions
{
    public static DecisionRecord Create(
        DateTimeOffset time, string actor, string subject, string kind, string reason, int policyVersion,
        string? action = null, IReadOnlyDictionary<string, string>? evidence = null, string? rule = null,
        string? guardrail = null, string? outcome = null, string? incidentId = null, string? id = null) =>
        new(id ?? Guid.CreateVersion7(time).ToString("N"), time, actor, subject, kind, action, reason,
            evidence?.ToImmutableDictionary() ?? ImmutableDictionary<string, string>.Empty,
            rule, policyVersion, guardrail, outcome, incidentId, Activity.Current?.TraceId.ToString());
}
