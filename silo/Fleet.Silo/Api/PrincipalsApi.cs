using System.Collections.Immutable;
using Fleet.Abstractions.Principals;
using Fleet.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Fleet.Silo.Api;

/// <summary><c>/api/v1/principals</c>: access and egress reports of accounts, their standing, and the release of a containment.</summary>
public static class PrincipalsApi
{
    public static RouteGroupBuilder MapPrincipalEndpoints(this RouteGroupBuilder api)
    {
        var principals = api.MapGroup("/principals").WithTags("Principals");
        principals.MapPost("/telemetry", ReportAsync).RequireAuthorization(Access.Operator);
        principals.MapGet("/", (IFleetClient fleet) => fleet.ListPrincipalsAsync()).RequireAuthorization(Access.Viewer);
        principals.MapGet("/{id}", GetAsync).RequireAuthorization(Access.Viewer);
        principals.MapPost("/{id}/release", ReleaseAsync).RequireAuthorization(Access.Operator);
        return principals;
    }

    private static async Task<Results<Ok<PrincipalReportResult[]>, ValidationProblem>> ReportAsync(List<PrincipalReportRequest?> body, IFleetClient fleet, TimeProvider time)
    {
        var problems = new Dictionary<string, string[]>();
        var reports = new List<PrincipalReport>(body.Count);
        for (var i = 0; i < body.Count; i++)
        {
            if (body[i] is not { } b)
            {
                problems[$"[{i}]"] = ["is required (a report, not null)"];
                continue;
            }
            if (b.Principal is null) problems[$"[{i}].principal"] = ["is required"];
            if (b.BytesOut is null) problems[$"[{i}].bytesOut"] = ["is required (0 when nothing was sent)"];
            var window = b.WindowSeconds is { } w && double.IsFinite(w) ? TimeSpan.FromSeconds(Math.Clamp(w, -1, 86_401)) : TimeSpan.FromMinutes(5);
            reports.Add(new PrincipalReport(b.Principal ?? "", b.Timestamp ?? time.GetUtcNow(), window, b.BytesOut ?? 0, b.Requests ?? 0,
                b.Resources ?? 0, b.NewResources ?? 0, b.SourceHosts ?? 0, b.FailedLogins ?? 0));
        }
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems, title: "The batch is not valid; no report in it was taken.");
        var outcomes = await fleet.ReportPrincipalsAsync(reports);
        return TypedResults.Ok(reports.Select((r, i) => new PrincipalReportResult(r.Principal, outcomes[i].ToString())).ToArray());
    }

    private static async Task<Results<Ok<PrincipalStatus>, ClientProblemResult>> GetAsync(string id, IFleetClient fleet) =>
        await fleet.GetPrincipalAsync(id) is { } status ? TypedResults.Ok(status)
            : BadRequests.NotFound("id", $"Principal '{id}' has never reported.");

    private static async Task<Results<Ok<PrincipalStatus>, ValidationProblem>> ReleaseAsync(string id, ReleaseRequest? body, IFleetClient fleet, HttpContext http)
    {
        if (string.IsNullOrWhiteSpace(body?.Reason))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["is required: say why the containment is lifted"] });
        return TypedResults.Ok(await fleet.ReleasePrincipalAsync(id, Access.Who(http, body.By), body.Reason));
    }
}

/// <summary>
/// One principal's report of <c>POST /principals/telemetry</c>, over a window of <c>windowSeconds</c> (default 300) ending at
/// <c>timestamp</c> (default now): bytes sent out, requests, distinct resources touched, how many of them were never touched
/// before, distinct source hosts, failed logins.
/// </summary>
public sealed record PrincipalReportRequest(
    string? Principal, DateTimeOffset? Timestamp, double? WindowSeconds, long? BytesOut, long? Requests, int? Resources, int? NewResources,
    int? SourceHosts, int? FailedLogins);

public sealed record PrincipalReportResult(string Principal, string Outcome);

/// <summary>Body of <c>POST /principals/{id}/release</c>: why (required), and who (used only with authentication off).</summary>
public sealed record ReleaseRequest(string? Reason, string? By);
