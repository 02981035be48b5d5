using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Core.Validation;

namespace Fleet.Core.Intake;

/// <summary>One sample of a series: milliseconds since the Unix epoch and a value (NaN: a staleness marker).</summary>
public readonly record struct MetricSample(long TimestampMs, double Value);

/// <summary>What intake knows of one node: the report built from its newest samples, and what registering it would need.</summary>
public sealed record IntakeReport(string NodeId, TelemetryReport Report, string Domain, NodeCapacity Capacity);

/// <summary>
/// Turns series from a team's monitoring (Prometheus remote-write, OTLP metrics) into node reports, per the policy's
/// <c>intake</c> mapping. Remote-write spreads one scrape's series over several requests (shards), in any order, so the
/// newest value of every mapped series is kept per node and a node's report is built from what is known whenever one of its
/// series moves; the report's sequence is its newest sample's time, so a late shard never reports backwards.
/// Never healthy by default: a node whose memory figures are missing or stale, or whose <c>up</c> is 0 or stale, gets no
/// report at all — its reports stop, and Fleet's silence rules (Suspect, confirmation) take over.
/// </summary>
public sealed class MetricIntake(TimeProvider time, int maxNodes = 250_000)
{
    private readonly ConcurrentDictionary<string, NodeSeries> _nodes = new(StringComparer.Ordinal);

    /// <summary>Nodes intake keeps figures for.</summary>
    public int Nodes => _nodes.Count;

    /// <summary>Series dropped: no node named, a node id Fleet does not accept, or more nodes than intake keeps.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    private long _dropped;

    /// <summary>How far ahead of, or behind, the silo's clock a sample may be to be taken.</summary>
    public const long MaxAheadMs = 60_000, MaxAgeMs = 3_600_000;

    /// <summary>How far behind a node's newest sample its up and memory figures may be and still count (Prometheus' 5 minutes).</summary>
    public const long MaxFigureAgeMs = 300_000;

    /// <summary>The largest memory or disk figure taken (1 PiB): past it, a value is not a machine's.</summary>
    public const double MaxBytes = 1L << 50;

    /// <summary>A staleness marker: Prometheus writes this NaN when a series disappears (its target is down or gone).</summary>
    public static bool IsStale(double value) => double.IsNaN(value);

    /// <summary>The node a series belongs to by the mapping: its node label, else the host part of <c>instance</c>, else <c>host.name</c>.</summary>
    public static string? NodeOf(IReadOnlyDictionary<string, string> labels, IntakePolicy policy)
    {
        if (labels.TryGetValue(policy.NodeLabel, out var node) && node.Length > 0) return node;
        if (labels.TryGetValue("instance", out var instance) && instance.Length > 0) return HostOf(instance);
        return labels.TryGetValue("host.name", out var host) && host.Length > 0 ? host : null;
    }

    /// <summary><c>host:port</c>, <c>[v6]:port</c> or a bare host: the host.</summary>
    public static string HostOf(string instance)
    {
        if (instance.StartsWith('['))
        {
            var close = instance.IndexOf(']');
            return close > 1 ? instance[1..close] : instance;
        }
        var colon = instance.LastIndexOf(':');
        return colon > 0 && instance.IndexOf(':') == colon ? instance[..colon] : instance;
    }

