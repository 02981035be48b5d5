using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Fleet.Agent.Tests;

public class StartGraceTests
{
    private static (StartGrace Grace, FakeTimeProvider Time, ListLogger Log) Make(string grace = "30s")
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero));
        var log = new ListLogger();
        var config = new AgentConfig
        {
            StartGrace = grace,
            Checks = [new() { Name = "web-alive", Process = "web" }, new() { Name = "web-http", Http = new() { Url = "http://127.0.0.1:8080/" } }, new() { Name = "db", Tcp = new() { Port = 5432 } }],
        };
        return (new StartGrace(config, time, log), time, log);
    }

    private static ImmutableArray<CheckResult> Results(bool http, bool db) =>
        [new CheckResult("web-alive", true, "running"), new CheckResult("web-http", http, http ? "200 in 3 ms" : "connection refused"),
         new CheckResult("db", db, db ? "connected" : "connection refused")];

    [Fact]
    public void InsideTheGrace_ChecksNotPassedYet_MarkedStarting_PassingOnesUntouched()
    {
        var (grace, time, _) = Make();
        var out1 = grace.Apply(Results(http: false, db: true));
        Assert.False(out1[0].Starting);
        Assert.True(out1[1].Starting);
        Assert.False(out1[1].Passed);
        Assert.Equal("connection refused", out1[1].Detail);
        Assert.False(out1[2].Starting);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.True(grace.Apply(Results(http: false, db: true))[1].Starting);
        Assert.True(grace.Active);
    }

    [Fact]
    public void ACheckThatPassedOnce_FailsForRealAfterwards_WhileAnotherIsStillStarting()
    {
        var (grace, time, _) = Make();
        var first = grace.Apply(Results(http: true, db: false));
        Assert.False(first[1].Starting);
        Assert.True(first[2].Starting);
        time.Advance(TimeSpan.FromSeconds(2));
        var second = grace.Apply(Results(http: false, db: false));
        Assert.False(second[1].Starting);  // passed once: its failure is real
        Assert.True(second[2].Starting);   // never passed: still starting
        Assert.True(grace.Active);
        grace.Apply(Results(http: false, db: true));
        Assert.False(grace.Active);        // every check has passed once: the grace is over
        Assert.All(grace.Apply(Results(http: false, db: false)), r => Assert.False(r.Starting));
    }

    [Fact]
    public void AProcessCheck_NeverMarked_AProcessThatExitedHasNotStartedSlowly()
    {
        var (grace, _, _) = Make();
        ImmutableArray<CheckResult> exited = [new("web-alive", false, "web is not running (exited with code 1)"), new("web-http", false, "connection refused"), new("db", true, "connected")];
        var out1 = grace.Apply(exited);
        Assert.False(out1[0].Starting);
        Assert.True(out1[1].Starting);
    }

    [Fact]
    public void GraceRunsOut_ChecksThatNeverPassed_FailForReal_AndAreLoggedOnce()
    {
        var (grace, time, log) = Make("10s");
        grace.Apply(Results(http: false, db: true));
        time.Advance(TimeSpan.FromSeconds(10));
        var out2 = grace.Apply(Results(http: false, db: true));
        Assert.False(out2[1].Starting);
        Assert.False(grace.Active);
        time.Advance(TimeSpan.FromSeconds(1));
        grace.Apply(Results(http: false, db: true));
        var line = Assert.Single(log.Lines);
        Assert.Contains("start grace of 10s is over and check(s) web-http never passed", line);
    }

    [Fact]
    public void ZeroGrace_NothingMarked()
    {
        var (grace, _, _) = Make("0s");
        Assert.False(grace.Active);
        Assert.All(grace.Apply(Results(http: false, db: false)), r => Assert.False(r.Starting));
    }

    [Theory]
    [InlineData("forever")]
    [InlineData("-5s")]
    [InlineData("2h")]
    public void BadGrace_RefusedByTheConfigCheck(string text)
    {
        var config = new AgentConfig { StartGrace = text };
        Assert.Contains(config.Validate(), p => p.StartsWith("startGrace: ") && p.Contains("from 0s to 1h"));
    }

    private sealed class ListLogger : ILogger<StartGrace>
    {
        public List<string> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
