using System.Collections.Immutable;
using System.Text.Json;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Core.Intake;
using Fleet.Grains.Policy;
using Fleet.Silo.Intake;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Fleet.Silo.Api;

/// <summary>
/// Telemetry from what teams already run (docs/intake.md): Prometheus remote-write (<c>POST /api/v1/write</c>), OTLP/HTTP
/// metrics (<c>POST /v1/metrics</c>) and Alertmanager's webhook (<c>POST /api/v1/alerts/alertmanager</c>). Each needs an
/// ingest key (or an operator's or admin's), is rate limited per credential, and reads a bounded body: a push past a limit,
/// malformed, or without a credential is refused whole, with nothing taken.
/// </summary>
public static class IntakeApi
{
    /// <summary>The largest body taken, as sent (compressed): 8 MiB.</summary>
    public const int MaxBody = 8 << 20;

    /// <summary>The largest body once decompressed (remote-write, gzip OTLP): 8 MiB.</summary>
    public const int MaxDecompressed = 8 << 20;

    /// <summary>
    /// Pushes decoded at once on a silo: a decoded message holds far more memory than its bytes (an object per label and
    /// sample), so at most this many are in memory together; the rest wait their turn.
    /// </summary>
    private static readonly SemaphoreSlim Decoding = new(2);

    /// <summary>Data points one OTLP push may carry.</summary>
    public const int MaxPoints = 200_000;

    /// <summary>Labels (or attributes) a series may carry; names and values are cut at 1,024 characters.</summary>
    public const int MaxLabels = 128, MaxLabelLength = 1024;

    public static void MapIntakeEndpoints(this IEndpointRouteBuilder api, IEndpointRouteBuilder root)
    {
        api.MapPost("/write", RemoteWriteAsync).WithTags("Intake").RequireAuthorization(Access.Ingest)
            .Produces(StatusCodes.Status204NoContent).ProducesValidationProblem();
        api.MapPost("/alerts/alertmanager", AlertmanagerAsync).WithTags("Intake").RequireAuthorization(Access.Ingest)
            .Accepts<AlertmanagerWebhook>("application/json").Produces<List<AlertTaken>>().ProducesValidationProblem();
        root.MapPost("/v1/metrics", OtlpAsync).WithTags("Intake").RequireAuthorization(Access.Ingest).RequireRateLimiting(Access.PerCredential)
            .Produces(StatusCodes.Status200OK).ProducesValidationProblem();
    }

