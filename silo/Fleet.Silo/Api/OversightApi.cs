using System.Collections.Immutable;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Fleet.Silo.Api;

/// <summary><c>/api/v1/approvals</c> and <c>/api/v1/shadow</c>: what people keep for themselves.</summary>
public static class OversightApi
{
    public static RouteGroupBuilder MapOversightEndpoints(this RouteGroupBuilder api)
    {
        var approvals = api.MapGroup("/approvals").WithTags("Oversight");
        approvals.MapGet("/", (bool? all, IFleetClient fleet) => fleet.ListApprovalsAsync(all ?? false)).RequireAuthorization(Access.Viewer);
        approvals.MapPost("/{id}/approve", (string id, DecisionRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.ApproveAsync(id, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);
        approvals.MapPost("/{id}/reject", (string id, DecisionRequest? body, IFleetClient fleet, HttpContext http) =>
            fleet.RejectAsync(id, Access.Who(http, body?.By), body?.Reason)).RequireAuthorization(Access.Operator);

        api.MapGet("/learning", (IFleetClient fleet) => fleet.GetLearningAsync()).WithTags("Oversight").RequireAuthorization(Access.Viewer);

        var shadow = api.MapGroup("/shadow").WithTags("Oversight");
        shadow.MapGet("/", (IFleetClient fleet) => fleet.GetShadowAsync()).RequireAuthorization(Access.Viewer);
        shadow.MapPost("/", SetShadowAsync).RequireAuthorization(Access.Operator);

        var trace = api.MapGroup("/trace").WithTags("Oversight");
        trace.MapGet("/", (IFleetClient fleet) => fleet.GetTraceStatusAsync()).RequireAuthorization(Access.Viewer);
        trace.MapPost("/", StartTraceAsync).RequireAuthorization(Access.Operator);
        trace.MapPost("/stop", (StopTraceRequest? body, IFleetClient fleet, HttpContext http) => fleet.StopTraceAsync(Access.Who(http, body?.By))).RequireAuthorization(Access.Operator);
        trace.MapGet("/file", async (IFleetClient fleet, HttpContext http) =>
        {
            http.Response.ContentType = "application/x-ndjson";
            await fleet.DownloadTraceAsync(http.Response.Body, cancellationToken: http.RequestAborted);
        }).RequireAuthorization(Access.Operator);
        return approvals;
    }

    private static async Task<Results<Ok<Fleet.Abstractions.Tracing.TraceStatus>, ValidationProblem>> StartTraceAsync(StartTraceRequest? body, IFleetClient fleet, HttpContext http)
    {
        var problems = new Dictionary<string, string[]>();
        var duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(body?.For)) problems["for"] = ["is required: how long to record, e.g. 30m or 1h (at most 7d)"];
        else if (!Fleet.Core.Policies.Durations.TryParse(body.For, out duration)) problems["for"] = [$"'{body.For}' is not a duration; use e.g. 30m or 1h (at most 7d)"];
        if (body?.MaxMiB is < 1 or > 65536) problems["maxMiB"] = [$"{body.MaxMiB} is not between 1 and 65536"];
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems);
        return TypedResults.Ok(await fleet.StartTraceAsync(duration, (long)(body!.MaxMiB ?? 256) << 20, Access.Who(http, body.By)));
    }

    private static async Task<Results<Ok<ShadowStatus>, ValidationProblem>> SetShadowAsync(ShadowRequest? body, IFleetClient fleet, HttpContext http)
    {
        var problems = new Dictionary<string, string[]>();
        if (body?.On is null) problems["on"] = ["is required (true to turn shadow mode on, false to turn it off)"];
        if (string.IsNullOrWhiteSpace(body?.Reason)) problems["reason"] = ["is required (why, for the trail)"];
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems);
        return TypedResults.Ok(await fleet.SetShadowAsync(body!.On!.Value, body.Domain, body.Action, Access.Who(http, body.By), body.Reason!));
    }
}

/// <summary>Body (optional) of <c>POST /approvals/{id}/approve|reject</c>.</summary>
public sealed record DecisionRequest(string? By, string? Reason);

/// <summary>Body of <c>POST /trace</c>: how long to record (e.g. 1h) and the size bound in MiB (default 256).</summary>
public sealed record StartTraceRequest(string? For, int? MaxMiB, string? By);

/// <summary>Body (optional) of <c>POST /trace/stop</c>.</summary>
public sealed record StopTraceRequest(string? By);

/// <summary>Body of <c>POST /shadow</c>: on or off, for the fleet (neither domain nor action), a domain, or an action.</summary>
public sealed record ShadowRequest(bool? On, string? Domain, string? Action, string? Reason, string? By);
