using System.CommandLine;
using Fleet.Abstractions.Tracing;
using Fleet.Core.Policies;
using Fleet.Core.Replay;
using Fleet.Core.Text;
using Fleet.Simulator;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet trace record|status|stop|download</c> and <c>fleet replay TRACE --policy FILE</c>.</summary>
internal static class TraceCommand
{
    public static Command Trace()
    {
        var trace = new Command("trace", "Record what the fleet receives, to replay it later with another policy. e.g. fleet trace record --for 1h");
        var forOption = new Option<string>("--for") { Description = "How long to record (e.g. 30m, 1h; at most 7d)", DefaultValueFactory = _ => "1h" };
        var maxMiB = new Option<int>("--max-mib") { Description = "Stop recording when the trace reaches this many MiB", DefaultValueFactory = _ => 256 };
        var record = new Command("record", "Start recording the fleet's input trace (replaces the last trace). e.g. fleet trace record --for 1h") { forOption, maxMiB };
        record.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var text = p.GetValue(forOption)!;
            if (!Durations.TryParse(text, out var duration)) { Terminal.Error($"--for: '{text}' is not a duration (e.g. 30m, 1h)"); return Refused; }
            var s = await c.StartTraceAsync(duration, (long)p.GetValue(maxMiB) << 20, p.GetValue(By)!, ct);
            Print(p, s, () => Show(s));
            return 0;
        }));
        trace.Add(record);

        var status = new Command("status", "Whether the fleet records its input trace, since when, how big. e.g. fleet trace status");
        status.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.GetTraceStatusAsync(ct);
            Print(p, s, () => Show(s));
            return 0;
        }));
        trace.Add(status);

        var stop = new Command("stop", "Stop recording (the trace stays to be downloaded). e.g. fleet trace stop");
        stop.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.StopTraceAsync(p.GetValue(By)!, ct);
            Print(p, s, () => Show(s));
            return 0;
        }));
        trace.Add(stop);

        var output = new Option<FileInfo>("--out") { Description = "The file to write (JSON lines)", Required = true };
        var download = new Command("download", "Write the last trace to a file (what is recorded so far, when it still records). e.g. fleet trace download --out tuesday.trace") { output };
        download.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var file = p.GetValue(output)!;
            long written;
            try
            {
                await using var stream = new FileStream(file.FullName, FileMode.Create, FileAccess.Write);
                written = await c.DownloadTraceAsync(stream, new Progress<long>(b => Console.Error.Write($"\r{Format.Bytes(b)} written")), ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Terminal.Error($"cannot write {file.FullName}: {e.Message}");
                return Refused;
            }
            Console.Error.WriteLine();
            Console.WriteLine($"Wrote {(written < 1 << 20 ? $"{written:N0} bytes" : Format.Bytes(written))} to {file.FullName}. Replay it: fleet replay {file.Name} --policy candidate.yaml");
            return 0;
        }));
        trace.Add(download);
        return trace;
    }

    public static Command Replay()
    {
        var file = new Argument<FileInfo>("trace") { Description = "A trace file (fleet trace download)" };
        var policy = new Option<FileInfo?>("--policy") { Description = "The candidate policy (YAML); without it the trace is replayed with its recorded policy only" };
        var step = new Option<string>("--step") { Description = "The simulated step: records in the same step are simultaneous", DefaultValueFactory = _ => "1s" };
        var save = new Option<FileInfo?>("--save") { Description = "Also write both runs and the differences as JSON to this file" };
        var replay = new Command("replay", "Run a recorded trace off-line with the recorded policy and a candidate, and print what the candidate does differently. " +
            "e.g. fleet replay tuesday.trace --policy candidate.yaml") { file, policy, step, save };
        replay.SetAction(async (p, ct) =>
        {
            if (!Durations.TryParse(p.GetValue(step), out var stepValue) || stepValue < TimeSpan.FromMilliseconds(100))
            {
                Terminal.Error($"--step: '{p.GetValue(step)}' is not a duration of at least 100ms (e.g. 1s)");
                return Refused;
            }
            InputTrace trace;
            try
            {
                using var reader = new StreamReader(p.GetValue(file)!.FullName);
                trace = InputTrace.Read(reader);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Terminal.Error($"cannot read {p.GetValue(file)!.FullName}: {e.Message}");
                return Refused;
            }
            catch (TraceFormatException e)
            {
                Terminal.Error($"{p.GetValue(file)!.Name} is not a trace Fleet can replay:");
                foreach (var problem in e.Problems.Take(20)) Console.Error.WriteLine($"  {problem}");
                return Refused;
            }
            string? candidate = null;
            if (p.GetValue(policy) is { } policyFile)
            {
                if (!TryRead(policyFile, out var yaml)) return Refused;
                var parsed = PolicyParser.Parse(yaml);
                if (!parsed.IsValid)
                {
                    Terminal.Error($"{policyFile.Name} is not a valid policy:");
                    foreach (var problem in parsed.Problems) Console.Error.WriteLine($"  {problem}");
                    return Refused;
                }
                candidate = yaml;
            }
            var live = !Console.IsErrorRedirected;
            var progress = new Progress<ReplayProgress>(pr =>
            {
                var line = $"[{pr.Run}: {Format.Duration(pr.Simulated)} of {Format.Duration(pr.Total)}] {pr.Delivered:N0} entries delivered";
                if (live) Console.Error.Write("\r" + line.PadRight(90));
                else Console.Error.WriteLine(line);
            });
            Console.Error.WriteLine($"Replaying {trace.Entries.Count:N0} entries ({Format.Duration(trace.End - trace.Start)} from {trace.Start:u}){(candidate is null ? "" : ", twice")}.");
            ReplayResult result;
            try { result = await Replayer.CompareAsync(trace, candidate, stepValue, progress, ct); }
            catch (ReplayException e)
            {
                Terminal.Error(e.Message);
                return Refused;
            }
            if (live) Console.Error.WriteLine();
            if (p.GetValue(save) is { } saveFile) await File.WriteAllTextAsync(saveFile.FullName, System.Text.Json.JsonSerializer.Serialize(result, Scorecard.Json), ct);
            if (p.GetValue(Output) == "json") Terminal.WriteJson(result);
            else Console.WriteLine(result.ToText());
            return 0;
        });
        return replay;
    }

    private static void Show(TraceStatus s)
    {
        if (s.Id is null) { Console.WriteLine("No trace recorded yet. Start one: fleet trace record --for 1h"); return; }
        Console.WriteLine(s.Recording
            ? $"Recording trace {s.Id} since {s.StartedAt:u} until {s.Until:u}, started by {s.StartedBy}: {s.Entries:N0} entries, {Format.Bytes(s.Bytes)} of {Format.Bytes(s.MaxBytes)}."
            : $"Trace {s.Id} recorded from {s.StartedAt:u} to {s.StoppedAt:u} (started by {s.StartedBy}; stopped: {s.StopReason}): {s.Entries:N0} entries, {Format.Bytes(s.Bytes)}.");
    }
}
