using System.ComponentModel.DataAnnotations;

namespace Fleet.Silo.Hosting;

public enum ClusteringMode { Localhost, Redis }

public enum StoreMode { Embedded, Redis }

public enum RemindersMode { Memory, Redis }

/// <summary>The silo's settings, bound from the <c>Fleet</c> section (command line <c>--Fleet:X</c>, environment <c>Fleet__X</c>, appsettings).</summary>
public sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>Folder of the embedded store (grain state and audit). Default <c>data</c>, relative to the working folder.</summary>
    [Required(AllowEmptyStrings = false)]
    public string DataDir { get; set; } = "data";

    /// <summary>Silo-to-silo port. Default 11111.</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port clients (SDK, CLI) connect to. Default 30000.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Orleans cluster id. Default <c>fleet</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ClusterId { get; set; } = "fleet";

    /// <summary>Orleans service id. Default <c>fleet</c>.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ServiceId { get; set; } = "fleet";

    /// <summary><c>Localhost</c> (default: one silo, no set-up) or <c>Redis</c> (many silos find each other through <see cref="Redis"/>).</summary>
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>Where grain state lives: <c>Embedded</c> (default, SQLite under <see cref="DataDir"/>) or <c>Redis</c>.</summary>
    public StoreMode Storage { get; set; } = StoreMode.Embedded;

    /// <summary>Where the decision trail lives: <c>Embedded</c> (default) or <c>Redis</c>.</summary>
    public StoreMode Audit { get; set; } = StoreMode.Embedded;

    /// <summary>Where reminders (the domain watchdogs) live: <c>Memory</c> (default) or <c>Redis</c> (survive any silo).</summary>
    public RemindersMode Reminders { get; set; } = RemindersMode.Memory;

    /// <summary>StackExchange.Redis connection string, e.g. <c>127.0.0.1:6379</c>; required when anything above is Redis.</summary>
    public string? Redis { get; set; }

    /// <summary>The address other silos and clients reach this silo at. Default 127.0.0.1.</summary>
    public string AdvertisedIp { get; set; } = "127.0.0.1";

    /// <summary>
    /// Tuned membership for fast failure detection (default true): probe timeout 1 s, 2 missed probes, 2 votes,
    /// table refresh 5 s, I-am-alive every 10 s. A killed silo is declared dead in about a second instead of 10–14 s,
    /// at the cost of more probe traffic and a higher chance of declaring a briefly stalled silo dead (it then restarts).
    /// </summary>
    public bool FastFailureDetection { get; set; } = true;

    /// <summary>The demo fleet: a simulated fleet (the simulator's <c>demo</c> scenario) reporting to this silo, faults and all. Default off.</summary>
    public DemoOptions Demo { get; set; } = new();

    public bool UsesRedis => Clustering == ClusteringMode.Redis || Storage == StoreMode.Redis || Audit == StoreMode.Redis || Reminders == RemindersMode.Redis;
}

public sealed class DemoOptions
{
    /// <summary>Run the demo fleet. Default false; <c>deploy/run.sh</c> turns it on.</summary>
    public bool Enabled { get; set; }

    /// <summary>The scenario it runs: a built-in name or a YAML file. Default <c>demo</c>.</summary>
    public string Scenario { get; set; } = "demo";
}
