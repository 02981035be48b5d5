using System.Text.RegularExpressions;
using Fleet.Abstractions.Nodes;

namespace Fleet.Core.Validation;

/// <summary>
/// The rules every input must pass at the boundary (REST API, client SDK, CLI) before it reaches a grain.
/// Each rule returns the problems by field name, all at once.
/// </summary>
public static partial class InputRules
{
    public const int MaxIdLength = 128;
    public const int MaxChecks = 64;
    public const int MaxLabels = 64;

    /// <summary>The most reports one batch takes.</summary>
    public const int MaxBatch = 10_000;

    public static Dictionary<string, string[]> CheckBatchSize(int count)
    {
        var p = new Problems();
        if (count > MaxBatch) p.Add("(body)", $"at most {MaxBatch} reports per batch, got {count}");
        return p.ToDictionary();
    }

    /// <summary>The largest policy or spec document taken (256 KiB).</summary>
    public const int MaxDocument = Documents.DocumentLimits.MaxChars;

    /// <summary>A YAML document a person wrote (a policy, a spec): present, and within every limit of <see cref="Documents.DocumentLimits"/>.</summary>
    public static Dictionary<string, string[]> CheckDocument(string field, string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return new() { [field] = ["is required"] };
        return Documents.DocumentLimits.Check(text) is { } limit ? new() { [field] = [$"past a limit ({limit.Limit}): {limit}"] } : [];
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    private static partial Regex IdPattern();

    public const string IdRule = "1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";

    public static bool IsValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>The most nodes a maintenance train drains at once.</summary>
    public const int MaxTrainBatch = 100;

    /// <summary>The problem with an id, by field: "'x y' is not a node id: …", or none.</summary>

    public static Dictionary<string, string[]> CheckId(string field, string? id, string what = "node id")
    {
        var p = new Problems();
        if (!IsValidId(id)) p.Add(field, $"'{id}' is not a {what}: {IdRule}");
        return p.ToDictionary();
    }

    /// <summary>Reads a health state by name (any case); a number or an unknown name is a problem that lists the names.</summary>
    /// <summary>The least memory or disk a node or an instance may declare (1 MiB): less is a typo, not a machine.</summary>
    public const long MinBytes = 1024 * 1024;

    /// <summary>
    /// A time given as ISO 8601 (2026-12-01T10:00:00Z) or as a duration ago (15m, 2h, 1d) — the same forms the CLI takes.
    /// </summary>
    public static bool TryParseTime(string? text, DateTimeOffset now, out DateTimeOffset? value, out string problem)
    {
        value = null;
        problem = "";
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (Policies.Durations.TryParse(text, out var ago))
        {
            if (ago > now - DateTimeOffset.MinValue)
            {
                problem = $"'{text}' reaches back before any date; use a shorter duration or ISO 8601";
                return false;
            }
            value = now - ago;
            return true;
        }
        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
        {
            value = at;
            return true;
        }
        problem = $"'{text}' is not a time; use ISO 8601, e.g. 2026-12-01T10:00:00Z, or a duration ago such as 15m";
        return false;
    }

    public static bool TryParseHealth(string? text, out HealthState? health, out string problem)
    {
        health = null;
        problem = "";
        if (string.IsNullOrEmpty(text)) return true;
        if (Enum.TryParse<HealthState>(text, true, out var h) && !int.TryParse(text, out _))
        {
            health = h;
            return true;
        }
        problem = $"'{text}' is not a health state; accepted: {string.Join(", ", Enum.GetNames<HealthState>())}";
        return false;
    }

    public static Dictionary<string, string[]> Check(NodeRegistration r)
    {
        var p = new Problems();
        if (!IsValidId(r.NodeId)) p.Add("id", $"'{r.NodeId}' is not a node id: {IdRule}");
        if (!IsValidId(r.Domain)) p.Add("domain", $"'{r.Domain}' is not a domain name: {IdRule}");
        if (r.Capacity is null) p.Add("capacity", "is required (cpuCores, memoryBytes, diskBytes)");
        else
        {
            if (!double.IsFinite(r.Capacity.CpuCores) || r.Capacity.CpuCores <= 0 || r.Capacity.CpuCores > 100_000) p.Add("capacity.cpuCores", "must be more than 0 and at most 100000");
            if (r.Capacity.MemoryBytes < MinBytes || r.Capacity.MemoryBytes > MaxBytes) p.Add("capacity.memoryBytes", $"must be at least 1 MiB ({MinBytes}) and at most 1 PiB, got {r.Capacity.MemoryBytes}");
            if (r.Capacity.DiskBytes is > 0 and < MinBytes || r.Capacity.DiskBytes < 0 || r.Capacity.DiskBytes > MaxBytes * 1024)
                p.Add("capacity.diskBytes", $"must be 0 (no local disk) or from 1 MiB ({MinBytes}) to 1 EiB, got {r.Capacity.DiskBytes}");
        }
        if (r.Address is { } address && (address.Length is 0 or > 253 || Uri.CheckHostName(address) == UriHostNameType.Unknown))
            p.Add("address", $"'{address}' is not a host name or IP address");
        if (r.Probe is { } probe)
        {
            if (probe.Kind == ProbeKind.Tcp && !IsHostPort(probe.Address)) p.Add("probe.address", $"'{probe.Address}' is not host:port (a tcp probe connects to it)");
            if (probe.Kind == ProbeKind.Http && !(Uri.TryCreate(probe.Address, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
                p.Add("probe.address", $"'{probe.Address}' is not an http(s) URL (an http probe gets it)");
            if (probe.Timeout is { } t && (t <= TimeSpan.Zero || t > TimeSpan.FromSeconds(30))) p.Add("probe.timeout", "must be more than 0 and at most 30 s");
        }
        if (r.Labels is { } labels)
        {
            if (labels.Count > MaxLabels) p.Add("labels", $"at most {MaxLabels} labels");
            foreach (var (k, v) in labels)
            {
                if (!IsValidId(k)) p.Add($"labels.{k}", $"a label name must be {IdRule}");
                if (v is null || v.Length > 256) p.Add($"labels.{k}", "a label value must be at most 256 characters");
            }
        }
        return p.ToDictionary();
    }

    private static bool IsHostPort(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text[(colon + 1)..], out var port) && port is > 0 and < 65536
            && Uri.CheckHostName(text[..colon].Trim('[', ']')) != UriHostNameType.Unknown;
    }

    /// <summary>How far a report's timestamp may be ahead of the receiver's clock (clock skew allowance).</summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromMinutes(5);

    /// <summary>How old a report's timestamp may be (older reports are refused outright, not judged).</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromDays(1);

    /// <summary>1 PiB: more memory or disk than any single node has.</summary>
    public const long MaxBytes = 1L << 50;

    public static Dictionary<string, string[]> Check(TelemetryReport t, DateTimeOffset now, string prefix = "")
    {
        var p = Check(t, prefix);
        var result = new Problems(p);
        if (t.Timestamp > now + MaxFutureSkew)
            result.Add(prefix + "timestamp", $"{t.Timestamp:O} is {Text.Format.Duration(t.Timestamp - now)} ahead of the receiver's clock; accepted: at most {Text.Format.Duration(MaxFutureSkew)} ahead");
        if (t.Timestamp < now - MaxAge)
            result.Add(prefix + "timestamp", $"{t.Timestamp:O} is more than {Text.Format.Duration(MaxAge)} old; accepted: within the last {Text.Format.Duration(MaxAge)}");
        return result.ToDictionary();
    }

    public static Dictionary<string, string[]> Check(TelemetryReport t, string prefix = "")
    {
        var p = new Problems();
        if (t.Sequence < 0) p.Add(prefix + "sequence", "must be 0 or more");
        if (t.Ttl <= TimeSpan.Zero || t.Ttl > TimeSpan.FromHours(24)) p.Add(prefix + "ttlSeconds", "must be more than 0 and at most 86400");
        if (!double.IsFinite(t.CpuPercent) || t.CpuPercent is < 0 or > 100) p.Add(prefix + "cpuPercent", "must be between 0 and 100");
        if (!double.IsFinite(t.DiskUsedPercent) || t.DiskUsedPercent is < 0 or > 100) p.Add(prefix + "diskUsedPercent", "must be between 0 and 100");
        if (t.MemoryTotalBytes <= 0 || t.MemoryTotalBytes > MaxBytes) p.Add(prefix + "memoryTotalBytes", "must be more than 0 and at most 1 PiB");
        if (t.MemoryUsedBytes < 0) p.Add(prefix + "memoryUsedBytes", "must not be negative");
        if (t.BootId is { } boot && !IsValidId(boot)) p.Add(prefix + "bootId", $"'{boot}' is not a boot id: {IdRule}");
        else if (t.MemoryTotalBytes > 0 && t.MemoryUsedBytes > t.MemoryTotalBytes) p.Add(prefix + "memoryUsedBytes", "must not exceed memoryTotalBytes");
        if (!t.Checks.IsDefault)
        {
            if (t.Checks.Length > MaxChecks) p.Add(prefix + "checks", $"at most {MaxChecks} checks per report");
            for (var i = 0; i < t.Checks.Length; i++)
            {
                var c = t.Checks[i];
                if (c is null || !IsValidId(c.Name)) p.Add($"{prefix}checks[{i}].name", $"a check name must be {IdRule}");
                if (c?.Detail is { Length: > 1024 }) p.Add($"{prefix}checks[{i}].detail", "at most 1024 characters");
            }
        }
        if (t.Source is null || !IsValidId(t.Source)) p.Add(prefix + "source", $"'{t.Source}' is not a source name: {IdRule}");
        if (!t.Peers.IsDefault)
        {
            if (t.Peers.Length > MaxPeers) p.Add(prefix + "peers", $"at most {MaxPeers} peer probes per report");
            for (var i = 0; i < Math.Min(t.Peers.Length, MaxPeers); i++)
            {
                var peer = t.Peers[i];
                if (peer is null || !IsValidId(peer.NodeId)) p.Add($"{prefix}peers[{i}].nodeId", $"a peer must be a node id: {IdRule}");
                if (peer?.Detail is { Length: > 1024 }) p.Add($"{prefix}peers[{i}].detail", "at most 1024 characters");
            }
        }
        return p.ToDictionary();
    }

    /// <summary>The most peer probes one report carries.</summary>
    public const int MaxPeers = 64;

    public static Dictionary<string, string[]> Check(Fleet.Abstractions.Audit.AuditQuery q)
    {
        var p = new Problems();
        var kinds = Fleet.Abstractions.Audit.DecisionKinds.All;
        if (q.Kind is { } k && !kinds.Contains(k)) p.Add("kind", $"'{k}' is not a decision kind; accepted: {string.Join(", ", kinds)}");
        if (q.Limit is < 1 or > 1000) p.Add("limit", "must be between 1 and 1000");
        if (q.Since > q.Until) p.Add("since", "must not be after until");
        if (q.Subject is { Length: > 300 }) p.Add("subject", "at most 300 characters");
        if (q.Incident is { } i && (i.Length is 0 or > 300 || i.Any(char.IsControl))) p.Add("incident", "must be 1 to 300 characters without control characters");
        return p.ToDictionary();
    }

    public const int MaxReplicas = 10_000;

    /// <summary>The rules of a service spec, by path (the spec parser adds the document's lines).</summary>
    public static Dictionary<string, string[]> Check(Abstractions.Services.ServiceSpec s)
    {
        var p = new Problems();
        if (!IsValidId(s.Name)) p.Add("name", $"'{s.Name}' is not a service name: {IdRule}");
        if (s.Replicas is < 0 or > MaxReplicas) p.Add("replicas", $"{s.Replicas} is out of range; accepted 0 to {MaxReplicas}");
        if (!IsValidVersion(s.Version)) p.Add("version", "must be 1 to 64 characters with no spaces");
        if (s.Resources is null) p.Add("resources", "is required (cpuCores, memoryBytes)");
        else
        {
            if (!double.IsFinite(s.Resources.CpuCores) || s.Resources.CpuCores <= 0 || s.Resources.CpuCores > 1024) p.Add("resources.cpuCores", "must be more than 0 and at most 1024");
            if (s.Resources.MemoryBytes <= 0 || s.Resources.MemoryBytes > MaxBytes) p.Add("resources.memoryBytes", "must be more than 0 and at most 1 PiB");
        }
        if (s.Placement?.Labels is { } labels)
        {
            if (labels.Count > MaxLabels) p.Add("placement.labels", $"at most {MaxLabels} labels");
            foreach (var (k, v) in labels)
            {
                if (!IsValidId(k)) p.Add($"placement.labels.{k}", $"a label name must be {IdRule}");
                if (v is null || v.Length > 256) p.Add($"placement.labels.{k}", "a label value must be at most 256 characters");
            }
        }
        if (s.Budget is { MinHealthyShare: { } share } && (!double.IsFinite(share) || share is < 0 or > 1)) p.Add("minHealthy", "must be a share from 0 to 1 (or 0% to 100%)");
        if (s.Budget is { MaxUnavailable: { } mu } && mu < 0) p.Add("maxUnavailable", "must be 0 or more");
        if (s.Scaling is { } sc)
        {
            if (sc.Min is < 1 or > MaxReplicas) p.Add("scaling.min", $"{sc.Min} is out of range; accepted 1 to {MaxReplicas}");
            if (sc.Max is < 1 or > MaxReplicas) p.Add("scaling.max", $"{sc.Max} is out of range; accepted 1 to {MaxReplicas}");
            else if (sc.Max < sc.Min) p.Add("scaling.max", $"must be at least scaling.min ({sc.Min})");
            if (!double.IsFinite(sc.Target) || sc.Target <= 0 || (sc.Metric == Abstractions.Services.ScalingMetric.Cpu && sc.Target > 100))
                p.Add("scaling.target", sc.Metric == Abstractions.Services.ScalingMetric.Cpu ? "must be more than 0 and at most 100 (percent CPU)" : "must be more than 0 (requests per second per instance)");
            if (!double.IsFinite(sc.Tolerance) || sc.Tolerance is < 0 or >= 1) p.Add("scaling.tolerance", "must be from 0 to less than 1 (a share of the target)");
            if (sc.Cooldown < TimeSpan.Zero) p.Add("scaling.cooldown", "must not be negative");
        }
        return p.ToDictionary();
    }

    /// <summary>The rules of one instance report, by field (prefixed for a batch).</summary>
    public static Dictionary<string, string[]> Check(Abstractions.Services.InstanceReport r, DateTimeOffset now, string prefix = "")
    {
        var p = new Problems();
        if (!IsValidId(r.Service)) p.Add(prefix + "service", $"'{r.Service}' is not a service name: {IdRule}");
        if (!IsValidId(r.Instance)) p.Add(prefix + "instance", $"'{r.Instance}' is not an instance id: {IdRule}");
        if (string.IsNullOrWhiteSpace(r.Version) || r.Version.Length > 64) p.Add(prefix + "version", "must be 1 to 64 characters");
        foreach (var (field, value) in new[] { ("requests", r.Requests), ("errors", r.Errors), ("latencyP50Ms", r.LatencyP50Ms), ("latencyP99Ms", r.LatencyP99Ms) })
            if (!double.IsFinite(value) || value < 0 || value > 1e9) p.Add(prefix + field, "must be a number from 0 to 1e9");
        if (double.IsFinite(r.Errors) && double.IsFinite(r.Requests) && r.Errors > r.Requests)
            p.Add(prefix + "errors", $"{r.Errors} errors/s is more than the {r.Requests} requests/s they are part of");
        if (r.CpuPercent is { } cpu && (!double.IsFinite(cpu) || cpu is < 0 or > 100)) p.Add(prefix + "cpuPercent", "must be between 0 and 100");
        if (r.MemoryBytes < 0 || r.MemoryBytes > MaxBytes) p.Add(prefix + "memoryBytes", "must be from 0 to 1 PiB");
        if (r.Timestamp > now + MaxFutureSkew) p.Add(prefix + "timestamp", $"is more than {Text.Format.Duration(MaxFutureSkew)} ahead of the receiver's clock");
        if (r.Timestamp < now - MaxAge) p.Add(prefix + "timestamp", $"is more than {Text.Format.Duration(MaxAge)} old");
        if (r.Sequence is < 0) p.Add(prefix + "sequence", "must be 0 or more");
        if (r.Ttl is { } ttl && (ttl < TimeSpan.FromSeconds(1) || ttl > TimeSpan.FromHours(1))) p.Add(prefix + "ttlSeconds", "must be from 1 to 3600 seconds");
        return p.ToDictionary();
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$")]
    private static partial Regex PrincipalPattern();

    /// <summary>Account and service identities may be e-mail-like (<c>svc-backup@corp</c>, <c>alice+ops@example.com</c>).</summary>
    public const string PrincipalRule = "1 to 128 letters, digits, '.', '_', ':', '@', '+' or '-', starting with a letter or digit";

    public static bool IsValidPrincipal(string? id) => id is not null && PrincipalPattern().IsMatch(id);

    /// <summary>Every problem with a principal's report: its id, figures that cannot be negative, a window, a time neither ahead nor older than the baseline keeps.</summary>
    public static Dictionary<string, string[]> Check(Abstractions.Principals.PrincipalReport r, DateTimeOffset now, TimeSpan keep, string prefix = "")
    {
        var p = new Problems();
        if (!IsValidPrincipal(r.Principal)) p.Add(prefix + "principal", $"'{r.Principal}' is not a principal id: {PrincipalRule}");
        foreach (var (field, value) in new (string, long)[] { ("bytesOut", r.BytesOut), ("requests", r.Requests), ("resources", r.Resources),
                     ("newResources", r.NewResources), ("sourceHosts", r.SourceHosts), ("failedLogins", r.FailedLogins) })
            if (value < 0) p.Add(prefix + field, $"cannot be negative, got {value}");
        if (r.NewResources > r.Resources && r.Resources > 0) p.Add(prefix + "newResources", $"cannot exceed resources ({r.Resources})");
        if (r.Window <= TimeSpan.Zero || r.Window > TimeSpan.FromDays(1)) p.Add(prefix + "windowSeconds", "must be more than 0 and at most 86400");
        if (r.Timestamp > now + MaxFutureSkew) p.Add(prefix + "timestamp", $"is more than {Text.Format.Duration(MaxFutureSkew)} ahead of the receiver's clock");
        if (r.Timestamp < now - keep) p.Add(prefix + "timestamp", $"is older than the {Text.Format.Duration(keep)} the baseline keeps (security.window)");
        return p.ToDictionary();
    }

    /// <summary>An agent's report of an action request it refused: each field bounded, the kind one of the known kinds.</summary>
    public static Dictionary<string, string[]> Check(Abstractions.Agents.AgentRefusal r)
    {
        var p = new Problems();
        if (r.IdempotencyKey is not { Length: > 0 and <= 256 }) p.Add("idempotencyKey", "must be 1 to 256 characters");
        if (r.Action is not { Length: > 0 and <= 64 }) p.Add("action", "must be 1 to 64 characters");
        if (r.Subject is not { Length: > 0 and <= 300 }) p.Add("subject", "must be 1 to 300 characters");
        if (r.Kind is not (Abstractions.Agents.AgentRefusalKinds.Unsigned or Abstractions.Agents.AgentRefusalKinds.BadSignature or Abstractions.Agents.AgentRefusalKinds.Expired
            or Abstractions.Agents.AgentRefusalKinds.OtherNode or Abstractions.Agents.AgentRefusalKinds.Replayed or Abstractions.Agents.AgentRefusalKinds.NoActionKey))
            p.Add("kind", $"'{r.Kind}' is not a refusal kind");
        if (r.Why is not { Length: > 0 and <= 512 }) p.Add("why", "must be 1 to 512 characters");
        foreach (var (field, text) in new[] { ("idempotencyKey", r.IdempotencyKey), ("action", r.Action), ("subject", r.Subject), ("why", r.Why) })
            if (text is not null && text.Any(char.IsControl)) p.Add(field, "must not hold control characters");
        return p.ToDictionary();
    }

    /// <summary>How old a principal's report may be when a caller does not know the policy's window (the SDK, the gateway).</summary>
    public static readonly TimeSpan MaxPrincipalHistory = TimeSpan.FromDays(90);

    [GeneratedRegex("^[a-z][a-z0-9-]{0,63}$")]
    private static partial Regex ActionNamePattern();

    /// <summary>An action's name: lower-case letters, digits and '-', starting with a letter, at most 64 characters.</summary>
    public static bool IsValidActionName(string? action) => action is not null && ActionNamePattern().IsMatch(action);

    /// <summary>A version name: 1 to 64 characters with no spaces (as a spec's <c>version</c>).</summary>
    public static Dictionary<string, string[]> CheckVersion(string field, string? version) =>
        IsValidVersion(version) ? [] : new() { [field] = [$"'{version}' is not a version: 1 to 64 characters with no spaces"] };

    public static bool IsValidVersion(string? version) => !string.IsNullOrWhiteSpace(version) && version.Length <= 64 && !version.Any(char.IsWhiteSpace);

    public static Dictionary<string, string[]> CheckText(string field, string? text, bool required, int max = 512)
    {
        var p = new Problems();
        if (required && string.IsNullOrWhiteSpace(text)) p.Add(field, "is required");
        else if (text is { } s && s.Length > max) p.Add(field, $"at most {max} characters");
        return p.ToDictionary();
    }

    private sealed class Problems
    {
        private Dictionary<string, List<string>>? _byField; // made on the first problem: most input has none

        public Problems() { }

        public Problems(Dictionary<string, string[]> existing)
        {
            foreach (var (k, v) in existing) (_byField ??= [])[k] = [.. v];
        }

        public void Add(string field, string message)
        {
            _byField ??= [];
            if (!_byField.TryGetValue(field, out var list)) _byField[field] = list = [];
            list.Add(message);
        }

        public Dictionary<string, string[]> ToDictionary() =>
            _byField is null ? [] : _byField.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
    }
}
