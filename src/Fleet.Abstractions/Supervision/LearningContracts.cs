using System.Collections.Immutable;
using Fleet.Abstractions.Security;

namespace Fleet.Abstractions.Supervision;

/// <summary>One row of what the ladder has learned: an action's verified outcomes on one symptom.</summary>
[GenerateSerializer, Immutable, Alias("fleet.LearnedOutcome")]
public sealed record LearnedOutcome(
    [property: Id(0)] string Signature,
    [property: Id(1)] string Action,
    [property: Id(2)] int Successes,
    [property: Id(3)] int Failures,
    [property: Id(4)] ImmutableArray<bool> Recent,
    [property: Id(5)] DateTimeOffset LastAt);

/// <summary>The fleet's table of verified outcomes per (symptom, action) (keyed by fleet name); every subject's cases report to it.</summary>
[Alias("fleet.ILearningGrain")]
public interface ILearningGrain : IGrainWithStringKey
{
    /// <summary>A rung's verified outcome: it healed the symptom, or it did not.</summary>
    [OneWay, Alias("Record")]
    Task RecordAsync(string signature, string action, bool healed, DateTimeOffset at);

    [ReadOnly, Alias("Table"), RequiresRole(FleetRole.Viewer)]
    Task<ImmutableArray<LearnedOutcome>> GetTableAsync();
}
