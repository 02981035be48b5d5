using Fleet.Abstractions.Actions;

namespace Fleet.Grains.Actuators;

/// <summary>Carries out an action on a real or simulated node. Must treat a repeated idempotency key as done.</summary>
public interface IActuator
{
    string Name { get; }

    /// <summary>Runs the action. Throws <see cref="ActuatorException"/> for a failure worth retrying, returns a failed result for a final one.</summary>
    Task<ActuatorResult> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken);
}

public sealed record ActuatorResult(bool Succeeded, string Detail);

/// <summary>
/// An actuator that can say what became of a key it was sent (the agent keeps a journal): before an action that was begun
/// and never completed is sent again, the executor asks, and takes the answer instead of sending.
/// </summary>
public interface IOutcomeQuery
{
    /// <summary>The key's outcome as the far end knows it, or null when it never saw the key (it may be sent).</summary>
    Task<ActuatorResult?> OutcomeAsync(ActionRequest request, CancellationToken cancellationToken);
}

/// <summary>A transient failure: the pipeline retries it.</summary>
public sealed class ActuatorException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An actuator under another name: the security actuator is the configured one unless a security webhook is set.</summary>
public sealed class NamedActuator(string name, IActuator inner) : IActuator, IOutcomeQuery
{
    public string Name => name;

    public Task<ActuatorResult> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken) => inner.ExecuteAsync(request, cancellationToken);

    public Task<ActuatorResult?> OutcomeAsync(ActionRequest request, CancellationToken cancellationToken) =>
        inner is IOutcomeQuery query ? query.OutcomeAsync(request, cancellationToken) : Task.FromResult<ActuatorResult?>(null);
}
