using System.Collections.Immutable;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Silo.Api;
using Fleet.Silo.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>Approvals waiting for a person, with approve and reject buttons for operators (a viewer sees none); every button carries an antiforgery token.</summary>
public sealed class ApprovalsModel(IFleetClient fleet) : PageModel
{
    public ImmutableArray<Approval> Pending { get; private set; } = [];
    public ImmutableArray<Approval> Decided { get; private set; } = [];
    public bool CanDecide { get; private set; }
    public string? Message { get; private set; }

    public Task OnGetAsync() => LoadAsync();

    public Task<IActionResult> OnPostApproveAsync(string id, string? reason) => DecideAsync(id, reason, true);

    public Task<IActionResult> OnPostRejectAsync(string id, string? reason) => DecideAsync(id, reason, false);

    private async Task<IActionResult> DecideAsync(string id, string? reason, bool approve)
    {
        if (!Viewer.CanOperate(User)) return StatusCode(StatusCodes.Status403Forbidden);
        var by = Access.Who(HttpContext, null);
        try
        {
            var a = approve ? await fleet.ApproveAsync(id, by, string.IsNullOrWhiteSpace(reason) ? null : reason)
                : await fleet.RejectAsync(id, by, string.IsNullOrWhiteSpace(reason) ? null : reason);
            Message = $"{a.Id}: {a.Action} on {a.Subject} {a.Status.ToString().ToLowerInvariant()} by {a.DecidedBy}.";
        }
        catch (Exception e) when (e is FleetRefusedException or FleetNotFoundException or FleetValidationException)
        {
            Message = e.Message;
        }
        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        CanDecide = Viewer.CanOperate(User);
        var all = await fleet.ListApprovalsAsync(all: true);
        Pending = [.. all.Where(a => a.Status == ApprovalStatus.Pending)];
        Decided = [.. all.Where(a => a.Status != ApprovalStatus.Pending)];
    }
}
