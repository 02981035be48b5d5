using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Replay;

namespace Fleet.Core.Tests.Replay;

public class ReplayDiffTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(1);

    private static ReplayRecord R(int step, string subject, string kind, string? action = null, string? rule = null) =>
        new(step, T0 + Step * step, subject, kind, action, rule, $"{kind} {action}");

    [Fact]
    public void SameRecordsInTheSameSteps_AreNoDifference_WhateverTheirOrderInTheList()
    {
        ReplayRecord[] a = [R(1, "node/a", "registered"), R(5, "node/a", "executed", "restart-services", "ladder[0]"), R(5, "node/b", "health-changed")];
        Assert.Empty(ReplayDiff.Compare(a, a.Reverse(), Step));
    }

    [Fact]
    public void RecordsArePairedInOrderPerKey_IntoAddedRemovedDelayedAdvanced()
    {
        ReplayRecord[] baseline =
        [
            R(5, "node/a", "executed", "restart-services", "ladder[0]"),
            R(9, "node/a", "executed", "reboot", "ladder[1]"),
            R(7, "node/b", "executed", "restart-services", "ladder[0]"),
            R(3, "node/c", "denied", "reboot", "guardrails.maxConcurrentPerDomain"),
        ];
        ReplayRecord[] candidate =
        [
            R(8, "node/a", "executed", "restart-services", "ladder[0]"),   // 3 steps later
            R(4, "node/b", "executed", "restart-services", "ladder[0]"),   // 3 steps earlier
            R(4, "node/b", "shadowed", "reboot", "oversight.shadow"),     // new
            R(3, "node/c", "denied", "reboot", "guardrails.maxConcurrentPerDomain"),
        ];
        var d = ReplayDiff.Compare(baseline, candidate, Step);
        Assert.Equal(4, d.Length);
        Assert.Contains(d, x => x is { Change: ReplayChange.Delayed, BaselineStep: 5, CandidateStep: 8 } && x.Record.Subject == "node/a");
        Assert.Contains(d, x => x is { Change: ReplayChange.Removed, BaselineStep: 9 } && x.Record.Action == "reboot");
        Assert.Contains(d, x => x is { Change: ReplayChange.Advanced, BaselineStep: 7, CandidateStep: 4 } && x.Record.Subject == "node/b");
        Assert.Contains(d, x => x is { Change: ReplayChange.Added } && x.Record.Kind == "shadowed");
        Assert.Contains("delayed by 3 s: executed restart-services on node/a (rule ladder[0])", d.Single(x => x.Change == ReplayChange.Delayed).ToString());
        Assert.StartsWith("- ", d.Single(x => x.Change == ReplayChange.Removed).ToString());
        // In time order.
        Assert.Equal(d.OrderBy(x => x.Record.Time), d);
    }

    [Fact]
    public void TheRuleIsPartOfTheKey()
    {
        var d = ReplayDiff.Compare([R(2, "node/a", "executed", "reboot", "ladder[1]")], [R(2, "node/a", "executed", "reboot", "learning")], Step);
        Assert.Equal([ReplayChange.Added, ReplayChange.Removed], d.Select(x => x.Change).Order().ToArray());
    }
}

