using System.Collections.Immutable;
using Fleet.Client;
using Markdig;
using Markdig.Syntax;
using Fleet.Core.Incidents;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>Incidents of the last day, and one incident's blameless postmortem.</summary>
public sealed class IncidentsModel(IFleetClient fleet, TimeProvider time) : PageModel
{
    public string? Id { get; private set; }
    public ImmutableArray<IncidentSummary> List { get; private set; } = [];
    public string? Postmortem { get; private set; }

    /// <summary>
    /// Markdig renders the postmortem inert: raw HTML in it (a reason someone typed) is shown as text, never run, and a link
    /// or image goes only to http(s) or a path on this silo — any other (<c>javascript:</c>, <c>data:</c>, another scheme, a
    /// protocol-relative <c>//host</c>) loses its target and stays as its text.
    /// </summary>
    private static readonly Markdig.MarkdownPipeline Pipeline = new Markdig.MarkdownPipelineBuilder().UsePipeTables().DisableHtml().Build();

    public static string Render(string markdown)
    {
        var document = Markdig.Markdown.Parse(markdown, Pipeline);
        foreach (var link in document.Descendants<Markdig.Syntax.Inlines.LinkInline>().ToList())
            if (!IsAllowedUrl(link.Url)) link.Url = "";
        foreach (var auto in document.Descendants<Markdig.Syntax.Inlines.AutolinkInline>().ToList())
            if (!IsAllowedUrl(auto.Url)) auto.ReplaceBy(new Markdig.Syntax.Inlines.LiteralInline(auto.Url));
        return document.ToHtml(Pipeline);
    }

    /// <summary>http, https, or a relative path (never another scheme, and never a protocol-relative <c>//host</c>).</summary>
    public static bool IsAllowedUrl(string? url)
    {
        var u = (url ?? "").Trim();
        if (u.Length == 0) return true;
        if (u.StartsWith("//", StringComparison.Ordinal) || u.StartsWith(@"\", StringComparison.Ordinal)) return false;
        if (Uri.TryCreate(u, UriKind.Absolute, out var absolute) && !u.StartsWith('/')) return absolute.Scheme is "http" or "https";
        // No scheme: a relative path — unless a browser would still read one (java\tscript:, an entity-encoded colon, …).
        var colon = u.IndexOfAny([':', '&']);
        var slash = u.IndexOfAny(['/', '?', '#']);
        return colon < 0 || slash >= 0 && slash < colon;
    }

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
