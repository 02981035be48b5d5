using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Core.Intake;
using Fleet.Core.Policies;
using Microsoft.Extensions.Time.Testing;

namespace Fleet.Core.Tests.Intake;

public class MetricIntakeTests
{
    private static readonly IntakePolicy Policy = IntakePolicy.Default with { Checks = ["up == 1", "node_systemd_unit_state{state=\"failed\"} == 0"] };
    private static readonly ImmutableArray<CheckRule> Rules = [.. Policy.Checks.Select(c => CheckRule.Parse(c, out _)!)];
    private const long T = 1_800_000_000_000;

    /// <summary>The silo's clock at <see cref="T"/> (samples far from it are not taken).</summary>
    private static FakeTimeProvider Clock() => new(DateTimeOffset.FromUnixTimeMilliseconds(T));

    private static Dictionary<string, string> L(params string[] pairs)
    {
        var d = new Dictionary<string, string>();
        for (var i = 0; i < pairs.Length; i += 2) d[pairs[i]] = pairs[i + 1];
        return d;
    }

    private static void Scrape(MetricIntake intake, HashSet<string> touched, long at, string instance, double idle, double user, double up = 1, double memAvailable = 6e9)
    {
        void One(string name, Dictionary<string, string> labels, double v)
        {
            labels["instance"] = instance;
            labels["job"] = "node";
            intake.Observe(name, labels, [new MetricSample(at, v)], Policy, Rules, touched);
        }
        One("up", L(), up);
        One("node_memory_MemTotal_bytes", L(), 16e9);
        One("node_memory_MemAvailable_bytes", L(), memAvailable);
        One("node_cpu_seconds_total", L("cpu", "0", "mode", "idle"), idle);
        One("node_cpu_seconds_total", L("cpu", "0", "mode", "user"), user);
        One("node_cpu_seconds_total", L("cpu", "1", "mode", "idle"), idle);
        One("node_filesystem_size_bytes", L("mountpoint", "/"), 100e9);
        One("node_filesystem_avail_bytes", L("mountpoint", "/"), 25e9);
        One("node_filesystem_avail_bytes", L("mountpoint", "/boot"), 1);
        One("node_systemd_unit_state", L("name", "nginx.service", "state", "failed"), 0);
        One("some_other_series", L(), 42);
    }

    [Fact]
    public void Scrapes_BecomeReports_WithRealFigures_NamedByTheHostOfInstance()
    {
        var intake = new MetricIntake(Clock());
        var touched = new HashSet<string>();
        Scrape(intake, touched, T, "web-01:9100", idle: 100, user: 50);
        Assert.Equal(["web-01"], touched);
        var first = intake.Take("web-01", Policy, Rules, TimeSpan.FromSeconds(30))!;
        Assert.Equal(T, first.Report.Sequence);
        Assert.Equal(16_000_000_000, first.Report.MemoryTotalBytes);
        Assert.Equal(10_000_000_000, first.Report.MemoryUsedBytes);
        Assert.Equal(75, first.Report.DiskUsedPercent);
        Assert.Equal("intake", first.Report.Source);
        Assert.Equal(2, first.Capacity.CpuCores);
        Assert.Equal("monitored", first.Domain);
        var check = Assert.Single(first.Report.Checks);
        Assert.Equal("node_systemd_unit_state.failed", check.Name);
        Assert.True(check.Passed);
        Assert.Null(intake.Take("web-01", Policy, Rules, TimeSpan.FromSeconds(30))); // nothing new

        // 15 s later: each cpu's idle +5, cpu0's user +10 → busy 10 of 20 CPU seconds.
        Scrape(intake, touched, T + 15_000, "web-01:9100", idle: 105, user: 60);
        var second = intake.Take("web-01", Policy, Rules, TimeSpan.FromSeconds(30))!;
        Assert.Equal(50, second.Report.CpuPercent, 2);
        Assert.Equal(T + 15_000, second.Report.Sequence);
    }

