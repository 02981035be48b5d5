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
        var window = Enumerable.Range(0, 5).Aggregate(System.Collections.Immutable.ImmutableArray<MemorySample>.Empty,
            (w, i) => MemoryWindow.Append(w, new MemorySample(T0.AddSeconds(i), 100 + i), max: 3));
        Assert.Equal([102L, 103L, 104L], window.Select(s => s.UsedBytes).ToArray());
        var model = NodeHealthModel.Initial(T0) with { MemorySamples = window };
        var back = Serializer.Deserialize<NodeHealthModel>(Serializer.SerializeToArray(model))!;
        Assert.Equal(window.ToArray(), back.MemorySamples.ToArray());
        Assert.Equal(T0.AddSeconds(4), back.MemorySamples[^1].At);
    }
}
