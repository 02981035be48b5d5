using System.CommandLine;
using System.Globalization;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Client;
using Fleet.Core.Policies;
using Fleet.Core.Validation;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet status</c>, <c>fleet freeze</c>, <c>fleet unfreeze</c>.</summary>
internal static class StatusCommand
{
    public static Command Build()
    {
        var status = new Command("status", "Fleet freeze, leases in flight and each domain's guardrails. e.g. fleet status");
        status.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var (fleet, domains) = await c.GetFleetAsync(ct);
            Print(p, new { fleet, domains }, () =>
            {
                Console.WriteLine(fleet.Frozen ? $"Fleet FROZEN by {fleet.FrozenBy} since {fleet.FrozenAt:u}: {fleet.FreezeReason}" : "Fleet not frozen.");
                Console.WriteLine($"Actions in flight: {fleet.ActiveLeases}");
                Terminal.Table(["DOMAIN", "MEMBERS", "TROUBLED", "STORM BRAKE", "LEASES", "ACTIONS IN WINDOW"],
                    domains.Select(d => new[] { d.Domain, d.Members.ToString(), d.UnhealthyOrSuspect.ToString(), d.StormBrakeOn ? "ON" : "off", d.Leases.Length.ToString(), d.ActionsInWindow.ToString() }));
            });
            return 0;
        }));
        return status;
    }

    /// <summary><c>fleet freeze --reason</c> and <c>fleet unfreeze</c>.</summary>
    public static IEnumerable<Command> FreezeCommands()
    {
        var freeze = new Command("freeze", "Freeze every disruptive action in the fleet (needs --reason). e.g. fleet freeze --reason \"change window\"");
        freeze.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var reason = p.GetValue(Reason);
            if (string.IsNullOrWhiteSpace(reason)) { Terminal.Error("freeze needs --reason"); return Refused; }
            var s = await c.FreezeAsync(p.GetValue(By)!, reason, ct);
            Print(p, s, () => Console.WriteLine($"Fleet frozen by {s.FrozenBy}: {s.FreezeReason}"));
            return 0;
        }));
        var unfreeze = new Command("unfreeze", "Lift the fleet freeze. e.g. fleet unfreeze");
        unfreeze.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.UnfreezeAsync(p.GetValue(By)!, p.GetValue(Reason), ct);
            Print(p, s, () => Console.WriteLine("Fleet not frozen."));
            return 0;
        }));
        return [freeze, unfreeze];
    }
}
