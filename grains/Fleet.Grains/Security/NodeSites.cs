using System.Collections.Concurrent;
using Fleet.Abstractions.Nodes;
using Fleet.Core.Validation;

namespace Fleet.Grains.Security;

/// <summary>
/// Which links an agent key may report probes for: a link touches a node when one of its ends is the node itself (a site
/// whose router runs an agent named after it) or the site the node registered with its <c>site</c> label. A node's site is
/// read from its registration and kept for <see cref="MaxAge"/>.
/// </summary>
public sealed class NodeSites(IGrainFactory grains, TimeProvider time)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);
    public const string SiteLabel = "site";
    private const int MaxCached = 100_000;

    private readonly ConcurrentDictionary<string, (string? Site, long At)> _sites = new();

    /// <summary>Whether <paramref name="linkId"/> touches <paramref name="node"/> (false for a malformed link id).</summary>
    public async ValueTask<bool> TouchesAsync(string node, string linkId)
    {
        if (!InputRules.IsValidLinkId(linkId, out var a, out var b)) return false;
        if (node == a || node == b) return true;
        return await SiteOfAsync(node) is { } site && (site == a || site == b);
    }

    private async ValueTask<string?> SiteOfAsync(string node)
    {
        if (_sites.TryGetValue(node, out var known) && time.GetElapsedTime(known.At) < MaxAge) return known.Site;
        var status = await grains.GetGrain<INodeGrain>(node).GetStatusAsync();
        var site = status?.Labels.GetValueOrDefault(SiteLabel);
        if (_sites.Count >= MaxCached) _sites.Clear();
        _sites[node] = (site, time.GetTimestamp());
        return site;
    }
}
