using Fleet.Abstractions.Audit;

namespace Fleet.Grains.Audit;

/// <summary>The durable, append-only decision trail. An append with an id already stored is a no-op.</summary>
public interface IAuditStore
{
    Task AppendAsync(IReadOnlyList<DecisionRecord> records);

    Task<AuditPage> QueryAsync(AuditQuery query);

    /// <summary>Walks the chain (from <paramref name="since"/>, or all of it) and says whether it holds, or where it breaks.</summary>
    Task<TrailVerification> VerifyAsync(DateTimeOffset? since);

    /// <summary>Where each stream of the chain ends now, and which stream is this writer's own (for checkpoints).</summary>
    Task<TrailEnds> EndsAsync();
}

/// <summary>The chain's ends: every stream's last position and MAC, and the stream this writer appends to.</summary>
public sealed record TrailEnds(string Own, IReadOnlyList<Fleet.Core.Audit.TrailCheckpoint.End> All)
{
    public Fleet.Core.Audit.TrailCheckpoint.End? OwnEnd => All.Any(e => e.Stream == Own) ? All.First(e => e.Stream == Own) : null;
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
