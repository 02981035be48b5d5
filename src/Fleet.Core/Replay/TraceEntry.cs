using System.Text.Json;
using System.Text.Json.Serialization;
using Fleet.Abstractions.Nodes;

namespace Fleet.Core.Replay;

/// <summary>The kinds of line in a trace file.</summary>
public static class TraceKinds
{
    /// <summary>The first line: when the trace started, until when, who asked.</summary>
    public const string Header = "header";
    public const string Register = "register";
    public const string Report = "report";
    public const string Cordon = "cordon";
    public const string Uncordon = "uncordon";
    public const string Drain = "drain";
    public const string Decommission = "decommission";
    public const string Admit = "admit";
    public const string Freeze = "freeze";
    /// <summary>A person started a domain's maintenance train (its own cordons and retirements are its decisions, not lines).</summary>
    public const string RetireDomain = "retire-domain";
    /// <summary>A person stopped a domain's maintenance train.</summary>
    public const string StopTrain = "stop-train";

    /// <summary>
    /// Set in the request context while a grain carries out a decision of its own through a call that would otherwise be
    /// traced as an operator's input (a maintenance train cordoning its domain): such a call is not a line of the trace.
    /// </summary>
    public const string Decided = "fleet.trace.decided";
    public const string Unfreeze = "unfreeze";
    /// <summary>A policy version: the one in force when the trace started, then each one applied while it recorded.</summary>
    public const string Policy = "policy";
    /// <summary>The last line: when the recording stopped, and why. A replay runs until then (the silences after the last input count).</summary>
    public const string End = "end";
}

/// <summary>
/// One line of a trace (JSON lines): something the fleet received, with the time it arrived. A trace holds inputs only —
/// nothing Fleet decided — so a replay can run them through the real grains with another policy and compare decisions.
/// </summary>
public sealed record TraceEntry
{
    public required string Kind { get; init; }
    public required DateTimeOffset At { get; init; }
    public string? Node { get; init; }
    public NodeRegistration? Registration { get; init; }
    public TelemetryReport? Report { get; init; }
    public string? By { get; init; }
    public string? Reason { get; init; }
    public bool? Force { get; init; }
    /// <summary>A maintenance train's domain and batch.</summary>
    public string? Domain { get; init; }
    public int? Batch { get; init; }
    /// <summary>A policy line's version (in the recorded fleet) and its YAML document.</summary>
    public int? Version { get; init; }
    public string? Document { get; init; }
    /// <summary>The header's format version and the end of the recording window.</summary>
    public int? Format { get; init; }
    public DateTimeOffset? Until { get; init; }
    /// <summary>True on the lines written from the fleet's state when recording began (the nodes registered then, their cordons).</summary>
    public bool? Snapshot { get; init; }

    public const int CurrentFormat = 1;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToLine() => JsonSerializer.Serialize(this, Json);
}

/// <summary>A trace read back from its file: the header, then every entry in arrival order, and the end line if it has one.</summary>
public sealed record InputTrace(TraceEntry Header, IReadOnlyList<TraceEntry> Entries, TraceEntry? Stop = null)
{
    public DateTimeOffset Start => Header.At;

    /// <summary>When the recording stopped; for a trace cut short without its end line, its last entry.</summary>
    public DateTimeOffset End => Stop?.At ?? (Entries.Count == 0 ? Header.At : Entries[^1].At);

    /// <summary>Reads a trace file; a line that is not an entry is a problem named by its line number, and nothing is returned.</summary>
    public static InputTrace Read(TextReader reader)
    {
        var problems = new List<string>();
        TraceEntry? header = null, stop = null;
        var entries = new List<TraceEntry>();
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            TraceEntry? e;
            try { e = JsonSerializer.Deserialize<TraceEntry>(line, TraceEntry.Json); }
            catch (JsonException ex) { problems.Add($"line {number}: not a trace entry ({FirstSentence(ex.Message)})"); continue; }
            if (e is null) { problems.Add($"line {number}: empty"); continue; }
            if (header is null)
            {
                if (e.Kind != TraceKinds.Header) { problems.Add($"line {number}: a trace starts with its header line, found '{e.Kind}'"); break; }
                if (e.Format is not TraceEntry.CurrentFormat) { problems.Add($"line {number}: trace format {e.Format} is not one this version reads ({TraceEntry.CurrentFormat})"); break; }
                header = e;
                continue;
            }
            if (stop is not null) { problems.Add($"line {number}: a '{e.Kind}' entry after the trace's end line"); continue; }
            if (e.Kind == TraceKinds.End)
            {
                stop = e;
                continue;
            }
            var missing = e.Kind switch
            {
                TraceKinds.Register => e.Registration is null ? "registration" : null,
                TraceKinds.Report => e.Node is null ? "node" : e.Report is null ? "report" : null,
                TraceKinds.Cordon or TraceKinds.Uncordon or TraceKinds.Drain or TraceKinds.Decommission or TraceKinds.Admit => e.Node is null ? "node" : null,
                TraceKinds.Policy => e.Document is null ? "document" : null,
                TraceKinds.RetireDomain or TraceKinds.StopTrain => e.Domain is null ? "domain" : null,
                TraceKinds.Freeze or TraceKinds.Unfreeze => null,
                _ => "a known kind",
            };
            if (missing is not null) { problems.Add($"line {number}: a '{e.Kind}' entry without {missing}"); continue; }
            entries.Add(e);
        }
        if (header is null && problems.Count == 0) problems.Add("the file holds no trace (no header line)");
        if (problems.Count > 0) throw new TraceFormatException(problems);
        // Silos send their lines about once a second: put them back in arrival order (stable, so a node's own lines keep theirs).
        return new InputTrace(header!, [.. entries.OrderBy(e => e.At)], stop);
    }

    private static string FirstSentence(string message) => message.Split(". ")[0].Split(" Path:")[0];
}

public sealed class TraceFormatException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
