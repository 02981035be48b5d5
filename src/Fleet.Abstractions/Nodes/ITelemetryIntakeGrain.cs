using Fleet.Abstractions.Security;
using System.Collections.Immutable;

namespace Fleet.Abstractions.Nodes;

/// <summary>One node's report in a batch.</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodeReport")]
public sealed record NodeReport(
    [property: Id(0)] string NodeId,
    [property: Id(1)] TelemetryReport Report);

/// <summary>
/// Takes a batch of reports in one message and hands each to its node's grain from inside the silo, so a batch crosses
/// from the client once instead of once per report. A stateless worker: every silo runs its own, as many as it has cores.
/// </summary>
[Alias("fleet.ITelemetryIntakeGrain")]
public interface ITelemetryIntakeGrain : IGrainWithIntegerKey
{
    /// <summary>One result per report, in order. Checked at the boundary before it is sent (the SDK, the REST API).</summary>
    [Alias("ReportBatch"), RequiresRole(FleetRole.Agent)]
    Task<ImmutableArray<ReportResult>> ReportBatchAsync(ImmutableArray<NodeReport> reports);
}
