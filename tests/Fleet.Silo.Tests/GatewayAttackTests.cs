using System.Collections.Immutable;
using System.Net;
using System.Reflection;
using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Abstractions.Security;
using Fleet.Abstractions.Supervision;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace Fleet.Silo.Tests;

/// <summary>
/// The gateway door as an attacker meets it, against a real silo process: stock Orleans clients (no Fleet SDK) that lie
/// about who they are — a client id made to look like the silo's own hosted client, a message claiming to come from a
/// grain — or reach for Orleans' management targets. Each is refused and recorded, and nothing changes.
/// </summary>
public class GatewayAttackTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    /// <summary>A stock Orleans client on the silo's gateway: optionally with a chosen client id and a key.</summary>
    private async Task<IHost> RawClientAsync(string? clientId = null, string? key = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(c =>
        {
            c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, f.Silo.GatewayPort));
            c.Configure<ClusterOptions>(o => { o.ClusterId = "fleet"; o.ServiceId = "fleet"; });
            c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
            if (key is not null) c.AddOutgoingGrainCallFilter(async call =>
            {
                RequestContext.Set(CallerContext.Key, key);
                await call.Invoke();
            });
        });
        var host = builder.Build();
        if (clientId is not null)
        {
            // What an attacker does to a stock client: its id is Orleans' LocalClientDetails.ClientId, set before it connects.
            var detailsType = typeof(IClusterClient).Assembly.GetType("Orleans.LocalClientDetails", throwOnError: true)!;
            var details = host.Services.GetRequiredService(detailsType);
            var clientIdType = typeof(GrainId).Assembly.GetType("Orleans.Runtime.ClientGrainId", throwOnError: true)!;
            var forged = clientIdType.GetMethod("Create", [typeof(string)])!.Invoke(null, [clientId]);
            detailsType.GetField("<ClientId>k__BackingField", BindingFlags.Instance | BindingFlags.NonPublic)!.SetValue(details, forged);
        }
        await host.StartAsync();
        return host;
    }

    private static IGrainFactory Grains(IHost host) => host.Services.GetRequiredService<IClusterClient>();

    /// <summary>The fleet's freeze state, its keys and its trail's freeze records, as an admin reads them over HTTP.</summary>
    private async Task<string> FleetSnapshotAsync()
    {
        var fleet = await f.GetJsonAsync("/api/v1/fleet");
        var keys = await f.GetJsonAsync("/api/v1/keys");
        var frozen = await f.GetJsonAsync("/api/v1/audit?kind=frozen&limit=1000");
        return $"{fleet.GetProperty("fleet").GetProperty("frozen")}|{string.Join(",", keys.EnumerateArray().Select(k => k.GetProperty("name").GetString()).Order())}|{frozen.GetProperty("records").GetArrayLength()}";
    }

    private async Task<JsonElement[]> RefusalsAsync(string method)
    {
        var page = await f.GetJsonAsync($"/api/v1/audit?subject={GatewaySubject}&kind=denied&limit=1000");
        return page.GetProperty("records").EnumerateArray().Where(r => r.GetProperty("action").GetString() == method).ToArray();
    }

    private const string GatewaySubject = "gateway";

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            if (DateTime.UtcNow > until) throw new TimeoutException($"{what} did not happen within 10 s");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task ForgedHostedClientId_WithNoKey_IsRefused_Recorded_AndNothingChanges()
    {
        var before = await FleetSnapshotAsync();
        using var attacker = await RawClientAsync(clientId: "hosted-127.0.0.1:11111@1");

        var freeze = await Assert.ThrowsAsync<AccessDeniedException>(() =>
            Grains(attacker).GetGrain<IFleetSupervisorGrain>(FleetNames.Default).FreezeAsync("nobody", "owned"));
        Assert.True(freeze.Unauthenticated);
        await Assert.ThrowsAsync<AccessDeniedException>(() =>
            Grains(attacker).GetGrain<IKeyStoreGrain>(FleetNames.Default).CreateAsync("attacker-admin", FleetRole.Admin, null, "nobody"));
        // The silo's own methods for grains (a lease) are no nearer.
        await Assert.ThrowsAsync<AccessDeniedException>(() =>
            Grains(attacker).GetGrain<IFleetSupervisorGrain>(FleetNames.Default).AcquireAsync(new LeaseRequest("x", "node/x", "reboot", 1, []), null));

        Assert.Equal(before, await FleetSnapshotAsync());
        var recorded = await WaitForAsync(() => RefusalsAsync("FleetSupervisor.Freeze"), r => r.Length > 0, "the refusal's record");
        var record = recorded[0];
        Assert.Contains("carried no key", record.GetProperty("reason").GetString());
        Assert.Contains("hosted-127.0.0.1", record.GetProperty("evidence").GetProperty("claimedSender").GetString());
        Assert.Equal("access", record.GetProperty("guardrail").GetString());
        Assert.NotEmpty(await RefusalsAsync("KeyStore.Create"));
    }

    [Fact]
    public async Task ForgedHostedClientId_WithAViewerKey_GetsOnlyWhatAViewerGets()
    {
        var viewer = await f.KeyAsync("attack-viewer", "viewer");
        var before = await FleetSnapshotAsync();
        using var attacker = await RawClientAsync(clientId: "hosted-10.0.0.1:11111@7", key: viewer);
        var supervisor = Grains(attacker).GetGrain<IFleetSupervisorGrain>(FleetNames.Default);
        Assert.False((await supervisor.GetStatusAsync()).Frozen); // a viewer may read
        var e = await Assert.ThrowsAsync<AccessDeniedException>(() => supervisor.FreezeAsync("nobody", "owned"));
        Assert.Contains("needs an operator key; 'attack-viewer' is a viewer key", e.Message);
        Assert.Equal(before, await FleetSnapshotAsync());
    }

    [Fact]
    public async Task AnIngestKey_OnTheGateway_ReadsNothing_AndCannotRaiseAnAlertItself()
    {
        // An ingest key pushes over HTTP and does nothing else: through a stock client it reads nothing, and the call
        // intake makes to put an alert on a node is the silo's own, not a client's.
        var ingest = await f.KeyAsync("attack-ingest", "ingest");
        (await f.RegisterAsync("ingest-gw-node", "rack-gw")).EnsureSuccessStatusCode();
        var before = await FleetSnapshotAsync();
        using var attacker = await RawClientAsync(key: ingest);
        var supervisor = Grains(attacker).GetGrain<IFleetSupervisorGrain>(FleetNames.Default);
        var read = await Assert.ThrowsAsync<AccessDeniedException>(() => supervisor.GetStatusAsync());
        Assert.Contains("'attack-ingest' is an ingest key", read.Message);
        var node = Grains(attacker).GetGrain<Fleet.Abstractions.Nodes.INodeGrain>("ingest-gw-node");
        var alert = new Fleet.Abstractions.Nodes.ExternalAlert("Forged", "f1", "raised by hand", DateTimeOffset.UtcNow, "gateway");
        var raised = await Assert.ThrowsAsync<AccessDeniedException>(() => node.AlertAsync(alert, firing: true));
        Assert.Contains("not open to clients", raised.Message);
        var status = await f.GetJsonAsync("/api/v1/nodes/ingest-gw-node");
        Assert.DoesNotContain(status.GetProperty("conditions").EnumerateArray(), c => c.GetProperty("type").GetString() == "Alert");
        Assert.Equal(before, await FleetSnapshotAsync());
    }

    [Fact]
    public async Task SenderClaimingToBeAGrain_IsHeldToItsKey_AndNothingChanges()
    {
        var before = await FleetSnapshotAsync();
        using var attacker = await RawClientAsync();
        // A stock client's messages name their sender from its runtime client's address: make it a grain's.
        var runtimeType = typeof(IClusterClient).Assembly.GetType("Orleans.OutsideRuntimeClient", throwOnError: true)!;
        var runtime = attacker.Services.GetRequiredService(runtimeType);
        var address = runtimeType.GetProperty("CurrentActivationAddress")!;
        var grainId = Grains(attacker).GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetGrainId();
        var current = (GrainAddress)address.GetValue(runtime)!;
        address.SetValue(runtime, new GrainAddress { GrainId = grainId, SiloAddress = current.SiloAddress });

        // The answer goes to the grain the message named, so the attacker hears nothing back: it times out or is refused.
        var e = await Record.ExceptionAsync(() => Grains(attacker).GetGrain<IFleetSupervisorGrain>(FleetNames.Default).FreezeAsync("nobody", "owned"));
        Assert.NotNull(e);

        var recorded = await WaitForAsync(() => RefusalsAsync("FleetSupervisor.Freeze"),
            r => r.Any(x => x.GetProperty("evidence").GetProperty("claimedSender").GetString()!.Contains("fleetsupervisor")), "the refusal's record");
        Assert.Contains(recorded, r => r.GetProperty("reason").GetString()!.Contains("carried no key"));
        Assert.Equal(before, await FleetSnapshotAsync());
    }

    [Fact]
    public async Task OrleansSystemTargets_AreClosedToClients_EvenWithAnAdminKey()
    {
        using var admin = await RawClientAsync(key: f.Silo.AdminKey);
        var siloControl = typeof(IClusterClient).Assembly.GetType("Orleans.ISiloControl", throwOnError: true)!;
        // Any client learns the silos' addresses from the cluster's manifest.
        var silo = admin.Services.GetRequiredService<Orleans.Runtime.IClusterManifestProvider>().Current.Silos.Keys.Where(s => s.Endpoint.Port == f.Silo.SiloPort).MaxBy(s => s.Generation)!;
        var target = SystemTargetGrainId.Create(SystemTargetGrainId.CreateGrainType("silo-control"), silo).GrainId;
        var reference = typeof(IGrainFactory).GetMethod(nameof(IGrainFactory.GetGrain), 1, [typeof(GrainId)])!.MakeGenericMethod(siloControl).Invoke(Grains(admin), [target])!;

        // ForceActivationCollection(0) would deactivate every grain of the silo.
        Task Call(string name)
        {
            var method = siloControl.GetMethod(name)!;
            return (Task)method.Invoke(reference, method.GetParameters().Select(p => p.ParameterType == typeof(TimeSpan) ? (object?)TimeSpan.Zero : p.DefaultValue).ToArray())!;
        }
        var call = Call("ForceActivationCollection");
        var e = await Assert.ThrowsAsync<AccessDeniedException>(() => call);
        Assert.Contains("not open to clients", e.Message);
        await Assert.ThrowsAsync<AccessDeniedException>(() => Call("GetActivationCount"));
        Assert.NotEmpty(await WaitForAsync(() => RefusalsAsync("SiloControl.ForceActivationCollection"), r => r.Length > 0, "the refusal's record"));

        // The connection still works for what a client needs (its manifest came through a system target), and Fleet's own calls.
        Assert.False((await Grains(admin).GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync()).Frozen);
    }

    [Fact]
    public async Task RawClient_SendingWhatTheSdkRefuses_IsRefusedByTheGrainsRules_NothingTaken()
    {
        var key = await f.KeyAsync("attack-op-input", "operator");
        var before = await FleetSnapshotAsync();
        using var op = await RawClientAsync(key: key);
        var report = new Fleet.Abstractions.Nodes.TelemetryReport(1, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(30), 10, 1L << 30, 8L << 30, 10, []);
        var batch = Enumerable.Range(0, Fleet.Core.Validation.InputRules.MaxBatch + 1)
            .Select(i => new Fleet.Abstractions.Nodes.NodeReport($"flood-{i}", report)).ToImmutableArray();
        var tooMany = await Assert.ThrowsAsync<InvalidInputException>(() =>
            Grains(op).GetGrain<Fleet.Abstractions.Nodes.ITelemetryIntakeGrain>(0).ReportBatchAsync(batch));
        Assert.Contains("at most 10000 reports per batch", tooMany.Problems["(body)"][0]);
        var longReason = await Assert.ThrowsAsync<InvalidInputException>(() =>
            Grains(op).GetGrain<IFleetSupervisorGrain>(FleetNames.Default).FreezeAsync("x", new string('r', 100_000)));
        Assert.Contains("reason", longReason.Problems.Keys);
        var forever = await Assert.ThrowsAsync<InvalidInputException>(() =>
            Grains(op).GetGrain<Fleet.Abstractions.Nodes.INodeGrain>("flood-0").ReportAsync(report with { Ttl = TimeSpan.FromDays(3650) }));
        Assert.Contains("ttlSeconds", forever.Problems.Keys);
        var badKey = await Assert.ThrowsAsync<InvalidInputException>(() =>
            Grains(op).GetGrain<Fleet.Abstractions.Nodes.INodeGrain>(new string('k', 5000)).GetStatusAsync());
        Assert.Contains("(grain key)", badKey.Problems.Keys);

        Assert.Equal(before, await FleetSnapshotAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/nodes/flood-0")).StatusCode);
        Assert.NotEmpty(await WaitForAsync(() => RefusalsAsync("TelemetryIntake.ReportBatch"), r => r.Length > 0, "the refusal's record"));
    }

    [Fact]
    public async Task RawClient_AMessagePastTheSizeLimit_IsDropped_AndTheSiloAnswersAtOnce()
    {
        var policyBefore = (await f.GetJsonAsync("/api/v1/policy/history")).GetArrayLength();
        using var admin = await RawClientAsync(key: f.Silo.AdminKey);
        // A stock client sends up to Orleans' default of 100 MiB; the silo takes 32 MiB.
        var huge = new string('#', 40 << 20);
        await Assert.ThrowsAnyAsync<Exception>(() => Grains(admin).GetGrain<Fleet.Abstractions.Policy.IPolicyGrain>(FleetNames.Default).ApplyAsync(huge, "x"));

        var answered = System.Diagnostics.Stopwatch.StartNew();
        using var health = await f.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.True(answered.Elapsed < TimeSpan.FromSeconds(1), $"/health took {answered.Elapsed}");
        Assert.Equal(policyBefore, (await f.GetJsonAsync("/api/v1/policy/history")).GetArrayLength());
        // A new connection is served as before.
        using var again = await RawClientAsync(key: f.Silo.AdminKey);
        Assert.False((await Grains(again).GetGrain<IFleetSupervisorGrain>(FleetNames.Default).GetStatusAsync()).Frozen);
    }

    [Fact]
    public async Task ManagementGrain_IsAnAdminsOnly()
    {
        using var op = await RawClientAsync(key: await f.KeyAsync("attack-operator", "operator"));
        var e = await Assert.ThrowsAsync<AccessDeniedException>(() => Grains(op).GetGrain<IManagementGrain>(0).GetTotalActivationCount());
        Assert.Contains("needs an admin key", e.Message);
        using var admin = await RawClientAsync(key: f.Silo.AdminKey);
        Assert.True(await Grains(admin).GetGrain<IManagementGrain>(0).GetTotalActivationCount() > 0);
    }
}

