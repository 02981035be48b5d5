using Fleet.Benchmarks;

var what = args.FirstOrDefault() ?? "help";
var options = BenchOptions.Parse(args.Skip(1).ToArray());
switch (what)
{
    case "intake":
        await IntakeBenchmark.RunAsync(options);
        break;
    case "failover":
        await FailoverBenchmark.RunAsync(options);
        break;
    case "agent":
        await AgentBenchmark.RunAsync(options);
        break;
    case "sim-scale":
        await SimBenchmarks.ScaleAsync(options);
        break;
    case "sim-heal":
        await SimBenchmarks.HealAsync(options);
        break;
    case "fault-to-action":
        await FaultToActionBenchmark.RunAsync(options);
        break;
    case "register":
        await RegisterBenchmark.RunAsync(options);
        break;
    case "services":
        await ServiceBenchmarks.RunAsync(options);
        break;
    case "rollouts":
        await RolloutBenchmark.RunAsync(options);
        break;
    case "links":
        await LinkBenchmark.RunAsync(options);
        break;
    case "doors":
        await DoorsBenchmark.RunAsync(options);
        break;
    case "trail":
        await TrailBenchmark.RunAsync(options);
        break;
    case "remote-write":
        await RemoteWriteBenchmark.RunAsync(options);
        break;
    case "consolidate":
        await ConsolidationBenchmark.RunAsync(options);
        break;
    case "all":
        await IntakeBenchmark.RunAsync(options);
        await FailoverBenchmark.RunAsync(options);
        await SimBenchmarks.HealAsync(options);
        await SimBenchmarks.ScaleAsync(options);
        break;
    default:
        Console.WriteLine("""
            Fleet benchmarks (build Release first: dotnet build Fleet.sln -c Release)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll intake   [--nodes 10000] [--seconds 10] [--json FILE]
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll failover [--kills 10] [--json FILE]
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll sim-scale [--sizes 5000,10000] [--interval 1] [--seconds 20] [--crashes N] [--simulated] [--json FILE]
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll register  [--nodes 100000] [--sizes 1,100] [--json FILE]  (domains per run)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll sim-heal  [--kills 10] [--json FILE]
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll agent     [--kills 10] [--json FILE]  (20+ crashes; supervisord beside it when installed)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll fault-to-action [--kills 10] [--json FILE]  (2×kills kills, then a 60% cut)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll services  [--nodes SERVICES (1000)] [--kills 10] [--placement-only] [--json FILE]  (2×kills node hangs)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll rollouts  [--json FILE]  (20 bad canaries: time to rollback, bad-version instance-time; Flagger's documented settings beside)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll links     [--nodes FLOWS (10000)] [--json FILE]  (a core link of 1,001 cut: time until every flow is on a verified path; path computations/s)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll doors     [--nodes 10000] [--seconds 10] [--json FILE]  (the intake with every call checked vs not; action signatures)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll trail     [--seconds 10] [--concurrency 128] [--json FILE]  (the embedded trail: FULL vs NORMAL, flat out and at the intake's record rate; the chain's cost)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll remote-write [--nodes 10000] [--seconds 10] [--json FILE]  (Prometheus remote-write intake vs the REST batch intake)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll consolidate [--nodes 10000] [--sizes SILO_NODES (300)] [--json FILE]  (the planner vs Cluster Autoscaler's rule on 10,000 nodes / 3,000 services; then carried out on a silo)
              dotnet tests/Fleet.Benchmarks/bin/Release/net10.0/Fleet.Benchmarks.dll all       [--json FILE]  (intake, failover, sim-heal, sim-scale)
            Each starts its own redis-server (Debian package) and silo processes on free loopback ports.
            --json FILE writes the command's figures by name to FILE as one JSON object (all: every command's figures, one file).
            """);
        return 2;
}
return 0;

internal sealed record BenchOptions(int Nodes, int Seconds, int Kills, int Concurrency)
{
    /// <summary>Report interval in seconds (sim-scale); 0 when not given.</summary>
    public int Interval { get; init; }

    /// <summary>Process crashes to inject during a sim-scale run (one per interval); 0 when not given.</summary>
    public int Crashes { get; init; }

    /// <summary>sim-scale on simulated time (<c>--simulated</c>): the clock waits for each interval's work, so the wall time of a long scenario is measured.</summary>
    public bool Simulated { get; init; }

    /// <summary>services <c>--placement-only</c>: the placement rate alone, without the failover runs.</summary>
    public bool PlacementOnly { get; init; }

    /// <summary>Where the command writes its figures by name (<c>--json FILE</c>), for scripts; none when not given.</summary>
    public string? Json { get; init; }

    /// <summary>Every figure written so far in this process: <c>all</c> runs several commands, and its file holds all their figures.</summary>
    private static readonly Dictionary<string, double> Written = new();

    /// <summary>
    /// Writes the figures to <see cref="Json"/> when one was given, with every figure written before in this process (so
    /// <c>all</c> leaves one file with each of its commands' figures). A figure not measured (NaN, such as the percentile of
    /// no samples) is written as null: JSON has no NaN.
    /// </summary>
    public void WriteJson(IReadOnlyDictionary<string, double> figures)
    {
        if (Json is null) return;
        foreach (var (name, value) in figures)
        {
            if (Written.ContainsKey(name)) Console.Error.WriteLine($"  figure {name} written twice; the later value is kept");
            Written[name] = value;
        }
        var json = Written.ToDictionary(f => f.Key, f => double.IsFinite(f.Value) ? f.Value : (double?)null);
        File.WriteAllText(Json, System.Text.Json.JsonSerializer.Serialize(json, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        Console.Error.WriteLine($"  figures written to {Json}");
    }

    /// <summary>
    /// Adds one run's figures (one size or variant of a command that runs several) to <paramref name="into"/>: each under its
    /// name followed by <paramref name="suffix"/>, and the first run's also under the plain name.
    /// </summary>
    public static void AddRun(Dictionary<string, double> into, string suffix, IReadOnlyDictionary<string, double> run)
    {
        foreach (var (name, value) in run)
        {
            into.TryAdd(name, value);
            into[name + suffix] = value;
        }
    }

    /// <summary>Fleet sizes to run one after another (sim-scale <c>--sizes 10000,100000</c>); empty when not given.</summary>
    public int[] Sizes { get; init; } = [];

    public static BenchOptions Parse(string[] args)
    {
        int Get(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) && v > 0 ? v : fallback;
        }
        var sizes = Array.IndexOf(args, "--sizes") is var si and >= 0 && si + 1 < args.Length
            ? args[si + 1].Split(',').Select(v => int.TryParse(v, out var n) ? n : 0).Where(n => n > 0).ToArray() : [];
        return new BenchOptions(Get("--nodes", 10_000), Get("--seconds", 10), Get("--kills", 10), Get("--concurrency", 256))
        {
            Interval = Get("--interval", 0),
            Crashes = Get("--crashes", 0),
            Sizes = sizes,
            Simulated = args.Contains("--simulated"),
            PlacementOnly = args.Contains("--placement-only"),
            Json = Array.IndexOf(args, "--json") is var ji and >= 0 && ji + 1 < args.Length ? args[ji + 1] : null,
        };
    }
}