    [Fact]
    public void ExporterDown_OrStaleMemory_GivesNoReport_NeverHealthy()
    {
        var intake = new MetricIntake(Clock());
        var touched = new HashSet<string>();
        Scrape(intake, touched, T, "db-01:9100", 100, 50);
        Assert.NotNull(intake.Take("db-01", Policy, Rules, TimeSpan.FromSeconds(30)));
        // The target is down: Prometheus writes up 0 and staleness markers.
        Scrape(intake, touched, T + 1000, "db-01:9100", double.NaN, double.NaN, up: 0, memAvailable: double.NaN);
        Assert.Null(intake.Take("db-01", Policy, Rules, TimeSpan.FromSeconds(30)));
        // up is back but the memory series went stale: still no report.
        intake.Observe("up", L("instance", "db-01:9100"), [new MetricSample(T + 2000, 1)], Policy, Rules, touched);
        Assert.Null(intake.Take("db-01", Policy, Rules, TimeSpan.FromSeconds(30)));
        intake.Observe("node_memory_MemAvailable_bytes", L("instance", "db-01:9100"), [new MetricSample(T + 3000, 8e9)], Policy, Rules, touched);
        intake.Observe("node_memory_MemTotal_bytes", L("instance", "db-01:9100"), [new MetricSample(T + 3000, 16e9)], Policy, Rules, touched);
        Assert.Equal(8_000_000_000, intake.Take("db-01", Policy, Rules, TimeSpan.FromSeconds(30))!.Report.MemoryUsedBytes);
    }

