using Fleet.Core.Security;
using System.Collections.Immutable;
using Fleet.Abstractions.Security;
using Fleet.Client;
using Fleet.Grains.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Fleet.Silo.Api;

/// <summary><c>/api/v1/keys</c> (admin): make a key (its secret is in the answer, this once), list them, revoke one.</summary>
public static class KeysApi
{
    public static RouteGroupBuilder MapKeyEndpoints(this RouteGroupBuilder api)
    {
        var keys = api.MapGroup("/keys").WithTags("Keys").RequireAuthorization(Access.Admin);
        keys.MapGet("/", (IFleetClient fleet) => fleet.ListKeysAsync());
        keys.MapPost("/", CreateAsync);
        keys.MapDelete("/{idOrName}", RevokeAsync);
        // The public half of the key that signs agents' actions: what an agent's cluster.actionKeyFile holds.
        api.MapGet("/agents/action-key", (ClusterKeys cluster) => TypedResults.Ok(new ActionKeyView(cluster.ActionKeyId, cluster.ActionPublicKeyPem)))
            .WithTags("Keys").RequireAuthorization(Access.Viewer);
        // The live gateways, for clients that find the cluster over HTTP with their own key (no Redis password).
        api.MapGet("/gateways", async (IGrainFactory grains) =>
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true);
            return TypedResults.Ok(new GatewayListView([.. hosts.Where(h => h.ProxyPort > 0).Select(h => $"{h.SiloAddress.Endpoint.Address}:{h.ProxyPort}")]));
        }).WithTags("Keys").RequireAuthorization(Access.AnyRole);
        return keys;
    }

    private static async Task<Results<Created<CreatedApiKey>, ValidationProblem>> CreateAsync(CreateKeyRequest body, IFleetClient fleet, KeyRing ring, HttpContext http)
    {
        if (!FleetRoles.TryParse(body.Role, out var role))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["role"] = [$"'{body.Role}' is not a role; accepted: viewer, operator, admin, agent"] });
        var created = await fleet.CreateKeyAsync(body.Name ?? "", role, string.IsNullOrWhiteSpace(body.Node) ? null : body.Node, Access.Who(http, null));
        ring.Invalidate();
        return TypedResults.Created($"/api/v1/keys/{created.Key.Id}", created);
    }

    private static async Task<Ok<ApiKeyInfo>> RevokeAsync(string idOrName, IFleetClient fleet, KeyRing ring, HttpContext http)
    {
        var revoked = await fleet.RevokeKeyAsync(idOrName, Access.Who(http, null));
        ring.Invalidate();
        return TypedResults.Ok(revoked);
    }
}

/// <summary>The live gateways (<c>ip:port</c>), as clients connect to them.</summary>
public sealed record GatewayListView(ImmutableArray<string> Gateways);

/// <summary>The cluster's action key: its short id and its public key (PEM), for agents' config.</summary>
public sealed record ActionKeyView(string KeyId, string PublicKeyPem);

/// <summary>Body of <c>POST /api/v1/keys</c>: a name (unique among live keys), a role, and for an agent key its node.</summary>
public sealed record CreateKeyRequest(string? Name, string? Role, string? Node);
