using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>The network: every link and flow (no id), or one link with its flows and its trail.</summary>
public sealed class NetworkModel(IFleetClient fleet) : PageModel
{
    public string? Id { get; private set; }
    public ImmutableArray<LinkStatus> Links { get; private set; } = [];
    public ImmutableArray<FlowStatus> Flows { get; private set; } = [];
    public LinkStatus? Link { get; private set; }
    public ImmutableArray<DecisionRecord> Records { get; private set; } = [];

    public async Task OnGetAsync(string? id)
    {
        Id = id;
        if (id is null)
        {
            Links = [.. (await fleet.ListLinksAsync()).OrderBy(l => l.Spec.Id, StringComparer.Ordinal)];
            Flows = [.. (await fleet.ListFlowsAsync()).OrderBy(x => x.Spec.Id, StringComparer.Ordinal)];
            return;
        }
        (Link, Records) = await SubjectRecords.OneAsync(this, fleet, () => fleet.GetLinkAsync(id), Subjects.Link(id));
    }
}

/// <summary>A subject's page: the subject (a 404 when it is not known, or its id is not valid) and its decision records, oldest first (the last 500).</summary>
public static class SubjectRecords
{
    public static async Task<ImmutableArray<DecisionRecord>> LoadAsync(IFleetClient fleet, string subject) =>
        [.. (await fleet.QueryAuditAsync(new AuditQuery(Subject: subject, Limit: 500))).Records.Reverse()];

    public static async Task<(T? Found, ImmutableArray<DecisionRecord> Records)> OneAsync<T>(PageModel page, IFleetClient fleet, Func<Task<T?>> get, string subject) where T : class
    {
        T? found;
        try { found = await get(); }
        catch (FleetValidationException) { found = null; }
        if (found is null)
        {
            page.Response.StatusCode = 404;
            return (null, []);
        }
        return (found, await LoadAsync(fleet, subject));
    }
}
