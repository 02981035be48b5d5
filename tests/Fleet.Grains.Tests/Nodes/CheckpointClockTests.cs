using Fleet.Grains.Nodes;

namespace Fleet.Grains.Tests.Nodes;

public class CheckpointClockTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Due_OnlyOnceTheNextSlotHasBegun()
    {
        var phase = TimeSpan.FromSeconds(100); // slots begin at 01:40, 06:40, …
        var written = T0.AddSeconds(90);
        Assert.False(CheckpointClock.Due(written, T0.AddSeconds(99), Interval, phase));
        Assert.True(CheckpointClock.Due(written, T0.AddSeconds(100), Interval, phase));
        var later = T0.AddSeconds(101);
        Assert.False(CheckpointClock.Due(later, T0.AddSeconds(399), Interval, phase));
        Assert.True(CheckpointClock.Due(later, T0.AddSeconds(400), Interval, phase));
    }

    [Fact]
    public void Phase_SameForTheSameNode_WithinTheInterval()
    {
        Assert.Equal(CheckpointClock.Phase("node-42", Interval), CheckpointClock.Phase("node-42", Interval));
        Assert.All(Enumerable.Range(0, 1000), i => Assert.InRange(CheckpointClock.Phase($"node-{i}", Interval), TimeSpan.Zero, Interval - TimeSpan.FromTicks(1)));
    }

    /// <summary>
    /// 10,000 nodes all written in the same minute, then reporting every minute at once (the simulator's way, and a
    /// fleet after a mass registration): their checkpoints fall over the interval, about a fifth a minute, not all in
    /// one — and no node goes unwritten longer than the interval and one report, or writes twice in a slot.
    /// </summary>
    [Fact]
    public void AFleetWrittenAtOnce_CheckpointsSpreadOverTheInterval()
    {
        const int nodes = 10_000;
        var written = Enumerable.Repeat(T0, nodes).ToArray();
        var phases = Enumerable.Range(0, nodes).Select(i => CheckpointClock.Phase($"node-{i:D7}", Interval)).ToArray();
        var writesPerNode = new int[nodes];
        for (var minute = 1; minute <= 30; minute++)
        {
            var now = T0.AddMinutes(minute);
            var due = 0;
            for (var i = 0; i < nodes; i++)
            {
                Assert.True(now - written[i] <= Interval + TimeSpan.FromMinutes(1), $"node {i} unwritten since {written[i]} at {now}");
                if (!CheckpointClock.Due(written[i], now, Interval, phases[i])) continue;
                written[i] = now;
                writesPerNode[i]++;
                due++;
            }
            Assert.InRange(due, nodes / 5 * 8 / 10, nodes / 5 * 12 / 10);
        }
        Assert.All(writesPerNode, w => Assert.InRange(w, 5, 7)); // 30 minutes: six slots, give or take the ends
    }

    [Fact]
    public void Phase_SpreadEvenlyOverALongInterval_AndAZeroIntervalRefused()
    {
        // An hour is far more than 2^32 ticks: the product of the hash and the interval must not wrap.
        var hour = TimeSpan.FromHours(1);
        var tenths = new int[10];
        for (var i = 0; i < 10_000; i++)
            tenths[(int)(CheckpointClock.Phase($"node-{i:D7}", hour) / hour * 10)]++;
        Assert.All(tenths, n => Assert.InRange(n, 800, 1200));
        Assert.Throws<ArgumentOutOfRangeException>(() => CheckpointClock.Phase("node-1", TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => CheckpointClock.Due(T0, T0, TimeSpan.Zero, TimeSpan.Zero));
    }

    [Fact]
    public void Phase_StableAcrossRuns()
    {
        // XxHash32 of the name's UTF-16 bytes (seed 0) is 3,539,891,699, worked out apart from .NET; times 5 min in ticks,
        // over 2^32. Not string.GetHashCode, which differs in every process: the same phase on every silo.
        Assert.Equal(2_472_585_788L, CheckpointClock.Phase("node-42", Interval).Ticks);
    }
}
