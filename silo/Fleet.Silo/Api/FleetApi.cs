using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Policy;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Core.Validation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Fleet.Silo.Web;
using Orleans.Dashboard;

namespace Fleet.Silo.Api;

/// <summary>
/// The REST API under <c>/api/v1</c>, plus /health, /metrics, /openapi and /dashboard. Every endpoint calls
/// <see cref="IFleetClient"/>, which holds the input rules; <see cref="ClientErrors"/> turns its exceptions into
/// problem documents (400 with errors by field, 404, 409 naming the guardrail, 503).
/// </summary>
public static class FleetApi
{
    public static WebApplication MapFleetEndpoints(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseExceptionHandler(e => e.Run(WriteErrorAsync));
        app.UseMiddleware<BadRequests>();
        app.UseFleetAccess();
        var auth = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Hosting.FleetOptions>>().Value.Auth;
        app.MapOpenApi().AllowAnonymous();
        app.MapHealthChecks("/health", new() { ResponseWriter = HealthWriter.WriteAsync }).AllowAnonymous();
        var metrics = app.MapPrometheusScrapingEndpoint();
        if (auth.OpenMetrics) metrics.AllowAnonymous();
        else metrics.RequireAuthorization(Access.Viewer);
        app.MapOrleansDashboard(routePrefix: "/dashboard").RequireAuthorization(Access.Viewer).ExcludeFromDescription()
            // The dashboard's grain-state view calls a grain's methods from inside the silo, past the gateway's checks: an admin's only.
            .AddEndpointFilter(async (context, next) =>
                context.HttpContext.Request.Path.StartsWithSegments("/dashboard/GrainState") && !context.HttpContext.User.IsInRole(Access.Admin)
                    ? Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "The credential's role is not enough.",
                        detail: "/dashboard/GrainState reads any grain's state: it needs an admin key")
                    : await next(context));
        app.MapFleetWeb();

