using System.Collections.Concurrent;
using Fleet.Abstractions.Actions;
using Fleet.Core.Actions;
using Fleet.Grains.Policy;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Fleet.Grains.Actuators;

/// <summary>
/// Runs granted actions outside the owner grain's turn (so a slow actuator never blocks its telemetry),
/// inside a Polly pipeline (retry with backoff, circuit breaker, timeout per attempt), and reports the outcome
/// back to the subject's owner (<see cref="IActionOwner"/>, whatever its kind). A key already running or done on this
/// silo is not started again.
/// </summary>
public sealed partial class ActionExecutor
{
    private readonly ActuatorSet _actuators;
    private readonly PolicyCache _policies;
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly ILogger<ActionExecutor> _log;
    private readonly ActuatorOptions _options;
    private readonly ConcurrentDictionary<string, ResiliencePipeline<ActuatorResult>> _pipelines = new();
    private readonly ConcurrentDictionary<string, Task<ActionOutcome>> _running = new();

    public ActionExecutor(ActuatorSet actuators, PolicyCache policies, IGrainFactory grains, TimeProvider time, IOptions<ActuatorOptions> options,
        ILogger<ActionExecutor> log)
    {
        _actuators = actuators;
        _policies = policies;
        _grains = grains;
        _time = time;
        _log = log;
        _options = options.Value;
    }

    /// <summary>The name of the silo's configured actuator (the one an action runs on unless its catalogue row names another).</summary>
    public string ActuatorName => _actuators.Default.Name;

    /// <summary>Actions started on this silo whose outcome has not been handed back to their owner yet.</summary>
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

    /// <summary>Starts the action and returns at once; the subject's owner hears the outcome through <see cref="IActionOwner.ActionCompletedAsync"/>.</summary>
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
            LogAlreadyDone(request.Action, request.Subject, request.IdempotencyKey);
            return finished;
        }
        var named = ActionCatalogue.For(_policies.Current)[request.Action].Actuator;
        var actuator = _actuators.Find(named);
        if (actuator is null)
        {
            var missing = new ActionOutcome(request.IdempotencyKey, false,
                $"the action catalogue runs {request.Action} on the {named} actuator, which this silo does not have", _time.GetUtcNow());
            await ledger.CompleteAsync(missing);
            return missing;
        }
        var pipeline = _pipelines.GetOrAdd(actuator.Name, _ => BuildPipeline(_options, _time));
        // Begun before and never completed (a silo died between the actuator's answer and the ledger's write): ask the far end
        // what became of the key before sending it again, where it can say (the agent's journal). Delivery is at least once;
        // the key makes the repeat harmless where it cannot.
        if (actuator is IOutcomeQuery query && (await ledger.GetAsync()).Attempts > 1)
        {
            try
            {
                if (await pipeline.ExecuteAsync(async ct => await query.OutcomeAsync(request, ct) ?? Unknown, CancellationToken.None) is { } known && !ReferenceEquals(known, Unknown))
                {
                    LogResolved(request.Action, request.Subject, request.IdempotencyKey, known.Detail);
                    var resolved = new ActionOutcome(request.IdempotencyKey, known.Succeeded, known.Detail, _time.GetUtcNow());
                    await ledger.CompleteAsync(resolved);
                    return resolved;
                }
            }
            catch (Exception e) when (e is ActuatorException or TimeoutRejectedException or BrokenCircuitException)
            {
                // The far end cannot say now: the action is sent again with its key, as before.
            }
        }
        try
        {
            var result = await pipeline.ExecuteAsync(ct => new ValueTask<ActuatorResult>(actuator.ExecuteAsync(request, ct)));
            LogRan(request.Action, request.Subject, request.IdempotencyKey, result.Succeeded, result.Detail);
            var outcome = new ActionOutcome(request.IdempotencyKey, result.Succeeded, result.Detail, _time.GetUtcNow());
            await ledger.CompleteAsync(outcome);
            return outcome;
        }
        catch (Exception e) when (e is ActuatorException or TimeoutRejectedException or BrokenCircuitException or HttpRequestException)
        {
            var detail = e switch
            {
                BrokenCircuitException => $"the {actuator.Name} actuator's circuit is open after repeated failures",
                TimeoutRejectedException => $"the {actuator.Name} actuator did not answer in time",
                _ => e.Message,
            };
            LogRan(request.Action, request.Subject, request.IdempotencyKey, false, detail);
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
            LogReportFailed(request.Subject, request.IdempotencyKey, e.Message);
            return; // the owner's Acting deadline or its next activation tries again
        }
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                await _grains.GetGrain<IActionOwner>(GrainId.Parse(request.Subject)).ActionCompletedAsync(outcome);
                return;
            }
            catch (Exception e)
            {
                LogReportFailed(request.Subject, request.IdempotencyKey, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)));
            }
        }
    }

    /// <summary>Stands for "the far end never saw the key" inside the pipeline (which cannot return null).</summary>
    private static readonly ActuatorResult Unknown = new(false, "(unknown)");

    [LoggerMessage(LogLevel.Information, "Resolved {Action} for {Subject} (key {Key}) from the actuator's own record instead of sending it again: {Detail}")]
    private partial void LogResolved(string action, string subject, string key, string detail);

    [LoggerMessage(LogLevel.Information, "Ran {Action} for {Subject} (key {Key}): succeeded={Succeeded}, {Detail}")]
    private partial void LogRan(string action, string subject, string key, bool succeeded, string detail);

    [LoggerMessage(LogLevel.Information, "Skipped {Action} for {Subject} (key {Key}): the ledger shows it already finished")]
    private partial void LogAlreadyDone(string action, string subject, string key);

    [LoggerMessage(LogLevel.Warning, "Failed to report the outcome of action {Key} to {Subject}: {Error}")]
    private partial void LogReportFailed(string subject, string key, string error);
}
