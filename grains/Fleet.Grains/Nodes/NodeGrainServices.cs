using Fleet.Grains.Actuators;
using Fleet.Grains.Audit;
using Fleet.Grains.Policy;
using Fleet.Grains.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace Fleet.Grains.Nodes;

/// <summary>
/// The silo's services a node grain uses, as one object shared by every activation: a node grain holds one reference
/// instead of eleven (a million activations, about 80 MB less).
/// </summary>
public sealed class NodeGrainServices(
    PolicyCache policies, IAuditStore audit, Supervision.IMemberStore members, ActionExecutor executor, DirectProber prober, NodeWakeups wakeups,
    FleetMetrics metrics, TimeProvider time, Learning.LearningCache learned, Tracing.TraceRecorder trace, ILogger<NodeGrain> log,
    IServiceProvider provider)
{
    private IGrainStorage? _storage;
    public PolicyCache Policies { get; } = policies;
    public IAuditStore Audit { get; } = audit;
    public Supervision.IMemberStore Members { get; } = members;
    public ActionExecutor Executor { get; } = executor;
    public DirectProber Prober { get; } = prober;
    public NodeWakeups Wakeups { get; } = wakeups;
    public FleetMetrics Metrics { get; } = metrics;
    public TimeProvider Time { get; } = time;
    public Learning.LearningCache Learned { get; } = learned;
    public Tracing.TraceRecorder Trace { get; } = trace;
    public ILogger<NodeGrain> Log { get; } = log;

    /// <summary>The fleet's grain storage, for the state a node reads on first use (its placements) rather than on activation.</summary>
    public IGrainStorage Storage => _storage ??= provider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Fleet);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Immutable.ImmutableArray<string>> _domainScopes = new(StringComparer.Ordinal);

    /// <summary>The lease scopes of a node that hosts no instance — its domain alone — made once per domain, not on every report.</summary>
    public System.Collections.Immutable.ImmutableArray<string> DomainScope(string domain) =>
        _domainScopes.GetOrAdd(domain, static d => [Fleet.Abstractions.Supervision.Subjects.Domain(d)]);
}
