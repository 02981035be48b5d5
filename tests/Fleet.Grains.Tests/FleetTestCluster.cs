using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Actuators;
using Fleet.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace Fleet.Grains.Tests;

/// <summary>
/// One in-process silo with Fleet's real grains, real SQLite store and the simulated actuator.
/// Grain timers run on a <see cref="FakeTimeProvider"/>: tests move time with <see cref="AdvanceAsync"/>, never sleep for it.
/// The policy named by <see cref="PolicyYaml"/> is applied before any test runs.
/// </summary>
public abstract class FleetTestCluster : IAsyncLifetime
{
    public static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    public const long Gi = 1L << 30;
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "fleet-grains-tests", Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, long> _sequences = [];

    public FakeTimeProvider Time { get; } = new(Start);
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;
    public SimulatedActuator Actuator => Cluster.Silos[0].ServiceProvider.GetRequiredService<SimulatedActuator>();

    /// <summary>The policy this fixture runs under. Fleet-wide cap raised so old tests' nodes never starve new ones.</summary>
    protected virtual string PolicyYaml => """
        guardrails:
          fleetMaxConcurrent: 1000
        """;

    /// <summary>
    /// The policy lines a fixture with services starts from: room for many leases, a lost node's instances rescheduled at
    /// once, a service's pass every 2 s.
    /// </summary>
    protected const string ServicePolicy = """
        guardrails:
          fleetMaxConcurrent: 1000
          maxConcurrentPerDomain: 5
        services:
          rescheduleAfter: 0s
          reconcileInterval: 2s

        """;

    /// <summary>A fixture's own actuator settings (a provisioner's webhook, say).</summary>
    protected virtual void ConfigureActuators(ActuatorOptions options) { }

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Services.AddSingleton<TimeProvider>(Time);
            host.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            host.Services.AddFleetGrainServices();
            host.Services.AddFleetEmbeddedStore(_dataDir);
            host.Services.Configure<ActuatorOptions>(o =>
            {
                o.MaxRetries = 0;
                ConfigureActuators(o);
            });
        });
        builder.ConfigureSilo((_, silo) => silo.UseInMemoryReminderService());
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        var applied = await Client.GetGrain<IPolicyGrain>(FleetNames.Default).ApplyAsync(PolicyYaml, "test");
        Assert.True(applied.Applied, string.Join("; ", applied.Problems));
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        try { Directory.Delete(_dataDir, true); } catch (IOException) { }
    }

    public INodeGrain Node(string id) => Client.GetGrain<INodeGrain>(id);

    public async Task<INodeGrain> RegisterAsync(string id, string domain, IReadOnlyDictionary<string, string>? labels = null, double cpu = 8, long memory = 16 * Gi)
    {
        var node = Node(id);
        await node.RegisterAsync(new NodeRegistration(id, domain, new NodeCapacity(cpu, memory, 100 * Gi), labels?.ToImmutableDictionary() ?? ImmutableDictionary<string, string>.Empty));
        return node;
    }

    /// <summary>Sends the node's next report, stamped with the fake clock.</summary>
    public Task<ReportResult> ReportAsync(string id, bool healthy = true, long memoryUsed = 4 * Gi, double cpu = 10, double disk = 20)
    {
        var seq = _sequences[id] = _sequences.GetValueOrDefault(id) + 1;
        return Node(id).ReportAsync(new TelemetryReport(seq, Time.GetUtcNow(), TimeSpan.FromSeconds(30), cpu, memoryUsed, 16 * Gi, disk,
            [new CheckResult("http", healthy, healthy ? null : "connection refused")]));
    }

    /// <summary>Moves the fake clock in steps, letting the timers that fall due run after each step.</summary>
    public async Task AdvanceAsync(TimeSpan total, TimeSpan? step = null, Func<Task>? eachStep = null)
    {
        var s = step ?? TimeSpan.FromSeconds(5);
        for (var moved = TimeSpan.Zero; moved < total; moved += s)
        {
            Time.Advance(s);
            if (eachStep is not null) await eachStep();
            await Settle();
        }
    }

    /// <summary>Gives timer callbacks and the executor's hand-offs a moment to run (real scheduling, not simulated time).</summary>
    public static Task Settle() => Task.Delay(25);

    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int timeoutMs = 10_000)
    {
        var until = Environment.TickCount64 + timeoutMs;
        while (Environment.TickCount64 < until)
        {
            if (await condition()) return;
            await Task.Delay(20);
        }
        Assert.Fail($"Timed out waiting until {what}.");
    }

    /// <summary>
    /// Moves the fake clock a step at a time (running <paramref name="eachStep"/>, e.g. the nodes' reports) until the condition holds,
    /// giving each step up to a second of real time to show it; fails once <paramref name="within"/> of simulated time has passed.
    /// A timer whose callback was still running when the clock moved is re-armed from the later time, so on a slow machine a fixed
    /// advance can leave the one tick that matters unfired: this moves on until it has fired.
    /// </summary>
    public async Task AdvanceUntilAsync(Func<Task<bool>> condition, string what, TimeSpan within, TimeSpan step, Func<Task>? eachStep = null)
    {
        for (var moved = TimeSpan.Zero; moved <= within; moved += step)
        {
            var until = Environment.TickCount64 + 1_000;
            do
            {
                if (await condition()) return;
                await Task.Delay(20);
            } while (Environment.TickCount64 < until);
            Time.Advance(step);
            if (eachStep is not null) await eachStep();
        }
        Assert.Fail($"Timed out waiting until {what} (within {within.TotalSeconds:0} s of simulated time).");
    }

    public async Task<HealthState> HealthAsync(string id) => (await Node(id).GetStatusAsync())!.Health;

    public async Task<IReadOnlyList<DecisionRecord>> TrailAsync(string subject)
    {
        var page = await Client.GetGrain<IAuditGrain>(0).QueryAsync(new AuditQuery(Subject: subject, Limit: 1000));
        return page.Records.Reverse().ToArray();
    }
}
