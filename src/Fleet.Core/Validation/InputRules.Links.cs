using Fleet.Abstractions.Links;

namespace Fleet.Core.Validation;

public static partial class InputRules
{
    public const string LinkIdRule = "both ends' site ids joined by '~', in order (e.g. a~b, never b~a), each " + IdRule;

    /// <summary>The most a link may carry each way (10 Tbit/s); more is a typo.</summary>
    public const double MaxCapacityMbps = 10_000_000;

    /// <summary>Whether a link id is two valid site ids joined by '~', in ordinal order, not the same site twice.</summary>
    public static bool IsValidLinkId(string? id, out string a, out string b)
    {
        a = b = "";
        if (id is null) return false;
        var tilde = id.IndexOf('~');
        if (tilde <= 0 || tilde != id.LastIndexOf('~')) return false;
        a = id[..tilde];
        b = id[(tilde + 1)..];
        return IsValidId(a) && IsValidId(b) && string.CompareOrdinal(a, b) < 0;
    }

    public static Dictionary<string, string[]> Check(LinkSpec spec, string prefix = "")
    {
        var p = new Problems();
        if (!IsValidLinkId(spec.Id, out var a, out var b))
        {
            var hint = spec.Id?.Split('~') is [var x, var y] && IsValidId(x) && IsValidId(y) && string.CompareOrdinal(x, y) > 0 ? $" — write it {y}~{x}" : "";
            p.Add(prefix + "id", $"'{spec.Id}' is not a link id: {LinkIdRule}{hint}");
        }
        else if (spec.A != a || spec.B != b) p.Add(prefix + "id", $"'{spec.Id}' names the ends {a} and {b}, the document says {spec.A} and {spec.B}");
        if (!(spec.CapacityMbps > 0) || spec.CapacityMbps > MaxCapacityMbps)
            p.Add(prefix + "capacityMbps", $"{spec.CapacityMbps} is not a capacity: more than 0 and at most {MaxCapacityMbps:N0} Mbit/s each way");
        if (!(spec.LatencyMs >= 0) || spec.LatencyMs > 100_000) p.Add(prefix + "latencyMs", $"{spec.LatencyMs} is not a latency: 0 to 100,000 ms");
        if (!IsValidId(spec.FailureDomain)) p.Add(prefix + "failureDomain", $"'{spec.FailureDomain}' is not a failure domain: {IdRule}");
        return p.ToDictionary();
    }

    public static Dictionary<string, string[]> Check(FlowSpec spec, Func<string, bool>? siteExists = null, string prefix = "")
    {
        var p = new Problems();
        if (!IsValidId(spec.Id)) p.Add(prefix + "id", $"'{spec.Id}' is not a flow id: {IdRule}");
        foreach (var (field, site) in new[] { ("source", spec.Source), ("destination", spec.Destination) })
        {
            if (!IsValidId(site)) p.Add(prefix + field, $"'{site}' is not a site id: {IdRule}");
            else if (siteExists is not null && !siteExists(site)) p.Add(prefix + field, $"site '{site}' is unknown: no link has it as an end (sites are the ends of links)");
        }
        if (spec.Source == spec.Destination && IsValidId(spec.Source)) p.Add(prefix + "destination", $"is the source ({spec.Source}); a flow joins two sites");
        if (!(spec.DemandMbps > 0) || spec.DemandMbps > MaxCapacityMbps) p.Add(prefix + "demandMbps", $"{spec.DemandMbps} is not a demand: more than 0 and at most {MaxCapacityMbps:N0} Mbit/s");
        if (spec.Priority is < 0 or > 1000) p.Add(prefix + "priority", $"{spec.Priority} is not a priority: 0 to 1000 (higher placed first)");
        return p.ToDictionary();
    }

    public static Dictionary<string, string[]> Check(IReadOnlyList<LinkProbe> probes)
    {
        var p = new Problems();
        if (probes.Count > MaxBatch) p.Add("(body)", $"at most {MaxBatch} probes per batch, got {probes.Count}");
        for (var i = 0; i < Math.Min(probes.Count, MaxBatch); i++)
        {
            var x = probes[i];
            if (!IsValidLinkId(x.Link, out _, out _)) p.Add($"[{i}].link", $"'{x.Link}' is not a link id: {LinkIdRule}");
            if (!(x.LatencyMs >= 0) || x.LatencyMs > 100_000) p.Add($"[{i}].latencyMs", $"{x.LatencyMs} is not a latency: 0 to 100,000 ms");
            if (!(x.LossPercent >= 0) || x.LossPercent > 100) p.Add($"[{i}].lossPercent", $"{x.LossPercent} is not a loss: 0 to 100 %");
            if (x.Ttl < TimeSpan.FromMilliseconds(100) || x.Ttl > TimeSpan.FromHours(1)) p.Add($"[{i}].ttlSeconds", $"{x.Ttl.TotalSeconds} is not a TTL: 0.1 to 3600 s");
            if (x.Sequence < 0) p.Add($"[{i}].sequence", $"{x.Sequence} is not a sequence: 0 or more");
        }
        return p.ToDictionary();
    }
}