/// <summary>The gateway's per-credential rate limit, on a silo of its own with a low limit.</summary>
public class GatewayRateLimitTests
{
    [Fact]
    public async Task OneKeyFlooding_IsRefusedWithARetryAfter_TheSdkWaitsItOut_OtherKeysFlow()
    {
        await using var silo = await SiloProcess.StartAsync(extraArgs: ["--Fleet:Auth:GatewayRequestsPerSecond=5", "--Fleet:Auth:GatewayBurst=5"]);
        var flooder = await silo.MakeKeyAsync("flooder", "viewer");
        var other = await silo.MakeKeyAsync("bystander", "viewer");

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(c =>
        {
            c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, silo.GatewayPort));
            c.Configure<ClusterOptions>(o => { o.ClusterId = "fleet"; o.ServiceId = "fleet"; });
            c.AddOutgoingGrainCallFilter(async call =>
            {
                RequestContext.Set(CallerContext.Key, flooder);
                await call.Invoke();
            });
        });
        using var raw = builder.Build();
        await raw.StartAsync();
        var supervisor = raw.Services.GetRequiredService<IClusterClient>().GetGrain<IFleetSupervisorGrain>(FleetNames.Default);
        var refused = 0;
        TimeSpan retryAfter = default;
        for (var i = 0; i < 30; i++)
        {
            try { await supervisor.GetStatusAsync(); }
            catch (RateLimitedException e) { refused++; retryAfter = e.RetryAfter; }
        }
        Assert.True(refused >= 20, $"{refused} of 30 calls refused");
        Assert.True(retryAfter > TimeSpan.Zero && retryAfter <= TimeSpan.FromSeconds(1), $"retry after {retryAfter}");

        async Task<IHost> SdkAsync(string key)
        {
            var sdk = Host.CreateApplicationBuilder();
            sdk.Logging.ClearProviders();
            Fleet.Client.FleetClientHostingExtensions.AddFleetClient(sdk, o => { o.Gateways = silo.Gateway; o.Key = key; o.ConnectAttempts = 2; o.Retries = 10; });
            var host = sdk.Build();
            await host.StartAsync();
            return host;
        }

        // Another key is not held up by the flood.
        using (var host = await SdkAsync(other))
            for (var i = 0; i < 5; i++) await host.Services.GetRequiredService<Fleet.Client.IFleetClient>().GetFleetAsync();

        // The SDK with the flooding key waits out the limit instead of failing.
        using (var host = await SdkAsync(flooder))
        {
            var client = host.Services.GetRequiredService<Fleet.Client.IFleetClient>();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < 12; i++) await client.GetFleetAsync();
            Assert.True(clock.Elapsed > TimeSpan.FromSeconds(0.8), $"12 calls at 5/s took {clock.Elapsed}");
        }
        var refusals = await silo.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?subject=gateway&kind=denied&limit=1000");
        Assert.Contains(refusals.GetProperty("records").EnumerateArray(), r => r.GetProperty("evidence").GetProperty("reason").GetString() == "rate-limited");
    }
}
