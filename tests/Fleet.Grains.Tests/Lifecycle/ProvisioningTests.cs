using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Lifecycle;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Grains.Actuators;
using Fleet.Grains.Tests.Services;

namespace Fleet.Grains.Tests.Lifecycle;

/// <summary>A provisioner on loopback: a real HTTP endpoint that records each request and answers 200.</summary>
public sealed class ProvisionCluster : FleetTestCluster, IDisposable
{
    private readonly HttpListener _listener = new();
    public ConcurrentQueue<(string Key, JsonElement Body)> Requests { get; } = new();
    public Uri Url { get; }

    public ProvisionCluster()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Url = new Uri($"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/provision/");
        probe.Stop();
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); } catch { return; }
            using (var reader = new StreamReader(ctx.Request.InputStream))
                Requests.Enqueue((ctx.Request.Headers["Idempotency-Key"] ?? "", JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.Clone()));
            ctx.Response.StatusCode = 202;
            ctx.Response.Close();
        }
    }

    protected override void ConfigureActuators(ActuatorOptions options) => options.ProvisionWebhookUrl = Url.ToString();

    protected override string PolicyYaml => ServicePolicy + """
        lifecycle:
          burnIn: 1m
          burnInReports: 2
          provision:
            enabled: true
            shape: {name: small, cpuCores: 4, memoryBytes: 8Gi}
            domains: [d-prov-new]
            pendingFor: 10s
            maxPerHour: 3
            giveBackAfter: 1m
        """;

    public void Dispose() => _listener.Close();
}

/// <summary>Pending instances ask a real provisioner for machines; the machines burn in, then the instances land.</summary>
public class ProvisioningTests(ProvisionCluster f) : IClassFixture<ProvisionCluster>
{
    private IServiceGrain Service(string name) => f.Client.GetGrain<IServiceGrain>(name);

    private ICapacityGrain Capacity => f.Client.GetGrain<ICapacityGrain>(FleetNames.Default);

    private Task ReportingUntilAsync(Func<Task<bool>> condition, string what, TimeSpan within, Func<IEnumerable<string>> nodes) =>
        f.AdvanceUntilAsync(condition, what, within, TimeSpan.FromSeconds(5), async () =>
        {
            foreach (var n in nodes()) await f.ReportAsync(n);
        });

