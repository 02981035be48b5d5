using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Client;
using Fleet.Grains.Policy;
using Fleet.Silo.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>The overview: domains as a heat map, counts by state, actions in flight against the budget, brakes and the freeze, the live feed.</summary>
public sealed class IndexModel(IFleetClient fleet, PolicyCache policies) : PageModel
{
    public FleetOverview Overview { get; private set; } = null!;
    public ImmutableArray<DecisionRecord> Recent { get; private set; } = [];

    public async Task OnGetAsync()
    {
        Overview = await FleetOverview.LoadAsync(fleet, policies.Current);
        Recent = (await fleet.QueryAuditAsync(new AuditQuery(Limit: 30))).Records;
    }

    /// <summary>The overview's part that the page's script swaps in when the fleet changes.</summary>
    public async Task<IActionResult> OnGetOverviewAsync() => Partial("_Overview", await FleetOverview.LoadAsync(fleet, policies.Current));
}
