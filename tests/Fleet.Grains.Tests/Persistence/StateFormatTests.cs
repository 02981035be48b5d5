using CsCheck;
using Fleet.Core.Forecasting;
using Fleet.Core.Health;
using Fleet.Grains.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Fleet.Grains.Tests.Persistence;

/// <summary>A node's stored state stays readable across builds.</summary>
public class StateFormatTests
{
    private static readonly Serializer Serializer =
        new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(NodeState).Assembly)).BuildServiceProvider().GetRequiredService<Serializer>();

    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.FromHours(2));

    /// <summary>
    /// A health model with two memory samples as an earlier build wrote it: the same instants and byte counts come back
    /// (a guard for anyone who makes a sample smaller: the stored shape must still read).
    /// </summary>
    [Fact]
    public void MemorySamplesWrittenBeforeTheyWereCompact_ReadBackTheSame()
    {
        const string written = "IOgAASGAAJCc3JFP3wiBANCIwxAAAADgISDg4AEDwQHBAQEBAQEBAQEBISAABSHoIIAAkJzckU/fCIEA0IjDEAAAAOABQh/gIOgggABxkuKRT98IgQDQiMMQAAAA4AGCPuDg4MEBwQHBAcEB4A==";
        var model = Serializer.Deserialize<NodeHealthModel>(Convert.FromBase64String(written))!;
        Assert.Equal([(T0, 1000L), (T0.AddSeconds(10), 2000L)], model.MemorySamples.Select(s => (s.At, s.UsedBytes)).ToArray());
        Assert.Equal(T0.UtcTicks, model.MemorySamples[0].At.UtcTicks);
    }


    [Fact]
    public void MemorySamples_RoundTrip_AndTheWindowKeepsTheLatest()
    {
        var window = Enumerable.Range(0, 5).Aggregate(MemoryWindow.Empty, (w, i) => w.Append(new MemorySample(T0.AddSeconds(i), 100 + i), max: 3));
        Assert.Equal([102L, 103L, 104L], window.Select(s => s.UsedBytes).ToArray());
        var model = NodeHealthModel.Initial(T0) with { MemorySamples = window };
        var back = Serializer.Deserialize<NodeHealthModel>(Serializer.SerializeToArray(model))!;
        Assert.Equal(window.ToArray(), back.MemorySamples.ToArray());
        Assert.Equal(T0.AddSeconds(4), back.MemorySamples[^1].At);
    }

    /// <summary>
    /// Any run of samples — close or far apart in time, memory steady, leaping by gigabytes or falling — kept in a
    /// window of any size: the window holds exactly the last samples, each instant and byte count as given, and reads
    /// back the same from its stored bytes.
    /// </summary>
    [Fact]
    public void AnyRunOfSamples_TheWindowKeepsExactlyTheLast_AndStoresThemExactly()
    {
        // Gaps of a tick to 10 minutes (compact up to ~214 s, whole beyond); memory moves up to ±8 GiB a sample.
        var step = Gen.Select(Gen.Long[1, TimeSpan.TicksPerMinute * 10], Gen.OneOf(Gen.Long[-1 << 20, 1 << 20], Gen.Long[-(8L << 30), 8L << 30]));
        Gen.Select(step.Array[1, 80], Gen.Int[1, 40]).Sample((steps, max) =>
        {
            var at = T0.UtcTicks;
            var used = 16L << 30;
            var all = new List<MemorySample>();
            var window = MemoryWindow.Empty;
            foreach (var (gap, change) in steps)
            {
                at += gap;
                used = Math.Max(0, used + change);
                var sample = new MemorySample(new DateTimeOffset(at, TimeSpan.Zero), used);
                all.Add(sample);
                window = window.Append(sample, max);
            }
            var expected = all.TakeLast(max).ToArray();
            Assert.Equal(expected, window.ToArray());
            Assert.Equal(expected.Length, window.Count);
            Assert.Equal(expected[^1], window[^1]);
            Assert.Equal(expected[0], window[0]);
            var back = Serializer.Deserialize<NodeHealthModel>(Serializer.SerializeToArray(NodeHealthModel.Initial(T0) with { MemorySamples = window }))!;
            Assert.Equal(expected, back.MemorySamples.ToArray());
        });
    }

    /// <summary>A window of samples a report interval apart costs 8 bytes a sample; one with a gap too wide for that, 16.</summary>
    [Fact]
    public void AWindowOfSamplesAnIntervalApart_IsCompact()
    {
        static long Bytes(Func<MemoryWindow> make)
        {
            var keep = new MemoryWindow[200];
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < keep.Length; i++) keep[i] = make();
            return (GC.GetAllocatedBytesForCurrentThread() - before) / keep.Length;
        }
        var samples = Enumerable.Range(0, 30).Select(i => new MemorySample(T0.AddSeconds(60 * i).AddTicks(i * 7), (4L << 30) + i * 12_345)).ToArray();
        var wide = samples.Select((s, i) => new MemorySample(T0.AddMinutes(5 * i), s.UsedBytes)).ToArray();
        Assert.Equal(24 + 31 * 8, Bytes(() => MemoryWindow.Of(samples)));
        Assert.Equal(24 + 60 * 8, Bytes(() => MemoryWindow.Of(wide)));
        Assert.Equal(samples, MemoryWindow.Of(samples).ToArray());
        Assert.Equal(wide, MemoryWindow.Of(wide).ToArray());
    }
}
