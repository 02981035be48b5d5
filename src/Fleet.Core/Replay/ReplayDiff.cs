using System.Collections.Immutable;

namespace Fleet.Core.Replay;

/// <summary>One decision record of a replay, reduced to what two runs are compared on, with its simulated step.</summary>
public sealed record ReplayRecord(int Step, DateTimeOffset Time, string Subject, string Kind, string? Action, string? Rule, string Reason)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public (string, string, string?, string?) Key => (Subject, Kind, Action, Rule);
}

public enum ReplayChange
{
    /// <summary>The candidate made a record the baseline did not.</summary>
    Added,
    /// <summary>The baseline made a record the candidate did not.</summary>
    Removed,
    /// <summary>Both made it; the candidate later.</summary>
    Delayed,
    /// <summary>Both made it; the candidate earlier.</summary>
    Advanced,
}

/// <summary>A record one run made and the other did not, or made in another step.</summary>
public sealed record ReplayDifference(ReplayChange Change, ReplayRecord Record, int? BaselineStep, int? CandidateStep, TimeSpan Step)
{
    public override string ToString()
    {
        var what = $"{Record.Kind}{(Record.Action is { } a ? $" {a}" : "")} on {Record.Subject}{(Record.Rule is { } r ? $" (rule {r})" : "")}";
        return Change switch
        {
            ReplayChange.Added => $"+ {Record.Time:HH:mm:ss} added: {what} — {Record.Reason}",
            ReplayChange.Removed => $"- {Record.Time:HH:mm:ss} removed: {what} — {Record.Reason}",
            ReplayChange.Delayed => $"> {Record.Time:HH:mm:ss} delayed by {Shift()}: {what} — {Record.Reason}",
            _ => $"< {Record.Time:HH:mm:ss} advanced by {Shift()}: {what} — {Record.Reason}",
        };
    }

    private string Shift() => Text.Format.Duration(Step * Math.Abs(CandidateStep!.Value - BaselineStep!.Value));
}

/// <summary>
/// Compares two replays of one trace. Two runs are equal when they made the same (subject, kind, action, rule) records
/// in the same simulated steps. Records of one key are paired in order — the first with the first, and so on — so a
/// record made in both runs at other steps is delayed or advanced, and one left over on one side is added or removed.
/// </summary>
public static class ReplayDiff
{
    public static ImmutableArray<ReplayDifference> Compare(IEnumerable<ReplayRecord> baseline, IEnumerable<ReplayRecord> candidate, TimeSpan step)
    {
        var before = baseline.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Step).ToList());
        var after = candidate.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Step).ToList());
        var differences = new List<ReplayDifference>();
        foreach (var key in before.Keys.Union(after.Keys))
        {
            var b = before.GetValueOrDefault(key) ?? [];
            var c = after.GetValueOrDefault(key) ?? [];
            for (var i = 0; i < Math.Max(b.Count, c.Count); i++)
            {
                if (i >= c.Count) differences.Add(new ReplayDifference(ReplayChange.Removed, b[i], b[i].Step, null, step));
                else if (i >= b.Count) differences.Add(new ReplayDifference(ReplayChange.Added, c[i], null, c[i].Step, step));
                else if (c[i].Step != b[i].Step)
                    differences.Add(new ReplayDifference(c[i].Step > b[i].Step ? ReplayChange.Delayed : ReplayChange.Advanced, c[i], b[i].Step, c[i].Step, step));
            }
        }
        return [.. differences.OrderBy(d => d.Record.Time).ThenBy(d => d.Record.Subject, StringComparer.Ordinal).ThenBy(d => d.Change)];
    }
}
