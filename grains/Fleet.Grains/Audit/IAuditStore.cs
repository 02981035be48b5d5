using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Audit;

/// <summary>The durable, append-only decision trail. An append with an id already stored is a no-op.</summary>
public interface IAuditStore
{
    Task AppendAsync(IReadOnlyList<DecisionRecord> records);

    Task<AuditPage> QueryAsync(AuditQuery query);
}
