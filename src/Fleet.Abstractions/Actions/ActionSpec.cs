using Fleet.Abstractions.Supervision;

namespace Fleet.Abstractions.Actions;

/// <summary>What an action does to its subject's administrative state once it has run.</summary>
[GenerateSerializer, Alias("fleet.AdminEffect")]
public enum AdminEffect
{
    None = 0,
    /// <summary>The node takes no new work and its instances move away (drain).</summary>
    Draining = 1,
    /// <summary>The node comes back as new: cordon and drain are lifted (replace).</summary>
    Reset = 2,
}

/// <summary>
/// One row of the action catalogue: what an action means. Built-in rows cover the ladder's actions; a policy's
/// <c>actions</c> section adds rows or overrides them.
/// </summary>
/// <param name="Name">The action's name, as the ladder and actuators use it.</param>
/// <param name="Verb">How a record says it was done, in the past tense ("Restarted services", "Rebooted").</param>
/// <param name="Class">Its class, which decides the budgets and brakes it meets.</param>
/// <param name="Effect">What it does to the subject's administrative state.</param>
/// <param name="Actuator">The actuator that runs it; null for the silo's configured one.</param>
[GenerateSerializer, Immutable, Alias("fleet.ActionSpec")]
public sealed record ActionSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] string Verb,
    [property: Id(2)] ActionClass Class,
    [property: Id(3)] AdminEffect Effect = AdminEffect.None,
    [property: Id(4)] string? Actuator = null);
