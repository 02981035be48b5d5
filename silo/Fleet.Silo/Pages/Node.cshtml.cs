using System.Collections.Immutable;
using System.Globalization;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Supervision;
using Fleet.Client;
using Fleet.Core.Text;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Fleet.Silo.Pages;

/// <summary>One node: its conditions with their reasons, its memory forecast as a small chart, its case and its trail.</summary>
public sealed class NodeModel(IFleetClient fleet) : PageModel
{
    public string Id { get; private set; } = "";
    public NodeStatus? Status { get; private set; }
    public ImmutableArray<DecisionRecord> Records { get; private set; } = [];
    public MemoryChart? Chart { get; private set; }

    public async Task OnGetAsync(string id)
    {
        Id = id;
        try { Status = await fleet.GetNodeAsync(id); }
        catch (FleetValidationException) { Status = null; }
        if (Status is null) { Response.StatusCode = 404; return; }
        Records = [.. (await fleet.QueryAuditAsync(new AuditQuery(Subject: Subjects.Node(id), Limit: 500))).Records.Reverse()];
        Chart = MemoryChart.Of(Status);
    }
}

/// <summary>Memory used now and where the forecast's slope takes it over the next hour (or until it runs out), against the total.</summary>
public sealed record MemoryChart(string Points, double CapacityY, string Label)
{
    public static MemoryChart? Of(NodeStatus n)
    {
        if (n.LastReport is not { MemoryTotalBytes: > 0 } report) return null;
        var total = (double)report.MemoryTotalBytes;
        var used = (double)report.MemoryUsedBytes;
        var slope = n.Forecast?.BytesPerSecond ?? 0;
        var horizon = n.Forecast?.TimeToExhaustion is { } tte && tte < TimeSpan.FromHours(1) ? tte : TimeSpan.FromHours(1);
        const double width = 480, height = 120, top = 20;
        double Y(double bytes) => height - Math.Clamp(bytes / total, 0, 1) * (height - top);
        var points = Enumerable.Range(0, 25).Select(k =>
        {
            var t = horizon.TotalSeconds * k / 24;
            return $"{(width * k / 24).ToString("0.#", CultureInfo.InvariantCulture)},{Y(used + slope * t).ToString("0.#", CultureInfo.InvariantCulture)}";
        });
        var label = $"{Format.Bytes((long)used)} of {Format.Bytes((long)total)} used; " + (n.Forecast is { TimeToExhaustion: { } left }
            ? $"runs out in {Format.Duration(left)} at {Format.Bytes((long)(slope * 3600))}/h"
            : slope > 0 ? $"growing {Format.Bytes((long)(slope * 3600))}/h" : "not growing");
        return new MemoryChart(string.Join(' ', points), Y(total), label);
    }
}
