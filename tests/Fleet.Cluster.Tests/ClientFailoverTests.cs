using System.Diagnostics;
using System.Net.Http.Json;
using Fleet.Client;
using Fleet.Silo.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Fleet.Cluster.Tests;

/// <summary>The SDK and the CLI find gateways through Redis and ride through the death of a silo.</summary>
public class ClientFailoverTests(SharedRedis redis, ITestOutputHelper output) : IClassFixture<SharedRedis>
{
    [Fact]
    public async Task SiloKilledUnderClientCalls_EveryCallAnswers_NoneWaitsOutTheDefaultTimeout()
    {
        await using var cluster = new ClusterSilos(redis.Connection);
        await cluster.StartAsync(3);
        var api = cluster.Any();
        for (var i = 0; i < 30; i++)
            (await api.Http.PostAsJsonAsync("/api/v1/nodes", new { id = $"c-{i}", domain = "rack-c", capacity = new { cpuCores = 2, memoryBytes = 4L << 30, diskBytes = 1L << 30 } })).EnsureSuccessStatusCode();

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.AddFleetClient(o => { o.Redis = redis.Connection; o.ServiceId = cluster.ServiceId; o.ClusterId = cluster.ServiceId; o.Key = cluster.AdminKey; });
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IFleetClient>();

        var latencies = new List<TimeSpan>();
        var failures = new List<string>();
        using var stop = new CancellationTokenSource();
        var calls = Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var sw = Stopwatch.StartNew();
                try
                {
                    var status = await client.GetNodeAsync($"c-{i++ % 30}");
                    if (status is null) failures.Add("a registered node read as missing");
                }
                catch (Exception e)
                {
                    failures.Add(e.GetType().Name + ": " + e.Message);
                }
                lock (latencies) latencies.Add(sw.Elapsed);
            }
        });

        await Task.Delay(TimeSpan.FromSeconds(2));
        await cluster.Silos[1]!.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(8));
        stop.Cancel();
        await calls;
        await host.StopAsync();

        TimeSpan worst;
        lock (latencies) worst = latencies.Max();
        output.WriteLine($"{latencies.Count} calls across the kill; slowest {worst.TotalMilliseconds:0} ms; failures {failures.Count}");
        Assert.Empty(failures);
        Assert.True(worst < TimeSpan.FromSeconds(15), $"a call waited {worst.TotalSeconds:0.0} s");

        // The CLI, too, finds a live gateway through Redis.
        var (code, stdout, stderr) = await Repo.RunAsync("dotnet",
            [Repo.CliDll, "--redis", redis.Connection, "nodes", "list", "-o", "json"], TimeSpan.FromSeconds(60),
            new Dictionary<string, string> { ["FLEET_SERVICE_ID"] = cluster.ServiceId, ["FLEET_CLUSTER_ID"] = cluster.ServiceId, ["FLEET_KEY"] = cluster.AdminKey });
        Assert.True(code == 0, stderr);
        Assert.Contains("c-29", stdout);
    }
}