    [Fact]
    public void AFailingUnit_FailsItsCheck_WithTheSeriesNamed_AndALateShardNeverGoesBack()
    {
        var intake = new MetricIntake(Clock());
        var touched = new HashSet<string>();
        Scrape(intake, touched, T, "app-01:9100", 100, 50);
        intake.Observe("node_systemd_unit_state", L("instance", "app-01:9100", "name", "nginx.service", "state", "failed"), [new MetricSample(T + 5000, 1)], Policy, Rules, touched);
        var report = intake.Take("app-01", Policy, Rules, TimeSpan.FromSeconds(30))!;
        var check = Assert.Single(report.Report.Checks);
        Assert.False(check.Passed);
        Assert.Contains("nginx.service", check.Detail);
        // A shard with older samples arrives late: nothing moves, nothing is reported backwards.
        touched.Clear();
        intake.Observe("node_memory_MemAvailable_bytes", L("instance", "app-01:9100"), [new MetricSample(T - 1000, 1e9)], Policy, Rules, touched);
        Assert.Empty(touched);
        Assert.Null(intake.Take("app-01", Policy, Rules, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void HostileSamples_FarAhead_Infinite_OrNegative_NeitherThrowNorHoldTheNodeBack()
    {
        var intake = new MetricIntake(Clock());
        var touched = new HashSet<string>();
        // A sample a year ahead is not taken: it would be refused as a report, and kept, it would hold back every real one.
        intake.Observe("up", L("instance", "evil-01:9100"), [new MetricSample(T + 365L * 24 * 3600 * 1000, 1)], Policy, Rules, touched);
        intake.Observe("node_memory_MemTotal_bytes", L("instance", "evil-01:9100"), [new MetricSample(T, double.PositiveInfinity)], Policy, Rules, touched);
        Assert.Empty(touched);
        // A negative total is no report, not an exception.
        intake.Observe("node_memory_MemTotal_bytes", L("instance", "evil-01:9100"), [new MetricSample(T, -1)], Policy, Rules, touched);
        intake.Observe("node_memory_MemAvailable_bytes", L("instance", "evil-01:9100"), [new MetricSample(T, 5)], Policy, Rules, touched);
        Assert.Null(intake.Take("evil-01", Policy, Rules, TimeSpan.FromSeconds(30)));
        // Real samples after all that are reported.
        Scrape(intake, touched, T + 1000, "evil-01:9100", 100, 50);
        Assert.Equal(16_000_000_000, intake.Take("evil-01", Policy, Rules, TimeSpan.FromSeconds(30))!.Report.MemoryTotalBytes);
        // Made-up CPU series are bounded, so the capacity they would claim is too.
        for (var cpu = 0; cpu < 5000; cpu++)
            intake.Observe("node_cpu_seconds_total", L("instance", "evil-01:9100", "cpu", cpu.ToString(), "mode", "idle"), [new MetricSample(T + 2000, 1)], Policy, Rules, touched);
        Scrape(intake, touched, T + 3000, "evil-01:9100", 200, 60);
        Assert.True(intake.Take("evil-01", Policy, Rules, TimeSpan.FromSeconds(30))!.Capacity.CpuCores <= 1024);
    }

    [Fact]
    public void FiguresLeftBehind_AreNotReadAsNow_WhenAnotherSeriesOfTheNodeMoves()
    {
        var intake = new MetricIntake(Clock());
        var touched = new HashSet<string>();
        Scrape(intake, touched, T - 600_000, "old-01:9100", 100, 50);
        Assert.NotNull(intake.Take("old-01", Policy, Rules, TimeSpan.FromSeconds(30)));
        // Ten minutes on, only a CPU counter moves (the memory series' staleness markers were lost): no report from the old memory.
        intake.Observe("node_cpu_seconds_total", L("instance", "old-01:9100", "cpu", "0", "mode", "idle"), [new MetricSample(T, 700)], Policy, Rules, touched);
        Assert.Null(intake.Take("old-01", Policy, Rules, TimeSpan.FromSeconds(30)));
        Scrape(intake, touched, T + 1000, "old-01:9100", 800, 60);
        Assert.NotNull(intake.Take("old-01", Policy, Rules, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void ChecksAreKeptByTheirText_SoAPolicyThatReordersThemJudgesNothingByTheWrongRule()
    {
        var intake = new MetricIntake(Clock());
        var touched = new HashSet<string>();
        ImmutableArray<CheckRule> first = [CheckRule.Parse("node_load1 < 10", out _)!, CheckRule.Parse("node_systemd_unit_state{state=\"failed\"} == 0", out _)!];
        Scrape(intake, touched, T, "ord-01:9100", 100, 50);
        intake.Observe("node_load1", L("instance", "ord-01:9100"), [new MetricSample(T + 500, 3.2)], Policy, first, touched);
        Assert.All(intake.Take("ord-01", Policy, first, TimeSpan.FromSeconds(30))!.Report.Checks, c => Assert.True(c.Passed));
        // The same checks in the other order: node_load1's 3.2 is not judged by the systemd rule now at its place.
        ImmutableArray<CheckRule> swapped = [first[1], first[0]];
        Scrape(intake, touched, T + 1000, "ord-01:9100", 200, 60);
        Assert.All(intake.Take("ord-01", Policy, swapped, TimeSpan.FromSeconds(30))!.Report.Checks, c => Assert.True(c.Passed));
    }

    [Fact]
    public void OpenTelemetryHostMetrics_MapToTheSameReport_ByHostName()
    {
        var intake = new MetricIntake(Clock());
        var touched = new HashSet<string>();
        var at = T;
        void Otel(string name, double v, params string[] labels) =>
            intake.Observe(name, L([.. labels, "host.name", "otel-01", "service.name", "host"]), [new MetricSample(at, v)], Policy, Rules, touched);
        Otel("system.memory.usage", 3e9, "state", "used");
        Otel("system.memory.usage", 1e9, "state", "free");
        Otel("system.filesystem.usage", 40, "mountpoint", "/", "state", "used");
        Otel("system.filesystem.usage", 60, "mountpoint", "/", "state", "free");
        Otel("system.cpu.time", 10, "cpu", "0", "state", "idle");
        var report = intake.Take("otel-01", Policy, Rules, TimeSpan.FromSeconds(30))!;
        Assert.Equal(4_000_000_000, report.Report.MemoryTotalBytes);
        Assert.Equal(3_000_000_000, report.Report.MemoryUsedBytes);
        Assert.Equal(40, report.Report.DiskUsedPercent);
    }

    [Fact]
    public void NodesPastTheBound_AndNamesFleetRefuses_AreDropped_NotKept()
    {
        var intake = new MetricIntake(Clock(), maxNodes: 2);
        var touched = new HashSet<string>();
        foreach (var n in new[] { "a:1", "b:1", "c:1" }) Scrape(intake, touched, T, n, 1, 1);
        intake.Observe("up", L("node", "bad name with spaces"), [new MetricSample(T, 1)], Policy, Rules, touched);
        intake.Observe("up", L(), [new MetricSample(T, 1)], Policy, Rules, touched);
        Assert.Equal(2, intake.Nodes);
        Assert.True(intake.Dropped > 0);
        Assert.Equal(["a", "b"], touched.Order());
    }

    [Theory]
    [InlineData("up == 1", "up", true)]
    [InlineData("node_systemd_unit_state{state=\"failed\", name=\"x.service\"} < 1", "node_systemd_unit_state.failed.x.service", true)]
    [InlineData("up ==", null, false)]
    [InlineData("up{state=failed} == 0", null, false)]
    [InlineData("rate(x[5m]) > 1", null, false)]
    public void CheckRules_ParseTheirOneShape_AndNameThemselves(string text, string? name, bool ok)
    {
        var rule = CheckRule.Parse(text, out var problem);
        Assert.Equal(ok, rule is not null);
        if (ok) Assert.Equal(name, rule!.Name);
        else Assert.False(string.IsNullOrEmpty(problem));
    }

    [Theory]
    [InlineData("web-01:9100", "web-01")]
    [InlineData("[fe80::1]:9100", "fe80::1")]
    [InlineData("10.0.0.5", "10.0.0.5")]
    public void HostOfInstance(string instance, string host) => Assert.Equal(host, MetricIntake.HostOf(instance));

    [Fact]
    public void ThePolicysIntakeSection_ParsesRefusesAndRoundTrips()
    {
        var parsed = PolicyParser.Parse("""
            intake:
              nodeLabel: hostname
              serviceLabel: app
              domain: dc-1
              register: false
              checks: ["up == 1", "node_systemd_unit_state{state=\"failed\"} == 0"]
              series:
                mountpoint: /data
            """);
        Assert.True(parsed.IsValid, string.Join("; ", parsed.Problems));
        var intake = parsed.Policy!.Intake;
        Assert.Equal("hostname", intake.NodeLabel);
        Assert.Equal("app", intake.ServiceLabel);
        Assert.Equal("link", intake.LinkLabel); // the default where the section is silent
        Assert.False(intake.Register);
        Assert.Equal("/data", intake.Mountpoint);
        Assert.Equal(2, intake.Checks.Length);
        var again = PolicyParser.Parse(PolicyWriter.Write(parsed.Policy));
        Assert.True(again.IsValid, string.Join("; ", again.Problems));
        Assert.Equal(intake.Checks.ToArray(), again.Policy!.Intake.Checks.ToArray());
        Assert.Equal(intake with { Checks = [] }, again.Policy.Intake with { Checks = [] });

        var bad = PolicyParser.Parse("intake:\n  checks: [\"rate(x[5m]) > 1\"]\n  domain: \"no spaces allowed\"\n  colour: red\n");
        Assert.False(bad.IsValid);
        Assert.Contains(bad.Problems, p => p.Path == "intake.checks[0]");
        Assert.Contains(bad.Problems, p => p.Path == "intake.domain");
        Assert.Contains(bad.Problems, p => p.Path.Contains("colour"));
    }
}
