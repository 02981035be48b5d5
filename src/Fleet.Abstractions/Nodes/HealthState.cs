namespace Fleet.Abstractions.Nodes;

/// <summary>The health of a node as Fleet judges it. Cordoned, Draining and Decommissioned are operator states; BurnIn and Quarantined are stages of the node's life (<see cref="LifecycleStage"/>).</summary>
[GenerateSerializer, Alias("fleet.HealthState")]
public enum HealthState
{
    /// <summary>Registered, no report judged yet.</summary>
    Unknown = 0,
    Healthy = 1,
    /// <summary>A soft threshold is breached (CPU, memory, disk) or a forecast says trouble is coming.</summary>
    Degraded = 2,
    /// <summary>Reports stopped or went stale: the node may be sick, or only the path to it.</summary>
    Suspect = 3,
    /// <summary>Confirmed sick: failing checks, or silent for longer than the policy tolerates.</summary>
    Unhealthy = 4,
    /// <summary>An action is running or being verified.</summary>
    Remediating = 5,
    /// <summary>Recovered after an action; watched for the probation period before it counts as Healthy.</summary>
    Probation = 6,
    Cordoned = 7,
    Draining = 8,
    Decommissioned = 9,
    /// <summary>A new node proving itself (its checks pass for the policy's <c>lifecycle.burnIn</c>) before it takes work.</summary>
    BurnIn = 10,
    /// <summary>A node that failed its burn-in: it takes no work until a person admits it (<c>fleet nodes admit</c>).</summary>
    Quarantined = 11,
}

/// <summary>What an operator (or a preventive drain) has set on a node, apart from its judged health.</summary>
[GenerateSerializer, Alias("fleet.AdminState")]
public enum AdminState
{
    None = 0,
    Cordoned = 1,
    Draining = 2,
    Decommissioned = 3,
}

/// <summary>
/// Where a node is in its life (docs/lifecycle.md): a new node burns in, then serves; a decommission drains it and retires it
/// once every instance has moved; a node that fails its burn-in is quarantined. Each move is recorded with its reason.
/// </summary>
[GenerateSerializer, Alias("fleet.LifecycleStage")]
public enum LifecycleStage
{
    /// <summary>Takes work (every node registered before lifecycles existed, and every node when the policy asks no burn-in).</summary>
    Serving = 0,
    /// <summary>Proving itself: its checks must pass for the policy's soak before it serves.</summary>
    BurnIn = 1,
    /// <summary>Failed its burn-in: never served; a person admits it again or retires it.</summary>
    Quarantined = 2,
    /// <summary>Being decommissioned: cordoned, its instances moved off make-before-break through the services' budgets.</summary>
    Draining = 3,
    /// <summary>Decommissioned: nothing runs there, it takes no reports and no work; it stays in the trail and history.</summary>
    Retired = 4,
}