        var api = app.MapGroup("/api/v1").AddEndpointFilter(ClientErrors).RequireRateLimiting(Access.PerCredential);
        var nodes = api.MapGroup("/nodes").WithTags("Nodes");
        nodes.MapPost("/", RegisterAsync).RequireAuthorization(Access.Reporter);
        nodes.MapGet("/", ListAsync).RequireAuthorization(Access.Viewer);
        nodes.MapGet("/{id}", GetAsync).RequireAuthorization(Access.Viewer);
        nodes.MapPost("/{id}/telemetry", ReportAsync).RequireAuthorization(Access.Reporter);
        nodes.MapPost("/{id}/cordon", (string id, OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.CordonAsync(id, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);
        nodes.MapPost("/{id}/uncordon", (string id, OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.UncordonAsync(id, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);
        nodes.MapPost("/{id}/drain", (string id, OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.DrainAsync(id, Access.Who(http, body?.By), body?.Reason, body?.Force ?? false)).RequireAuthorization(Access.Operator);
        nodes.MapPost("/{id}/decommission", (string id, OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.DecommissionAsync(id, Access.Who(http, body?.By), body?.Reason, body?.Force ?? false)).RequireAuthorization(Access.Operator);
        nodes.MapPost("/{id}/admit", (string id, OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.AdmitAsync(id, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);
        var domains = api.MapGroup("/domains").WithTags("Nodes");
        domains.MapPost("/{id}/retire", (string id, RetireDomainRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.RetireDomainAsync(id, Access.Who(http, body?.By), body?.Reason, body?.Batch ?? 1, body?.Force ?? false)).RequireAuthorization(Access.Operator);
        domains.MapPost("/{id}/retire/stop", (string id, OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.StopTrainAsync(id, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);
        api.MapPost("/telemetry", ReportBatchAsync).WithTags("Nodes").RequireAuthorization(Access.Reporter);
        api.MapGet("/audit", AuditAsync).WithTags("Audit").RequireAuthorization(Access.Viewer);
        api.MapGet("/audit/verify", VerifyAuditAsync).WithTags("Audit").RequireAuthorization(Access.Viewer);
        api.MapGet("/policy", GetPolicyAsync).WithTags("Policy").RequireAuthorization(Access.Viewer);
        api.MapPut("/policy", PutPolicyAsync).WithTags("Policy").RequireAuthorization(Access.Admin);
        api.MapGet("/policy/history", (IFleetClient fleet) => fleet.GetPolicyHistoryAsync()).WithTags("Policy").RequireAuthorization(Access.Viewer);
        api.MapGet("/policy/diff", (int from, int? to, IFleetClient fleet) => fleet.DiffPolicyVersionsAsync(from, to)).WithTags("Policy").RequireAuthorization(Access.Viewer);
        api.MapPost("/policy/diff", DiffPolicyAsync).WithTags("Policy").RequireAuthorization(Access.Viewer);
        api.MapPost("/policy/rollback", RollbackPolicyAsync).WithTags("Policy").RequireAuthorization(Access.Admin);
        api.MapGet("/capacity", (IFleetClient fleet) => fleet.GetCapacityAsync()).WithTags("Fleet").RequireAuthorization(Access.Viewer);
        api.MapGet("/optimize/plan", (IFleetClient fleet) => fleet.PlanConsolidationAsync()).WithTags("Fleet").RequireAuthorization(Access.Viewer);
        api.MapGet("/fleet", FleetAsync).WithTags("Fleet").RequireAuthorization(Access.Viewer);
        api.MapPost("/fleet/freeze", (OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.FreezeAsync(Access.Who(http, body?.By), body?.Reason ?? "")).WithTags("Fleet").RequireAuthorization(Access.Operator);
        api.MapPost("/fleet/unfreeze", (OperatorRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.UnfreezeAsync(Access.Who(http, body?.By), body?.Reason)).WithTags("Fleet").RequireAuthorization(Access.Operator);
        api.MapServiceEndpoints();
        api.MapOversightEndpoints();
        api.MapIncidentEndpoints();
        api.MapLinkEndpoints();
        api.MapKeyEndpoints();
        api.MapPrincipalEndpoints();
        api.MapIntakeEndpoints(app);
        return app;
    }

    /// <summary>The client's refusals as problem documents; they are the caller's mistakes, so nothing is logged as an error.</summary>
    private static async ValueTask<object?> ClientErrors(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (FleetValidationException e)
        {
            return TypedResults.ValidationProblem(e.Problems.ToDictionary(kv => kv.Key, kv => kv.Value), title: e.Message);
        }
        catch (FleetNotFoundException e)
        {
            // The field is the path's own parameter (a node's id, a service's name), not "(path)", which names an unknown route.
            var field = context.HttpContext.Request.RouteValues.Keys.FirstOrDefault(k => k is "id" or "name") ?? "(path)";
            return BadRequests.NotFound(field, e.Message);
        }
        catch (FleetRefusedException e)
        {
            return BadRequests.Refused(e.Message, e.Guardrail);
        }
        catch (Fleet.Abstractions.Security.AccessDeniedException e)
        {
            BadRequests.Answer(context.HttpContext, StatusCodes.Status403Forbidden, "The credential may not do this.", "(credential)", e.Message, "forbidden");
            return Results.Empty;
        }
    }

    private static async Task<Results<Created<NodeStatus>, ValidationProblem>> RegisterAsync(RegisterNodeRequest body, IFleetClient fleet, HttpContext http)
    {
        Access.EnsureOwnNode(http, [body.Id ?? ""]);
        NodeProbe? probe = null;
        if (body.Probe is { } p)
        {
            if (!Enum.TryParse<ProbeKind>(p.Kind, true, out var kind) || int.TryParse(p.Kind, out _))
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["probe.kind"] = [$"'{p.Kind}' is not a probe kind; accepted: tcp, http"] });
            probe = new NodeProbe(kind, p.Address ?? "", p.TimeoutMs is { } ms ? (double.IsFinite(ms) && ms > 0 && ms <= 30_000 ? TimeSpan.FromMilliseconds(ms) : TimeSpan.MaxValue) : null);
        }
        var registration = new NodeRegistration(body.Id ?? "", body.Domain ?? "",
            body.Capacity is null ? null! : new NodeCapacity(body.Capacity.CpuCores ?? 0, body.Capacity.MemoryBytes ?? 0, body.Capacity.DiskBytes ?? 0),
            (body.Labels ?? []).ToImmutableDictionary()) { Address = body.Address, Probe = probe };
        var status = await fleet.RegisterNodeAsync(registration);
        return TypedResults.Created($"/api/v1/nodes/{status.NodeId}", status);
    }

    private static async Task<Results<Ok<ImmutableArray<NodeSummary>>, ValidationProblem>> ListAsync(IFleetClient fleet, string? health, string? domain)
    {
        if (!InputRules.TryParseHealth(health, out var wanted, out var problem))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["health"] = [problem] });
        return TypedResults.Ok(await fleet.ListNodesAsync(wanted, string.IsNullOrEmpty(domain) ? null : domain));
    }

    private static async Task<Results<Ok<NodeStatus>, ClientProblemResult>> GetAsync(string id, IFleetClient fleet) =>
        await fleet.GetNodeAsync(id) is { } status ? TypedResults.Ok(status) : NotRegistered(id);

    private static async Task<Results<Ok<ReportResult>, ClientProblemResult, ValidationProblem>> ReportAsync(
        string id, TelemetryRequest body, IFleetClient fleet, TimeProvider time, Fleet.Grains.Policy.PolicyCache policies, HttpContext http)
    {
        Access.EnsureOwnNode(http, [id]);
        var (report, problems) = ToReport(body, policies.Current.Telemetry.MaxTtl, time, "");
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The telemetry report is not valid.");
        var result = await fleet.ReportAsync(id, report!);
        return result.Outcome switch
        {
            ReportOutcome.NotRegistered => NotRegistered(id),
            ReportOutcome.Accepted => TypedResults.Ok(result),
            _ => NotTaken(result),
        };
    }

    private static async Task<Results<Ok<BatchItemResult[]>, ValidationProblem>> ReportBatchAsync(
        List<TelemetryRequest?> body, IFleetClient fleet, TimeProvider time, Fleet.Grains.Policy.PolicyCache policies, HttpContext http)
    {
        Access.EnsureOwnNode(http, body.Select(b => b?.NodeId ?? ""));
        var problems = InputRules.CheckBatchSize(body.Count);
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The batch is too large; no report in it was taken.");
        var reports = new List<(string, TelemetryReport)>(body.Count);
        var maxTtl = policies.Current.Telemetry.MaxTtl;
        for (var i = 0; i < body.Count; i++)
        {
            if (body[i] is not { } item)
            {
                problems[$"[{i}]"] = ["is required (a report, not null)"];
                continue;
            }
            var (report, p) = ToReport(item, maxTtl, time, $"[{i}].");
            foreach (var kv in p) problems[kv.Key] = kv.Value;
            if (report is not null) reports.Add((item.NodeId ?? "", report));
        }
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The batch is not valid; no report in it was taken.");
        var results = await fleet.ReportBatchAsync(reports);
        return TypedResults.Ok(results.Select((r, i) => new BatchItemResult(reports[i].Item1, r.Outcome.ToString(), r.Health.ToString(), r.LastSequence)).ToArray());
    }

    /// <summary>Turns the JSON shape into a report: the fields JSON may leave out are required here; the values' rules are the client's.</summary>
    private static (TelemetryReport? Report, Dictionary<string, string[]> Problems) ToReport(TelemetryRequest b, TimeSpan maxTtl, TimeProvider time, string prefix)
    {
        var missing = new Dictionary<string, string[]>();
        if (b.Sequence is null) missing[prefix + "sequence"] = ["is required"];
        if (b.MemoryTotalBytes is null) missing[prefix + "memoryTotalBytes"] = ["is required"];
        if (b.MemoryUsedBytes is null) missing[prefix + "memoryUsedBytes"] = ["is required"];
        if (b.CpuPercent is null) missing[prefix + "cpuPercent"] = ["is required"];
        for (var i = 0; i < (b.Checks?.Count ?? 0); i++)
            if (b.Checks![i]?.Passed is null) missing[$"{prefix}checks[{i}].passed"] = ["is required (true or false)"];
        if (missing.Count > 0) return (null, missing);
        var ttl = b.TtlSeconds is { } s ? (double.IsFinite(s) && s > 0 && s <= 86_400 ? TimeSpan.FromSeconds(s) : TimeSpan.MinValue) : maxTtl;
        var checks = (b.Checks ?? []).Select(c => new CheckResult(c?.Name ?? "", c?.Passed ?? false, c?.Detail, c?.Passed == false && c.Starting == true)).ToImmutableArray();
        return (new TelemetryReport(b.Sequence!.Value, b.Timestamp ?? time.GetUtcNow(), ttl, b.CpuPercent!.Value,
            b.MemoryUsedBytes!.Value, b.MemoryTotalBytes!.Value, b.DiskUsedPercent ?? 0, checks) { BootId = b.BootId }, missing);
    }

    /// <summary>The chain's check, from <c>since</c> (ISO 8601 or a duration ago) or over the whole trail.</summary>
    private static async Task<Results<Ok<Fleet.Abstractions.Audit.TrailVerification>, ValidationProblem>> VerifyAuditAsync(IFleetClient fleet, TimeProvider time, string? since)
    {
        if (!InputRules.TryParseTime(since, time.GetUtcNow(), out var from, out var problem))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["since"] = [problem] });
        return TypedResults.Ok(await fleet.VerifyAuditAsync(from));
    }

    /// <summary><c>since</c> and <c>until</c> take ISO 8601 or a duration ago (15m), as the CLI does.</summary>
    private static async Task<Results<Ok<AuditPage>, ValidationProblem>> AuditAsync(IFleetClient fleet, TimeProvider time,
        string? subject, string? kind, string? since, string? until, int? limit, long? before, string? incident)
    {
        var now = time.GetUtcNow();
        var problems = new Dictionary<string, string[]>();
        if (!InputRules.TryParseTime(since, now, out var from, out var p1)) problems["since"] = [p1];
        if (!InputRules.TryParseTime(until, now, out var to, out var p2)) problems["until"] = [p2];
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The audit query is not valid.");
        return TypedResults.Ok(await fleet.QueryAuditAsync(new AuditQuery(subject, kind, from, to, limit ?? 100, before) { Incident = incident }));
    }

    private static async Task<Ok<PolicyView>> GetPolicyAsync(IFleetClient fleet)
    {
        var doc = await fleet.GetPolicyAsync();
        return TypedResults.Ok(new PolicyView(doc.Version, doc.AppliedAt, doc.AppliedBy, doc.Document, await fleet.GetEffectivePolicyAsync()));
    }

    private static async Task<Results<Ok<PolicyApplyResult>, ClientProblemResult, ValidationProblem>> PutPolicyAsync(HttpRequest request, IFleetClient fleet)
    {
        var (document, by) = await ReadDocumentAsync(request);
        if (document is null) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["document"] = ["is required: send the YAML as text/yaml, or JSON {\"document\": \"...\"}"] });
        var result = await fleet.ApplyPolicyAsync(document, Access.Who(request.HttpContext, string.IsNullOrWhiteSpace(by) ? "api" : by));
        return result.Applied ? TypedResults.Ok(result) : BadRequests.Invalid("The policy is not valid; nothing was applied.", result.Problems, new() { ["applied"] = false, ["version"] = result.Version });
    }

    private static async Task<Results<Ok<PolicyDiffResult>, ClientProblemResult, ValidationProblem>> DiffPolicyAsync(HttpRequest request, IFleetClient fleet)
    {
        var (document, _) = await ReadDocumentAsync(request);
        if (string.IsNullOrWhiteSpace(document)) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["document"] = ["is required: send the candidate YAML as text/yaml"] });
        var diff = await fleet.DiffPolicyAsync(document);
        return diff.Problems.IsEmpty ? TypedResults.Ok(diff) : BadRequests.Invalid("The candidate policy is not valid.", diff.Problems, new() { ["from"] = diff.From, ["to"] = diff.To, ["changes"] = diff.Changes });
    }

    private static async Task<Results<Ok<PolicyApplyResult>, ClientProblemResult, ValidationProblem>> RollbackPolicyAsync(RollbackRequest? body, IFleetClient fleet, HttpContext http)
    {
        if (body?.Version is not { } version)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["version"] = ["is required: the version to go back to (fleet policy history lists them; 0 is the built-in default)"] });
        var result = await fleet.RollbackPolicyAsync(version, Access.Who(http, body.By));
        return result.Applied ? TypedResults.Ok(result) : BadRequests.Invalid("The rollback was not applied.", result.Problems, new() { ["applied"] = false, ["version"] = result.Version });
    }

