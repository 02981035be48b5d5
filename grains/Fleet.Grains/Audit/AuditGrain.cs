using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Audit;

/// <summary>Reads the decision trail for clients. Stateless: any silo answers from the shared store.</summary>
[StatelessWorker]
public sealed class AuditGrain(IAuditStore store) : Grain, IAuditGrain
{
    public Task<AuditPage> QueryAsync(AuditQuery query) => store.QueryAsync(query);

    public Task<TrailVerification> VerifyAsync(DateTimeOffset? since) => store.VerifyAsync(since);
}
