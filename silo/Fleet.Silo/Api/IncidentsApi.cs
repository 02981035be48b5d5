using Fleet.Client;
using Fleet.Core.Validation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Fleet.Silo.Api;

/// <summary><c>/api/v1/incidents</c> and <c>/api/v1/postmortems</c>: decision records grouped into incidents, and a blameless postmortem of one.</summary>
public static class IncidentsApi
{
    public static RouteGroupBuilder MapIncidentEndpoints(this RouteGroupBuilder api)
    {
        var incidents = api.MapGroup("/incidents").WithTags("Audit");
        incidents.MapGet("/", ListAsync).RequireAuthorization(Access.Viewer);
        // Incident ids hold slashes (storm/rack-a/20261202T101500Z, rollout/api/3): the rest of the path is the id.
        incidents.MapGet("/{**id}", GetAsync).RequireAuthorization(Access.Viewer);
        api.MapGet("/postmortems/{**id}", PostmortemAsync).WithTags("Audit").RequireAuthorization(Access.Viewer);
        return incidents;
    }

    private static async Task<Results<Ok<Fleet.Core.Incidents.IncidentSummary[]>, ValidationProblem>> ListAsync(IFleetClient fleet, TimeProvider time, string? since)
    {
        var now = time.GetUtcNow();
        if (!InputRules.TryParseTime(since ?? "24h", now, out var from, out var problem))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["since"] = [problem] }, title: "The incident query is not valid.");
        return TypedResults.Ok((await fleet.ListIncidentsAsync(from!.Value)).ToArray());
    }

    private static async Task<Results<Ok<IncidentView>, ClientProblemResult>> GetAsync(string id, IFleetClient fleet) =>
        await fleet.GetIncidentAsync(id) is { } incident
            ? TypedResults.Ok(new IncidentView(incident.Summary, [.. incident.Records]))
            : BadRequests.NotFound("id", $"No decision record names incident '{id}'.");

    private static async Task<Results<ContentHttpResult, ClientProblemResult>> PostmortemAsync(string id, IFleetClient fleet) =>
        await fleet.PostmortemAsync(id) is { } text
            ? TypedResults.Text(text, "text/markdown; charset=utf-8")
            : BadRequests.NotFound("id", $"No decision record names incident '{id}'.");
}

/// <summary>An incident and its records in time order.</summary>
public sealed record IncidentView(Fleet.Core.Incidents.IncidentSummary Summary, Fleet.Abstractions.Audit.DecisionRecord[] Records);
