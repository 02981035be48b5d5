using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.RateLimiting;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Policies;
using Fleet.Core.Security;

namespace Fleet.Agent;

/// <summary>
/// Carries out the actions the cluster sends — only signed ones, and only with what the config names. A request runs when
/// its signature verifies with the cluster's action key (<c>cluster.actionKeyFile</c>), it is for this node, it has not
/// expired and its idempotency key never ran here (<see cref="ActionJournal"/>, which survives restarts); anything else is
/// refused, logged and reported to the node's trail, and nothing runs. An action maps to steps: the config's
/// <c>actions</c> section first; otherwise <c>restart-services</c> restarts every process, <c>restart-NAME</c>,
/// <c>stop-NAME</c>, <c>start-NAME</c> act on process NAME and <c>script-NAME</c> runs script NAME. Anything else is refused.
/// </summary>
public sealed partial class AgentActions(
    AgentConfig config, ProcessSupervisor supervisor, PeerProber peers, ActionJournal journal, TimeProvider time, IServiceProvider services, ILogger<AgentActions> log)
    : IAgentObserver, IDisposable
{
    /// <summary>The most script output a result (and so the trail) carries; the rest is cut, its length noted.</summary>
    public const int MaxOutputChars = 2048;

    public async Task<PeerProbe?> ProbePeerAsync(string peerNodeId)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        return await peers.ProbeAsync(peerNodeId, cts.Token);
    }

    /// <summary>Runs under way by key; each a Lazy made under <see cref="_gate"/>, so two copies of one request never both start.</summary>
    private readonly Dictionary<string, Lazy<Task<AgentActionResult>>> _running = [];
    private readonly Lock _gate = new();
    private readonly ECDsa? _actionKey = config.Cluster.ActionKey();

    /// <summary>Refusals reported to the cluster: at most 10 a minute, so a flood of forged requests does not flood the trail.</summary>
    private readonly TokenBucketRateLimiter _reports = new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = 10, TokensPerPeriod = 10, ReplenishmentPeriod = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true,
    });

    public sealed record Step(string Verb, string Target, string? Error = null);

    public static Step ParseStep(string text, AgentConfig config)
    {
        var parts = text.Split(':', 2);
        if (parts.Length != 2) return new Step("", "", $"'{text}' is not verb:name (restart, stop, start or script)");
        var (verb, name) = (parts[0], parts[1]);
        return verb switch
        {
            "restart" or "stop" or "start" when config.Processes.Any(p => p.Name == name) => new Step(verb, name),
            "restart" or "stop" or "start" => new Step(verb, name, $"no process named '{name}' in this agent's config"),
            "script" when config.Scripts.Any(s => s.Name == name) => new Step(verb, name),
            "script" => new Step(verb, name, $"no script named '{name}' in this agent's config"),
            _ => new Step(verb, name, $"'{verb}' is not a step (restart, stop, start or script)"),
        };
    }

    /// <summary>The steps for an action, or why it is refused.</summary>
    public (IReadOnlyList<Step> Steps, string? Refusal) Resolve(string action)
    {
        if (config.Actions.TryGetValue(action, out var mapped))
        {
            var steps = mapped.Select(s => ParseStep(s, config)).ToList();
            return steps.FirstOrDefault(s => s.Error is not null) is { } bad ? ([], bad.Error) : (steps, null);
        }
        if (action == ActionNames.RestartServices)
            return config.Processes.Count == 0 ? ([], "this agent supervises no process") : (config.Processes.Select(p => new Step("restart", p.Name)).ToList(), null);
        foreach (var verb in new[] { "restart", "stop", "start", "script" })
            if (action.StartsWith(verb + "-", StringComparison.Ordinal))
            {
                var step = ParseStep($"{verb}:{action[(verb.Length + 1)..]}", config);
                return step.Error is null ? ([step], null) : ([], step.Error);
            }
        return ([], $"this agent's config names no action '{action}'");
    }

    public Task<AgentActionResult> ExecuteAsync(SignedAction action)
    {
        var request = action.Request;
        if (ActionSignatures.Check(_actionKey, action, config.Node.Id, time.GetUtcNow()) is { } refusal)
        {
            LogUnsigned(log, request?.Action ?? "(none)", request?.IdempotencyKey ?? "(none)", refusal.Why);
            Report(new AgentRefusal(Bounded(request?.IdempotencyKey, 256), Bounded(request?.Action, 64), Bounded(request?.Subject, 300), refusal.Kind, Bounded(refusal.Why, 512)));
            return Task.FromResult(new AgentActionResult(request?.IdempotencyKey ?? "", false, $"not run: {refusal.Why}", Refused: true));
        }
        // The same key while it runs: the same run. A key that ran before (this process or an earlier one): its outcome, nothing runs.
        Lazy<Task<AgentActionResult>> run;
        lock (_gate)
        {
            if (!_running.TryGetValue(request.IdempotencyKey, out run!))
            {
                if (journal.Find(request.IdempotencyKey) is { } earlier)
                {
                    LogReplayed(log, request.Action, request.IdempotencyKey, earlier.At);
                    var replay = ActionJournal.Replay(earlier);
                    Report(new AgentRefusal(request.IdempotencyKey, request.Action, request.Subject, AgentRefusalKinds.Replayed, Bounded(replay.Detail, 512)));
                    return Task.FromResult(replay);
                }
                // Journalled as started before the lock is let go: a copy arriving now finds the run (or its journal line).
                journal.Started(request.IdempotencyKey, request.Action);
                _running[request.IdempotencyKey] = run = new Lazy<Task<AgentActionResult>>(() => RunJournaledAsync(request));
            }
        }
        return run.Value;
    }

    /// <summary>
    /// What became of a key: its outcome from the journal; null when this agent never saw it, or when it is running now (no
    /// outcome yet: the cluster sends it again, and that copy joins the run and answers with its outcome).
    /// </summary>
    public Task<AgentActionResult?> OutcomeAsync(string idempotencyKey)
    {
        lock (_gate)
        {
            if (_running.ContainsKey(idempotencyKey)) return Task.FromResult<AgentActionResult?>(null);
            return Task.FromResult(journal.Find(idempotencyKey) is { } e ? ActionJournal.Replay(e) : null);
        }
    }

    private async Task<AgentActionResult> RunJournaledAsync(ActionRequest request)
    {
        try
        {
            var result = await RunAsync(request);
            journal.Done(request.IdempotencyKey, request.Action, result.Succeeded, result.Detail);
            return result;
        }
        finally
        {
            lock (_gate) _running.Remove(request.IdempotencyKey);
        }
    }

    /// <summary>Tells the cluster (the node's trail) of a refused or repeated request, within the report rate.</summary>
    private void Report(AgentRefusal refusal)
    {
        using var lease = _reports.AttemptAcquire();
        if (!lease.IsAcquired || services.GetService<IGrainFactory>() is not { } grains) return;
        _ = Task.Run(async () =>
        {
            try { await grains.GetGrain<IAgentGrain>(config.Node.Id).RefusedAsync(refusal); }
            catch (Exception e) { LogReportFailed(log, e.Message.Split('\n')[0]); }
        });
    }

    private static string Bounded(string? text, int max) =>
        string.IsNullOrEmpty(text) ? "(none)" : new string(text.Where(c => !char.IsControl(c)).Take(max).ToArray());

    public void Dispose() => _reports.Dispose();

    private async Task<AgentActionResult> RunAsync(ActionRequest request)
    {
        var (steps, refusal) = Resolve(request.Action);
        if (refusal is not null)
        {
            LogRefused(log, request.Action, request.IdempotencyKey, refusal);
            return new AgentActionResult(request.IdempotencyKey, false, refusal, Refused: true);
        }
        var details = new List<string>();
        foreach (var step in steps)
        {
            try
            {
                details.Add(step.Verb switch
                {
                    "restart" => await supervisor.RestartAsync(step.Target),
                    "stop" => await supervisor.StopAsync(step.Target),
                    "start" => supervisor.Start(step.Target),
                    _ => await RunScriptAsync(step.Target, request),
                });
            }
            catch (Exception e)
            {
                LogFailed(log, request.Action, request.IdempotencyKey, e.Message);
                return new AgentActionResult(request.IdempotencyKey, false, $"{step.Verb} {step.Target} failed: {e.Message}");
            }
        }
        LogRan(log, request.Action, request.IdempotencyKey, string.Join("; ", details));
        return new AgentActionResult(request.IdempotencyKey, true, string.Join("; ", details));
    }

    /// <summary>
    /// Runs a configured script. It sees the action in its environment: <c>FLEET_ACTION</c>, <c>FLEET_ACTION_KEY</c> (the
    /// idempotency key), <c>FLEET_SUBJECT</c>, and each of the action's parameters as <c>FLEET_NAME</c> (a service
    /// instance's <c>FLEET_SERVICE</c>, <c>FLEET_INSTANCE</c>, <c>FLEET_VERSION</c>). A failing script's stderr goes into the
    /// answer (and the trail) cut to <see cref="MaxOutputChars"/>, its full length noted.
    /// </summary>
    private async Task<string> RunScriptAsync(string name, ActionRequest request)
    {
        var spec = config.Scripts.Single(s => s.Name == name);
        var psi = new ProcessStartInfo(spec.Command) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in spec.Args) psi.ArgumentList.Add(a);
        psi.Environment["FLEET_ACTION"] = request.Action;
        psi.Environment["FLEET_ACTION_KEY"] = request.IdempotencyKey;
        if (spec.User is { } user) psi.UserName = user;
        AgentEnvironment.Scrub(psi);
        psi.Environment["FLEET_SUBJECT"] = request.Subject;
        foreach (var (k, v) in request.Parameters) psi.Environment[$"FLEET_{k.ToUpperInvariant()}"] = v;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Durations.TryParse(spec.Timeout, out var t) ? t : TimeSpan.FromSeconds(30));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(true); throw new TimeoutException($"script {name} ran past {spec.Timeout}"); }
        await Task.WhenAll(output, error);
        if (p.ExitCode != 0) throw new InvalidOperationException($"script {name} exited with {p.ExitCode}: {Cut(error.Result.Trim())}");
        return $"ran script {name}";
    }

    /// <summary>Script output as the trail keeps it: at most <see cref="MaxOutputChars"/> characters, with the full length noted when cut.</summary>
    public static string Cut(string output) =>
        output.Length <= MaxOutputChars ? output : $"{output[..MaxOutputChars]}… (cut: {output.Length:N0} characters in all)";

    [LoggerMessage(LogLevel.Warning, "Refused an action request {Action} (key {Key}): {Reason}; nothing ran")]
    private static partial void LogUnsigned(ILogger logger, string action, string key, string reason);

    [LoggerMessage(LogLevel.Information, "Did not run action {Action} (key {Key}) again: it ran at {At}")]
    private static partial void LogReplayed(ILogger logger, string action, string key, DateTimeOffset at);

    [LoggerMessage(LogLevel.Warning, "Could not report a refused action request to the cluster: {Error}")]
    private static partial void LogReportFailed(ILogger logger, string error);

    [LoggerMessage(LogLevel.Warning, "Refused action {Action} (key {Key}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string action, string key, string reason);

    [LoggerMessage(LogLevel.Warning, "Action {Action} (key {Key}) failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string action, string key, string reason);

    [LoggerMessage(LogLevel.Information, "Ran action {Action} (key {Key}): {Detail}")]
    private static partial void LogRan(ILogger logger, string action, string key, string detail);
}
