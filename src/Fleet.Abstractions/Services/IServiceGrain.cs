using Fleet.Abstractions.Security;
using System.Collections.Immutable;
using Fleet.Abstractions.Actions;
using Fleet.Abstractions.Supervision;

namespace Fleet.Abstractions.Services;

/// <summary>
/// One service: its desired spec and its instances. Places instances by negotiating with node grains, moves them when
/// their node is drained or lost, keeps replicas with the load, and answers for its disruption budget when a node
/// action would take instances down. Keyed by service name.
/// </summary>
[Alias("fleet.IServiceGrain")]
public interface IServiceGrain : IActionOwner
{
    /// <summary>Applies a spec (already checked at the boundary); a changed replica count or scaling section takes effect at once.</summary>
    [Alias("Apply"), RequiresRole(FleetRole.Admin)]
    Task<ServiceStatus> ApplyAsync(ServiceSpec spec, string by);

    /// <summary>Null when the service was never applied or has been deleted.</summary>
    [ReadOnly, Alias("Get"), RequiresRole(FleetRole.Viewer)]
    Task<ServiceStatus?> GetAsync();

    /// <summary>Sets the replicas by hand and pauses autoscaling until a spec turns it on again.</summary>
    [Alias("Scale"), RequiresRole(FleetRole.Operator)]
    Task<ServiceStatus> ScaleAsync(int replicas, string by);

    /// <summary>
    /// Stops every instance through the actuator and frees their reservations; the service is gone once they have
    /// stopped. Returns the status while instances are still stopping, null once the service is gone.
    /// </summary>
    [Alias("Delete"), RequiresRole(FleetRole.Admin)]
    Task<ServiceStatus?> DeleteAsync(string by);

    [Alias("Report"), RequiresRole(FleetRole.Agent)]
    Task<InstanceReportOutcome> ReportAsync(InstanceReport report);

    /// <summary>
    /// A disruptive action asks before it takes instances of this service down: refused when the service would drop
    /// below its minimum of healthy instances, counting those already down. A consent holds those instances as down
    /// until <see cref="ReleaseHoldAsync"/> (or the lease's expiry).
    /// </summary>
    [Alias("Consent")]
    Task<LeaseDecision> ConsentAsync(LeaseRequest request);

    [Alias("ReleaseHold")]
    Task ReleaseHoldAsync(string leaseId);

    /// <summary>A node that runs instances of this service changed its health or admin state: look again now.</summary>
    [OneWay, Alias("NodeChanged")]
    Task NodeChangedAsync(string nodeId);

    /// <summary>Wakes the service's grain (its reconcile timer) without waiting; sent by the directory's watchdog.</summary>
    [OneWay, AlwaysInterleave, Alias("Ping")]
    Task PingAsync();
}

/// <summary>The list of services (keyed by fleet name): what <c>GET /services</c> lists and what the watchdog wakes.</summary>
[Alias("fleet.IServiceDirectoryGrain")]
public interface IServiceDirectoryGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(string name);

    [Alias("Remove")]
    Task RemoveAsync(string name);

    [ReadOnly, Alias("List"), RequiresRole(FleetRole.Viewer)]
    Task<ImmutableArray<string>> ListAsync();
}
