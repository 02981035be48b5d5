namespace Fleet.Grains.Nodes;

/// <summary>
/// When a node's counters and samples fall due to be written. Time is cut into slots of the checkpoint interval, each
/// node's slots shifted by its own phase (from its name); a node writes on its first report in a slot later than its
/// last write's. So a node still writes at most once a slot beside its decisive writes, and goes unwritten no longer
/// than it did when a checkpoint fell due an interval after the last write — but a fleet's checkpoints are spread over
/// the interval by the phases, instead of falling due together for every node written in the same minute (a fleet that
/// registered or changed health at once: at a million nodes, a million writes in one report interval).
/// </summary>
public static class CheckpointClock
{
    /// <summary>
    /// The node's phase: where in <paramref name="interval"/> its slots begin, spread evenly by a stable hash of its
    /// name (XxHash32 of its UTF-16 text: the same on every silo and in every run).
    /// </summary>
    public static TimeSpan Phase(string node, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        var hash = System.IO.Hashing.XxHash32.HashToUInt32(System.Runtime.InteropServices.MemoryMarshal.AsBytes(node.AsSpan()));
        return TimeSpan.FromTicks((long)((UInt128)hash * (ulong)interval.Ticks >> 32));
    }

    /// <summary>True when <paramref name="now"/> is in a later slot than <paramref name="written"/>.</summary>
    public static bool Due(DateTimeOffset written, DateTimeOffset now, TimeSpan interval, TimeSpan phase)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        return Slot(now, interval, phase) > Slot(written, interval, phase);
    }

    private static long Slot(DateTimeOffset at, TimeSpan interval, TimeSpan phase) => (at.UtcTicks - phase.Ticks) / interval.Ticks;
}
