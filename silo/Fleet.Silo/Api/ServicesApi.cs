using System.Collections.Immutable;
using Fleet.Abstractions.Services;
using Fleet.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Fleet.Silo.Api;

/// <summary><c>/api/v1/services</c>: apply a spec (YAML or JSON), list, get, scale, delete, instance reports, and rollouts (deploy, rollback, promote, abort, resume, list).</summary>
public static class ServicesApi
{
    public static RouteGroupBuilder MapServiceEndpoints(this RouteGroupBuilder api)
    {
        var services = api.MapGroup("/services").WithTags("Services");
        services.MapGet("/", (IFleetClient fleet) => fleet.ListServicesAsync()).RequireAuthorization(Access.Viewer);
        services.MapPut("/{name}", ApplyAsync).RequireAuthorization(Access.Admin);
        services.MapGet("/{name}", GetAsync).RequireAuthorization(Access.Viewer);
        services.MapPost("/{name}/scale", ScaleAsync).RequireAuthorization(Access.Operator);
        services.MapDelete("/{name}", DeleteAsync).RequireAuthorization(Access.Admin);
        services.MapPost("/telemetry", ReportAsync).RequireAuthorization(Access.Reporter);
        services.MapPost("/{name}/deploy", DeployAsync).RequireAuthorization(Access.Operator);
        services.MapPost("/{name}/rollback", (string name, RolloutRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.RollbackServiceAsync(name, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);
        services.MapPost("/{name}/promote", (string name, RolloutRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.PromoteRolloutAsync(name, Access.Who(http, body?.By))).RequireAuthorization(Access.Operator);
        services.MapPost("/{name}/abort", (string name, RolloutRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.AbortRolloutAsync(name, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);
        services.MapPost("/{name}/resume", (string name, RolloutRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.ResumeRolloutAsync(name, Access.Who(http, body?.By))).RequireAuthorization(Access.Operator);
        services.MapGet("/{name}/rollouts", (string name, IFleetClient fleet) => fleet.ListRolloutsAsync(name)).RequireAuthorization(Access.Viewer);
        return services;
    }

    /// <summary>The spec is the body, as <c>text/yaml</c> or JSON (JSON is YAML); <c>?by=</c> names who applies it.</summary>
    private static async Task<Results<Ok<ServiceStatus>, ClientProblemResult, ValidationProblem>> ApplyAsync(
        string name, HttpRequest request, IFleetClient fleet)
    {
        using var reader = new StreamReader(request.Body);
        var document = await reader.ReadToEndAsync();
        var by = request.Query["by"].FirstOrDefault();
        var result = await fleet.ApplyServiceAsync(document, Access.Who(request.HttpContext, string.IsNullOrWhiteSpace(by) ? "api" : by), name);
        return result.Applied ? TypedResults.Ok(result.Status!) : BadRequests.Invalid("The service spec is not valid; nothing was applied.", result.Problems, new() { ["applied"] = false });
    }

    private static async Task<Results<Ok<ServiceStatus>, ClientProblemResult>> GetAsync(string name, IFleetClient fleet) =>
        await fleet.GetServiceAsync(name) is { } status ? TypedResults.Ok(status) : NotFound(name);

    private static async Task<Results<Ok<ServiceStatus>, ValidationProblem>> ScaleAsync(string name, ScaleRequest? body, IFleetClient fleet, HttpContext http)
    {
        if (body?.Replicas is not { } replicas)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["replicas"] = ["is required (a whole number, 0 to 10000)"] });
        return TypedResults.Ok(await fleet.ScaleServiceAsync(name, replicas, Access.Who(http, body.By)));
    }

    private static async Task<Results<Ok<RolloutView>, ValidationProblem>> DeployAsync(string name, DeployRequest? body, IFleetClient fleet, HttpContext http)
    {
        if (string.IsNullOrWhiteSpace(body?.Version))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["version"] = ["is required (the version to roll out, e.g. \"2.1\")"] });
        return TypedResults.Ok(await fleet.DeployServiceAsync(name, body.Version, body.Strategy, Access.Who(http, body.By)));
    }

    private static async Task<Results<Ok<ServiceStatus>, NoContent>> DeleteAsync(string name, HttpRequest request, IFleetClient fleet)
    {
        var by = request.Query["by"].FirstOrDefault();
        return await fleet.DeleteServiceAsync(name, Access.Who(request.HttpContext, by)) is { } status
            ? TypedResults.Ok(status)
            : TypedResults.NoContent();
    }

    private static async Task<Results<Ok<InstanceReportResult[]>, ValidationProblem>> ReportAsync(List<InstanceReportRequest?> body, IFleetClient fleet, TimeProvider time, HttpContext http)
    {
        // An agent's credential names its node: the service takes its reports only for instances placed there.
        if (Access.BoundNode(http) is { } node) RequestContext.Set(Fleet.Abstractions.Security.CallerContext.Node, node);
        var problems = new Dictionary<string, string[]>();
        var reports = new List<InstanceReport>(body.Count);
        for (var i = 0; i < body.Count; i++)
        {
            if (body[i] is not { } b)
            {
                problems[$"[{i}]"] = ["is required (a report, not null)"];
                continue;
            }
            foreach (var (field, value) in new (string, object?)[] { ("service", b.Service), ("instance", b.Instance), ("healthy", b.Healthy) })
                if (value is null) problems[$"[{i}].{field}"] = ["is required"];
            if (b.TtlSeconds is { } ttl && (!double.IsFinite(ttl) || ttl is < 1 or > 3600))
            {
                problems[$"[{i}].ttlSeconds"] = ["must be from 1 to 3600 seconds"];
                continue;
            }
            reports.Add(new InstanceReport(b.Service ?? "", b.Instance ?? "", b.Version ?? "unknown", b.Requests ?? 0, b.Errors ?? 0,
                b.LatencyP50Ms ?? 0, b.LatencyP99Ms ?? 0, b.MemoryBytes ?? 0, b.Healthy ?? false, b.CpuPercent, b.Timestamp ?? time.GetUtcNow())
            {
                Sequence = b.Sequence, Ttl = b.TtlSeconds is { } t ? TimeSpan.FromSeconds(t) : null,
            });
        }
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The batch is not valid; no report in it was taken.");
        var outcomes = await fleet.ReportInstancesAsync(reports);
        return TypedResults.Ok(reports.Select((r, i) => new InstanceReportResult(r.Service, r.Instance, outcomes[i].ToString())).ToArray());
    }

    private static ClientProblemResult NotFound(string name) =>
        BadRequests.NotFound("name", $"Service '{name}' is not known (never applied, or deleted).");
}

/// <summary>Body of <c>POST /services/{name}/deploy</c>: the version to roll out, and the strategy (<c>canary</c>, the default, or <c>rolling</c>).</summary>
public sealed record DeployRequest(string? Version, string? Strategy, string? By);

/// <summary>Body (optional) of <c>POST /services/{name}/rollback|promote|abort|resume</c>.</summary>
public sealed record RolloutRequest(string? By, string? Reason);

/// <summary>Body of <c>POST /services/{name}/scale</c>.</summary>
public sealed record ScaleRequest(int? Replicas, string? By);

/// <summary>
/// One instance report of <c>POST /services/telemetry</c>; <c>requests</c> and <c>errors</c> are per second. <c>sequence</c>
/// orders one instance's reports (one at or below the last taken is answered <c>Stale</c>); <c>ttlSeconds</c> is how long the
/// report holds before the instance counts as silent (default three report intervals).
/// </summary>
public sealed record InstanceReportRequest(
    string? Service, string? Instance, string? Version, double? Requests, double? Errors, double? LatencyP50Ms, double? LatencyP99Ms,
    long? MemoryBytes, bool? Healthy, double? CpuPercent, DateTimeOffset? Timestamp, long? Sequence = null, double? TtlSeconds = null);

public sealed record InstanceReportResult(string Service, string Instance, string Outcome);
