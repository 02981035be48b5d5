using System.Net;
using System.Net.Sockets;
using Fleet.Grains.Actuators;
using Fleet.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Fleet.Simulator;

/// <summary>
/// A private, in-process silo with Fleet's real grains and store (in a temporary folder) and the simulated actuator.
/// With simulated time its grain timers run on a <see cref="FakeTimeProvider"/> that the simulation moves forward,
/// so hours pass in minutes; with real time it runs on the wall clock (for scale runs).
/// </summary>
public sealed class SimulationHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly string _dataDir;

    private SimulationHost(IHost host, string dataDir, FakeTimeProvider? fake)
    {
        _host = host;
        _dataDir = dataDir;
        Fake = fake;
    }

    public FakeTimeProvider? Fake { get; }
    public IServiceProvider Services => _host.Services;
    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    public static async Task<SimulationHost> StartAsync(bool realTime, CancellationToken cancellationToken = default, DateTimeOffset? start = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "fleet-sim", Guid.NewGuid().ToString("N"));
        var fake = realTime ? null : new FakeTimeProvider(start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // No configuration file to reload: watching for one would watch the working folder and everything under it,
        // the store's folder too when it lies there.
        var builder = Host.CreateApplicationBuilder(["--hostBuilder:reloadConfigOnChange=false"]);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (fake is not null)
        {
            builder.Services.AddSingleton<TimeProvider>(fake);
            // Grains (timers, their clock) run on simulated time; the silo's own maintenance loops stay on the wall clock.
            builder.Services.AddKeyedSingleton<TimeProvider>(KeyedService.AnyKey, (_, _) => TimeProvider.System);
            builder.Services.AddKeyedSingleton<TimeProvider>(Orleans.Runtime.TimeProviderNames.Grains, (sp, _) => sp.GetRequiredService<TimeProvider>());
        }
        builder.Services.AddFleetGrainServices();
        builder.Services.AddFleetEmbeddedStore(dataDir);
        builder.Services.Configure<Fleet.Grains.Tracing.TraceOptions>(o => o.Directory = Path.Combine(dataDir, "traces"));
        builder.Services.Configure<ActuatorOptions>(o => o.MaxRetries = 0);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(FreePort(), FreePort(), serviceId: "fleet-sim", clusterId: "fleet-sim");
            silo.UseInMemoryReminderService();
        });
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return new SimulationHost(host, dataDir, fake);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try { await _host.StopAsync(TimeSpan.FromSeconds(10)); } catch (OperationCanceledException) { }
        _host.Dispose();
        try { Directory.Delete(_dataDir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
