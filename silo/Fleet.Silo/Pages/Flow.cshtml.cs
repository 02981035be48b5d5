using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Links;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>One flow: its path and backup, the links it rides, its history and its trail.</summary>
public sealed class FlowModel(IFleetClient fleet) : PageModel
{
    public string Id { get; private set; } = "";
    public FlowStatus? Flow { get; private set; }
    public ImmutableArray<DecisionRecord> Records { get; private set; } = [];

    public async Task OnGetAsync(string id)
    {
        Id = id;
        (Flow, Records) = await SubjectRecords.OneAsync(this, fleet, () => fleet.GetFlowAsync(id), Subjects.Flow(id));
    }
}
