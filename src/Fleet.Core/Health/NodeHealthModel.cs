using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Forecasting;

namespace Fleet.Core.Health;

/// <summary>What the monitor knows of one node: its judged health and the streaks that give it hysteresis.</summary>
[GenerateSerializer, Immutable, Alias("fleet.NodeHealthModel")]
public sealed record NodeHealthModel(
    [property: Id(0)] HealthState Health,
    [property: Id(1)] DateTimeOffset HealthSince,
    [property: Id(2)] ImmutableArray<NodeCondition> Conditions,
    [property: Id(3)] long LastSequence,
    [property: Id(4)] DateTimeOffset? LastReportAt,
    [property: Id(5)] DateTimeOffset? ReportExpiresAt,
    [property: Id(6)] int BreachStreak,
    [property: Id(7)] int FailedStreak,
    [property: Id(8)] int PassingStreak,
    [property: Id(9)] int CleanStreak,
    [property: Id(10)] MemoryWindow MemorySamples,
    [property: Id(11)] MemoryForecast? Forecast,
    [property: Id(12)] TelemetryReport? LastReport,
    [property: Id(13)] ImmutableDictionary<string, PeerView>? Peers = null)
{
    /// <summary>The boot id of the reporter's current run (a new one starts the sequence again).</summary>
    [Id(14)] public string? BootId { get; init; }

    /// <summary>The CPU and disk use of the reports whose memory samples <see cref="MemorySamples"/> keeps (<see cref="Forecasting.LoadSamples"/>).</summary>
    [Id(15)] public int[]? LoadSamples { get; init; }

    /// <summary>Whether any forecast (memory, disk, CPU) says the node will fail within the horizon.</summary>
    public bool Foreseen => Conditions.Any(c => ConditionTypes.IsForecast(c.Type));

    /// <summary>What the forecasts foresee, in words ("memory exhaustion and the disk filling"); null when none does.</summary>
    public string? ForeseenText => ConditionTypes.Foreseen(Conditions);

    public static NodeHealthModel Initial(DateTimeOffset now) =>
        new(HealthState.Unknown, now, [], -1, null, null, 0, 0, 0, 0, MemoryWindow.Empty, null, null);

    /// <summary>Peers' latest views of this node, by observing node.</summary>
    public ImmutableDictionary<string, PeerView> PeerViews => Peers ?? ImmutableDictionary<string, PeerView>.Empty;

    public bool HasCondition(string type) => Conditions.Any(c => c.Type == type);
}

/// <summary>A change of judged health, with the sentence and the figures that explain it.</summary>
public sealed record HealthChange(
    HealthState From,
    HealthState To,
    string Reason,
    ImmutableDictionary<string, string> Evidence);

/// <summary>The outcome of giving the monitor one report or one tick.</summary>
public sealed record Judgement(
    NodeHealthModel Model,
    ReportOutcome Outcome,
    HealthChange? Change)
{
    /// <summary>The report came from a new run of the reporter (a new boot id): its sequence started again.</summary>
    public string? NewBootFrom { get; init; }

    public bool ForecastBreached => Model.Foreseen;
}

public static class ConditionTypes
{
    public const string CheckFailed = "CheckFailed";
    /// <summary>An alert from the team's own alerting fires on the node (shown at once; each report then counts it as a failed check).</summary>
    public const string Alert = "Alert";
    /// <summary>A check not passing yet while its reporter starts (inside its start grace): Degraded, never Unhealthy.</summary>
    public const string CheckStarting = "CheckStarting";
    public const string CpuPressure = "CpuPressure";
    public const string MemoryPressure = "MemoryPressure";
    public const string DiskPressure = "DiskPressure";
    public const string MemoryExhaustionForecast = "MemoryExhaustionForecast";
    /// <summary>The disk's use is forecast to reach <c>forecast.disk.limitPercent</c> within the horizon.</summary>
    public const string DiskFullForecast = "DiskFullForecast";
    /// <summary>The CPU's use is forecast to reach <c>forecast.cpu.limitPercent</c> within the horizon, on a line that fits.</summary>
    public const string CpuSaturationForecast = "CpuSaturationForecast";

    public static bool IsForecast(string type) => type is MemoryExhaustionForecast or DiskFullForecast or CpuSaturationForecast;

    /// <summary>What the forecast conditions among these foresee, in words, joined with "and"; null when there are none.</summary>
    public static string? Foreseen(IEnumerable<NodeCondition> conditions)
    {
        var what = conditions.Select(c => c.Type switch
        {
            MemoryExhaustionForecast => "memory exhaustion",
            DiskFullForecast => "the disk filling",
            CpuSaturationForecast => "CPU saturation",
            _ => null,
        }).OfType<string>().Distinct().ToList();
        return what.Count == 0 ? null : string.Join(" and ", what);
    }
    public const string Stale = "Stale";
    public const string Silent = "Silent";
    public const string PeerReachable = "PeerReachable";
    public const string PeerUnreachable = "PeerUnreachable";
    /// <summary>Silent past the Unhealthy limit, with nothing to confirm its death, under a policy that forbids acting on that.</summary>
    public const string UnconfirmedSilence = "UnconfirmedSilence";
}
