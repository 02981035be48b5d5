using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Audit;

/// <summary>The durable, append-only decision trail. An append with an id already stored is a no-op.</summary>
public interface IAuditStore
{
    Task AppendAsync(IReadOnlyList<DecisionRecord> records);

    Task<AuditPage> QueryAsync(AuditQuery query);
}

public static class AuditStoreExtensions
{
    /// <summary>Appends a grain's pending records, if any, and empties the list.</summary>
    public static Task FlushAsync(this IAuditStore audit, List<DecisionRecord> pending)
    {
        if (pending.Count == 0) return Task.CompletedTask;
        var batch = pending.ToArray();
        pending.Clear();
        return audit.AppendAsync(batch);
    }
}
