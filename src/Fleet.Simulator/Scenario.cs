using System.Collections.Immutable;

namespace Fleet.Simulator;

/// <summary>The kinds of fault a scenario can inject.</summary>
public enum FaultKind
{
    /// <summary>A service on the node fails its health check; restarting services heals it.</summary>
    Crash,
    /// <summary>The node stops answering (no reports); only a reboot or a replacement heals it.</summary>
    Hang,
    /// <summary>Memory grows steadily until it runs out; a drain, restart, reboot or replacement clears it.</summary>
    Leak,
    /// <summary>Reports from a share of the nodes vanish while the nodes are fine: the monitoring path is sick, not them.</summary>
    Outage,
    /// <summary>The node crashes again soon after each heal, a set number of times.</summary>
    Flap,
    /// <summary>Every node of one failure domain hangs at once (correlated failure).</summary>
    RackLoss,
    /// <summary>An operator drains nodes (every node of <c>domain</c>, or <c>count</c> nodes), asking again every 30 s while a guardrail refuses.</summary>
    Drain,
    /// <summary>A network link is cut (<c>link</c>, or the one carrying most flows) for <c>duration</c> (default 2 min).</summary>
    LinkCut,
    /// <summary>A link goes down and up <c>flaps</c> times, every <c>flapAfter</c> (default 20 s).</summary>
    LinkFlap,
    /// <summary>Every link of a site (<c>site</c>, or the one most flows start from) is cut for <c>duration</c>.</summary>
    SitePartition,
    /// <summary>The disk fills by <c>percentPerMinute</c> until it is full (then the node's service fails); a drain (the writer moved), a reboot or a replacement clears it.</summary>
    DiskFill,
    /// <summary>CPU use climbs by <c>percentPerMinute</c> until it saturates (then the node's service fails); a drain (the load moved), a restart, a reboot or a replacement clears it.</summary>
    CpuRamp,
}

/// <summary>Services the scenario runs on the fleet: <see cref="Count"/> of them (named NAME-001, …, or NAME when one), each with these replicas.</summary>
public sealed record ServiceShape(
    string Name,
    int Count,
    int Replicas,
    double CpuCores,
    long MemoryBytes,
    double? MinHealthy,
    int? MaxUnavailable,
    bool Spread)
{
    public IEnumerable<string> Names => Count == 1 ? [Name] : Enumerable.Range(1, Count).Select(i => $"{Name}-{i:D3}");
}

/// <summary>One fault of a scenario. See docs/simulator.md for every field.</summary>
public sealed record FaultSpec(
    FaultKind Kind,
    TimeSpan At,
    int Count = 1,
    string? Node = null,
    string? Domain = null,
    double Share = 0.5,
    TimeSpan? Duration = null,
    double LeakMiBPerMinute = 512,
    int Flaps = 3,
    TimeSpan? FlapAfter = null,
    TimeSpan? Every = null,
    int Times = 1,
    string? Link = null,
    string? Site = null,
    double PercentPerMinute = 2);

/// <summary>A scenario: the virtual fleet, the policy it runs under, and the faults injected over simulated time.</summary>
public sealed record Scenario(
    string Name,
    string Description,
    int Nodes,
    int Domains,
    TimeSpan ReportInterval,
    TimeSpan Duration,
    int Seed,
    string? Policy,
    ImmutableArray<FaultSpec> Faults)
{
    /// <summary>The services run on the fleet (none by default).</summary>
    public ImmutableArray<ServiceShape> Services { get; init; } = [];

    /// <summary>New versions deployed while the scenario runs (none by default).</summary>
    public ImmutableArray<DeploySpec> Deploys { get; init; } = [];

    /// <summary>The network of links and flows the scenario runs (none by default).</summary>
    public NetworkShape? Network { get; init; }
}

/// <summary>
/// How the instances of one version behave: requests per second, the share that fail, p99 latency, and memory that grows
/// by <see cref="LeakMiBPerHour"/> once an instance is <see cref="LeakAfter"/> old. The stable version ("1") behaves as
/// <see cref="Stable"/>.
/// </summary>
public sealed record VersionBehaviour(double Rps, double ErrorShare, double P99Ms, double LeakMiBPerHour, TimeSpan LeakAfter)
{
    public static VersionBehaviour Stable { get; } = new(50, 0.01, 100, 0, TimeSpan.Zero);

    /// <summary>Worse than the stable version in any way the judge looks at.</summary>
    public bool Bad => ErrorShare > Stable.ErrorShare * 1.5 || P99Ms > Stable.P99Ms * 1.3 || LeakMiBPerHour > 0;
}

/// <summary>A deploy of <see cref="Version"/> to every service of the shape named <see cref="Service"/>, at <see cref="At"/>.</summary>
public sealed record DeploySpec(string Service, TimeSpan At, string Version, VersionBehaviour Behaviour);
