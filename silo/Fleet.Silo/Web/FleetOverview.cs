using System.Collections.Immutable;
using Fleet.Abstractions.Nodes;
using Fleet.Abstractions.Services;
using Fleet.Abstractions.Supervision;
using Fleet.Client;

namespace Fleet.Silo.Web;

/// <summary>One failure domain on the overview: its members by state, its actions in flight against its budget, its brake.</summary>
public sealed record DomainTile(string Domain, int Members, ImmutableDictionary<HealthState, int> ByState, int InFlight, int Budget, bool StormBrake,
    DateTimeOffset? HeldUntil)
{
    /// <summary>0 (all well) to 4 (half or more of the members troubled, or any Unhealthy in a small domain).</summary>
    public int Heat
    {
        get
        {
            if (Members == 0) return 0;
            var troubled = ByState.Where(kv => kv.Key is HealthState.Unhealthy or HealthState.Suspect or HealthState.Remediating).Sum(kv => kv.Value);
            var share = troubled / (double)Members;
            var level = share == 0 ? 0 : share < 0.1 ? 1 : share < 0.25 ? 2 : share < 0.5 ? 3 : 4;
            return ByState.GetValueOrDefault(HealthState.Unhealthy) > 0 ? Math.Max(level, 3) : level;
        }
    }

    /// <summary>Members no report has judged yet: never shown as healthy.</summary>
    public int Unknown => ByState.GetValueOrDefault(HealthState.Unknown);

    /// <summary>The tile's colour: its heat, or grey when nothing is troubled but some members are not judged yet.</summary>
    public string Css => Heat == 0 && Unknown > 0 ? "heat-unknown" : $"heat-{Heat}";
}

/// <summary>What the overview shows: the fleet's freeze, each domain as a tile, the nodes that are not well, services and waiting approvals.</summary>
public sealed record FleetOverview(
    FleetStatus Fleet,
    ImmutableArray<DomainTile> Domains,
    ImmutableDictionary<HealthState, int> ByState,
    ImmutableArray<NodeSummary> Troubled,
    ImmutableArray<ServiceSummary> Services,
    int PendingApprovals,
    int MaxConcurrentPerDomain,
    int FleetMaxConcurrent,
    int Nodes)
{
    /// <summary>Nodes listed by name on the overview at most (the worst first); the domain tiles count every one.</summary>
    public const int MaxTroubledShown = 200;

    public static async Task<FleetOverview> LoadAsync(IFleetClient fleet, Abstractions.Policy.FleetPolicy policy)
    {
        var (status, domains) = await fleet.GetFleetAsync();
        var nodes = await fleet.ListNodesAsync();
        var services = await fleet.ListServicesAsync();
        var approvals = await fleet.ListApprovalsAsync();
        var byDomain = nodes.GroupBy(n => n.Domain).ToDictionary(g => g.Key, g => g.GroupBy(n => n.Health).ToImmutableDictionary(x => x.Key, x => x.Count()));
        var tiles = domains.OrderBy(d => d.Domain, StringComparer.Ordinal).Select(d => new DomainTile(d.Domain, d.Members,
            byDomain.GetValueOrDefault(d.Domain) ?? ImmutableDictionary<HealthState, int>.Empty, d.Leases.Sum(l => l.Cost), policy.Guardrails.MaxConcurrentPerDomain,
            d.StormBrakeOn, d.StormHeldUntil)).ToImmutableArray();
        // Every node not judged Healthy needs a look, Unknown ones too (registered, no report judged yet): never counted as healthy.
        var troubled = nodes.Where(n => n.Health != HealthState.Healthy || n.Admin != AdminState.None)
            .OrderBy(n => Rank(n.Health)).ThenBy(n => n.NodeId, StringComparer.Ordinal).Take(MaxTroubledShown).ToImmutableArray();
        return new FleetOverview(status, tiles, nodes.GroupBy(n => n.Health).ToImmutableDictionary(g => g.Key, g => g.Count()), troubled, services, approvals.Length,
            policy.Guardrails.MaxConcurrentPerDomain, policy.Guardrails.FleetMaxConcurrent, nodes.Length);
    }

    private static int Rank(HealthState h) => h switch
    {
        HealthState.Unhealthy => 0, HealthState.Suspect => 1, HealthState.Remediating => 2, HealthState.Degraded => 3, HealthState.Probation => 4, HealthState.Unknown => 5, _ => 6,
    };
}

/// <summary>Who is looking: their name and whether they may press buttons that change something.</summary>
public static class Viewer
{
    public static bool CanOperate(System.Security.Claims.ClaimsPrincipal user) => user.IsInRole(Api.Access.Operator) || user.IsInRole(Api.Access.Admin);

    public static string Role(System.Security.Claims.ClaimsPrincipal user) =>
        new[] { Api.Access.Admin, Api.Access.Operator, Api.Access.Viewer, "agent" }.FirstOrDefault(user.IsInRole) ?? "none";
}
