using Fleet.Core.Intake;

namespace Fleet.Core.Tests.Intake;

public class InstanceIntakeTests
{
    private static readonly (string, string, string) Checkout = ("checkout", "checkout-3", "2.1");
    private static readonly double[] Bounds = [0.005, 0.01, 0.025, 0.05, 0.1];

    private static void Point(InstanceIntake intake, HashSet<(string, string)> touched, long at, bool error, ulong[] buckets, bool cumulative = true, long start = 0) =>
        intake.Requests(Checkout, error ? "code=500" : "code=200", error, start, at, (ulong)buckets.Sum(b => (long)b), buckets, Bounds, 1000, cumulative, touched);

    [Fact]
    public void ACumulativeHistogram_ReportsRatesErrorsAndQuantiles_FromItsSecondExport()
    {
        var intake = new InstanceIntake(TimeProvider.System);
        var touched = new HashSet<(string, string)>();
        Point(intake, touched, 10_000, false, [10, 0, 0, 0, 0, 0]);
        Assert.Empty(touched); // the first export only primes the series: a rate needs two
        Assert.Null(intake.Report("checkout", "checkout-3"));

        // Two seconds later: 90 more fine requests and 10 failed ones, all between 25 and 50 ms (the failed ones' series is
        // new since the last export: all of its count is new).
        Point(intake, touched, 12_000, false, [10, 0, 0, 90, 0, 0]);
        Point(intake, touched, 12_000, true, [0, 0, 0, 10, 0, 0]);
        Assert.Equal([("checkout", "checkout-3")], touched);
        var report = intake.Report("checkout", "checkout-3")!;
        Assert.Equal("2.1", report.Version);
        Assert.Equal(50, report.Requests, 6); // 100 requests in 2 s
        Assert.Equal(5, report.Errors, 6);
        Assert.Equal(37.5, report.LatencyP50Ms, 6); // half-way through the 25–50 ms bucket
        Assert.Equal(49.75, report.LatencyP99Ms, 6);
        Assert.True(report.Healthy);
        Assert.Null(intake.Report("checkout", "checkout-3")); // nothing new since
    }

    [Fact]
    public void ARestartedProcess_StartsItsCountsAgain_AndDeltaPointsUseTheirOwnWindow()
    {
        var intake = new InstanceIntake(TimeProvider.System);
        var touched = new HashSet<(string, string)>();
        Point(intake, touched, 10_000, false, [0, 100, 0, 0, 0, 0]);
        Point(intake, touched, 11_000, false, [0, 5, 0, 0, 0, 0]); // counts went down: a new process, primed again
        Assert.Empty(touched);
        Point(intake, touched, 12_000, false, [0, 15, 0, 0, 0, 0]);
        Assert.Equal(10, intake.Report("checkout", "checkout-3")!.Requests, 6);

        var delta = new InstanceIntake(TimeProvider.System);
        Point(delta, touched, 20_000, false, [0, 0, 0, 0, 40, 0], cumulative: false, start: 16_000);
        var report = delta.Report("checkout", "checkout-3")!;
        Assert.Equal(10, report.Requests, 6); // 40 over the point's own 4 s
        Assert.InRange(report.LatencyP50Ms, 50, 100);
        // Past the last bound: the last bound (the bucket has no upper end).
        Point(delta, touched, 24_000, false, [0, 0, 0, 0, 0, 8], cumulative: false, start: 20_000);
        Assert.Equal(100, delta.Report("checkout", "checkout-3")!.LatencyP99Ms, 6);
    }

    [Fact]
    public void TheResource_NamesTheInstance_OrNothing()
    {
        Assert.Equal(("web", "web-1", "1.0"), InstanceIntake.InstanceOf(new Dictionary<string, string> { ["service.name"] = "web", ["service.instance.id"] = "web-1", ["service.version"] = "1.0" }));
        Assert.Null(InstanceIntake.InstanceOf(new Dictionary<string, string> { ["service.name"] = "web" }));
        Assert.Null(InstanceIntake.InstanceOf(new Dictionary<string, string> { ["service.name"] = "web app", ["service.instance.id"] = "web-1" }));
    }
}
