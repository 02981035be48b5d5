using Fleet.Abstractions.Diagnostics;

namespace Fleet.Grains.Diagnostics;

public sealed class PingGrain : Grain, IPingGrain
{
    public Task PingAsync() => Task.CompletedTask;
}
