using System.Collections.Immutable;
using Fleet.Abstractions.Services;
using Fleet.Core.Services;

namespace Fleet.Core.Tests.Services;

public class ServiceScalerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly ScalingSpec Cpu = new(true, 2, 20, ScalingMetric.Cpu, 50, 0.1, TimeSpan.FromMinutes(3));

    private static InstanceLoad[] Loads(int n, double cpu) => [.. Enumerable.Repeat(new InstanceLoad(cpu, 0, 0, 0, 0, 0), n)];

    [Fact]
    public void WithinTolerance_NoStep()
    {
        var (d, recs) = ServiceScaler.Decide(Cpu, 4, Loads(4, 54), [], null, T0);
        Assert.Null(d);
        Assert.Equal(4, recs.Single().Replicas);
    }

    [Fact]
    public void AboveTarget_ScalesUpInProportion_WithTheFigures()
    {
        var (d, _) = ServiceScaler.Decide(Cpu, 4, Loads(4, 80), [], null, T0);
        Assert.Equal((4, 7), (d!.From, d.To));
        Assert.Equal("CPU averaged 80% over 4 instance(s), target 50% ± 10%", d.Why);
    }

    [Fact]
    public void Cooldown_HoldsTheNextStep_AndAStepDownTakesTheHighestRecentRecommendation()
    {
        var (held, _) = ServiceScaler.Decide(Cpu, 7, Loads(7, 90), [], T0, T0.AddMinutes(1));
        Assert.Null(held);
        ImmutableArray<ScaleRecommendation> recent = [new(T0.AddMinutes(2), 7), new(T0.AddMinutes(2.5), 6)];
        var (down, _) = ServiceScaler.Decide(Cpu, 7, Loads(7, 20), recent, T0, T0.AddMinutes(4));
        Assert.Null(down); // 7 was recommended within the last 5 minutes: no step down yet
        var (later, _) = ServiceScaler.Decide(Cpu, 7, Loads(7, 20), [], T0, T0.AddMinutes(10));
        Assert.Equal(3, later!.To);
    }

    [Fact]
    public void SineWaveAroundTheTarget_DoesNotFlap()
    {
        // A constant demand of 200 CPU-percent spread over the replicas, swinging ±40% with a 4-minute period; a decision every 10 s for an hour.
        var replicas = 4;
        ImmutableArray<ScaleRecommendation> recent = [];
        DateTimeOffset? last = null;
        var steps = new List<(DateTimeOffset At, int From, int To)>();
        for (var t = 0; t < 3600; t += 10)
        {
            var now = T0.AddSeconds(t);
            var demand = 200 * (1 + 0.4 * Math.Sin(2 * Math.PI * t / 240));
            var (d, r) = ServiceScaler.Decide(Cpu, replicas, Loads(replicas, demand / replicas), recent, last, now);
            recent = r;
            if (d is null) continue;
            steps.Add((now, d.From, d.To));
            replicas = d.To;
            last = now;
        }
        // It rises to cover the peaks and stays there: no step down while the swing goes on.
        Assert.InRange(steps.Count, 1, 3);
        Assert.All(steps, s => Assert.True(s.To > s.From, $"stepped down at {s.At:HH:mm:ss}: {s.From} → {s.To}"));
    }

    [Fact]
    public void OutsideMinMax_Clamped_AndNoReportsMeansNoStep()
    {
        Assert.Equal(2, ServiceScaler.Decide(Cpu, 1, [], [], null, T0).Decision!.To);
        Assert.Null(ServiceScaler.Decide(Cpu, 4, [], [], null, T0).Decision);
        Assert.Equal(20, ServiceScaler.Decide(Cpu, 10, Loads(10, 100), [], null, T0).Decision!.To);
    }
}
