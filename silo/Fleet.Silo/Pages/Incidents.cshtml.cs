using System.Collections.Immutable;
using Fleet.Client;
using Markdig;
using Fleet.Core.Incidents;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>Incidents of the last day, and one incident's blameless postmortem.</summary>
public sealed class IncidentsModel(IFleetClient fleet, TimeProvider time) : PageModel
{
    public string? Id { get; private set; }
    public ImmutableArray<IncidentSummary> List { get; private set; } = [];
    public string? Postmortem { get; private set; }

    /// <summary>Markdig renders the postmortem; raw HTML in it (a reason someone typed) is shown as text, never run.</summary>
    private static readonly Markdig.MarkdownPipeline Pipeline = new Markdig.MarkdownPipelineBuilder().UsePipeTables().DisableHtml().Build();

    public static string Render(string markdown) => Markdig.Markdown.ToHtml(markdown, Pipeline);

    public async Task OnGetAsync(string? id)
    {
        Id = string.IsNullOrWhiteSpace(id) ? null : id;
        if (Id is null) List = await fleet.ListIncidentsAsync(time.GetUtcNow() - TimeSpan.FromDays(1));
        else
        {
            try { Postmortem = await fleet.PostmortemAsync(Id); }
            catch (FleetValidationException) { Postmortem = null; }
            if (Postmortem is null) Response.StatusCode = 404;
        }
    }
}
