using System.Collections.Immutable;
using Fleet.Abstractions.Services;

namespace Fleet.Grains.Services;

[GenerateSerializer, Immutable, Alias("fleet.ServiceDirectoryState")]
public sealed record ServiceDirectoryState([property: Id(0)] ImmutableSortedSet<string> Names)
{
    public ServiceDirectoryState() : this(ImmutableSortedSet<string>.Empty) { }
}

/// <summary>
/// The list of services. Its watchdog reminder (durable with Redis reminders) wakes every service's grain each minute,
/// so a service whose grain was lost with its silo goes on reconciling without waiting for a call.
/// </summary>
public sealed class ServiceDirectoryGrain(
    [PersistentState("services", StorageNames.Fleet)] IPersistentState<ServiceDirectoryState> state) : Grain, IServiceDirectoryGrain, IRemindable
{
    public const string Watchdog = "watchdog";
    private static readonly TimeSpan WatchdogPeriod = TimeSpan.FromMinutes(1);

    public async Task AddAsync(string name)
    {
        if (state.State.Names.Contains(name)) return;
        state.State = new ServiceDirectoryState(state.State.Names.Add(name));
        await state.WriteOrResetAsync(DeactivateOnIdle);
        await this.RegisterOrUpdateReminder(Watchdog, WatchdogPeriod, WatchdogPeriod);
    }

    public async Task RemoveAsync(string name)
    {
        if (!state.State.Names.Contains(name)) return;
        state.State = new ServiceDirectoryState(state.State.Names.Remove(name));
        await state.WriteOrResetAsync(DeactivateOnIdle);
    }

    public Task<ImmutableArray<string>> ListAsync() => Task.FromResult(state.State.Names.ToImmutableArray());

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == Watchdog)
            foreach (var name in state.State.Names) GrainFactory.GetGrain<IServiceGrain>(name).PingAsync().Ignore();
        return Task.CompletedTask;
    }
}
