using System.Collections.Immutable;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Learning;

namespace Fleet.Grains.Learning;

[GenerateSerializer, Immutable, Alias("fleet.LearningState")]
public sealed record LearningState([property: Id(0)] ImmutableDictionary<string, OutcomeRate> Rates)
{
    public LearningState() : this(ImmutableDictionary<string, OutcomeRate>.Empty) { }
}

/// <summary>The fleet's outcomes per (symptom, action), written as each verdict comes in (they are rare: one per rung tried).</summary>
public sealed class LearningGrain([PersistentState("learning", StorageNames.Fleet)] IPersistentState<LearningState> state) : Grain, ILearningGrain
{
    public async Task RecordAsync(string signature, string action, bool healed, DateTimeOffset at)
    {
        var key = $"{signature}|{action}";
        var rate = state.State.Rates.GetValueOrDefault(key) ?? new OutcomeRate(signature, action, 0, 0, [], at);
        state.State = new LearningState(state.State.Rates.SetItem(key, rate.With(healed, at)));
        await state.WriteOrResetAsync(DeactivateOnIdle);
    }

    public Task<ImmutableArray<LearnedOutcome>> GetTableAsync() =>
        Task.FromResult(state.State.Rates.Values.OrderBy(r => r.Signature, StringComparer.Ordinal).ThenBy(r => r.Action, StringComparer.Ordinal)
            .Select(r => new LearnedOutcome(r.Signature, r.Action, r.Successes, r.Failures, r.Recent, r.LastAt)).ToImmutableArray());
}

/// <summary>One silo's copy of the outcome table, for the cases that open and escalate there: read again when older than <see cref="MaxAge"/>.</summary>
public sealed class LearningCache(IGrainFactory grains, TimeProvider time)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ImmutableDictionary<string, OutcomeRate> _rates = ImmutableDictionary<string, OutcomeRate>.Empty;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public OutcomeRate? Get(string signature, string action) => _rates.GetValueOrDefault($"{signature}|{action}");

    /// <summary>Reads the table again when the copy is old (one read per silo at a time, however many cases ask).</summary>
    public async Task RefreshAsync()
    {
        if (time.GetUtcNow() - _readAt < MaxAge) return;
        await _gate.WaitAsync();
        try
        {
            if (time.GetUtcNow() - _readAt < MaxAge) return;
            var table = await grains.GetGrain<ILearningGrain>(FleetNames.Default).GetTableAsync();
            _rates = table.ToImmutableDictionary(r => $"{r.Signature}|{r.Action}", r => new OutcomeRate(r.Signature, r.Action, r.Successes, r.Failures, r.Recent, r.LastAt));
            _readAt = time.GetUtcNow();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A verdict just sent from this silo: the next case reads the table again.</summary>
    public void Invalidate() => _readAt = DateTimeOffset.MinValue;
}
