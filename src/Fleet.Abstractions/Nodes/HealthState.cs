namespace Fleet.Abstractions.Nodes;

/// <summary>The health of a node as Fleet judges it. The last three are operator states.</summary>
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
