using System.Globalization;

namespace Fleet.Agent;

/// <summary>The host's real figures, read from /proc (CPU from the deltas of /proc/stat) and the disk's free space.</summary>
public sealed class HostMetrics(AgentConfig config)
{
    private (long Busy, long Total)? _last;

    public sealed record Sample(double CpuPercent, long MemoryUsedBytes, long MemoryTotalBytes, double DiskUsedPercent, double Load1);

    public Sample Read()
    {
        var proc = config.ProcRoot;
        var cpu = 0.0;
        var fields = File.ReadLines(Path.Combine(proc, "stat")).First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
        var total = fields.Take(8).Sum();
        if (_last is { } l && total > l.Total) cpu = 100.0 * ((total - idle) - l.Busy) / (total - l.Total);
        _last = (total - idle, total);

        long memTotal = 0, memAvailable = 0;
        foreach (var line in File.ReadLines(Path.Combine(proc, "meminfo")))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal)) memTotal = Kb(line);
            else if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)) memAvailable = Kb(line);
        }
        var load = double.Parse(File.ReadAllText(Path.Combine(proc, "loadavg")).Split(' ')[0], CultureInfo.InvariantCulture);
        var drive = new DriveInfo(config.DiskPath);
        var disk = drive.TotalSize > 0 ? 100.0 * (drive.TotalSize - drive.AvailableFreeSpace) / drive.TotalSize : 0;
        return new Sample(Math.Clamp(cpu, 0, 100), Math.Max(0, memTotal - memAvailable), memTotal, Math.Clamp(disk, 0, 100), load);
    }

    public (double Cores, long Memory, long Disk) Capacity()
    {
        var s = Read();
        return (Environment.ProcessorCount, s.MemoryTotalBytes, new DriveInfo(config.DiskPath).TotalSize);
    }

    private static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}