    private static IResult Refuse(string field, string why, int status = StatusCodes.Status400BadRequest) =>
        status == StatusCodes.Status400BadRequest
            ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [why] }, title: "The push is not valid; nothing in it was taken.")
            : TypedResults.Problem(statusCode: status, title: "The push is too large; nothing in it was taken.", detail: why);

    /// <summary>The body, at most <see cref="MaxBody"/> bytes; null when it is longer.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request)
    {
        if (request.ContentLength > MaxBody) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBody) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static Task<IResult> RemoteWriteAsync(HttpContext http, IntakeRelay relay) => InTurnAsync(http, () => RemoteWriteInTurnAsync(http, relay));

    private static async Task<IResult> RemoteWriteInTurnAsync(HttpContext http, IntakeRelay relay)
    {
        // Remote-write 2.0 names its message in the content type; its body is not a 1.0 WriteRequest, so it is refused, not misread.
        if (http.Request.ContentType is { } type && type.Contains("io.prometheus.write.v2", StringComparison.OrdinalIgnoreCase))
            return Refuse("(body)", "remote-write 2.0 is not read; configure the remote_write with protobuf_message: prometheus.WriteRequest (1.0)",
                StatusCodes.Status415UnsupportedMediaType);
        if (await ReadBodyAsync(http.Request) is not { } body) return Refuse("(body)", $"more than {MaxBody:N0} bytes", StatusCodes.Status413PayloadTooLarge);
        byte[] raw;
        try
        {
            var length = Snappier.Snappy.GetUncompressedLength(body);
            if (length > MaxDecompressed) return Refuse("(body)", $"decompresses to {length:N0} bytes; at most {MaxDecompressed:N0}", StatusCodes.Status413PayloadTooLarge);
            raw = new byte[length];
            Snappier.Snappy.Decompress(body, raw);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException)
        {
            return Refuse("(body)", "is not snappy-compressed (remote-write 1.0 sends a snappy block of a protobuf WriteRequest)");
        }
        if (Decode<WriteRequest>(raw) is not { } request) return Refuse("(body)", "is not a remote-write WriteRequest (protobuf)");
        var series = new List<(string, IReadOnlyDictionary<string, string>, MetricSample[])>(request.Timeseries.Count);
        foreach (var ts in request.Timeseries)
        {
            if (ts.Labels.Count > MaxLabels) return Refuse("timeseries.labels", $"a series carries {ts.Labels.Count} labels; at most {MaxLabels}");
            string? name = null;
            foreach (var l in ts.Labels)
            {
                if (l.Name.Length > MaxLabelLength || l.Value.Length > MaxLabelLength)
                    return Refuse("timeseries.labels", $"a label name or value is longer than {MaxLabelLength} characters");
                if (name is null && l.Name == "__name__") name = l.Value;
            }
            if (name is null) continue;
            var samples = new MetricSample[ts.Samples.Count];
            for (var i = 0; i < samples.Length; i++) samples[i] = new MetricSample(ts.Samples[i].Timestamp, ts.Samples[i].Value);
            series.Add((name, new LabelList(ts.Labels), samples));
        }
        await relay.TakeAsync(series);
        return TypedResults.NoContent();
    }

    /// <summary>The most buckets one histogram point may have (OTel's defaults have 16; exponential ones are not read).</summary>
    public const int MaxBuckets = 256;

    private static Task<IResult> OtlpAsync(HttpContext http, IntakeRelay relay) => InTurnAsync(http, () => OtlpInTurnAsync(http, relay));

    private static async Task<IResult> OtlpInTurnAsync(HttpContext http, IntakeRelay relay)
    {
        if (http.Request.ContentType is { } type && type.Contains("json", StringComparison.OrdinalIgnoreCase))
            return Refuse("(body)", "OTLP/HTTP JSON is not taken; send protobuf (Content-Type: application/x-protobuf)", StatusCodes.Status415UnsupportedMediaType);
        if (await ReadBodyAsync(http.Request) is not { } body) return Refuse("(body)", $"more than {MaxBody:N0} bytes", StatusCodes.Status413PayloadTooLarge);
        if (http.Request.Headers.ContentEncoding.ToString() is "gzip")
        {
            try
            {
                using var gzip = new System.IO.Compression.GZipStream(new MemoryStream(body), System.IO.Compression.CompressionMode.Decompress);
                using var plain = new MemoryStream();
                var chunk = new byte[81920];
                int read;
                while ((read = await gzip.ReadAsync(chunk)) > 0)
                {
                    if (plain.Length + read > MaxDecompressed) return Refuse("(body)", $"decompresses to more than {MaxDecompressed:N0} bytes", StatusCodes.Status413PayloadTooLarge);
                    plain.Write(chunk, 0, read);
                }
                body = plain.ToArray();
            }
            catch (InvalidDataException)
            {
                return Refuse("(body)", "is not gzip, as its Content-Encoding says");
            }
        }
        if (Decode<ExportMetricsServiceRequest>(body) is not { } request) return Refuse("(body)", "is not an OTLP ExportMetricsServiceRequest (protobuf)");
        var series = new List<(string, IReadOnlyDictionary<string, string>, MetricSample[])>();
        var requests = new List<InstancePoint>();
        var memories = new List<((string Service, string Instance, string Version) Of, double Bytes)>();
        var reads = relay.Reader();
        var taken = 0;
        foreach (var rm in request.ResourceMetrics)
        {
            var resource = Attributes(rm.Resource?.Attributes, null);
            if (resource is null) return Refuse("resourceMetrics.resource.attributes", $"more than {MaxLabels} attributes, or one longer than {MaxLabelLength} characters");
            var instance = InstanceIntake.InstanceOf(resource);
            foreach (var sm in rm.ScopeMetrics)
                foreach (var metric in sm.Metrics)
                {
                    // A service's own figures (service.name and service.instance.id on the resource): its instance's report.
                    if (instance is { } of && metric.Name == InstanceIntake.RequestDuration && metric.Histogram is { } histogram)
                    {
                        foreach (var p in histogram.DataPoints)
                        {
                            if ((p.Flags & 1) != 0) continue;
                            if ((taken += 1) > MaxPoints) return Refuse("resourceMetrics", $"more than {MaxPoints:N0} data points of the metrics intake reads", StatusCodes.Status413PayloadTooLarge);
                            if (p.BucketCounts.Count > MaxBuckets || p.ExplicitBounds.Count > MaxBuckets || (p.BucketCounts.Count > 0 && p.BucketCounts.Count != p.ExplicitBounds.Count + 1))
                                return Refuse("dataPoints.bucketCounts", $"at most {MaxBuckets} buckets, one more than explicitBounds");
                            if (Attributes(p.Attributes, null) is not { } labels)
                                return Refuse("dataPoints.attributes", $"more than {MaxLabels} attributes, or one longer than {MaxLabelLength} characters");
                            requests.Add(new InstancePoint(of, labels, p, metric.Unit, histogram.AggregationTemporality == 2));
                        }
                        continue;
                    }
                    if (instance is { } owner && metric.Name == InstanceIntake.MemoryUsage && (metric.Gauge?.DataPoints ?? metric.Sum?.DataPoints) is { Count: > 0 } memory)
                    {
                        memories.Add((owner, memory.Sum(p => p.Value))); // taken with the rest, once nothing in the push is refused
                        continue;
                    }
                    var points = metric.Gauge?.DataPoints ?? metric.Sum?.DataPoints;
                    // Only what the mapping reads is looked at: a point of any other metric costs nothing more.
                    if (points is null || metric.Name.Length > MaxLabelLength || !reads(metric.Name)) continue;
                    if ((taken += points.Count) > MaxPoints) return Refuse("resourceMetrics", $"more than {MaxPoints:N0} data points of the metrics intake reads", StatusCodes.Status413PayloadTooLarge);
                    foreach (var p in points)
                    {
                        if (Attributes(p.Attributes, resource) is not { } labels)
                            return Refuse("dataPoints.attributes", $"more than {MaxLabels} attributes, or one longer than {MaxLabelLength} characters");
                        var at = (long)(p.TimeUnixNano / 1_000_000);
                        series.Add((metric.Name, labels, [new MetricSample(at, (p.Flags & 1) != 0 ? double.NaN : p.Value)]));
                    }
                }
        }
        foreach (var (of, bytes) in memories) relay.InstanceMemory(of, bytes);
        await relay.TakeAsync(series);
        await relay.TakeRequestsAsync(requests);
        // OTLP/HTTP's success answer: an ExportMetricsServiceResponse, empty (nothing rejected in part).
        return Results.Bytes([], "application/x-protobuf");
    }

    /// <summary>The protobuf message the bytes hold, or null when they are not one.</summary>
    private static T? Decode<T>(byte[] bytes) where T : class
    {
        try
        {
            return ProtoBuf.Serializer.Deserialize<T>(new ReadOnlyMemory<byte>(bytes));
        }
        catch (Exception e) when (e is ProtoBuf.ProtoException or InvalidOperationException or EndOfStreamException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>Runs a push's decoding and mapping in its turn (see <see cref="Decoding"/>).</summary>
    private static async Task<IResult> InTurnAsync(HttpContext http, Func<Task<IResult>> work)
    {
        await Decoding.WaitAsync(http.RequestAborted);
        try
        {
            return await work();
        }
        finally
        {
            Decoding.Release();
        }
    }

    /// <summary>Resource and point attributes as one label set (the point's win); null past a bound.</summary>
    private static Dictionary<string, string>? Attributes(List<OtlpKeyValue>? attributes, Dictionary<string, string>? under)
    {
        var labels = under is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(under, StringComparer.Ordinal);
        foreach (var a in attributes ?? [])
        {
            var value = a.Value?.Text ?? "";
            if (a.Key.Length > MaxLabelLength || value.Length > MaxLabelLength) return null;
            labels[a.Key] = value;
            if (labels.Count > MaxLabels) return null;
        }
        return labels;
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { MaxDepth = 16 };

    /// <summary>Alertmanager's webhook (version 4): each alert onto the node its labels name; the answer says what was taken.</summary>
    private static async Task<IResult> AlertmanagerAsync(HttpContext http, IGrainFactory grains, PolicyCache policies)
    {
        if (await ReadBodyAsync(http.Request) is not { } body) return Refuse("(body)", $"more than {MaxBody:N0} bytes", StatusCodes.Status413PayloadTooLarge);
        AlertmanagerWebhook? hook;
        try
        {
            hook = JsonSerializer.Deserialize<AlertmanagerWebhook>(body, Json);
        }
        catch (JsonException e)
        {
            return Refuse("(body)", $"is not Alertmanager's webhook JSON: {e.Message}");
        }
        if (hook?.Alerts is not { } alerts) return Refuse("alerts", "is required (Alertmanager's webhook sends a list of alerts)");
        if (alerts.Count > 1000) return Refuse("alerts", $"{alerts.Count} alerts; at most 1,000 in one notification");
        var policy = policies.Current.Intake;
        var taken = new List<AlertTaken>();
        for (var i = 0; i < alerts.Count; i++)
        {
            var a = alerts[i];
            if (a?.Labels is null || !a.Labels.TryGetValue("alertname", out var name) || string.IsNullOrWhiteSpace(name) || name.Length > 200)
                return Refuse($"alerts[{i}].labels.alertname", "is required, at most 200 characters");
            if (a.Status is not ("firing" or "resolved")) return Refuse($"alerts[{i}].status", $"'{a.Status}' is not firing or resolved");
        }
        foreach (var a in alerts)
        {
            var name = a!.Labels!["alertname"];
            // The subject its labels name: a link, else a service, else a node (the node label, else instance's host).
            string? subject = a.Labels.TryGetValue(policy.LinkLabel, out var link) ? Fleet.Core.Validation.InputRules.IsValidLinkId(link, out _, out _) ? Subjects.Link(link) : null
                : a.Labels.TryGetValue(policy.ServiceLabel, out var service) ? Fleet.Core.Validation.InputRules.IsValidId(service) ? Subjects.Service(service) : null
                : MetricIntake.NodeOf(a.Labels, policy) is { } node && Fleet.Core.Validation.InputRules.IsValidId(node) ? Subjects.Node(node) : null;
            if (subject is null)
            {
                taken.Add(new AlertTaken(name, null, a.Status!, false,
                    $"its labels name no subject Fleet accepts (a {policy.LinkLabel}, {policy.ServiceLabel} or {policy.NodeLabel} label, or an instance label)"));
                continue;
            }
            var summary = a.Annotations is { } notes && (notes.GetValueOrDefault("summary") ?? notes.GetValueOrDefault("description")) is { } s
                ? (s.Length > 300 ? s[..300] + "…" : s) : null;
            var fingerprint = a.Fingerprint is { Length: > 0 and <= 64 } f ? f : $"{name}@{subject}";
            // A start in the future is read as now: it would otherwise fail every rollout started before it "begins".
            var now = DateTimeOffset.UtcNow;
            var alert = new ExternalAlert(name, fingerprint, summary, a.StartsAt is { } at && at < now ? at : now, "alertmanager");
            var firing = a.Status == "firing";
            var (kind, id) = Subjects.Parse(subject);
            var known = kind switch
            {
                Subjects.LinkKind => await grains.GetGrain<ILinkGrain>(id).AlertAsync(alert, firing) is not null,
                Subjects.ServiceKind => await grains.GetGrain<IServiceGrain>(id).AlertAsync(alert, firing) is not null,
                _ => await grains.GetGrain<INodeGrain>(id).AlertAsync(alert, firing) is not null,
            };
            taken.Add(known ? new AlertTaken(name, subject, a.Status!, true, null)
                : new AlertTaken(name, subject, a.Status!, false, $"{Subjects.Describe(subject)} is not known to Fleet, or already has {ExternalAlert.MaxPerSubject} alerts firing"));
        }
        return TypedResults.Ok(taken);
    }

    /// <summary>Where one alert went: the subject its labels name (<c>node/…</c>, <c>service/…</c>, <c>link/…</c>), and whether it was taken.</summary>
    public sealed record AlertTaken(string Alert, string? Subject, string Status, bool Taken, string? Why);

    public sealed class AlertmanagerWebhook
    {
        public string? Version { get; set; }
        public string? Status { get; set; }
        public List<AlertmanagerAlert?>? Alerts { get; set; }
    }

    public sealed class AlertmanagerAlert
    {
        public string? Status { get; set; }
        public Dictionary<string, string>? Labels { get; set; }
        public Dictionary<string, string>? Annotations { get; set; }
        public DateTimeOffset? StartsAt { get; set; }
        public string? Fingerprint { get; set; }
    }
}

/// <summary>One point of a service instance's request-duration histogram, as OTLP sent it.</summary>
public sealed record InstancePoint((string Service, string Instance, string Version) Of, Dictionary<string, string> Labels, HistogramDataPoint Point, string Unit, bool Cumulative);

/// <summary>
/// Hands what intake heard to the nodes: one report per node whose figures moved, in batches through the fleet's own
/// report path (the same rules as an agent's reports); a node first heard of is registered when the policy says so.
/// </summary>
public sealed partial class IntakeRelay(MetricIntake intake, InstanceIntake instances, IFleetClient fleet, PolicyCache policies, ILogger<IntakeRelay> log)
{
    public void InstanceMemory((string Service, string Instance, string Version) of, double bytes) => instances.Memory(of, bytes);

    /// <summary>Request histograms become instance reports: each instance whose figures moved reports once, through the fleet's instance intake.</summary>
    public async Task TakeRequestsAsync(List<InstancePoint> points)
    {
        if (points.Count == 0) return;
        var touched = new HashSet<(string, string)>();
        foreach (var (of, labels, p, unit, cumulative) in points)
        {
            var error = labels.ContainsKey("error.type")
                || (labels.TryGetValue("http.response.status_code", out var code) && int.TryParse(code, out var status) && status >= 500);
            var key = string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
            instances.Requests(of, key, error, (long)(p.StartTimeUnixNano / 1_000_000), (long)(p.TimeUnixNano / 1_000_000), p.Count, p.BucketCounts, p.ExplicitBounds,
                unit == "ms" ? 1 : 1000, cumulative, touched);
        }
        var reports = touched.Select(t => instances.Report(t.Item1, t.Item2)).OfType<InstanceReport>().ToList();
        foreach (var chunk in reports.Chunk(Fleet.Core.Validation.InputRules.MaxBatch))
        {
            try
            {
                await fleet.ReportInstancesAsync(chunk);
            }
            catch (FleetValidationException e)
            {
                LogNotTaken(log, chunk.Length, e.OneLine);
            }
        }
    }

    /// <summary>The policy's checks, parsed once per policy version (one object, so a reader never sees half of an update).</summary>
    private sealed record RuleSet(int Version, ImmutableArray<CheckRule> Checks);

    private RuleSet _rules = new(-1, []);

    private ImmutableArray<CheckRule> Rules(Fleet.Abstractions.Policy.FleetPolicy policy)
    {
        var rules = Volatile.Read(ref _rules);
        if (rules.Version == policy.Version) return rules.Checks;
        var parsed = policy.Intake.Checks.Select(c => CheckRule.Parse(c, out _)).OfType<CheckRule>().ToImmutableArray();
        Volatile.Write(ref _rules, new RuleSet(policy.Version, parsed));
        return parsed;
    }

    /// <summary>Whether the mapping reads series of a name at all, under the policy in force now (asked once per push).</summary>
    public Func<string, bool> Reader()
    {
        var policy = policies.Current;
        var rules = Rules(policy);
        return name => MetricIntake.Reads(name, policy.Intake, rules);
    }

    public async Task TakeAsync(List<(string Name, IReadOnlyDictionary<string, string> Labels, MetricSample[] Samples)> series)
    {
        var policy = policies.Current;
        var checks = Rules(policy);
        var touched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, labels, samples) in series) intake.Observe(name, labels, samples, policy.Intake, checks, touched);
        var reports = touched.Select(n => intake.Take(n, policy.Intake, checks, policy.Telemetry.MaxTtl)).OfType<IntakeReport>().ToList();
        foreach (var chunk in reports.Chunk(Fleet.Core.Validation.InputRules.MaxBatch))
        {
            ImmutableArray<ReportResult> results;
            try
            {
                results = await fleet.ReportBatchAsync(chunk.Select(r => (r.NodeId, r.Report)).ToList());
            }
            catch (FleetValidationException e)
            {
                // Not expected (intake builds valid reports); said, and the rest of the push goes on.
                LogNotTaken(log, chunk.Length, e.OneLine);
                continue;
            }
            var unknown = chunk.Where((_, i) => results[i].Outcome == ReportOutcome.NotRegistered).ToList();
            if (unknown.Count == 0 || !policy.Intake.Register) continue;
            foreach (var r in unknown)
            {
                try
                {
                    await fleet.RegisterNodeAsync(new NodeRegistration(r.NodeId, r.Domain, r.Capacity,
                        ImmutableDictionary<string, string>.Empty.Add("registered-by", "intake")));
                }
                catch (FleetValidationException e)
                {
                    LogNotRegistered(log, r.NodeId, e.OneLine);
                }
                catch (FleetRefusedException e)
                {
                    LogNotRegistered(log, r.NodeId, e.Message);
                }
            }
            try
            {
                await fleet.ReportBatchAsync(unknown.Select(r => (r.NodeId, r.Report)).ToList());
            }
            catch (FleetValidationException e)
            {
                LogNotTaken(log, unknown.Count, e.OneLine);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Intake's {Count} report(s) were not taken: {Why}")]
    private static partial void LogNotTaken(ILogger logger, int count, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Intake could not register node {Node}: {Why}")]
    private static partial void LogNotRegistered(ILogger logger, string node, string why);
}
