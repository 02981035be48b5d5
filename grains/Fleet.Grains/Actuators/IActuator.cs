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

/// <summary>A transient failure: the pipeline retries it.</summary>
public sealed class ActuatorException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An actuator under another name: the security actuator is the configured one unless a security webhook is set.</summary>
public sealed class NamedActuator(string name, IActuator inner) : IActuator
{
    public string Name => name;

    public Task<ActuatorResult> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken) => inner.ExecuteAsync(request, cancellationToken);
}
