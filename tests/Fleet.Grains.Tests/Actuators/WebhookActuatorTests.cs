using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Fleet.Abstractions.Actions;
using Fleet.Grains.Actuators;
using Polly;

namespace Fleet.Grains.Tests.Actuators;

/// <summary>The webhook actuator inside the real Polly pipeline, against a real HTTP listener on loopback.</summary>
public sealed class WebhookActuatorTests : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<string> _keys = new();
    private readonly ConcurrentQueue<string> _bodies = new();
    private readonly ConcurrentQueue<int> _answers = new();
    private readonly Uri _url;

    public WebhookActuatorTests()
    {
        var port = FreePort();
        _url = new Uri($"http://127.0.0.1:{port}/actions/");
        _listener.Prefixes.Add(_url.ToString());
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); } catch { return; }
            _keys.Enqueue(ctx.Request.Headers["Idempotency-Key"] ?? "");
            using (var reader = new StreamReader(ctx.Request.InputStream)) _bodies.Enqueue(await reader.ReadToEndAsync());
            ctx.Response.StatusCode = _answers.TryDequeue(out var code) ? code : 200;
            ctx.Response.Close();
        }
    }

    private static readonly ActionRequest Request = new("n1/case/0", "n1", ActionNames.Reboot, "check failed", "lease-1", "node/n1");

    private ResiliencePipeline<ActuatorResult> Pipeline(int retries = 3) => ActionExecutor.BuildPipeline(
        new ActuatorOptions { MaxRetries = retries, RetryDelay = TimeSpan.FromMilliseconds(10), AttemptTimeout = TimeSpan.FromSeconds(5) }, TimeProvider.System);

    private Task<ActuatorResult> RunAsync(ResiliencePipeline<ActuatorResult> pipeline, Uri? url = null)
    {
        var actuator = new WebhookActuator(new HttpClient(), url ?? _url);
        return pipeline.ExecuteAsync(ct => new ValueTask<ActuatorResult>(actuator.ExecuteAsync(Request, ct))).AsTask();
    }

    [Fact]
    public async Task Execute_TwoServerErrorsThenOk_RetriedWithSameKey_Succeeds()
    {
        _answers.Enqueue(503);
        _answers.Enqueue(500);
        var result = await RunAsync(Pipeline());
        Assert.True(result.Succeeded);
        Assert.Equal(["n1/case/0", "n1/case/0", "n1/case/0"], _keys.ToArray());
    }

    [Fact]
    public async Task Execute_ClientError_FinalFailure_NotRetried()
    {
        _answers.Enqueue(400);
        var result = await RunAsync(Pipeline());
        Assert.False(result.Succeeded);
        Assert.Contains("400", result.Detail);
        Assert.Single(_keys);
    }

    [Fact]
    public async Task Execute_Unreachable_RetriesThenThrowsTransient()
    {
        var dead = new Uri($"http://127.0.0.1:{FreePort()}/nothing/");
        await Assert.ThrowsAsync<ActuatorException>(() => RunAsync(Pipeline(retries: 2), dead));
    }

    [Fact]
    public async Task Execute_RepeatedFailures_CircuitOpens()
    {
        var pipeline = Pipeline(retries: 0);
        for (var i = 0; i < 4; i++) _answers.Enqueue(503);
        for (var i = 0; i < 4; i++) await Assert.ThrowsAsync<ActuatorException>(() => RunAsync(pipeline));
        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(() => RunAsync(pipeline));
        Assert.Equal(4, _keys.Count);
    }

    [Fact]
    public async Task Execute_ServiceInstanceAction_BodyCarriesTheKeySubjectNodeAndParameters()
    {
        var actuator = new WebhookActuator(new HttpClient(), _url);
        var request = new ActionRequest("service/api/api-4/start@n7", "n7", ActionNames.StartInstance, "start-instance for service api", null, "service/api")
        {
            Parameters = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add("service", "api").Add("instance", "api-4").Add("version", "1.4.2")
                .Add("node", "not-this-one"),
        };
        Assert.True((await actuator.ExecuteAsync(request, CancellationToken.None)).Succeeded);
        var body = System.Text.Json.JsonDocument.Parse(_bodies.Single()).RootElement;
        Assert.Equal("service/api/api-4/start@n7", body.GetProperty("idempotencyKey").GetString());
        Assert.Equal("service/api", body.GetProperty("subject").GetString());
        Assert.Equal("n7", body.GetProperty("node").GetString()); // a parameter never replaces a fixed field
        Assert.Equal("start-instance", body.GetProperty("action").GetString());
        Assert.Equal(("api", "api-4", "1.4.2"), (body.GetProperty("service").GetString(), body.GetProperty("instance").GetString(), body.GetProperty("version").GetString()));
        Assert.Equal("service/api/api-4/start@n7", _keys.Single());
    }

    public void Dispose() => _listener.Close();
}
