using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;

namespace Fleet.Abstractions.Services;

/// <summary>A service asks a node for room for one instance.</summary>
[GenerateSerializer, Immutable, Alias("fleet.PlacementAsk")]
public sealed record PlacementAsk(
    [property: Id(0)] string Service,
    [property: Id(1)] string Instance,
    [property: Id(2)] double CpuCores,
    [property: Id(3)] long MemoryBytes,
    [property: Id(4)] ImmutableDictionary<string, string> Labels,
    [property: Id(5)] TimeSpan Ttl)
{
    /// <summary>
    /// Taken only while the node stays at or under this share allocated (the larger of cores and memory, this ask included):
    /// a consolidation move's replacement, packed no fuller than <c>lifecycle.consolidate.maxUtilisation</c>. Null: any room.
    /// </summary>
    [Id(6)] public double? MaxShare { get; init; }
}

/// <summary>What a node offers: its free room (capacity minus reservations, not observed use), its state, and whether it accepts.</summary>
[GenerateSerializer, Immutable, Alias("fleet.CapacityOffer")]
public sealed record CapacityOffer(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Domain,
    [property: Id(2)] double FreeCpu,
    [property: Id(3)] long FreeMemory,
    [property: Id(4)] double CpuCapacity,
    [property: Id(5)] long MemoryCapacity,
    [property: Id(6)] HealthState Health,
    [property: Id(7)] bool Accepts,
    [property: Id(8)] string? Refusal);

[GenerateSerializer, Immutable, Alias("fleet.ReservationResult")]
public sealed record ReservationResult(
    [property: Id(0)] bool Accepted,
    [property: Id(1)] CapacityOffer Offer);

/// <summary>Room a node holds for one instance. Unconfirmed, it expires at <see cref="ExpiresAt"/>; confirmed when the instance starts.</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodePlacement")]
public sealed record NodePlacement(
    [property: Id(0)] string Service,
    [property: Id(1)] string Instance,
    [property: Id(2)] double CpuCores,
    [property: Id(3)] long MemoryBytes,
    [property: Id(4)] bool Confirmed,
    [property: Id(5)] DateTimeOffset ReservedAt,
    [property: Id(6)] DateTimeOffset? ExpiresAt)
{
    public string Key => $"{Service}/{Instance}";
}

/// <summary>What a service needs to know of a node its instances run on.</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodeView")]
public sealed record NodeView(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Domain,
    [property: Id(2)] HealthState Judged,
    [property: Id(3)] HealthState Shown,
    [property: Id(4)] AdminState Admin,
    [property: Id(5)] DateTimeOffset JudgedSince,
    [property: Id(6)] int? CaseStep,
    [property: Id(7)] string? CasePhase,
    [property: Id(8)] ImmutableArray<NodePlacement> Placements)
{
    /// <summary>When the node last reported (null: never): an instance silent while its node still reports is silent on its own.</summary>
    [Id(9)] public DateTimeOffset? LastReportAt { get; init; }

    /// <summary>
    /// The node is being freed to consolidate the fleet: the instances moving off it are placed best fit (the fullest node
    /// that stays under <c>lifecycle.consolidate.maxUtilisation</c>), as the plan that chose it packed them, not least allocated.
    /// </summary>
    [Id(10)] public bool Packing { get; init; }
}
