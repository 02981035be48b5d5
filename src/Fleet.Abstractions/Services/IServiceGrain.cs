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

    /// <summary>Starts a rollout of <paramref name="version"/> (strategy <c>canary</c>, the default, or <c>rolling</c>); refused while another is active.</summary>
    [Alias("Deploy"), RequiresRole(FleetRole.Operator)]
    Task<RolloutView> DeployAsync(string version, string? strategy, string by);

    /// <summary>Rolls the active rollout back to the stable version, or, with none active, goes back to the version before the last completed one.</summary>
    [Alias("Rollback"), RequiresRole(FleetRole.Operator)]
    Task<RolloutView> RollbackAsync(string by, string? reason);

    /// <summary>A person passes the current step (a paused or progressing rollout), or ends the watch of a promoted one.</summary>
    [Alias("Promote"), RequiresRole(FleetRole.Operator)]
    Task<RolloutView> PromoteAsync(string by);

    /// <summary>Stops a rollout and rolls it back (as <see cref="RollbackAsync"/> on an active rollout, recorded as aborted).</summary>
    [Alias("Abort"), RequiresRole(FleetRole.Operator)]
    Task<RolloutView> AbortAsync(string by, string? reason);

    /// <summary>A paused rollout judges its step again from now, with its extensions reset.</summary>
    [Alias("Resume"), RequiresRole(FleetRole.Operator)]
    Task<RolloutView> ResumeAsync(string by);

    /// <summary>The rollouts on record, newest first (the active one, then up to 20 ended).</summary>
    [ReadOnly, Alias("Rollouts"), RequiresRole(FleetRole.Viewer)]
    Task<ImmutableArray<RolloutView>> GetRolloutsAsync();

    [Alias("Report"), RequiresRole(FleetRole.Agent)]
    Task<InstanceReportOutcome> ReportAsync(InstanceReport report);

    /// <summary>
    /// An alert from the team's alerting fires on the service, or is resolved (intake's Alertmanager receiver; no role: only
    /// the silo calls it). One that begins during a rollout fails it. Null when the service is not applied.
    /// </summary>
    [Alias("Alert")]
    Task<ServiceStatus?> AlertAsync(Nodes.ExternalAlert alert, bool firing);

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
