using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Replay;
using Fleet.Simulator;

namespace Fleet.Simulator.Tests;

/// <summary>A maintenance train is an input line of a recorded trace: replayed, it retires the domain again, its cordons its own decisions.</summary>
public class ReplayTrainTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static InputTrace Trace(bool withDomain = true)
    {
        var entries = new List<TraceEntry>();
        var nodes = new[] { ("t-1", "rack-t"), ("t-2", "rack-t"), ("o-1", "rack-o") };
        foreach (var (id, domain) in nodes)
            entries.Add(new TraceEntry
            {
                Kind = TraceKinds.Register, At = T0, Node = id,
                Registration = new NodeRegistration(id, domain, new NodeCapacity(8, 16L << 30, 100L << 30), ImmutableDictionary<string, string>.Empty),
            });
        for (var i = 1; i <= 24; i++)
            foreach (var (id, _) in nodes)
                entries.Add(new TraceEntry
                {
                    Kind = TraceKinds.Report, At = T0.AddSeconds(5 * i), Node = id,
                    Report = new TelemetryReport(i, T0.AddSeconds(5 * i), TimeSpan.FromSeconds(30), 10, 2L << 30, 16L << 30, 20, [new CheckResult("http", true, null)]),
                });
        entries.Add(new TraceEntry { Kind = TraceKinds.RetireDomain, At = T0.AddSeconds(20), Domain = withDomain ? "rack-t" : null, By = "alice", Reason = "rack refresh", Batch = 1 });
        var lines = new[] { new TraceEntry { Kind = TraceKinds.Header, At = T0, Format = TraceEntry.CurrentFormat, Until = T0.AddMinutes(2) } }
            .Concat(entries).Append(new TraceEntry { Kind = TraceKinds.End, At = T0.AddMinutes(2) }).Select(e => e.ToLine());
        return InputTrace.Read(new StringReader(string.Join("\n", lines)));
    }

    [Fact]
    public async Task ARecordedTrain_IsReplayed_RetiringItsDomain_OneNodeAtATime_TheOtherDomainUntouched()
    {
        var run = await Replayer.RunAsync(Trace(), null, TimeSpan.FromSeconds(1));
        var retired = run.Records.Where(r => r.Reason.StartsWith("Retiring node", StringComparison.Ordinal) && r.Reason.Contains("maintenance train")).Select(r => r.Subject).ToList();
        Assert.Equal(["node/t-1", "node/t-2"], retired.Order().ToArray());
        Assert.DoesNotContain(run.Records, r => r.Subject == "node/o-1" && r.Reason.Contains("maintenance train"));
        // The train cordoned its domain itself (its decision): the replay cordoned both, with no cordon line in the trace.
        Assert.Equal(2, run.Records.Count(r => r.Subject.StartsWith("node/t-", StringComparison.Ordinal) && r.Kind == "operator" && r.Reason.Contains("Cordoned")));
    }

    [Fact]
    public void ATrainLine_WithoutItsDomain_IsRefusedByLine()
    {
        var e = Assert.Throws<TraceFormatException>(() => Trace(withDomain: false));
        Assert.Contains(e.Problems, p => p.Contains("a 'retire-domain' entry without domain"));
    }
}
