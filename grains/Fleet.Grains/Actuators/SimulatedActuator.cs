using System.Collections.Concurrent;
using Fleet.Abstractions.Actions;

namespace Fleet.Grains.Actuators;

/// <summary>
/// An actuator with no real host behind it. It records what it ran (once per idempotency key) and tells
/// <see cref="Executed"/> subscribers, so a simulator can make the action change the simulated node.
/// </summary>
public sealed class SimulatedActuator : IActuator, IOutcomeQuery
{
    private readonly ConcurrentDictionary<string, ActionRequest> _done = new();

    public string Name => "simulated";

    /// <summary>Raised once per idempotency key, when the action is first carried out.</summary>
    public event Action<ActionRequest>? Executed;

    /// <summary>When set, decides whether an action fails (for tests and fault scenarios). Default: every action succeeds.</summary>
    public Func<ActionRequest, ActuatorResult?>? Behaviour { get; set; }

    public IReadOnlyCollection<ActionRequest> History => _done.Values.OrderBy(r => r.IdempotencyKey).ToArray();

    public Task<ActuatorResult> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        if (Behaviour?.Invoke(request) is { Succeeded: false } failure) return Task.FromResult(failure);
        if (!_done.TryAdd(request.IdempotencyKey, request))
            return Task.FromResult(new ActuatorResult(true, $"{request.Action} already done (same idempotency key)"));
        Executed?.Invoke(request);
        return Task.FromResult(new ActuatorResult(true, $"simulated {request.Action} on {request.Target ?? request.Subject}"));
    }

    /// <summary>A key it carried out: done (as a real far end's own record would say); any other: never seen.</summary>
    public Task<ActuatorResult?> OutcomeAsync(ActionRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(_done.ContainsKey(request.IdempotencyKey)
            ? new ActuatorResult(true, $"{request.Action} already done (the simulated fleet's own record of the key)") : null);
}
