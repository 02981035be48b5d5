using System.Collections.Immutable;

namespace Fleet.Abstractions.Policy;

/// <summary>
/// How telemetry from a team's own monitoring (Prometheus remote-write, OTLP metrics, Alertmanager webhooks) is mapped to
/// Fleet's subjects (<c>intake</c> section; docs/intake.md).
/// </summary>
/// <param name="NodeLabel">The label (or resource attribute) naming the node. Default <c>node</c>; without it, the host
/// part of <c>instance</c> (remote-write, Alertmanager) or <c>host.name</c> (OTLP).</param>
/// <param name="DomainLabel">The label naming a node's failure domain when intake registers it. Default <c>domain</c>.</param>
/// <param name="Domain">The domain of a node intake registers when no label names one. Default <c>monitored</c>.</param>
/// <param name="Register">Whether a node first heard of through intake is registered (capacity from its own figures). Default true.</param>
/// <param name="Checks">Checks evaluated per node on the newest samples, each <c>series{label="value",…} op number</c>
/// (op one of == != &lt; &lt;= &gt; &gt;=); a check passes when every matching series holds. Default <c>up == 1</c>.
/// <c>up</c> is special: a node whose <c>up</c> is 0 or stale is not reported at all (its monitoring is gone, not the node:
/// silence, then Suspect, never Healthy and never a failed check).</param>
[GenerateSerializer, Immutable, Alias("fleet.IntakePolicy")]
public sealed record IntakePolicy(
    [property: Id(0)] string NodeLabel,
    [property: Id(1)] string DomainLabel,
    [property: Id(2)] string Domain,
    [property: Id(3)] bool Register,
    [property: Id(4)] ImmutableArray<string> Checks)
{
    /// <summary>The counter of CPU seconds by <c>cpu</c> and <c>mode</c> (node_exporter's name by default).</summary>
    [Id(5)] public string CpuSeconds { get; init; } = "node_cpu_seconds_total";

    [Id(6)] public string MemoryTotal { get; init; } = "node_memory_MemTotal_bytes";

    [Id(7)] public string MemoryAvailable { get; init; } = "node_memory_MemAvailable_bytes";

    [Id(8)] public string FilesystemSize { get; init; } = "node_filesystem_size_bytes";

    [Id(9)] public string FilesystemAvailable { get; init; } = "node_filesystem_avail_bytes";

    /// <summary>The alert label naming a service (an alert with it lands on the service, not a node). Default <c>service</c>.</summary>
    [Id(11)] public string ServiceLabel { get; init; } = "service";

    /// <summary>The alert label naming a link (<c>a~b</c>; an alert with it lands on the link). Default <c>link</c>.</summary>
    [Id(12)] public string LinkLabel { get; init; } = "link";

    /// <summary>The mount point whose fullness is the node's disk figure. Default <c>/</c>.</summary>
    [Id(10)] public string Mountpoint { get; init; } = "/";

    public static IntakePolicy Default { get; } = new("node", "domain", "monitored", true, ["up == 1"]);
}
