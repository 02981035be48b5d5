using Fleet.Abstractions.Security;
namespace Fleet.Abstractions.Supervision;

/// <summary>The whole fleet. Keyed by fleet name (<see cref="FleetNames.Default"/>). Global limits and the freeze switch.</summary>
[Alias("fleet.IFleetSupervisorGrain")]
public interface IFleetSupervisorGrain : IGrainWithStringKey
{
    /// <summary>
    /// A domain supervisor asks for the fleet-wide slot of a lease before it grants it (or a requester whose action
    /// touches no domain asks directly); asking again for the same lease is harmless. Null <paramref name="expiresAt"/>:
    /// the policy's lease duration from now.
    /// </summary>
    [Alias("Acquire")]
    Task<LeaseDecision> AcquireAsync(LeaseRequest request, DateTimeOffset? expiresAt);

    [Alias("Release")]
    Task ReleaseAsync(string leaseId);

    [Alias("Freeze"), RequiresRole(FleetRole.Operator)]
    Task<FleetStatus> FreezeAsync(string by, string reason);

    [Alias("Unfreeze"), RequiresRole(FleetRole.Operator)]
    Task<FleetStatus> UnfreezeAsync(string by, string? reason);

    [Alias("RegisterDomain")]
    Task RegisterDomainAsync(string domain);

    [Alias("GetStatus"), RequiresRole(FleetRole.Viewer)]
    Task<FleetStatus> GetStatusAsync();
}

public static class FleetNames
{
    public const string Default = "default";
}
