namespace Fleet.Grains.Links;

/// <summary>
/// How many link and flow turns are under way on this silo (a link judging a probe and moving its flows, a flow placing
/// or moving itself), so a simulation can let a step's reroutes finish before it looks at the network.
/// </summary>
public sealed class NetworkActivity
{
    private int _busy;

    public int Busy => Volatile.Read(ref _busy);

    public void Enter() => Interlocked.Increment(ref _busy);

    public void Exit() => Interlocked.Decrement(ref _busy);
}