public class InputTraceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ALineRoundTrips_AndEntriesComeBackInArrivalOrder()
    {
        var report = new TelemetryReport(7, T0.AddSeconds(2), TimeSpan.FromSeconds(30), 12.5, 1L << 30, 8L << 30, 20,
            [new CheckResult("http", false, "503")]) { BootId = "b1" };
        var reg = new NodeRegistration("n1", "rack-a", new NodeCapacity(4, 8L << 30, 0), ImmutableDictionary<string, string>.Empty.Add("role", "web"));
        var text = string.Join("\n",
            new TraceEntry { Kind = TraceKinds.Header, At = T0, Format = TraceEntry.CurrentFormat, Until = T0.AddHours(1), By = "ops" }.ToLine(),
            new TraceEntry { Kind = TraceKinds.Report, At = T0.AddSeconds(2), Node = "n1", Report = report }.ToLine(),
            new TraceEntry { Kind = TraceKinds.Register, At = T0.AddSeconds(1), Node = "n1", Registration = reg }.ToLine(),
            "",
            new TraceEntry { Kind = TraceKinds.Policy, At = T0.AddSeconds(3), Version = 4, Document = "guardrails: {}\n", By = "ops" }.ToLine());
        var trace = InputTrace.Read(new StringReader(text));
        Assert.Equal(T0, trace.Start);
        Assert.Equal(T0.AddSeconds(3), trace.End);
        Assert.Equal([TraceKinds.Register, TraceKinds.Report, TraceKinds.Policy], trace.Entries.Select(e => e.Kind).ToArray());
        var back = trace.Entries[1].Report!;
        Assert.Equal(report.Sequence, back.Sequence);
        Assert.Equal(report.Ttl, back.Ttl);
        Assert.Equal("503", back.Checks.Single().Detail);
        Assert.Equal("b1", back.BootId);
        Assert.Equal("web", trace.Entries[0].Registration!.Labels["role"]);
    }

    [Fact]
    public void TheEndLine_IsWhereTheTraceEnds_EvenAfterTheLastInput_AndNothingMayFollowIt()
    {
        var header = new TraceEntry { Kind = TraceKinds.Header, At = T0, Format = TraceEntry.CurrentFormat }.ToLine();
        var reg = new TraceEntry { Kind = TraceKinds.Register, At = T0.AddSeconds(1), Node = "n1", Registration = new NodeRegistration("n1", "rack-a", new NodeCapacity(4, 8L << 30, 0), ImmutableDictionary<string, string>.Empty) }.ToLine();
        var end = new TraceEntry { Kind = TraceKinds.End, At = T0.AddSeconds(40), Reason = "stopped by ops" }.ToLine();
        var trace = InputTrace.Read(new StringReader(string.Join("\n", header, reg, end)));
        Assert.Equal(T0.AddSeconds(40), trace.End); // the node's silence after its registration is part of the trace
        Assert.Equal([TraceKinds.Register], trace.Entries.Select(e => e.Kind).ToArray());
        Assert.Equal("stopped by ops", trace.Stop!.Reason);
        // Without its end line (a trace downloaded while it records), it ends at its last input.
        Assert.Equal(T0.AddSeconds(1), InputTrace.Read(new StringReader(string.Join("\n", header, reg))).End);
        var e = Assert.Throws<TraceFormatException>(() => InputTrace.Read(new StringReader(string.Join("\n", header, end, reg))));
        Assert.Equal("line 3: a 'register' entry after the trace's end line", e.Problems.Single());
    }

    [Fact]
    public void AFileThatIsNotATrace_IsRefusedWithEveryProblemByLine()
    {
        var e = Assert.Throws<TraceFormatException>(() => InputTrace.Read(new StringReader("{\"kind\":\"report\",\"at\":\"2026-12-01T10:00:00Z\"}")));
        Assert.Contains("line 1: a trace starts with its header line, found 'report'", e.Problems);

        var header = new TraceEntry { Kind = TraceKinds.Header, At = T0, Format = TraceEntry.CurrentFormat }.ToLine();
        e = Assert.Throws<TraceFormatException>(() => InputTrace.Read(new StringReader(header + "\nnot json\n{\"kind\":\"report\",\"at\":\"2026-12-01T10:00:01Z\",\"node\":\"n1\"}\n{\"kind\":\"teleport\",\"at\":\"2026-12-01T10:00:01Z\"}")));
        Assert.Equal(3, e.Problems.Count);
        Assert.StartsWith("line 2: not a trace entry", e.Problems[0]);
        Assert.Equal("line 3: a 'report' entry without report", e.Problems[1]);
        Assert.Equal("line 4: a 'teleport' entry without a known kind", e.Problems[2]);

        e = Assert.Throws<TraceFormatException>(() => InputTrace.Read(new StringReader("")));
        Assert.Contains("no header", e.Problems.Single());
        e = Assert.Throws<TraceFormatException>(() => InputTrace.Read(new StringReader(new TraceEntry { Kind = TraceKinds.Header, At = T0, Format = 99 }.ToLine())));
        Assert.Contains("format 99", e.Problems.Single());
    }
}
