using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Core.Health;

namespace Fleet.Core.Tests.Health;

public class NodeMonitorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly FleetPolicy Policy = FleetPolicy.Default;
    private const long Gi = 1L << 30;

    private static TelemetryReport Report(long seq, DateTimeOffset at, double cpu = 10, long used = 2 * Gi, bool checkOk = true, double ttlSeconds = 30) =>
        new(seq, at, TimeSpan.FromSeconds(ttlSeconds), cpu, used, 16 * Gi, 20, [new CheckResult("http", checkOk, checkOk ? null : "503")]);

    private static NodeHealthModel Feed(NodeHealthModel m, params TelemetryReport[] reports)
    {
        foreach (var r in reports) m = NodeMonitor.OnReport(m, r, r.Timestamp, Policy).Model;
        return m;
    }

    [Fact]
    public void Intake_IsNotTakenWhileTheNodesAgentIsHeard_AndEachTakesOverWithItsOwnSequence()
    {
        var intake = (long seq, DateTimeOffset at) => Report(seq, at) with { Source = NodeMonitor.IntakeSource };
        var m = Feed(NodeHealthModel.Initial(T0), Report(1, T0), Report(2, T0.AddSeconds(1)));
        // The agent is heard (its report lives 30 s): intake's report, numbered by a sample's time, is not taken.
        var j = NodeMonitor.OnReport(m, intake(1_800_000_000_000, T0.AddSeconds(2)), T0.AddSeconds(2), Policy);
        Assert.Equal(ReportOutcome.DuplicateOrOutOfOrder, j.Outcome);
        // The agent goes silent past its TTL: intake takes over.
        j = NodeMonitor.OnReport(m, intake(1_800_000_000_000, T0.AddSeconds(40)), T0.AddSeconds(40), Policy);
        Assert.Equal(ReportOutcome.Accepted, j.Outcome);
        m = j.Model;
        Assert.Equal(ReportOutcome.Accepted, NodeMonitor.OnReport(m, intake(1_800_000_001_000, T0.AddSeconds(41)), T0.AddSeconds(41), Policy).Outcome);
        // The agent comes back with its own counter (far below intake's numbers): it takes over again, and is not locked out.
        j = NodeMonitor.OnReport(m, Report(3, T0.AddSeconds(42)), T0.AddSeconds(42), Policy);
        Assert.Equal(ReportOutcome.Accepted, j.Outcome);
        Assert.Equal(ReportOutcome.Accepted, NodeMonitor.OnReport(j.Model, Report(4, T0.AddSeconds(43)), T0.AddSeconds(43), Policy).Outcome);
        Assert.Equal(ReportOutcome.DuplicateOrOutOfOrder, NodeMonitor.OnReport(j.Model, Report(3, T0.AddSeconds(43)), T0.AddSeconds(43), Policy).Outcome);
    }

    [Fact]
    public void OnReport_FirstCleanReport_Healthy()
    {
        var j = NodeMonitor.OnReport(NodeHealthModel.Initial(T0), Report(1, T0), T0, Policy);
        Assert.Equal(ReportOutcome.Accepted, j.Outcome);
        Assert.Equal(HealthState.Healthy, j.Model.Health);
        Assert.NotNull(j.Change);
        Assert.Equal(HealthState.Unknown, j.Change!.From);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(4)]
    public void OnReport_SameOrOlderSequence_DroppedAndStateUnchanged(long seq)
    {
        var m = Feed(NodeHealthModel.Initial(T0), Report(5, T0));
        var j = NodeMonitor.OnReport(m, Report(seq, T0.AddSeconds(1), checkOk: false), T0.AddSeconds(1), Policy);
        Assert.Equal(ReportOutcome.DuplicateOrOutOfOrder, j.Outcome);
        Assert.Same(m, j.Model);
    }

    [Fact]
    public void OnReport_ExpiredOnArrival_RejectedNotHealthy()
    {
        var j = NodeMonitor.OnReport(NodeHealthModel.Initial(T0), Report(1, T0, ttlSeconds: 5), T0.AddSeconds(6), Policy);
        Assert.Equal(ReportOutcome.Expired, j.Outcome);
        Assert.Equal(HealthState.Unknown, j.Model.Health);
    }

    [Fact]
    public void OnReport_FailedChecksBelowStreak_DegradedThenUnhealthyAtStreak()
    {
        var m = NodeHealthModel.Initial(T0);
        m = Feed(m, Report(1, T0));
        m = Feed(m, Report(2, T0.AddSeconds(10), checkOk: false));
        Assert.Equal(HealthState.Degraded, m.Health);
        m = Feed(m, Report(3, T0.AddSeconds(20), checkOk: false));
        Assert.Equal(HealthState.Degraded, m.Health);
        var j = NodeMonitor.OnReport(m, Report(4, T0.AddSeconds(30), checkOk: false), T0.AddSeconds(30), Policy);
        Assert.Equal(HealthState.Unhealthy, j.Model.Health);
        Assert.Contains("check 'http' failed (503), 3 report(s) in a row", j.Change!.Reason);
    }

    [Fact]
    public void OnReport_UnhealthyNeedsRecoverStreak_Hysteresis()
    {
        var m = Feed(NodeHealthModel.Initial(T0), Report(1, T0, checkOk: false), Report(2, T0.AddSeconds(1), checkOk: false), Report(3, T0.AddSeconds(2), checkOk: false));
        Assert.Equal(HealthState.Unhealthy, m.Health);
        m = Feed(m, Report(4, T0.AddSeconds(3)));
        Assert.Equal(HealthState.Unhealthy, m.Health);
        m = Feed(m, Report(5, T0.AddSeconds(4)));
        Assert.Equal(HealthState.Healthy, m.Health);
    }

    [Fact]
    public void OnReport_OneCpuSpike_StaysHealthy_TwoInARow_Degraded()
    {
        var m = Feed(NodeHealthModel.Initial(T0), Report(1, T0), Report(2, T0.AddSeconds(1), cpu: 97));
        Assert.Equal(HealthState.Healthy, m.Health);
        m = Feed(m, Report(3, T0.AddSeconds(2), cpu: 97));
        Assert.Equal(HealthState.Degraded, m.Health);
        Assert.Contains(m.Conditions, c => c.Type == ConditionTypes.CpuPressure && c.Reason.Contains("97%"));
        m = Feed(m, Report(4, T0.AddSeconds(3)));
        Assert.Equal(HealthState.Degraded, m.Health);
        m = Feed(m, Report(5, T0.AddSeconds(4)));
        Assert.Equal(HealthState.Healthy, m.Health);
    }

    [Fact]
    public void OnTick_Silence_SuspectThenUnhealthy()
    {
        var m = Feed(NodeHealthModel.Initial(T0), Report(1, T0, ttlSeconds: 100));
        Assert.Null(NodeMonitor.OnTick(m, T0.AddSeconds(29), T0, Policy).Change);
        var suspect = NodeMonitor.OnTick(m, T0.AddSeconds(30), T0, Policy);
        Assert.Equal(HealthState.Suspect, suspect.Model.Health);
        Assert.Contains("no report for 30 s", suspect.Change!.Reason);
        var unhealthy = NodeMonitor.OnTick(suspect.Model, T0.AddSeconds(60), T0, Policy);
        Assert.Equal(HealthState.Unhealthy, unhealthy.Model.Health);
        Assert.Contains(unhealthy.Model.Conditions, c => c.Type == ConditionTypes.Silent);
    }

    [Fact]
    public void OnTick_ExpiredReportBeforeSilenceLimit_SuspectWithStaleCondition()
    {
        var m = Feed(NodeHealthModel.Initial(T0), Report(1, T0, ttlSeconds: 5));
        var j = NodeMonitor.OnTick(m, T0.AddSeconds(6), T0, Policy);
        Assert.Equal(HealthState.Suspect, j.Model.Health);
        Assert.Contains(j.Model.Conditions, c => c.Type == ConditionTypes.Stale);
        Assert.Contains("no longer known", j.Change!.Reason);
    }

    [Fact]
    public void OnTick_SilenceCountsFromWatchStart_AfterRestart()
    {
        var longTtl = Policy with { Telemetry = Policy.Telemetry with { MaxTtl = TimeSpan.FromHours(1) } };
        var m = NodeMonitor.OnReport(NodeHealthModel.Initial(T0), Report(1, T0, ttlSeconds: 3600), T0, longTtl).Model;
        var restartedAt = T0.AddMinutes(10);
        Assert.Null(NodeMonitor.OnTick(m, restartedAt.AddSeconds(20), restartedAt, longTtl).Change);
        Assert.Equal(HealthState.Suspect, NodeMonitor.OnTick(m, restartedAt.AddSeconds(31), restartedAt, longTtl).Model.Health);
    }

    [Fact]
    public void OnReport_RisingMemory_RaisesForecastCondition()
    {
        var m = NodeHealthModel.Initial(T0);
        // 16 GiB total, rising 1 GiB per minute from 4 GiB: out of memory in about 12 minutes after the last sample.
        for (var i = 0; i < 6; i++) m = Feed(m, Report(i + 1, T0.AddMinutes(i), used: (4 + i) * Gi));
        Assert.Contains(m.Conditions, c => c.Type == ConditionTypes.MemoryExhaustionForecast);
        Assert.Equal(HealthState.Degraded, m.Health);
        Assert.InRange(m.Forecast!.TimeToExhaustion!.Value.TotalMinutes, 6.5, 7.5);
    }

    [Fact]
    public void OnReport_FlatMemory_NoForecast()
    {
        var m = NodeHealthModel.Initial(T0);
        for (var i = 0; i < 10; i++) m = Feed(m, Report(i + 1, T0.AddMinutes(i), used: 12 * Gi));
        Assert.DoesNotContain(m.Conditions, c => c.Type == ConditionTypes.MemoryExhaustionForecast);
        Assert.Null(m.Forecast!.TimeToExhaustion);
    }

    private static TelemetryReport Load(long seq, DateTimeOffset at, double cpu, double disk) =>
        new(seq, at, TimeSpan.FromSeconds(30), cpu, 2 * Gi, 16 * Gi, disk, [new CheckResult("http", true, null)]);

    private static NodeHealthModel FeedWith(FleetPolicy policy, NodeHealthModel m, IEnumerable<TelemetryReport> reports)
    {
        foreach (var r in reports) m = NodeMonitor.OnReport(m, r, r.Timestamp, policy).Model;
        return m;
    }

    [Fact]
    public void OnReport_FillingDisk_RaisesDiskForecast_WithItsFigures()
    {
        // 80 % and rising 1 % a minute: full in about 20 minutes from the sixth report, inside the 30-minute horizon.
        var m = NodeHealthModel.Initial(T0);
        for (var i = 0; i < 5; i++) m = Feed(m, Load(i + 1, T0.AddMinutes(i), cpu: 10, disk: 80 + i));
        Assert.DoesNotContain(m.Conditions, c => c.Type == ConditionTypes.DiskFullForecast); // 5 samples: not yet trusted
        var j = NodeMonitor.OnReport(m, Load(6, T0.AddMinutes(5), cpu: 10, disk: 85), T0.AddMinutes(5), Policy);
        var c = Assert.Single(j.Model.Conditions, c => c.Type == ConditionTypes.DiskFullForecast);
        Assert.Contains("the disk will reach 100% in about 15 min", c.Reason);
        Assert.Contains("rising 1%/min", c.Reason);
        Assert.Equal(HealthState.Degraded, j.Model.Health);
        Assert.True(j.ForecastBreached);
        Assert.Equal("the disk filling", j.Model.ForeseenText);
        Assert.Equal("15 min", j.Change!.Evidence["forecast.disk.timeToLimit"]);
        Assert.Contains("the disk will reach", j.Change.Reason);
        // Slower than the horizon allows: 0.1 % a minute from 40 % takes 10 hours.
        var slow = NodeHealthModel.Initial(T0);
        for (var i = 0; i < 10; i++) slow = Feed(slow, Load(i + 1, T0.AddMinutes(i), cpu: 10, disk: 40 + 0.1 * i));
        Assert.False(slow.Foreseen);
        // A disk that jumped once (20 % to 40 %) and stayed is not filling: the line through the step fits too poorly.
        var step = NodeHealthModel.Initial(T0);
        step = Feed(step, Load(1, T0, cpu: 10, disk: 20));
        for (var i = 1; i < 8; i++)
        {
            step = Feed(step, Load(i + 1, T0.AddMinutes(i), cpu: 10, disk: 40));
            Assert.False(step.Foreseen, $"after report {i + 1}");
        }
        var believed = FeedWith(Policy with { Forecast = Policy.Forecast with { Disk = Policy.Forecast.Disk with { MinFit = 0 } } }, NodeHealthModel.Initial(T0),
            new[] { Load(1, T0, 10, 20) }.Concat(Enumerable.Range(1, 5).Select(i => Load(i + 1, T0.AddMinutes(i), 10, 40))));
        Assert.True(believed.Foreseen, "believed at any fit, the step would be read as filling");
        // Turned off, the same filling disk foresees nothing.
        var off = Policy with { Forecast = Policy.Forecast with { Disk = Policy.Forecast.Disk with { Enabled = false } } };
        var quiet = FeedWith(off, NodeHealthModel.Initial(T0), Enumerable.Range(0, 8).Select(i => Load(i + 1, T0.AddMinutes(i), 10, 80 + i)));
        Assert.False(quiet.Foreseen);
        Assert.Equal(HealthState.Healthy, quiet.Health);
    }

    [Fact]
    public void OnReport_CpuClimbingOnALine_RaisesCpuForecast_NoisyCpuDoesNot()
    {
        // 50 % climbing 5 % a minute: 95 % in 4 minutes after the sixth report (75 %), on a perfect line (R² 1).
        var ramp = NodeHealthModel.Initial(T0);
        for (var i = 0; i < 6; i++) ramp = Feed(ramp, Load(i + 1, T0.AddMinutes(i), cpu: 50 + 5 * i, disk: 40));
        var c = Assert.Single(ramp.Conditions, c => c.Type == ConditionTypes.CpuSaturationForecast);
        Assert.Contains("CPU will reach 95% in about 4 min", c.Reason);
        Assert.Contains("R² 1", c.Reason);
        Assert.Equal("CPU saturation", ramp.ForeseenText);

        // The same climb in a burst of reports a second apart (6 seconds in all) is not a trend: under the CPU's 3-minute minSpan.
        var burst = NodeHealthModel.Initial(T0);
        for (var i = 0; i < 10; i++) burst = Feed(burst, Load(i + 1, T0.AddSeconds(i), cpu: 50 + 5 * i, disk: 40));
        Assert.DoesNotContain(burst.Conditions, c => c.Type == ConditionTypes.CpuSaturationForecast);

        // Noise around a slight rise: the line through it would cross 95 % within the horizon, but it explains too little
        // of the samples (R² well under 0.8), so nothing is foreseen.
        var random = new Random(7);
        var noisy = NodeHealthModel.Initial(T0);
        for (var i = 0; i < 30; i++) noisy = Feed(noisy, Load(i + 1, T0.AddMinutes(i), cpu: 40 + 1.5 * i + random.Next(-30, 30), disk: 40));
        Assert.DoesNotContain(noisy.Conditions, c => c.Type == ConditionTypes.CpuSaturationForecast);
        // The same noise, believed at any fit: it is foreseen, which is why the CPU's default asks for one.
        var anyFit = Policy with { Forecast = Policy.Forecast with { Cpu = Policy.Forecast.Cpu with { MinFit = 0 } } };
        random = new Random(7);
        var believed = FeedWith(anyFit, NodeHealthModel.Initial(T0),
            Enumerable.Range(0, 30).Select(i => Load(i + 1, T0.AddMinutes(i), 40 + 1.5 * i + random.Next(-30, 30), 40)));
        Assert.Contains(believed.Conditions, c => c.Type == ConditionTypes.CpuSaturationForecast);
    }

    [Fact]
    public void LoadSamples_KeepTheLastMaxSamples_AlignedWithTheMemorySamples()
    {
        var policy = Policy with { Forecast = Policy.Forecast with { MaxSamples = 8 } };
        var m = FeedWith(policy, NodeHealthModel.Initial(T0), Enumerable.Range(0, 20).Select(i => Load(i + 1, T0.AddMinutes(i), i, 50 + i)));
        Assert.Equal(8, m.LoadSamples!.Length);
        Assert.Equal(8, m.MemorySamples.Count);
        Assert.Equal(19, Fleet.Core.Forecasting.LoadSamples.Of(m.LoadSamples[^1], Fleet.Core.Forecasting.LoadFigure.Cpu));
        Assert.Equal(69, Fleet.Core.Forecasting.LoadSamples.Of(m.LoadSamples[^1], Fleet.Core.Forecasting.LoadFigure.Disk));
        Assert.Equal(12.5, Fleet.Core.Forecasting.LoadSamples.Of(Fleet.Core.Forecasting.LoadSamples.Pack(12.5, 100), Fleet.Core.Forecasting.LoadFigure.Cpu));
        Assert.Equal(100, Fleet.Core.Forecasting.LoadSamples.Of(Fleet.Core.Forecasting.LoadSamples.Pack(12.5, 100), Fleet.Core.Forecasting.LoadFigure.Disk));
        // Out of range or not a number, a figure is kept inside 0–100.
        Assert.Equal(0, Fleet.Core.Forecasting.LoadSamples.Of(Fleet.Core.Forecasting.LoadSamples.Pack(double.NaN, -5), Fleet.Core.Forecasting.LoadFigure.Disk));
        Assert.Equal(100, Fleet.Core.Forecasting.LoadSamples.Of(Fleet.Core.Forecasting.LoadSamples.Pack(1e9, 0), Fleet.Core.Forecasting.LoadFigure.Cpu));
        // A node stored before load samples were kept (memory samples, no load ones) forecasts from what it has.
        var old = m with { LoadSamples = null };
        var j = NodeMonitor.OnReport(old, Load(21, T0.AddMinutes(20), 20, 70), T0.AddMinutes(20), policy);
        Assert.Single(j.Model.LoadSamples!);
    }

    /// <summary>The figures of a change of health are written when it changes (and only then): every figure is there.</summary>
    [Fact]
    public void OnReport_ChangeOfHealth_CarriesEveryFigure_NoChangeCarriesNone()
    {
        var first = NodeMonitor.OnReport(NodeHealthModel.Initial(T0), Report(1, T0, cpu: 12.5), T0, Policy);
        var evidence = first.Change!.Evidence;
        Assert.Equal("1", evidence["sequence"]);
        Assert.StartsWith("12.5", evidence["CPU"]);
        Assert.Contains("threshold", evidence["memory"]);
        Assert.Contains("threshold", evidence["disk"]);
        Assert.DoesNotContain("failedStreak", evidence.Keys);

        var same = NodeMonitor.OnReport(first.Model, Report(2, T0.AddSeconds(10)), T0.AddSeconds(10), Policy);
        Assert.Null(same.Change);
        Assert.Equal(HealthState.Healthy, same.Model.Health);

        var failing = NodeMonitor.OnReport(same.Model, Report(3, T0.AddSeconds(20), checkOk: false), T0.AddSeconds(20), Policy);
        Assert.Equal(HealthState.Degraded, failing.Change!.To);
        Assert.Equal("failed (503)", failing.Change.Evidence["check.http"]);
        Assert.Equal($"1 (Unhealthy at {Policy.Health.UnhealthyAfterFailedReports})", failing.Change.Evidence["failedStreak"]);
        Assert.Contains(failing.Model.Conditions, c => c.Type == ConditionTypes.CheckFailed && c.Reason == "check 'http' failed (503), 1 report(s) in a row");
    }

    /// <summary>
    /// Reports arrive as fresh copies (deserialized per message): what did not change is kept once — the node's own
    /// earlier checks and source, and passing checks as another node reports them — while what the report says is kept exactly.
    /// </summary>
    [Fact]
    public void KeptReport_SharesUnchangedParts_WithTheNodesEarlierReportAndOtherNodes()
    {
        static TelemetryReport Fresh(long seq, DateTimeOffset at, bool ok = true) =>
            new(seq, at, TimeSpan.FromSeconds(30), 10, 2 * Gi, 16 * Gi, 20,
                [new CheckResult(new string("disk-io".AsSpan()), ok, ok ? null : new string("timeout".AsSpan()))], new string("agent-7".AsSpan()));

        var a = Feed(NodeHealthModel.Initial(T0), Fresh(1, T0));
        var b = Feed(NodeHealthModel.Initial(T0), Fresh(1, T0));
        Assert.True(a.LastReport!.Checks == b.LastReport!.Checks, "two nodes' equal passing checks are one list");
        Assert.Same(a.LastReport.Source, b.LastReport.Source);

        var a2 = Feed(a, Fresh(2, T0.AddSeconds(10)));
        Assert.True(a2.LastReport!.Checks == a.LastReport.Checks);
        Assert.Equal(2, a2.LastReport.Sequence);
        Assert.Equal(T0.AddSeconds(10), a2.LastReport.Timestamp);

        // A failing check (with its detail) is kept as it came, never pooled; its content is the report's.
        var failing = Fresh(3, T0.AddSeconds(20), ok: false);
        var a3 = Feed(a2, failing);
        Assert.Equal(failing.Checks.ToArray(), a3.LastReport!.Checks.ToArray());
        Assert.False(a3.LastReport.Checks == a2.LastReport.Checks);
        var b3 = Feed(b, Fresh(2, T0.AddSeconds(20), ok: false));
        Assert.False(a3.LastReport.Checks == b3.LastReport!.Checks);
        Assert.Equal(a3.LastReport.Checks.ToArray(), b3.LastReport.Checks.ToArray());
    }

    private static TelemetryReport Starting(long seq, DateTimeOffset at) =>
        new(seq, at, TimeSpan.FromSeconds(30), 10, 2 * Gi, 16 * Gi, 20, [new CheckResult("http", false, "connection refused", Starting: true)]);

    [Fact]
    public void OnReport_CheckStartingForManyReports_DegradedNeverUnhealthy_ThenHealthyOnceItPasses()
    {
        var m = NodeHealthModel.Initial(T0);
        var first = NodeMonitor.OnReport(m, Starting(1, T0), T0, Policy);
        Assert.Equal(HealthState.Degraded, first.Model.Health);
        Assert.Equal("check 'http' not passing yet while it starts, inside its start grace (connection refused); not counted as failed", first.Change!.Reason);
        Assert.Equal("starting (connection refused)", first.Change.Evidence["check.http"]);
        Assert.False(first.Change.Evidence.ContainsKey("failedStreak"));
        m = first.Model;
        for (var i = 2; i <= 3 * Policy.Health.UnhealthyAfterFailedReports; i++)
            m = Feed(m, Starting(i, T0.AddSeconds(10 * i)));
        Assert.Equal(HealthState.Degraded, m.Health);
        Assert.Equal(0, m.FailedStreak);
        Assert.Contains(m.Conditions, c => c.Type == ConditionTypes.CheckStarting);
        Assert.DoesNotContain(m.Conditions, c => c.Type == ConditionTypes.CheckFailed);

        m = Feed(m, Report(100, T0.AddSeconds(1000)));
        Assert.Equal(HealthState.Degraded, m.Health); // a passing report is one of the clean reports recovery needs
        m = Feed(m, Report(101, T0.AddSeconds(1010)));
        Assert.Equal(HealthState.Healthy, m.Health);
    }

    [Fact]
    public void OnReport_StartingThenFailing_FailuresCountFromTheFirstUnmarkedReport()
    {
        var m = Feed(NodeHealthModel.Initial(T0), Starting(1, T0), Starting(2, T0.AddSeconds(10)));
        for (var i = 1; i < Policy.Health.UnhealthyAfterFailedReports; i++)
            m = Feed(m, Report(2 + i, T0.AddSeconds(10 + 10 * i), checkOk: false));
        Assert.Equal(HealthState.Degraded, m.Health);
        m = Feed(m, Report(10, T0.AddSeconds(100), checkOk: false));
        Assert.Equal(HealthState.Unhealthy, m.Health);
    }

    [Fact]
    public void OnReport_UnhealthyNode_StartingCheckIsNotARecovery()
    {
        var m = NodeHealthModel.Initial(T0);
        for (var i = 1; i <= Policy.Health.UnhealthyAfterFailedReports; i++) m = Feed(m, Report(i, T0.AddSeconds(10 * i), checkOk: false));
        Assert.Equal(HealthState.Unhealthy, m.Health);
        for (var i = 10; i < 20; i++) m = Feed(m, Starting(i, T0.AddSeconds(10 * i)));
        Assert.Equal(HealthState.Unhealthy, m.Health);
        Assert.Equal(0, m.PassingStreak);
    }

    [Fact]
    public void OnReport_StartingLongerThanMaxStartGrace_CountsAsFailed_ThenMarksNoLongerHonoured()
    {
        // A reporter that keeps saying "starting" (one that restarts over and over, each run in a new grace) cannot hide a
        // broken check: after the policy's maxStartGrace (5 min) the check counts as failed, and once it has failed
        // unmarked, a starting mark on it is not taken until it passes.
        var m = NodeHealthModel.Initial(T0);
        var seq = 0;
        for (var at = 0; at < 300; at += 10) m = Feed(m, Starting(++seq, T0.AddSeconds(at)));
        Assert.Equal(HealthState.Degraded, m.Health);
        Assert.Equal(T0, m.Conditions.Single(c => c.Type == ConditionTypes.CheckStarting).Since); // carried from the first
        m = Feed(m, Starting(++seq, T0.AddSeconds(300)));
        var failed = m.Conditions.Single(c => c.Type == ConditionTypes.CheckFailed);
        Assert.Contains("check 'http' failed (connection refused), 1 report(s) in a row; it was starting for 5 min, past health.maxStartGrace (5 min)", failed.Reason);
        Assert.DoesNotContain(m.Conditions, c => c.Type == ConditionTypes.CheckStarting);
        for (var i = 1; i < Policy.Health.UnhealthyAfterFailedReports; i++) m = Feed(m, Starting(++seq, T0.AddSeconds(300 + 10 * i)));
        Assert.Equal(HealthState.Unhealthy, m.Health);
    }

    [Fact]
    public void OnReport_CheckThatFailedUnmarked_StartingMarkNotHonoured_UntilItPasses()
    {
        var m = Feed(NodeHealthModel.Initial(T0), Report(1, T0), Report(2, T0.AddSeconds(10), checkOk: false));
        m = Feed(m, Starting(3, T0.AddSeconds(20))); // the reporter restarted after a real failure: no grace for this check
        Assert.Equal(2, m.FailedStreak);
        m = Feed(m, Report(4, T0.AddSeconds(30)), Starting(5, T0.AddSeconds(40))); // it passed since: a new start is a start
        Assert.Equal(0, m.FailedStreak);
        Assert.Contains(m.Conditions, c => c.Type == ConditionTypes.CheckStarting);
    }

    [Fact]
    public void OnReport_MaxStartGraceZero_StartingMarksNotHonoured()
    {
        var policy = Policy with { Health = Policy.Health with { MaxStartGrace = TimeSpan.Zero } };
        var m = NodeHealthModel.Initial(T0);
        for (var i = 1; i <= policy.Health.UnhealthyAfterFailedReports; i++) m = NodeMonitor.OnReport(m, Starting(i, T0.AddSeconds(10 * i)), T0.AddSeconds(10 * i), policy).Model;
        Assert.Equal(HealthState.Unhealthy, m.Health);
    }

    [Fact]
    public void OnReport_PassedCheckMarkedStarting_IsAPass()
    {
        var report = new TelemetryReport(1, T0, TimeSpan.FromSeconds(30), 10, 2 * Gi, 16 * Gi, 20, [new CheckResult("http", true, null, Starting: true)]);
        Assert.Equal(HealthState.Healthy, NodeMonitor.OnReport(NodeHealthModel.Initial(T0), report, T0, Policy).Model.Health);
    }
}
