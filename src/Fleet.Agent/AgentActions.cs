using System.Collections.Concurrent;
using System.Diagnostics;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Agents;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Policies;

namespace Fleet.Agent;

/// <summary>
/// Carries out the actions the cluster sends — only with what the config names. An action maps to steps: the config's
/// <c>actions</c> section first; otherwise <c>restart-services</c> restarts every process, <c>restart-NAME</c>,
/// <c>stop-NAME</c>, <c>start-NAME</c> act on process NAME and <c>script-NAME</c> runs script NAME. Anything else is refused.
/// A repeated idempotency key gets the first run's answer.
/// </summary>
public sealed partial class AgentActions(AgentConfig config, ProcessSupervisor supervisor, PeerProber peers, ILogger<AgentActions> log) : IAgentObserver
{
    public async Task<PeerProbe?> ProbePeerAsync(string peerNodeId)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        return await peers.ProbeAsync(peerNodeId, cts.Token);
    }

    private readonly ConcurrentDictionary<string, Task<AgentActionResult>> _done = new();

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

    public Task<AgentActionResult> ExecuteAsync(ActionRequest request) =>
        _done.GetOrAdd(request.IdempotencyKey, _ => RunAsync(request));

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
    /// Runs a configured script. It sees the action in its environment: <c>FLEET_ACTION</c>, <c>FLEET_KEY</c> (the
    /// idempotency key), <c>FLEET_SUBJECT</c>, and each of the action's parameters as <c>FLEET_NAME</c> (a service
    /// instance's <c>FLEET_SERVICE</c>, <c>FLEET_INSTANCE</c>, <c>FLEET_VERSION</c>).
    /// </summary>
    private async Task<string> RunScriptAsync(string name, ActionRequest request)
    {
        var spec = config.Scripts.Single(s => s.Name == name);
        var psi = new ProcessStartInfo(spec.Command) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in spec.Args) psi.ArgumentList.Add(a);
        psi.Environment["FLEET_ACTION"] = request.Action;
        psi.Environment["FLEET_KEY"] = request.IdempotencyKey;
        psi.Environment["FLEET_SUBJECT"] = request.Subject;
        foreach (var (k, v) in request.Parameters) psi.Environment[$"FLEET_{k.ToUpperInvariant()}"] = v;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Durations.TryParse(spec.Timeout, out var t) ? t : TimeSpan.FromSeconds(30));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(true); throw new TimeoutException($"script {name} ran past {spec.Timeout}"); }
        await Task.WhenAll(output, error);
        if (p.ExitCode != 0) throw new InvalidOperationException($"script {name} exited with {p.ExitCode}: {error.Result.Trim()}");
        return $"ran script {name}";
    }

    [LoggerMessage(LogLevel.Warning, "Refused action {Action} (key {Key}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string action, string key, string reason);

    [LoggerMessage(LogLevel.Warning, "Action {Action} (key {Key}) failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string action, string key, string reason);

    [LoggerMessage(LogLevel.Information, "Ran action {Action} (key {Key}): {Detail}")]
    private static partial void LogRan(ILogger logger, string action, string key, string detail);
}