    [Fact]
    public async Task PendingInstances_AskTheProvisioner_ForWhatTheyNeed_OnceOnly_TheMachinesBurnIn_AndTheInstancesLand()
    {
        var nodes = new List<string> { "pv-0" };
        await f.RegisterAsync("pv-0", "d-prov", cpu: 4, memory: 8 * FleetTestCluster.Gi);
        await ReportingUntilAsync(async () => (await f.Node("pv-0").GetStatusAsync())!.Stage == LifecycleStage.Serving, "pv-0 serves", TimeSpan.FromMinutes(2), () => nodes);

        // Four instances of 3 cores: one fits on pv-0; three stay Pending, and three 4-core machines hold them.
        await Service("pv-api").ApplyAsync(ServiceTests.Spec("pv-api", 4, cpu: 3, memory: 2 * FleetTestCluster.Gi), "test");
        try
        {
            await ReportingUntilAsync(async () => !f.Requests.IsEmpty, "the provisioner was asked", TimeSpan.FromMinutes(1), () => nodes);
        }
        catch (Exception e)
        {
            var st = await Capacity.GetStatusAsync();
            var tr = await f.TrailAsync(Fleet.Core.Lifecycle.Provisioning.Subject);
            throw new Exception($"{e.Message}; plan: {st.Plan}; held: {st.HeldBy}; requests: {string.Join(", ", st.Requests)}; trail: {string.Join(" | ", tr.Select(r => r.Reason))}");
        }
        var (key, body) = Assert.Single(f.Requests);
        Assert.Equal("provision", body.GetProperty("action").GetString());
        Assert.Equal("small", body.GetProperty("shape").GetString());
        Assert.Equal("d-prov-new", body.GetProperty("domain").GetString());
        Assert.Equal("3", body.GetProperty("count").GetString());
        Assert.Equal(key, body.GetProperty("idempotencyKey").GetString());
        Assert.Contains("3 instance(s) of pv-api cannot be placed for lack of room", body.GetProperty("reason").GetString());
        Assert.Equal($"provision-request={key}", body.GetProperty("label").GetString());
        var pendingSince = (await Service("pv-api").GetAsync())!.Instances.Where(i => i.State == InstanceState.Pending).Min(i => i.Since);
        Assert.True(f.Time.GetUtcNow() - pendingSince >= TimeSpan.FromSeconds(10), "not before the instances were Pending for lifecycle.provision.pendingFor");

        // While they are on their way, nothing more is asked; the lease was given back once the provisioner took the request.
        await f.AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), async () => await f.ReportAsync("pv-0"));
        Assert.Single(f.Requests);
        var status = await Capacity.GetStatusAsync();
        var request = Assert.Single(status.Requests);
        Assert.Equal(ProvisionPhase.Sent, request.Phase);
        Assert.Equal(3, request.OnTheWay);
        Assert.Contains("3 on their way", status.Plan);
        Assert.Empty((await f.Client.GetGrain<IDomainSupervisorGrain>("d-prov-new").GetStatusAsync()).Leases);

        // The provisioner's machines register with the request's key, burn in, and take the instances.
        for (var i = 1; i <= 3; i++)
        {
            await f.RegisterAsync($"pv-{i}", "d-prov-new", new Dictionary<string, string> { [ProvisionLabels.Request] = key }, cpu: 4, memory: 8 * FleetTestCluster.Gi);
            nodes.Add($"pv-{i}");
        }
        Assert.Equal(LifecycleStage.BurnIn, (await f.Node("pv-1").GetStatusAsync())!.Stage);
        await ReportingUntilAsync(async () => (await Service("pv-api").GetAsync())!.Running == 4, "every instance runs", TimeSpan.FromMinutes(3), () => nodes);
        Assert.Single(f.Requests);
        status = await Capacity.GetStatusAsync();
        Assert.Equal(["pv-1", "pv-2", "pv-3"], status.Requests.Single().Arrived.Order(StringComparer.Ordinal).ToArray());
        Assert.Empty(status.Demands);
        Assert.Equal("nothing is Pending for lack of room", status.Plan);
        var trail = await f.TrailAsync(Fleet.Core.Lifecycle.Provisioning.Subject);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Permitted && r.Action == ActionNames.Provision);
        Assert.Contains(trail, r => r.Kind == DecisionKinds.Executed && r.Reason.StartsWith("Asked the provisioner for 3 small machine(s) in d-prov-new"));
        Assert.Equal(3, trail.Count(r => r.Kind == DecisionKinds.Observed && r.Outcome == "arrived"));
        Assert.All((await Service("pv-api").GetAsync())!.Instances, i => Assert.Contains(i.Node, nodes));
        foreach (var n in nodes.Skip(1))
            Assert.True((await f.TrailAsync($"node/{n}")).Single(r => r.Action == ActionNames.Admit && r.Kind == DecisionKinds.Executed).Time
                <= (await f.TrailAsync("service/pv-api")).Where(r => r.Kind == DecisionKinds.Placed && r.Reason.Contains($"on node {n} ")).Select(r => r.Time).DefaultIfEmpty(DateTimeOffset.MaxValue).Min(),
                $"{n} took work only after its burn-in");

        // Scaled down to one instance, three nodes are empty: one is kept as headroom, the others are given back (retired,
        // and the provisioner asked to take each machine back) once they have been empty for a minute — one at a time.
        await Service("pv-api").ScaleAsync(1, "test");
        await ReportingUntilAsync(async () => f.Requests.Count(r => r.Body.GetProperty("action").GetString() == ActionNames.GiveBack) == 2,
            "two empty nodes were given back", TimeSpan.FromMinutes(5), () => nodes);
        var retired = new List<string>();
        foreach (var n in nodes)
            if ((await f.Node(n).GetStatusAsync())!.Stage == LifecycleStage.Retired) retired.Add(n);
        Assert.Equal(2, retired.Count);
        var released = f.Requests.Where(r => r.Body.GetProperty("action").GetString() == ActionNames.GiveBack).Select(r => r.Body.GetProperty("node").GetString()!).Order().ToArray();
        Assert.Equal([.. retired.Order()], released);
        var runningOn = (await Service("pv-api").GetAsync())!.Instances.Single().Node!;
        Assert.DoesNotContain(runningOn, retired);
        var capacityTrail = await f.TrailAsync(Fleet.Core.Lifecycle.Provisioning.Subject);
        Assert.Equal(2, capacityTrail.Count(r => r.Outcome == "given-back"));
        Assert.Contains(capacityTrail, r => r.Reason.StartsWith("Gave back node") && r.Reason.Contains("against a headroom of 1"));
        await f.AdvanceAsync(TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(10), async () => { foreach (var n in nodes.Except(retired)) await f.ReportAsync(n); });
        Assert.Equal(2, f.Requests.Count(r => r.Body.GetProperty("action").GetString() == ActionNames.GiveBack)); // the headroom is kept
    }
}
