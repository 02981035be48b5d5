using System.Text.Json;
using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Audit;

/// <summary>
/// A copy of the trail outside the store, for teams that keep audit logs elsewhere: every record, sealed, as one JSON line
/// appended to <c>trail-YYYY-MM-DD-NAME.jsonl</c> in a folder (a new file each UTC day; each silo writes files of its own),
/// after the store took it. Files are only ever appended to; ship them to an append-only sink (object storage with a
/// retention lock, a log pipeline). A line that cannot be written is logged, never allowed to stop the trail.
/// </summary>
public sealed class TrailExport(string folder, string name, TimeProvider time)
{
    private readonly Lock _gate = new();

    public void Write(IReadOnlyList<DecisionRecord> records)
    {
        if (records.Count == 0) return;
        var day = time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd");
        var path = Path.Combine(folder, $"trail-{day}-{name}.jsonl");
        lock (_gate)
        {
            Directory.CreateDirectory(folder);
            var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
            using var stream = new FileStream(path, options);
            using var writer = new StreamWriter(stream);
            foreach (var r in records) writer.WriteLine(JsonSerializer.Serialize(r, SqliteAuditStore.Json));
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
    }
}
