using System.Collections.Immutable;
using Fleet.Abstractions.Policy;
using Fleet.Client;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>The policy in force (its document as applied) and its versions, newest first.</summary>
public sealed class PolicyModel(IFleetClient fleet) : PageModel
{
    public PolicyVersionInfo Current { get; private set; } = null!;
    public ImmutableArray<PolicyVersionInfo> History { get; private set; } = [];

    public async Task OnGetAsync()
    {
        Current = await fleet.GetPolicyAsync();
        History = [.. (await fleet.GetPolicyHistoryAsync()).OrderByDescending(v => v.Version)];
    }
}