    /// <summary>A document sent as YAML text, or as JSON <c>{document, by}</c>; <c>?by=</c> names who sends it either way.</summary>
    internal static async Task<(string? Document, string? By)> ReadDocumentAsync(HttpRequest request)
    {
        var by = request.Query["by"].FirstOrDefault();
        if (request.HasJsonContentType())
        {
            var body = await request.ReadFromJsonAsync<PolicyRequest>();
            return (body?.Document, by ?? body?.By);
        }
        using var reader = new StreamReader(request.Body);
        return (await reader.ReadToEndAsync(), by);
    }

    private static async Task<Ok<FleetView>> FleetAsync(IFleetClient fleet)
    {
        var (status, domains) = await fleet.GetFleetAsync();
        return TypedResults.Ok(new FleetView(status, domains));
    }

    private static ClientProblemResult NotRegistered(string id) => BadRequests.NotFound("id", $"node '{id}' is not registered");

    /// <summary>A report the node did not take (409): why, by the field at fault, with the outcome as before.</summary>
    private static ClientProblemResult NotTaken(ReportResult result)
    {
        var (field, why) = result.Outcome switch
        {
            ReportOutcome.DuplicateOrOutOfOrder => ("sequence", $"a report with this sequence or a later one was already taken (last taken: {result.LastSequence}); send a higher sequence"),
            ReportOutcome.Expired => ("ttlSeconds", "the report's time to live had passed when it arrived"),
            ReportOutcome.Skewed => ("timestamp", "is ahead of the silo's clock by more than the policy's telemetry.maxClockSkew"),
            ReportOutcome.Decommissioned => ("(node)", "the node is decommissioned; it takes no reports"),
            var other => ("(report)", $"was not taken ({other})"),
        };
        return new ClientProblemResult(409, "The report was not taken.", new() { [field] = [why] }, "conflict")
        {
            Extensions = new Dictionary<string, object?> { ["outcome"] = result.Outcome, ["health"] = result.Health, ["lastSequence"] = result.LastSequence },
        };
    }

    /// <summary>Every unhandled error becomes a short problem document: a clear sentence, never a stack trace.</summary>
    private static async Task WriteErrorAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var (status, title, detail) = error switch
        {
            FleetUnavailableException => (503, "The fleet is not answering right now.", "A silo did not answer in time; try again shortly."),
            _ when IsUnavailable(error) =>
                (503, "The fleet is not answering right now.", "A silo or its storage (" + UnavailableWhat(error!) + ") did not answer in time; try again shortly."),
            _ => (500, "The request failed inside Fleet.", "The error was logged on the silo."),
        };
        context.Response.StatusCode = status;
        // The same shape as every client error, so a caller reads one kind of document whatever went wrong.
        await context.Response.WriteAsJsonAsync(new ClientProblem("about:blank", title, status, detail, new() { ["(server)"] = [detail] }),
            (System.Text.Json.JsonSerializerOptions?)null, "application/problem+json");
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
}

