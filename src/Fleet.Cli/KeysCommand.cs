using System.CommandLine;
using Fleet.Abstractions.Security;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet keys</c> (admin): make, list and revoke API keys.</summary>
internal static class KeysCommand
{
    public static Command Build()
    {
        var keys = new Command("keys", "Make, list and revoke API keys (needs an admin key). e.g. fleet keys create --role viewer --name grafana");

        var name = new Option<string>("--name") { Description = "The key's name, recorded as who did what (unique among live keys)", Required = true };
        var role = new Option<string>("--role") { Description = "viewer, operator, admin, agent or ingest", Required = true };
        var node = new Option<string?>("--node") { Description = "agent keys only: the one node it reports for" };
        var create = new Command("create", "Make a key; it is printed this once (only its hash is kept). e.g. fleet keys create --role viewer --name grafana") { name, role, node };
        create.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!FleetRoles.TryParse(p.GetValue(role), out var r))
            {
                Terminal.Error($"--role: '{p.GetValue(role)}' is not a role; accepted: viewer, operator, admin, agent, ingest");
                return Refused;
            }
            var made = await c.CreateKeyAsync(p.GetValue(name)!, r, p.GetValue(node), p.GetValue(By)!, ct);
            Print(p, made, () =>
            {
                Console.WriteLine($"Made {made.Key.Role.Name()} key '{made.Key.Name}' (id {made.Key.Id}){(made.Key.Node is { } n ? $" for node {n}" : "")}. Keep it now; it is not shown again:");
                Console.WriteLine(made.Secret);
            });
            return 0;
        }));
        keys.Add(create);

        var list = new Command("list", "List keys, live and revoked (never a secret)");
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var rows = await c.ListKeysAsync(ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["ID", "NAME", "ROLE", "NODE", "CREATED", "BY", "REVOKED"], rows.Select(k => new[]
                {
                    k.Id, k.Name, k.Role.Name(), k.Node ?? "", k.CreatedAt.ToString("u"), k.CreatedBy,
                    k.RevokedAt is { } at ? $"{at:u} by {k.RevokedBy}" : "",
                }));
                Console.WriteLine($"{rows.Count(k => k.RevokedAt is null)} live key(s), {rows.Count(k => k.RevokedAt is not null)} revoked");
            });
            return 0;
        }));
        keys.Add(list);

        var id = new Argument<string>("key") { Description = "The key's id or name" };
        var revoke = new Command("revoke", "Revoke a key: it is refused from now on. e.g. fleet keys revoke grafana") { id };
        revoke.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var k = await c.RevokeKeyAsync(p.GetValue(id)!, p.GetValue(By)!, ct);
            Print(p, k, () => Console.WriteLine($"Revoked {k.Role.Name()} key '{k.Name}' (id {k.Id}) at {k.RevokedAt:u}."));
            return 0;
        }));
        keys.Add(revoke);
        return keys;
    }
}
