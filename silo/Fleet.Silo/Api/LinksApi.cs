using Fleet.Abstractions.Security;
using System.Collections.Immutable;
using Fleet.Abstractions.Links;
using Fleet.Client;
using Fleet.Core.Validation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Fleet.Silo.Api;

/// <summary><c>/api/v1/links</c> and <c>/api/v1/flows</c>: the topology (sites are the ends of links), probes, flows and their paths.</summary>
public static class LinksApi
{
    public static RouteGroupBuilder MapLinkEndpoints(this RouteGroupBuilder api)
    {
        var links = api.MapGroup("/links").WithTags("Links");
        links.MapGet("/", (IFleetClient fleet) => fleet.ListLinksAsync()).RequireAuthorization(Access.Viewer);
        links.MapPut("/{id}", ApplyLinkAsync).RequireAuthorization(Access.Admin);
        links.MapGet("/{id}", async Task<Results<Ok<LinkStatus>, ClientProblemResult>> (string id, IFleetClient fleet) =>
            await fleet.GetLinkAsync(id) is { } s ? TypedResults.Ok(s) : BadRequests.NotFound("id", $"Link {id} is not defined.")).RequireAuthorization(Access.Viewer);
        links.MapDelete("/{id}", (string id, string? by, string? reason, IFleetClient fleet, HttpContext http) => Deleted(id, fleet.DeleteLinkAsync(id, Access.Who(http, by), reason)))
            .RequireAuthorization(Access.Admin);
        links.MapPost("/probes", ReportProbesAsync).RequireAuthorization(Access.Reporter);

        var flows = api.MapGroup("/flows").WithTags("Links");
        flows.MapGet("/", (IFleetClient fleet) => fleet.ListFlowsAsync()).RequireAuthorization(Access.Viewer);
        flows.MapPut("/{id}", ApplyFlowAsync).RequireAuthorization(Access.Admin);
        flows.MapGet("/{id}", async Task<Results<Ok<FlowStatus>, ClientProblemResult>> (string id, IFleetClient fleet) =>
            await fleet.GetFlowAsync(id) is { } s ? TypedResults.Ok(s) : BadRequests.NotFound("id", $"Flow {id} is not defined.")).RequireAuthorization(Access.Viewer);
        flows.MapDelete("/{id}", (string id, string? by, string? reason, IFleetClient fleet, HttpContext http) => Deleted(id, fleet.DeleteFlowAsync(id, Access.Who(http, by), reason)))
            .RequireAuthorization(Access.Admin);
        return links;
    }

    private static async Task<Ok<DeletedView>> Deleted(string id, Task<string> deleting) => TypedResults.Ok(new DeletedView(id, await deleting));

    private static async Task<Ok<LinkStatus>> ApplyLinkAsync(string id, LinkRequest? body, IFleetClient fleet, HttpContext http)
    {
        InputRules.IsValidLinkId(id, out var a, out var b);
        var spec = new LinkSpec(id, a, b, body?.CapacityMbps ?? 0, body?.LatencyMs ?? 0, body?.FailureDomain ?? "");
        return TypedResults.Ok(await fleet.ApplyLinkAsync(spec, Access.Who(http, body?.By)));
    }

    private static async Task<Ok<FlowStatus>> ApplyFlowAsync(string id, FlowRequest? body, IFleetClient fleet, HttpContext http) =>
        TypedResults.Ok(await fleet.ApplyFlowAsync(new FlowSpec(id, body?.Source ?? "", body?.Destination ?? "", body?.DemandMbps ?? 0, body?.Priority ?? 0), Access.Who(http, body?.By)));

    private static async Task<Results<Ok<ImmutableArray<ProbeOutcome>>, ValidationProblem>> ReportProbesAsync(LinkProbeRequest[]? body, IFleetClient fleet,
        Fleet.Grains.Security.NodeSites sites, HttpContext http)
    {
        if (body is null) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["(body)"] = ["is required: a list of probes [{link, up, latencyMs, lossPercent, sequence, ttlSeconds}]"] });
        var problems = new Dictionary<string, string[]>();
        for (var i = 0; i < body.Length; i++)
        {
            if (body[i].Up is null) problems[$"[{i}].up"] = ["is required (true or false)"];
            if (body[i].Sequence is null) problems[$"[{i}].sequence"] = ["is required (a number that grows with each probe of the link)"];
            if (body[i].TtlSeconds is { } ttl && !(ttl >= 0.1 && ttl <= 3600)) problems[$"[{i}].ttlSeconds"] = [$"{ttl} is not a TTL: 0.1 to 3600 s"];
        }
        if (problems.Count > 0) return TypedResults.ValidationProblem(problems);
        var probes = body.Select(p => new LinkProbe(p.Link ?? "", p.Up!.Value, p.LatencyMs ?? 0, p.LossPercent ?? 0, p.Sequence!.Value, TimeSpan.FromSeconds(p.TtlSeconds ?? 10))).ToList();
        // An agent credential reports only for links that touch its node (an end is the node, or the site it registered with).
        if (Access.BoundNode(http) is { } node)
            foreach (var link in probes.Select(p => p.Link).Distinct())
                if (!await sites.TouchesAsync(node, link))
                    throw new AccessDeniedException($"the agent credential '{http.User.Identity?.Name}' is bound to node {node}; link {link} does not touch it (neither end is the node or its site)", unauthenticated: false);
        return TypedResults.Ok(await fleet.ReportProbesAsync(probes));
    }
}

/// <summary>The answer of <c>DELETE /links/{id}</c> and <c>DELETE /flows/{id}</c>: what was deleted, and what was done, in a sentence.</summary>
public sealed record DeletedView(string Deleted, string Summary);

/// <summary>Body of <c>PUT /links/{id}</c>: the id names the ends.</summary>
public sealed record LinkRequest(double? CapacityMbps, double? LatencyMs, string? FailureDomain, string? By);

/// <summary>One probe in <c>POST /links/probes</c>.</summary>
public sealed record LinkProbeRequest(string? Link, bool? Up, double? LatencyMs, double? LossPercent, long? Sequence, double? TtlSeconds);

/// <summary>Body of <c>PUT /flows/{id}</c>.</summary>
public sealed record FlowRequest(string? Source, string? Destination, double? DemandMbps, int? Priority, string? By);
