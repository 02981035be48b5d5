namespace Fleet.Abstractions.Supervision;

/// <summary>The whole fleet. Keyed by fleet name (<see cref="FleetNames.Default"/>). Global limits and the freeze switch.</summary>
[Alias("fleet.IFleetSupervisorGrain")]
public interface IFleetSupervisorGrain : IGrainWithStringKey
{
    /// <summary>A domain supervisor asks for a fleet-wide slot before it grants a lease.</summary>
    [Alias("Acquire")]
    Task<LeaseDecision> AcquireAsync(string leaseId, string domain, string nodeId, string action, DateTimeOffset expiresAt);

    [Alias("Release")]
    Task ReleaseAsync(string leaseId);

    [Alias("Freeze")]
    Task<FleetStatus> FreezeAsync(string by, string reason);

    [Alias("Unfreeze")]
    Task<FleetStatus> UnfreezeAsync(string by, string? reason);

    [Alias("RegisterDomain")]
    Task RegisterDomainAsync(string domain);

    [Alias("GetStatus")]
    Task<FleetStatus> GetStatusAsync();
}

public static class FleetNames
{
    public const string Default = "default";
}
