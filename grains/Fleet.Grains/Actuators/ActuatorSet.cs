namespace Fleet.Grains.Actuators;

/// <summary>
/// The actuators a silo can run actions on: its configured one (<see cref="Default"/>) and the others it can reach,
/// by name, for the action catalogue's rows that name one (<c>agent</c> always; <c>webhook</c> when a webhook URL is
/// configured; <c>simulated</c> always).
/// </summary>
public sealed class ActuatorSet(IActuator configured, IEnumerable<IActuator> others)
{
    private readonly Dictionary<string, IActuator> _byName = others.Append(configured)
        .GroupBy(a => a.Name, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Last(), StringComparer.OrdinalIgnoreCase);

    public IActuator Default { get; } = configured;

    /// <summary>The actuator a row names, or the configured one when it names none; null when the silo has no such actuator.</summary>
    public IActuator? Find(string? name) => name is null ? Default : _byName.GetValueOrDefault(name);
}
