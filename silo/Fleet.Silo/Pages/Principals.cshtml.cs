using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Principals;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>Accounts and services judged against their own history: every one (no id), or one with its baseline and its trail.</summary>
public sealed class PrincipalsModel(IFleetClient fleet) : PageModel
{
    public string? Id { get; private set; }
    public ImmutableArray<PrincipalStatus> All { get; private set; } = [];
    public PrincipalStatus? One { get; private set; }
    public ImmutableArray<DecisionRecord> Records { get; private set; } = [];

    public async Task OnGetAsync(string? id)
    {
        Id = id;
        if (id is null)
        {
            All = [.. (await fleet.ListPrincipalsAsync()).OrderByDescending(p => p.Phase != PrincipalPhase.Normal).ThenBy(p => p.Id, StringComparer.Ordinal)];
            return;
        }
        (One, Records) = await SubjectRecords.OneAsync(this, fleet, () => fleet.GetPrincipalAsync(id), Subjects.Principal(id));
    }
}
