namespace Fleet.Abstractions.Actions;

/// <summary>An action granted to a node, handed to an actuator. The key makes a repeat harmless.</summary>
[GenerateSerializer, Immutable, Alias("fleet.ActionRequest")]
public sealed record ActionRequest(
    [property: Id(0)] string IdempotencyKey,
    [property: Id(1)] string NodeId,
    [property: Id(2)] string Action,
    [property: Id(3)] string Reason,
    [property: Id(4)] string LeaseId);

[GenerateSerializer, Immutable, Alias("fleet.ActionOutcome")]
public sealed record ActionOutcome(
    [property: Id(0)] string IdempotencyKey,
    [property: Id(1)] bool Succeeded,
    [property: Id(2)] string Detail,
    [property: Id(3)] DateTimeOffset CompletedAt);

/// <summary>The names of the actions the built-in ladder and the operator commands use.</summary>
public static class ActionNames
{
    public const string RestartServices = "restart-services";
    public const string Reboot = "reboot";
    public const string Drain = "drain";
    public const string Replace = "replace";
    /// <summary>The top rung: no automatic action, a person takes the case.</summary>
    public const string Human = "human";
}
