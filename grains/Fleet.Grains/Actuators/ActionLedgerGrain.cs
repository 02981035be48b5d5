using Fleet.Abstractions.Actions;

namespace Fleet.Grains.Actuators;

public sealed class ActionLedgerGrain(
    [PersistentState("ledger", StorageNames.Fleet)] IPersistentState<ActionLedgerEntry> state,
    TimeProvider time) : Grain, IActionLedgerGrain
{
    public async Task<ActionOutcome?> BeginAsync(string silo)
    {
        if (state.State.Outcome is { } done) return done;
        state.State = state.State with
        {
            Attempts = state.State.Attempts + 1,
            FirstStartedAt = state.State.FirstStartedAt ?? time.GetUtcNow(),
            LastSilo = silo,
        };
        await state.WriteStateAsync();
        return null;
    }

    public async Task CompleteAsync(ActionOutcome outcome)
    {
        if (state.State.Outcome is not null) return;
        state.State = state.State with { Outcome = outcome };
        await state.WriteStateAsync();
    }

    public Task<ActionLedgerEntry> GetAsync() => Task.FromResult(state.State);
}
