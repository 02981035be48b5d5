using System.CommandLine;
using System.Globalization;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Client;
using Fleet.Core.Policies;
using Fleet.Core.Validation;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet nodes</c>: list, show and steer nodes.</summary>
internal static class NodesCommand
{
    public static Command Build()
    {
        var nodes = new Command("nodes", "List, show and steer nodes. e.g. fleet nodes list --health Unhealthy; fleet nodes drain web-01 --reason kernel");
        var health = new Option<string?>("--health") { Description = $"Only nodes in this health ({string.Join(", ", Enum.GetNames<HealthState>())})" };
        var domain = new Option<string?>("--domain") { Description = "Only nodes of this failure domain" };
        var list = new Command("list", "List nodes") { health, domain };
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!InputRules.TryParseHealth(p.GetValue(health), out var h, out var problem))
            {
                Terminal.Error(problem);
                return Refused;
            }
            var rows = await c.ListNodesAsync(h, p.GetValue(domain), ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["NODE", "DOMAIN", "HEALTH", "SINCE"], rows.Select(r => new[] { r.NodeId, r.Domain, r.Health.ToString(), r.Since.ToString("u") }));
                Console.WriteLine($"{rows.Length} node(s)");
            });
            return 0;
        }));
        nodes.Add(list);

        var id = new Argument<string>("id") { Description = "Node id" };
        var show = new Command("get", "Show one node: health, conditions, remediation") { id };
        show.Aliases.Add("show");
        show.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.GetNodeAsync(p.GetValue(id)!, ct);
            if (s is null) { Terminal.Error($"node '{p.GetValue(id)}' is not registered"); return Refused; }
            Print(p, s, () =>
            {
                Console.WriteLine($"Node      {s.NodeId}  (domain {s.Domain})");
                Console.WriteLine($"Health    {s.Health} since {s.HealthSince:u}" + (s.AdminState != AdminState.None ? $"  [{s.AdminState}]" : ""));
                Console.WriteLine($"Reports   last sequence {s.LastSequence}" + (s.LastReportAt is { } at ? $" at {at:u}" : ", none yet"));
                if (s.Forecast?.TimeToExhaustion is { } tte) Console.WriteLine($"Forecast  memory runs out in about {Fleet.Core.Text.Format.Duration(tte)}");
                foreach (var cond in s.Conditions) Console.WriteLine($"Condition {cond.Type}: {cond.Reason}");
                if (s.Remediation is { } r)
                    Console.WriteLine($"Case      {r.CaseId}: {r.Action} ({r.Phase}, ladder step {r.Step + 1})" + (r.Deadline is { } d ? $", deadline {d:u}" : ""));
                Console.WriteLine($"Policy    v{s.PolicyVersion}");
            });
            return 0;
        }));
        nodes.Add(show);

        var force = new Option<bool>("--force") { Description = "drain only, with --reason: skip the domain's and the fleet's concurrency and rate budgets (never a service's minHealthy, a storm brake or a freeze)" };
        foreach (var (name, help) in new[] { ("cordon", "Cordon a node: no new work is placed on it"), ("uncordon", "Return a node to normal (also closes a hand-off to a human)"), ("drain", "Drain a node through a lease: move its work away; refused (exit 1) when a guardrail says no"),
            ("decommission", "Retire a node: drained through a lease (refused, exit 1, when a guardrail says no), retired once nothing is left on it"),
            ("admit", "Admit a node into service from its burn-in, its quarantine or its retirement (or stop its decommission)") })
        {
            var target = new Argument<string>("id") { Description = "Node id" };
            var cmd = new Command(name, help) { target };
            if (name is "drain" or "decommission") cmd.Add(force);
            cmd.SetAction((p, ct) => RunAsync(p, async c =>
            {
                var nodeId = p.GetValue(target)!;
                var s = name switch
                {
                    "cordon" => await c.CordonAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), ct),
                    "uncordon" => await c.UncordonAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), ct),
                    "decommission" => await c.DecommissionAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), p.GetValue(force), ct),
                    "admit" => await c.AdmitAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), ct),
                    _ => await c.DrainAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), p.GetValue(force), ct),
                };
                Print(p, s, () => Console.WriteLine($"{s.NodeId}: {s.Health} [{s.AdminState}] stage {s.Stage}" + (s.StageReason is { } why ? $" ({why})" : "")));
                return 0;
            }));
            nodes.Add(cmd);
        }
        return nodes;
    }
}
