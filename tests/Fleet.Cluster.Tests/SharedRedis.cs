namespace Fleet.Cluster.Tests;

/// <summary>The test command's Redis (FLEET_TEST_REDIS), or a private one when the tests run on their own.</summary>
public sealed class SharedRedis : IAsyncLifetime
{
    private RedisServer? _own;
    public string Connection { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("FLEET_TEST_REDIS") is { Length: > 0 } shared) { Connection = shared; return; }
        _own = new RedisServer();
        await _own.StartAsync();
        Connection = _own.Connection;
    }

    public async Task DisposeAsync()
    {
        if (_own is not null) await _own.DisposeAsync();
    }
}