    /// <summary>
    /// Takes one series' samples; adds the node it belongs to to <paramref name="touched"/> when a mapped figure of it moved.
    /// Series the mapping does not use are ignored (nothing is kept for them).
    /// </summary>
    public void Observe(string name, IReadOnlyDictionary<string, string> labels, ReadOnlySpan<MetricSample> samples,
        IntakePolicy policy, ImmutableArray<CheckRule> checks, ISet<string> touched)
    {
        if (samples.IsEmpty) return;
        var kind = KindOf(name, labels, policy, checks, out var rule);
        if (kind == SeriesKind.None) return;
        if (NodeOf(labels, policy) is not { } nodeId)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }
        if (!_nodes.TryGetValue(nodeId, out var node))
        {
            // Only a node first heard of is checked: a kept one was valid when it was added.
            if (!InputRules.IsValidId(nodeId))
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            if (!_room.Fits(_nodes, n => n.SeenAt, time.GetUtcNow()))
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            node = _nodes.GetOrAdd(nodeId, _ => new NodeSeries());
        }
        // The newest sample of this request (samples of one series come oldest first, but take the newest wherever it is).
        // A sample from more than a minute ahead or an hour behind this silo's clock, or an infinite value, is not taken: it
        // would be refused as a report anyway, and kept, it would hold back every later sample of its node.
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        MetricSample? newestFound = null, before = null;
        foreach (var s in samples)
        {
            if (s.TimestampMs > nowMs + MaxAheadMs || s.TimestampMs < nowMs - MaxAgeMs || double.IsInfinity(s.Value)) continue;
            if (newestFound is not { } n || s.TimestampMs >= n.TimestampMs) (before, newestFound) = (newestFound, s);
        }
        if (newestFound is not { } newest)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }
        lock (node)
        {
            node.SeenAt = time.GetUtcNow();
            if (labels.TryGetValue(policy.DomainLabel, out var domain) && InputRules.IsValidId(domain)) node.Domain = domain;
            if (!node.Set(kind, labels, rule >= 0 ? checks[rule].Text : "", newest, before)) return;
            if (newest.TimestampMs > node.Newest) node.Newest = newest.TimestampMs;
        }
        touched.Add(nodeId);
    }

    /// <summary>The node's report from its newest figures, or null: nothing new since the last one, or not enough to report.</summary>
    public IntakeReport? Take(string nodeId, IntakePolicy policy, ImmutableArray<CheckRule> checks, TimeSpan ttl)
    {
        if (!_nodes.TryGetValue(nodeId, out var node)) return null;
        lock (node)
        {
            if (node.Newest <= node.Sent) return null;
            // A figure left behind (its staleness marker lost, while another series of the node moves) is not read as now:
            // past Prometheus' own staleness window behind the node's newest sample, up and memory count as missing.
            if (node.Up is { } up && (IsStale(up.Value) || up.Value == 0 || node.Newest - up.TimestampMs > MaxFigureAgeMs)) return null;
            var (total, available) = node.Memory();
            if (total is not > 0 || total > MaxBytes || available is null || node.Newest - node.MemoryAt() > MaxFigureAgeMs) return null;
            node.Sent = node.Newest;
            var cpu = node.CpuPercent();
            var (size, free) = node.Filesystem();
            if (size > MaxBytes) size = null;
            var disk = size is > 0 && free is { } f ? Math.Clamp(100.0 * (size.Value - f) / size.Value, 0, 100) : 0;
            var results = ImmutableArray.CreateBuilder<CheckResult>();
            for (var i = 0; i < checks.Length; i++)
                if (node.Check(checks[i]) is { } result) results.Add(result with { Name = checks[i].Name });
            var at = DateTimeOffset.FromUnixTimeMilliseconds(node.Newest);
            var report = new TelemetryReport(node.Newest, at, ttl, Math.Round(cpu, 2), (long)(total.Value - available.Value), (long)total.Value,
                Math.Round(disk, 2), results.ToImmutable()) { Source = Health.NodeMonitor.IntakeSource };
            return new IntakeReport(nodeId, report, node.Domain ?? policy.Domain, new NodeCapacity(Math.Max(1, node.CpuCount), (long)total.Value, (long)(size ?? 0)));
        }
    }

    /// <summary>The nodes kept: at most <c>maxNodes</c>; at the bound, those not heard of for 15 minutes are forgotten.</summary>
    private readonly IntakeRoom _room = new(maxNodes);

    /// <summary>Whether the mapping reads series of this name at all (what else a push carries is not looked at).</summary>
    public static bool Reads(string name, IntakePolicy policy, ImmutableArray<CheckRule> checks)
    {
        if (name is "up" or OtelNames.CpuTime or OtelNames.MemoryUsage or OtelNames.FilesystemUsage) return true;
        if (name == policy.CpuSeconds || name == policy.MemoryTotal || name == policy.MemoryAvailable || name == policy.FilesystemSize || name == policy.FilesystemAvailable) return true;
        foreach (var c in checks) if (c.Series == name) return true;
        return false;
    }

    private enum SeriesKind { None, Up, Cpu, MemoryTotal, MemoryAvailable, MemoryState, FilesystemSize, FilesystemAvailable, FilesystemState, Check }

    private static SeriesKind KindOf(string name, IReadOnlyDictionary<string, string> labels, IntakePolicy policy, ImmutableArray<CheckRule> checks, out int rule)
    {
        rule = -1;
        for (var i = 0; i < checks.Length; i++)
            if (checks[i].Matches(name, labels))
            {
                rule = i;
                return name == "up" ? SeriesKind.Up : SeriesKind.Check;
            }
        if (name == "up") return SeriesKind.Up;
        if (name == policy.CpuSeconds || name == OtelNames.CpuTime) return SeriesKind.Cpu;
        if (name == policy.MemoryTotal) return SeriesKind.MemoryTotal;
        if (name == policy.MemoryAvailable) return SeriesKind.MemoryAvailable;
        if (name == OtelNames.MemoryUsage) return SeriesKind.MemoryState;
        var mount = labels.TryGetValue("mountpoint", out var m) ? m : labels.TryGetValue("system.filesystem.mountpoint", out var om) ? om : null;
        if (mount != policy.Mountpoint) return SeriesKind.None;
        if (name == policy.FilesystemSize) return SeriesKind.FilesystemSize;
        if (name == policy.FilesystemAvailable) return SeriesKind.FilesystemAvailable;
        return name == OtelNames.FilesystemUsage ? SeriesKind.FilesystemState : SeriesKind.None;
    }

    /// <summary>The OpenTelemetry host metrics names intake understands besides the policy's (semantic conventions).</summary>
    public static class OtelNames
    {
        public const string CpuTime = "system.cpu.time", MemoryUsage = "system.memory.usage", FilesystemUsage = "system.filesystem.usage";
    }

    private sealed class NodeSeries
    {
        public DateTimeOffset SeenAt;
        public long Newest, Sent;
        public string? Domain;
        public MetricSample? Up, MemTotal, MemAvailable, FsSize, FsAvailable;
        private readonly Dictionary<(string Cpu, string Mode), (MetricSample? Before, MetricSample Now)> _cpu = [];
        private readonly HashSet<string> _cpus = new(StringComparer.Ordinal);
        private readonly Dictionary<string, MetricSample> _memStates = [], _fsStates = [];
        // Keyed by the rule's text, not its place in the policy: a policy edit that reorders checks judges nothing by the wrong rule.
        private readonly Dictionary<(string Rule, string Series), (double Value, string Labels)> _checks = [];

        /// <summary>What one node keeps of series keyed by labels the pusher chooses: CPUs × modes, states, check series.</summary>
        public const int MaxCpuSeries = 1024, MaxStates = 16, MaxCheckSeries = 256;
        private double _lastCpu;

        public int CpuCount => _cpus.Count;

        /// <summary>Keeps a newer sample; false when it is not newer than what is kept (a late shard or a repeat).</summary>
        public bool Set(SeriesKind kind, IReadOnlyDictionary<string, string> labels, string rule, MetricSample now, MetricSample? before)
        {
            switch (kind)
            {
                case SeriesKind.Up: return Keep(ref Up, now);
                case SeriesKind.MemoryTotal: return Keep(ref MemTotal, now);
                case SeriesKind.MemoryAvailable: return Keep(ref MemAvailable, now);
                case SeriesKind.FilesystemSize: return Keep(ref FsSize, now);
                case SeriesKind.FilesystemAvailable: return Keep(ref FsAvailable, now);
                case SeriesKind.MemoryState: return KeepIn(_memStates, Label(labels, "state", "system.memory.state"), now);
                case SeriesKind.FilesystemState: return KeepIn(_fsStates, Label(labels, "state", "system.filesystem.state"), now);
                case SeriesKind.Cpu:
                {
                    var key = (Label(labels, "cpu", "cpu"), Label(labels, "mode", "state", "cpu.mode"));
                    var known = _cpu.TryGetValue(key, out var had);
                    if (known && had.Now.TimestampMs >= now.TimestampMs) return false;
                    if (!known && _cpu.Count >= MaxCpuSeries) return false;
                    _cpu[key] = IsStale(now.Value) ? (null, now) : (before ?? (known && !IsStale(had.Now.Value) ? had.Now : null), now);
                    if (!known) _cpus.Add(key.Item1);
                    return true;
                }
                default:
                {
                    var series = string.Join(",", labels.Where(l => l.Key is not ("__name__" or "instance" or "job")).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{l.Value}\""));
                    if (IsStale(now.Value)) _checks.Remove((rule, series));
                    else if (_checks.Count < MaxCheckSeries || _checks.ContainsKey((rule, series))) _checks[(rule, series)] = (now.Value, series);
                    else return false;
                    return true;
                }
            }
        }

        private static string Clip(string text) => text.Length > 1000 ? text[..1000] + "…" : text;

        private static string Label(IReadOnlyDictionary<string, string> labels, params string[] names)
        {
            foreach (var n in names) if (labels.TryGetValue(n, out var v)) return v;
            return "";
        }

        private static bool Keep(ref MetricSample? kept, MetricSample now)
        {
            if (kept is { } k && k.TimestampMs >= now.TimestampMs) return false;
            kept = now;
            return true;
        }

        private static bool KeepIn(Dictionary<string, MetricSample> kept, string key, MetricSample now)
        {
            var found = kept.TryGetValue(key, out var k);
            if (found && k.TimestampMs >= now.TimestampMs) return false;
            if (!found && kept.Count >= MaxStates) return false;
            kept[key] = now;
            return true;
        }

        /// <summary>Total and available memory: node_exporter's two gauges, or OpenTelemetry's usage by state (available = total − used).</summary>
        public (double? Total, double? Available) Memory()
        {
            if (MemTotal is { } t && MemAvailable is { } a) return IsStale(t.Value) || IsStale(a.Value) || t.Value <= 0 ? (null, null) : (t.Value, Math.Clamp(a.Value, 0, t.Value));
            if (_memStates.Count == 0 || _memStates.Values.Any(s => IsStale(s.Value)) || !_memStates.TryGetValue("used", out var used)) return (null, null);
            var total = _memStates.Values.Sum(s => Math.Max(0, s.Value));
            return total > 0 ? (total, Math.Clamp(total - used.Value, 0, total)) : (null, null);
        }

        /// <summary>The time of the oldest sample the memory figures are read from.</summary>
        public long MemoryAt() => MemTotal is { } t && MemAvailable is { } a ? Math.Min(t.TimestampMs, a.TimestampMs)
            : _memStates.Count > 0 ? _memStates.Values.Min(s => s.TimestampMs) : long.MinValue;

        public (double? Size, double? Free) Filesystem()
        {
            if (FsSize is { } s && FsAvailable is { } a) return IsStale(s.Value) || IsStale(a.Value) ? (null, null) : (s.Value, a.Value);
            if (_fsStates.Count == 0 || _fsStates.Values.Any(x => IsStale(x.Value))) return (null, null);
            return (_fsStates.Values.Sum(x => x.Value), _fsStates.TryGetValue("free", out var free) ? free.Value : null);
        }

        /// <summary>Busy share of the CPU seconds between each series' last two samples (idle and iowait count as not busy).</summary>
        public double CpuPercent()
        {
            double idle = 0, all = 0;
            foreach (var ((_, mode), (before, now)) in _cpu)
            {
                if (before is not { } b || IsStale(now.Value) || now.Value < b.Value) continue;
                var delta = now.Value - b.Value;
                all += delta;
                if (mode is "idle" or "iowait" or "wait") idle += delta;
            }
            if (all > 0) _lastCpu = Math.Clamp(100.0 * (all - idle) / all, 0, 100);
            return _lastCpu;
        }

        /// <summary>The check's result over its series' newest values, or null while none has a sample.</summary>
        public CheckResult? Check(CheckRule check)
        {
            var any = false;
            string? failing = null;
            foreach (var ((rule, _), (value, labels)) in _checks)
            {
                if (rule != check.Text) continue;
                any = true;
                if (failing is null && !check.Holds(value))
                    failing = Clip($"{check.Text}: {{{labels}}} is {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }
            return any ? new CheckResult("", failing is null, failing) : null;
        }
    }
}
