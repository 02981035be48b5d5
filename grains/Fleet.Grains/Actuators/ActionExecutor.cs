using System.Collections.Concurrent;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Fleet.Grains.Actuators;

/// <summary>
/// Runs granted actions outside the node grain's turn (so a slow actuator never blocks the node's telemetry),
/// inside a Polly pipeline (retry with backoff, circuit breaker, timeout per attempt), and reports the outcome
/// back to the node grain. A key already running or done on this silo is not started again.
/// </summary>
public sealed partial class ActionExecutor
{
    private readonly IActuator _actuator;
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly ILogger<ActionExecutor> _log;
    private readonly ResiliencePipeline<ActuatorResult> _pipeline;
    private readonly ConcurrentDictionary<string, Task<ActionOutcome>> _running = new();

    public ActionExecutor(IActuator actuator, IGrainFactory grains, TimeProvider time, IOptions<ActuatorOptions> options, ILogger<ActionExecutor> log)
    {
        _actuator = actuator;
        _grains = grains;
        _time = time;
        _log = log;
        _pipeline = BuildPipeline(options.Value, time);
    }

    public string ActuatorName => _actuator.Name;

    /// <summary>Actions started on this silo whose outcome has not been handed back to their node yet.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    private int _inFlight;

    public static ResiliencePipeline<ActuatorResult> BuildPipeline(ActuatorOptions o, TimeProvider time)
    {
        var transient = new PredicateBuilder<ActuatorResult>().Handle<ActuatorException>().Handle<TimeoutRejectedException>();
        var builder = new ResiliencePipelineBuilder<ActuatorResult> { TimeProvider = time };
        if (o.MaxRetries > 0)
            builder.AddRetry(new RetryStrategyOptions<ActuatorResult>
            {
                MaxRetryAttempts = o.MaxRetries,
                Delay = o.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = transient,
            });
        return builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<ActuatorResult>
            {
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = o.BreakDuration,
                ShouldHandle = transient,
            })
            .AddTimeout(o.AttemptTimeout)
            .Build();
    }

    /// <summary>Starts the action and returns at once; the node grain hears the outcome through <see cref="INodeGrain.ActionCompletedAsync"/>.</summary>
    public void Start(ActionRequest request)
    {
        if (_running.TryGetValue(request.IdempotencyKey, out var existing))
        {
            if (existing.IsCompleted) _ = ReportAsync(request, existing);
            return;
        }
        var task = _running.GetOrAdd(request.IdempotencyKey, _ => Task.Run(() => RunAsync(request)));
        _ = ReportAsync(request, task);
        // A run that faulted (storage down, say) may be started again; a finished one is remembered for its repeats.
        _ = task.ContinueWith(t => _running.TryRemove(new(request.IdempotencyKey, t)), TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>Runs the action through the pipeline and returns its outcome (used directly by tests and the agent path).</summary>
    public async Task<ActionOutcome> RunAsync(ActionRequest request)
    {
        var started = _time.GetTimestamp();
        var ledger = _grains.GetGrain<IActionLedgerGrain>(request.IdempotencyKey);
        if (await ledger.BeginAsync(Environment.MachineName + ":" + Environment.ProcessId) is { } finished)
        {
            LogAlreadyDone(request.Action, request.NodeId, request.IdempotencyKey);
            return finished;
        }
        try
        {
            var result = await _pipeline.ExecuteAsync(ct => new ValueTask<ActuatorResult>(_actuator.ExecuteAsync(request, ct)));
            LogRan(request.Action, request.NodeId, request.IdempotencyKey, result.Succeeded, result.Detail);
            var outcome = new ActionOutcome(request.IdempotencyKey, result.Succeeded, result.Detail, _time.GetUtcNow());
            await ledger.CompleteAsync(outcome);
            return outcome;
        }
        catch (Exception e) when (e is ActuatorException or TimeoutRejectedException or BrokenCircuitException or HttpRequestException)
        {
            var detail = e switch
            {
                BrokenCircuitException => $"the {_actuator.Name} actuator's circuit is open after repeated failures",
                TimeoutRejectedException => $"the {_actuator.Name} actuator did not answer in time",
                _ => e.Message,
            };
            LogRan(request.Action, request.NodeId, request.IdempotencyKey, false, detail);
            var outcome = new ActionOutcome(request.IdempotencyKey, false, $"{detail} (after {_time.GetElapsedTime(started).TotalSeconds:0.0} s)", _time.GetUtcNow());
            await ledger.CompleteAsync(outcome);
            return outcome;
        }
    }

    private async Task ReportAsync(ActionRequest request, Task<ActionOutcome> run)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            await ReportCoreAsync(request, run);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task ReportCoreAsync(ActionRequest request, Task<ActionOutcome> run)
    {
        ActionOutcome outcome;
        try
        {
            outcome = await run;
        }
        catch (Exception e)
        {
            LogReportFailed(request.NodeId, request.IdempotencyKey, e.Message);
            return; // the node's Acting deadline or its next activation tries again
        }
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                await _grains.GetGrain<INodeGrain>(request.NodeId).ActionCompletedAsync(outcome);
                return;
            }
            catch (Exception e)
            {
                LogReportFailed(request.NodeId, request.IdempotencyKey, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)));
            }
        }
    }

    [LoggerMessage(LogLevel.Information, "Ran {Action} on node {Node} (key {Key}): succeeded={Succeeded}, {Detail}")]
    private partial void LogRan(string action, string node, string key, bool succeeded, string detail);

    [LoggerMessage(LogLevel.Information, "Skipped {Action} on node {Node} (key {Key}): the ledger shows it already finished")]
    private partial void LogAlreadyDone(string action, string node, string key);

    [LoggerMessage(LogLevel.Warning, "Failed to report the outcome of action {Key} to node {Node}: {Error}")]
    private partial void LogReportFailed(string node, string key, string error);
}
