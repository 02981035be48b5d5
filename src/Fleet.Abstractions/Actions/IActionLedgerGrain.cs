namespace Fleet.Abstractions.Actions;

[GenerateSerializer, Immutable, Alias("fleet.ActionLedgerEntry")]
public sealed record ActionLedgerEntry(
    [property: Id(0)] int Attempts,
    [property: Id(1)] DateTimeOffset? FirstStartedAt,
    [property: Id(2)] string? LastSilo,
    [property: Id(3)] ActionOutcome? Outcome)
{
    public ActionLedgerEntry() : this(0, null, null, null) { }
}

/// <summary>
/// What became of one action, keyed by its idempotency key, durable in grain storage. An executor asks it before it
/// runs an action (a finished action is not run again, its stored outcome is returned) and tells it the outcome after.
/// </summary>
[Alias("fleet.IActionLedgerGrain")]
public interface IActionLedgerGrain : IGrainWithStringKey
{
    /// <summary>Null when the action should run now (the attempt is counted); the stored outcome when it already finished.</summary>
    [Alias("Begin")]
    Task<ActionOutcome?> BeginAsync(string silo);

    [Alias("Complete")]
    Task CompleteAsync(ActionOutcome outcome);

    [ReadOnly, Alias("Get")]
    Task<ActionLedgerEntry> GetAsync();
}
