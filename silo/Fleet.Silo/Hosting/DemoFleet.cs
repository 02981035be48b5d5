using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Actuators;
using Fleet.Simulator;
using Microsoft.Extensions.Options;

namespace Fleet.Silo.Hosting;

/// <summary>
/// The demo fleet of the main job: the simulator's virtual nodes report to this silo in real time, faults are injected
/// every few minutes, and the simulated actuator's actions really change the virtual nodes — so a newcomer watches
/// Fleet detect, act, verify and explain, with nothing to install.
/// </summary>
internal sealed partial class DemoFleet(IGrainFactory grains, SimulatedActuator actuator, ActionExecutor executor, TimeProvider time,
    IOptions<FleetOptions> options, IHostApplicationLifetime lifetime, ILogger<DemoFleet> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using var _ = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(stoppingToken);
        if (executor.ActuatorName != actuator.Name)
        {
            LogNotSimulated(log, executor.ActuatorName);
            return;
        }
        var scenario = ScenarioLoader.Load(options.Value.Demo.Scenario);
        var current = await grains.GetGrain<IPolicyGrain>(FleetNames.Default).GetCurrentAsync();
        var sim = new Simulation(scenario, grains, actuator, executor, time, null) { ApplyPolicy = current.Version == 0 };
        LogStarted(log, scenario.Name, scenario.Nodes, scenario.Domains);
        var progress = new Progress<SimProgress>(p => LogProgress(log, p.Injected, p.Healed, p.Open));
        try
        {
            await sim.RunAsync(progress, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    [LoggerMessage(LogLevel.Information, "Started the demo fleet '{Scenario}': {Nodes} simulated nodes in {Domains} domains; watch /dashboard, fleet nodes list and fleet audit")]
    private static partial void LogStarted(ILogger logger, string scenario, int nodes, int domains);

    [LoggerMessage(LogLevel.Debug, "Demo fleet: {Injected} faults injected, {Healed} healed, {Open} open")]
    private static partial void LogProgress(ILogger logger, int injected, int healed, int open);

    [LoggerMessage(LogLevel.Warning, "Skipped the demo fleet: it needs the simulated actuator, and the {Actuator} actuator is configured")]
    private static partial void LogNotSimulated(ILogger logger, string actuator);
}
