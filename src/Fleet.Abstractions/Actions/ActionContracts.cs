using System.Collections.Immutable;

namespace Fleet.Abstractions.Actions;

/// <summary>
/// An action handed to an actuator. <see cref="Subject"/> owns it and hears its outcome (<c>node/web-01</c>,
/// <c>service/api</c>); <see cref="Target"/> is the node it runs on, when it runs on one. The key makes a repeat harmless.
/// </summary>
[GenerateSerializer, Immutable, Alias("fleet.ActionRequest")]
public sealed record ActionRequest(
    [property: Id(0)] string IdempotencyKey,
    [property: Id(1)] string? Target,
    [property: Id(2)] string Action,
    [property: Id(3)] string Reason,
    [property: Id(4)] string? LeaseId,
    [property: Id(5)] string Subject)
{
    /// <summary>What the action needs besides its target (a service's instance and version, say).</summary>
    [Id(6)] public ImmutableDictionary<string, string> Parameters { get; init; } = ImmutableDictionary<string, string>.Empty;
}

[GenerateSerializer, Immutable, Alias("fleet.ActionOutcome")]
public sealed record ActionOutcome(
    [property: Id(0)] string IdempotencyKey,
    [property: Id(1)] bool Succeeded,
    [property: Id(2)] string Detail,
    [property: Id(3)] DateTimeOffset CompletedAt);

/// <summary>
/// The owner of a subject, whatever its kind: the executor tells it how an action it asked for ended. Every grain type
/// whose name is a subject kind (node, service, ...) implements it.
/// </summary>
[Alias("fleet.IActionOwner")]
public interface IActionOwner : IGrainWithStringKey
{
    [Alias("ActionCompleted")]
    Task ActionCompletedAsync(ActionOutcome outcome);
}

/// <summary>The names of the built-in actions (see <see cref="ActionSpec"/> for what each means).</summary>
public static class ActionNames
{
    public const string RestartServices = "restart-services";
    public const string Reboot = "reboot";
    public const string Drain = "drain";
    public const string Replace = "replace";
    /// <summary>The top rung: no automatic action, a person takes the case.</summary>
    public const string Human = "human";
    public const string StartInstance = "start-instance";
    /// <summary>Probes a candidate path before traffic moves onto it (parameters: flow, path, links, count).</summary>
    public const string ProbePath = "probe-path";
    /// <summary>Moves a flow's traffic from one path to another (parameters: flow, from, to).</summary>
    public const string ShiftFlow = "shift-flow";
    /// <summary>A link's event: its flows moved off it (the lease's action).</summary>
    public const string Reroute = "reroute";
    public const string StopInstance = "stop-instance";
    /// <summary>Restarts one instance where it runs (parameters: service, instance, version): the first rung of an instance's healing.</summary>
    public const string RestartInstance = "restart-instance";
    /// <summary>Gives up on an instance where it runs: it is fenced (stopped there) and a replacement placed elsewhere.</summary>
    public const string ReplaceInstance = "replace-instance";
    /// <summary>A step of a service's rollout: instances replaced by the new version (class rollout).</summary>
    public const string Rollout = "rollout";
    /// <summary>Instances of a new version replaced by the stable one (class rollout).</summary>
    public const string Rollback = "rollback";
    /// <summary>Retires a node: it is drained through the services' budgets, then decommissioned once nothing is left on it.</summary>
    public const string Decommission = "decommission";
    /// <summary>Lets a node that passed its burn-in take work (class lifecycle).</summary>
    public const string Admit = "admit";
    /// <summary>Keeps a node that failed its burn-in out of service (class lifecycle).</summary>
    public const string Quarantine = "quarantine";
    /// <summary>Asks the provisioner for machines (parameters: shape, domain, count, cpuCores, memoryBytes; class lifecycle).</summary>
    public const string Provision = "provision";
    /// <summary>Frees a node the consolidation planner chose: its instances move off make-before-break, then it is retired (class disruptive).</summary>
    public const string Consolidate = "consolidate";
    /// <summary>Gives back an empty node beyond the headroom: it is retired, and the provisioner is told to release the machine (parameters: node, domain; class lifecycle).</summary>
    public const string GiveBack = "give-back";
}
