using System.Collections.Immutable;
using Fleet.Abstractions.Audit;
using Fleet.Client;
using Fleet.Core.Validation;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>The trail, searchable by subject, kind, time (a moment, or a duration ago) and incident.</summary>
public sealed class AuditModel(IFleetClient fleet, TimeProvider time, TrailCheck trailCheck) : PageModel
{
    [BindProperty(SupportsGet = true)] public string? Subject { get; set; }
    [BindProperty(SupportsGet = true)] public string? Kind { get; set; }
    [BindProperty(SupportsGet = true)] public string? Since { get; set; }
    [BindProperty(SupportsGet = true)] public string? Incident { get; set; }
    public ImmutableArray<DecisionRecord> Records { get; private set; } = [];
    public string? Error { get; private set; }

    /// <summary>The chain's check over the last day (the page shows whether the trail it lists holds), and when it was made.</summary>
    public TrailVerification? Verified { get; private set; }
    public DateTimeOffset VerifiedAt { get; private set; }

    public async Task OnGetAsync()
    {
        if (!InputRules.TryParseTime(Since?.Trim(), time.GetUtcNow(), out var since, out var problem))
        {
            Error = $"since: {problem}";
            return;
        }
        try
        {
            var page = await fleet.QueryAuditAsync(new AuditQuery(string.IsNullOrWhiteSpace(Subject) ? null : Subject.Trim(), string.IsNullOrWhiteSpace(Kind) ? null : Kind,
                since, null, 200) { Incident = string.IsNullOrWhiteSpace(Incident) ? null : Incident.Trim() });
            Records = page.Records;
            (Verified, VerifiedAt) = await trailCheck.GetAsync();
        }
        catch (FleetValidationException e)
        {
            Error = string.Join("; ", e.Problems.SelectMany(kv => kv.Value.Select(v => $"{kv.Key}: {v}")));
        }
    }
}
