using System.Collections.Immutable;
using Fleet.Abstractions.Services;
using Fleet.Client;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>One service: its instances, and its rollouts with the canary's figures.</summary>
public sealed class ServiceModel(IFleetClient fleet) : PageModel
{
    public string Name { get; private set; } = "";
    public ServiceStatus? Status { get; private set; }
    public ImmutableArray<RolloutView> Rollouts { get; private set; } = [];

    public async Task OnGetAsync(string name)
    {
        Name = name;
        try { Status = await fleet.GetServiceAsync(name); }
        catch (FleetValidationException) { Status = null; }
        if (Status is null) { Response.StatusCode = 404; return; }
        Rollouts = await fleet.ListRolloutsAsync(name);
    }
}
