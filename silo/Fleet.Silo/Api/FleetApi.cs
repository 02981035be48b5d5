using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Core.Validation;
using Fleet.Client;
using Fleet.Grains.Nodes;
using Fleet.Grains.Policy;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Dashboard;

namespace Fleet.Silo.Api;

/// <summary>The REST API under <c>/api/v1</c>, plus /health, /metrics, /openapi and /dashboard.</summary>
public static class FleetApi
{
    public const int MaxBatch = 10_000;

    public static WebApplication MapFleetEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler(e => e.Run(WriteErrorAsync));
        app.MapOpenApi();
        app.MapHealthChecks("/health", new() { ResponseWriter = HealthWriter.WriteAsync });
        app.MapPrometheusScrapingEndpoint();
        app.MapOrleansDashboard(routePrefix: "/dashboard");
        app.MapGet("/", () => Results.Redirect("/dashboard")).ExcludeFromDescription();

        var api = app.MapGroup("/api/v1");
        var nodes = api.MapGroup("/nodes").WithTags("Nodes");
        nodes.MapPost("/", RegisterAsync);
        nodes.MapGet("/", ListAsync);
        nodes.MapGet("/{id}", GetAsync);
        nodes.MapPost("/{id}/telemetry", ReportAsync);
        nodes.MapPost("/{id}/cordon", (string id, OperatorRequest? body, IGrainFactory g) => OperateAsync(id, body, g, (n, by, why) => n.CordonAsync(by, why)));
        nodes.MapPost("/{id}/uncordon", (string id, OperatorRequest? body, IGrainFactory g) => OperateAsync(id, body, g, (n, by, why) => n.UncordonAsync(by, why)));
        nodes.MapPost("/{id}/drain", (string id, OperatorRequest? body, IGrainFactory g) => OperateAsync(id, body, g, (n, by, why) => n.DrainAsync(by, why)));
        api.MapPost("/telemetry", ReportBatchAsync).WithTags("Nodes");
        api.MapGet("/audit", AuditAsync).WithTags("Audit");
        api.MapGet("/policy", GetPolicyAsync).WithTags("Policy");
        api.MapPut("/policy", PutPolicyAsync).WithTags("Policy");
        api.MapGet("/policy/history", async (IGrainFactory g) => TypedResults.Ok(await g.GetGrain<IPolicyGrain>(FleetNames.Default).GetHistoryAsync())).WithTags("Policy");
        api.MapGet("/fleet", FleetAsync).WithTags("Fleet");
        api.MapPost("/fleet/freeze", FreezeAsync).WithTags("Fleet");
        api.MapPost("/fleet/unfreeze", UnfreezeAsync).WithTags("Fleet");
        return app;
    }

    private static async Task<Results<Created<NodeStatus>, ValidationProblem>> RegisterAsync(RegisterNodeRequest body, IGrainFactory grains)
    {
        var registration = new NodeRegistration(body.Id ?? "", body.Domain ?? "",
            body.Capacity is null ? null! : new NodeCapacity(body.Capacity.CpuCores ?? 0, body.Capacity.MemoryBytes ?? 0, body.Capacity.DiskBytes ?? 0),
            (body.Labels ?? []).ToImmutableDictionary());
        var problems = InputRules.Check(registration);
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The node registration is not valid.");
        var status = await grains.GetGrain<INodeGrain>(registration.NodeId).RegisterAsync(registration);
        return TypedResults.Created($"/api/v1/nodes/{status.NodeId}", status);
    }

    private static async Task<Results<Ok<ImmutableArray<NodeSummary>>, ValidationProblem>> ListAsync(IFleetClient fleet, string? health, string? domain)
    {
        HealthState? wanted = null;
        if (!string.IsNullOrEmpty(health))
        {
            if (!Enum.TryParse<HealthState>(health, true, out var h) || int.TryParse(health, out _))
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["health"] = [$"'{health}' is not a health state; accepted: {string.Join(", ", Enum.GetNames<HealthState>())}"] });
            wanted = h;
        }
        if (!string.IsNullOrEmpty(domain) && !InputRules.IsValidId(domain))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["domain"] = [$"'{domain}' is not a domain name: {InputRules.IdRule}"] });
        return TypedResults.Ok(await fleet.ListNodesAsync(wanted, string.IsNullOrEmpty(domain) ? null : domain));
    }

    private static async Task<Results<Ok<NodeStatus>, NotFound<ProblemDetailsLite>, ValidationProblem>> GetAsync(string id, IGrainFactory grains)
    {
        if (!InputRules.IsValidId(id)) return InvalidId(id);
        var status = await grains.GetGrain<INodeGrain>(id).GetStatusAsync();
        return status is null ? NotRegistered(id) : TypedResults.Ok(status);
    }

    private static async Task<Results<Ok<ReportResult>, NotFound<ProblemDetailsLite>, ValidationProblem, Conflict<ReportResult>>> ReportAsync(
        string id, TelemetryRequest body, IGrainFactory grains, PolicyCache policies, TimeProvider time)
    {
        if (!InputRules.IsValidId(id)) return InvalidId(id);
        var (report, problems) = ToReport(body, policies, time, "");
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The telemetry report is not valid.");
        var result = await grains.GetGrain<INodeGrain>(id).ReportAsync(report!);
        return result.Outcome switch
        {
            ReportOutcome.NotRegistered => NotRegistered(id),
            ReportOutcome.Accepted => TypedResults.Ok(result),
            _ => TypedResults.Conflict(result),
        };
    }

    private static async Task<Results<Ok<BatchItemResult[]>, ValidationProblem>> ReportBatchAsync(
        List<TelemetryRequest> body, IGrainFactory grains, PolicyCache policies, TimeProvider time)
    {
        if (body.Count > MaxBatch)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["(body)"] = [$"at most {MaxBatch} reports per batch, got {body.Count}"] });
        var problems = new Dictionary<string, string[]>();
        var reports = new List<(string Node, TelemetryReport Report)>(body.Count);
        for (var i = 0; i < body.Count; i++)
        {
            var prefix = $"[{i}].";
            if (!InputRules.IsValidId(body[i]?.NodeId)) problems[prefix + "nodeId"] = [$"'{body[i]?.NodeId}' is not a node id: {InputRules.IdRule}"];
            if (body[i] is null) continue;
            var (report, p) = ToReport(body[i], policies, time, prefix);
            foreach (var kv in p) problems[kv.Key] = kv.Value;
            if (report is not null) reports.Add((body[i].NodeId!, report));
        }
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The batch is not valid; no report in it was taken.");
        var results = await Task.WhenAll(reports.Select(async r =>
        {
            var res = await grains.GetGrain<INodeGrain>(r.Node).ReportAsync(r.Report);
            return new BatchItemResult(r.Node, res.Outcome.ToString(), res.Health.ToString(), res.LastSequence);
        }));
        return TypedResults.Ok(results);
    }

    private static (TelemetryReport? Report, Dictionary<string, string[]> Problems) ToReport(TelemetryRequest b, PolicyCache policies, TimeProvider time, string prefix)
    {
        var missing = new Dictionary<string, string[]>();
        if (b.Sequence is null) missing[prefix + "sequence"] = ["is required"];
        if (b.MemoryTotalBytes is null) missing[prefix + "memoryTotalBytes"] = ["is required"];
        if (b.MemoryUsedBytes is null) missing[prefix + "memoryUsedBytes"] = ["is required"];
        if (b.CpuPercent is null) missing[prefix + "cpuPercent"] = ["is required"];
        if (missing.Count > 0) return (null, missing);
        var ttl = b.TtlSeconds is { } s ? (double.IsFinite(s) && s > 0 && s <= 86_400 ? TimeSpan.FromSeconds(s) : TimeSpan.MinValue) : policies.Current.Telemetry.MaxTtl;
        var checks = (b.Checks ?? []).Select(c => new CheckResult(c?.Name ?? "", c?.Passed ?? false, c?.Detail)).ToImmutableArray();
        var report = new TelemetryReport(b.Sequence!.Value, b.Timestamp ?? time.GetUtcNow(), ttl, b.CpuPercent!.Value,
            b.MemoryUsedBytes!.Value, b.MemoryTotalBytes!.Value, b.DiskUsedPercent ?? 0, checks);
        var problems = InputRules.Check(report, time.GetUtcNow(), prefix);
        for (var i = 0; i < (b.Checks?.Count ?? 0); i++)
            if (b.Checks![i]?.Passed is null) problems[$"{prefix}checks[{i}].passed"] = ["is required (true or false)"];
        return (problems.Count > 0 ? null : report, problems);
    }

    private static async Task<Results<Ok<NodeStatus>, NotFound<ProblemDetailsLite>, ValidationProblem>> OperateAsync(
        string id, OperatorRequest? body, IGrainFactory grains, Func<INodeGrain, string, string?, Task<NodeStatus>> op)
    {
        if (!InputRules.IsValidId(id)) return InvalidId(id);
        var problems = InputRules.CheckText("reason", body?.Reason, false);
        foreach (var kv in InputRules.CheckText("by", body?.By, false, 128)) problems[kv.Key] = kv.Value;
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems);
        var node = grains.GetGrain<INodeGrain>(id);
        if (await node.GetStatusAsync() is null) return NotRegistered(id);
        return TypedResults.Ok(await op(node, By(body), body?.Reason));
    }

    private static async Task<Results<Ok<AuditPage>, ValidationProblem>> AuditAsync(IGrainFactory grains,
        string? subject, string? kind, DateTimeOffset? since, DateTimeOffset? until, int? limit, long? before)
    {
        var query = new AuditQuery(subject, kind, since, until, limit ?? 100, before);
        var problems = InputRules.Check(query);
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems);
        return TypedResults.Ok(await grains.GetGrain<IAuditGrain>(0).QueryAsync(query));
    }

    private static async Task<Ok<PolicyView>> GetPolicyAsync(IGrainFactory grains)
    {
        var policy = grains.GetGrain<IPolicyGrain>(FleetNames.Default);
        var doc = await policy.GetCurrentDocumentAsync();
        return TypedResults.Ok(new PolicyView(doc.Version, doc.AppliedAt, doc.AppliedBy, doc.Document, await policy.GetCurrentAsync()));
    }

    private static async Task<Results<Ok<PolicyApplyResult>, UnprocessableEntity<PolicyApplyResult>, ValidationProblem>> PutPolicyAsync(HttpRequest request, IGrainFactory grains)
    {
        string? document;
        var by = request.Query["by"].FirstOrDefault();
        if (request.HasJsonContentType())
        {
            var body = await request.ReadFromJsonAsync<PolicyRequest>();
            document = body?.Document;
            by ??= body?.By;
        }
        else
        {
            using var reader = new StreamReader(request.Body);
            document = await reader.ReadToEndAsync();
        }
        if (document is null) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["document"] = ["is required: send the YAML as text/yaml, or JSON {\"document\": \"...\"}"] });
        if (document.Length > 256 * 1024) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["document"] = ["at most 256 KiB"] });
        var result = await grains.GetGrain<IPolicyGrain>(FleetNames.Default).ApplyAsync(document, string.IsNullOrWhiteSpace(by) ? "api" : by);
        return result.Applied ? TypedResults.Ok(result) : TypedResults.UnprocessableEntity(result);
    }

    private static async Task<Ok<FleetView>> FleetAsync(IFleetClient fleet)
    {
        var (status, domains) = await fleet.GetFleetAsync();
        return TypedResults.Ok(new FleetView(status, domains));
    }

    private static async Task<Results<Ok<FleetStatus>, ValidationProblem>> FreezeAsync(OperatorRequest? body, IGrainFactory grains)
    {
        var problems = InputRules.CheckText("reason", body?.Reason, true);
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "A freeze needs a reason.");
        return TypedResults.Ok(await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).FreezeAsync(By(body), body!.Reason!));
    }

    private static async Task<Ok<FleetStatus>> UnfreezeAsync(OperatorRequest? body, IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IFleetSupervisorGrain>(FleetNames.Default).UnfreezeAsync(By(body), body?.Reason));

    /// <summary>Who asked, as recorded in the trail; "operator" when the body names nobody.</summary>
    private static string By(OperatorRequest? body) => string.IsNullOrWhiteSpace(body?.By) ? "operator" : body.By;

    private static ValidationProblem InvalidId(string id) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["id"] = [$"'{id}' is not a node id: {InputRules.IdRule}"] });

    private static NotFound<ProblemDetailsLite> NotRegistered(string id) =>
        TypedResults.NotFound(new ProblemDetailsLite("Not found", 404, $"Node '{id}' is not registered."));

    /// <summary>Every unhandled error becomes a short problem document: a clear sentence, never a stack trace.</summary>
    private static async Task WriteErrorAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var (status, title, detail) = error switch
        {
            BadHttpRequestException b => (b.StatusCode, "The request could not be read.", Clean(b.InnerException?.Message ?? b.Message)),
            NodeNotRegisteredException n => (404, "Not found", n.Message),
            _ when IsUnavailable(error) =>
                (503, "The fleet is not answering right now.", "A silo or its storage (" + UnavailableWhat(error!) + ") did not answer in time; try again shortly."),
            _ => (500, "The request failed inside Fleet.", "The error was logged on the silo."),
        };
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new ProblemDetailsLite(title, status, detail), (System.Text.Json.JsonSerializerOptions?)null, "application/problem+json");
    }

    /// <summary>Storage or a silo being away is a 503 the caller may retry, not a 500.</summary>
    private static bool IsUnavailable(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is TimeoutException or OrleansMessageRejectionException or SiloUnavailableException or StackExchange.Redis.RedisException
                or Microsoft.Data.Sqlite.SqliteException
                || e.GetType().Name.EndsWith("StorageException", StringComparison.Ordinal)
                || (e is OrleansException && e.Message.StartsWith("Error from storage provider", StringComparison.Ordinal)))
                return true;
        return false;
    }

    private static string UnavailableWhat(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is StackExchange.Redis.RedisException || x.Message.Contains("Redis", StringComparison.Ordinal)) return "Redis";
        return "storage or silo";
    }

    private static string Clean(string message) => message.Split(" Path:", 2)[0].Split(Environment.NewLine)[0];
}

/// <summary>A problem document: what went wrong, in one sentence.</summary>
public sealed record ProblemDetailsLite(string Title, int Status, string Detail);
