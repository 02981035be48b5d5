using Fleet.Abstractions.Diagnostics;
using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Grains.Nodes;

/// <summary>A batch of reports, fanned out to the node grains from inside the silo (see <see cref="ITelemetryIntakeGrain"/>).</summary>
[StatelessWorker]
public sealed class TelemetryIntakeGrain : Grain, ITelemetryIntakeGrain
{
    public async Task<ImmutableArray<ReportResult>> ReportBatchAsync(ImmutableArray<NodeReport> reports)
    {
        var calls = new Task<ReportResult>[reports.Length];
        for (var i = 0; i < reports.Length; i++) calls[i] = GrainReferences.Get<INodeGrain>(GrainFactory, reports[i].NodeId).ReportAsync(reports[i].Report);
        return [.. await Task.WhenAll(calls)];
    }
}
