using System.Collections.Immutable;
using Fleet.Abstractions.Security;

namespace Fleet.Abstractions.Tracing;

/// <summary>Where the fleet's input trace stands: recording or not, since and until when, how big.</summary>
[GenerateSerializer, Immutable, Alias("fleet.TraceStatus")]
public sealed record TraceStatus(
    [property: Id(0)] bool Recording,
    [property: Id(1)] string? Id,
    [property: Id(2)] DateTimeOffset? StartedAt,
    [property: Id(3)] DateTimeOffset? Until,
    [property: Id(4)] DateTimeOffset? StoppedAt,
    [property: Id(5)] string? StartedBy,
    [property: Id(6)] long Entries,
    [property: Id(7)] long Bytes,
    [property: Id(8)] long MaxBytes,
    [property: Id(9)] string? StopReason);

/// <summary>A piece of the trace file: its lines from <see cref="Offset"/>, and where the next piece starts (null at the end).</summary>
[GenerateSerializer, Immutable, Alias("fleet.TraceChunk")]
public sealed record TraceChunk(
    [property: Id(0)] long Offset,
    [property: Id(1)] string Text,
    [property: Id(2)] long? Next);

/// <summary>
/// The fleet's input trace (keyed by fleet name): while it records, every silo sends what it receives — registrations,
/// reports with their arrival times, operators' cordons, drains and freezes, policy versions — to be replayed later
/// with another policy (<c>fleet replay</c>). One trace at a time; starting again replaces the last one.
/// </summary>
[Alias("fleet.ITraceGrain")]
public interface ITraceGrain : IGrainWithStringKey
{
    /// <summary>Starts recording for <paramref name="duration"/> (a snapshot of the registered nodes and the policy in force first), up to <paramref name="maxBytes"/>.</summary>
    [Alias("Start"), RequiresRole(FleetRole.Operator)]
    Task<TraceStatus> StartAsync(TimeSpan duration, long maxBytes, string by);

    [Alias("Stop"), RequiresRole(FleetRole.Operator)]
    Task<TraceStatus> StopAsync(string by);

    [ReadOnly, Alias("GetStatus"), RequiresRole(FleetRole.Viewer)]
    Task<TraceStatus> GetStatusAsync();

    /// <summary>Up to about <paramref name="maxChars"/> characters of whole lines of the last trace, from <paramref name="offset"/>.</summary>
    [ReadOnly, Alias("Read"), RequiresRole(FleetRole.Operator)]
    Task<TraceChunk?> ReadAsync(long offset, int maxChars);

    /// <summary>Lines a silo recorded (grains only); answers whether the trace still records.</summary>
    [Alias("Append")]
    Task<TraceStatus> AppendAsync(ImmutableArray<string> lines);
}
