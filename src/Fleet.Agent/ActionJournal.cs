using System.Text.Json;
using Fleet.Abstractions.Agents;

namespace Fleet.Agent;

/// <summary>
/// The agent's memory of the actions it ran, by idempotency key, in a small file (<c>actions.journal</c> in the state
/// folder, owner-only, one JSON line per step): a key is written as started before its action runs and as done, with its
/// outcome, after — each line flushed to disk — so a restarted agent still knows every key it ran (or began to run) and runs
/// none of them again. Keys older than <see cref="Keep"/> are forgotten; at most <see cref="MaxKeys"/> are kept.
/// </summary>
public sealed class ActionJournal
{
    public static readonly TimeSpan Keep = TimeSpan.FromDays(7);
    public const int MaxKeys = 20_000;

    public sealed record Entry(string Key, string Action, DateTimeOffset At, bool Done, bool Succeeded, string Detail);

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Entry> _entries = [];
    private readonly Lock _gate = new();

    public ActionJournal(string stateDir, TimeProvider time)
    {
        _time = time;
        _path = Path.Combine(stateDir, "actions.journal");
        Directory.CreateDirectory(stateDir);
        if (File.Exists(_path))
        {
            foreach (var line in File.ReadLines(_path))
            {
                try
                {
                    if (JsonSerializer.Deserialize<Entry>(line) is { Key.Length: > 0 } e) _entries[e.Key] = e;
                }
                catch (JsonException)
                {
                    // A line cut short by a crash mid-write: the lines before it stand.
                }
            }
        }
        Compact();
    }

    /// <summary>What the journal holds for a key, or null when the agent never saw it.</summary>
    public Entry? Find(string key)
    {
        lock (_gate) return _entries.GetValueOrDefault(key);
    }

    public void Started(string key, string action) => Write(new Entry(key, action, _time.GetUtcNow(), false, false, ""));

    public void Done(string key, string action, bool succeeded, string detail) => Write(new Entry(key, action, _time.GetUtcNow(), true, succeeded, detail));

    /// <summary>The answer for a key that ran before: its outcome, or that it started and did not finish. Nothing runs.</summary>
    public static AgentActionResult Replay(Entry e) => e.Done
        ? new AgentActionResult(e.Key, e.Succeeded, $"ran at {e.At:O} ({(e.Succeeded ? "succeeded" : "failed")}: {e.Detail})") { Replayed = true }
        : new AgentActionResult(e.Key, false, $"started at {e.At:O} and did not finish (the agent stopped while it ran); its outcome is unknown and it is not run again") { Replayed = true };

    private void Write(Entry e)
    {
        lock (_gate)
        {
            _entries[e.Key] = e;
            using var stream = Open(FileMode.Append);
            using var writer = new StreamWriter(stream);
            writer.WriteLine(JsonSerializer.Serialize(e));
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>Forgets what is past <see cref="Keep"/> or beyond <see cref="MaxKeys"/>, and rewrites the file with what is left.</summary>
    private void Compact()
    {
        var cutoff = _time.GetUtcNow() - Keep;
        var kept = _entries.Values.Where(e => e.At >= cutoff).OrderByDescending(e => e.At).Take(MaxKeys).ToList();
        _entries.Clear();
        foreach (var e in kept) _entries[e.Key] = e;
        var temp = _path + ".new";
        using (var stream = OpenAt(temp, FileMode.Create))
        using (var writer = new StreamWriter(stream))
        {
            foreach (var e in kept.OrderBy(e => e.At)) writer.WriteLine(JsonSerializer.Serialize(e));
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, _path, overwrite: true);
    }

    private FileStream Open(FileMode mode) => OpenAt(_path, mode);

    private static FileStream OpenAt(string path, FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        return new FileStream(path, options);
    }
}
