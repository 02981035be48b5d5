using System.CommandLine;
using System.Globalization;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Client;
using Fleet.Core.Policies;
using Fleet.Core.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fleet.Cli;

/// <summary>
/// The <c>fleet</c> command. Exit codes: 0 done; 1 the request was refused (bad input, invalid policy, unknown node);
/// 2 the cluster could not be reached.
/// </summary>
internal static class FleetCommand
{
    public const int Refused = 1;
    public const int Unreachable = 2;

    private static readonly Option<string> Gateway = new("--gateway")
    {
        Description = "Gateways host:port[,host:port]; default $FLEET_GATEWAY or 127.0.0.1:30000",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_GATEWAY") ?? "127.0.0.1:30000",
    };

    private static readonly Option<string?> Redis = new("--redis")
    {
        Description = "Find the gateways through Redis (cluster mode); default $FLEET_REDIS",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_REDIS") is { Length: > 0 } r ? r : null,
    };

    private static readonly Option<string> ClusterId = new("--cluster-id")
    {
        Description = "Orleans cluster id; default $FLEET_CLUSTER_ID or fleet",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_CLUSTER_ID") is { Length: > 0 } v ? v : "fleet",
    };

    private static readonly Option<string> ServiceId = new("--service-id")
    {
        Description = "Orleans service id; default $FLEET_SERVICE_ID or fleet",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLEET_SERVICE_ID") is { Length: > 0 } v ? v : "fleet",
    };

    private static readonly Option<string> Format = new("--output", "-o")
    {
        Description = "table or json",
        Recursive = true,
        DefaultValueFactory = _ => "table",
    };

    private static readonly Option<string> By = new("--by")
    {
        Description = "Who asks (recorded in the audit trail); default the user name",
        Recursive = true,
        DefaultValueFactory = _ => Environment.UserName is { Length: > 0 } u ? u : "cli",
    };

    private static readonly Option<string?> Reason = new("--reason") { Description = "Why (recorded in the audit trail)", Recursive = true };

    public static RootCommand Build()
    {
        Format.AcceptOnlyFromAmong("table", "json");
        var root = new RootCommand("fleet: query and steer a Fleet cluster") { Gateway, Redis, ClusterId, ServiceId, Format, By, Reason };
        root.Add(NodesCommand());
        root.Add(AuditCommand());
        root.Add(PolicyCommand());
        root.Add(StatusCommand());
        root.Add(SimCommand.Build(Format));
        var freeze = new Command("freeze", "Freeze every disruptive action in the fleet (needs --reason)");
        freeze.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var reason = p.GetValue(Reason);
            if (string.IsNullOrWhiteSpace(reason)) { Output.Error("freeze needs --reason"); return Refused; }
            var s = await c.FreezeAsync(p.GetValue(By)!, reason, ct);
            Print(p, s, () => Console.WriteLine($"Fleet frozen by {s.FrozenBy}: {s.FreezeReason}"));
            return 0;
        }));
        root.Add(freeze);
        var unfreeze = new Command("unfreeze", "Lift the fleet freeze");
        unfreeze.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.UnfreezeAsync(p.GetValue(By)!, p.GetValue(Reason), ct);
            Print(p, s, () => Console.WriteLine("Fleet not frozen."));
            return 0;
        }));
        root.Add(unfreeze);
        return root;
    }

    private static Command NodesCommand()
    {
        var nodes = new Command("nodes", "List, show and steer nodes");
        var health = new Option<string?>("--health") { Description = $"Only nodes in this health ({string.Join(", ", Enum.GetNames<HealthState>())})" };
        var domain = new Option<string?>("--domain") { Description = "Only nodes of this failure domain" };
        var list = new Command("list", "List nodes") { health, domain };
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            HealthState? h = null;
            if (p.GetValue(health) is { } hs)
            {
                if (!Enum.TryParse<HealthState>(hs, true, out var parsed) || int.TryParse(hs, out _))
                {
                    Output.Error($"'{hs}' is not a health state; accepted: {string.Join(", ", Enum.GetNames<HealthState>())}");
                    return Refused;
                }
                h = parsed;
            }
            var rows = await c.ListNodesAsync(h, p.GetValue(domain), ct);
            Print(p, rows, () =>
            {
                Output.Table(["NODE", "DOMAIN", "HEALTH", "SINCE"], rows.Select(r => new[] { r.NodeId, r.Domain, r.Health.ToString(), r.Since.ToString("u") }));
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
            if (s is null) { Output.Error($"node '{p.GetValue(id)}' is not registered"); return Refused; }
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

        foreach (var (name, help) in new[] { ("cordon", "Cordon a node: no new work is placed on it"), ("uncordon", "Return a node to normal (also closes a hand-off to a human)"), ("drain", "Drain a node: move its work away") })
        {
            var target = new Argument<string>("id") { Description = "Node id" };
            var cmd = new Command(name, help) { target };
            cmd.SetAction((p, ct) => RunAsync(p, async c =>
            {
                var nodeId = p.GetValue(target)!;
                var s = name switch
                {
                    "cordon" => await c.CordonAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), ct),
                    "uncordon" => await c.UncordonAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), ct),
                    _ => await c.DrainAsync(nodeId, p.GetValue(By)!, p.GetValue(Reason), ct),
                };
                Print(p, s, () => Console.WriteLine($"{s.NodeId}: {s.Health} [{s.AdminState}]"));
                return 0;
            }));
            nodes.Add(cmd);
        }
        return nodes;
    }

    private static Command AuditCommand()
    {
        var subject = new Option<string?>("--subject") { Description = "Subject, e.g. node/web-01, domain/rack-a, fleet/default, policy" };
        var node = new Option<string?>("--node") { Description = "Shorthand for --subject node/ID" };
        var kind = new Option<string?>("--kind") { Description = $"One of: {string.Join(", ", DecisionKinds.All)}" };
        var since = new Option<string?>("--since") { Description = "From this time: ISO 8601 (2026-01-01T10:00:00Z) or a duration ago (15m, 2h)" };
        var until = new Option<string?>("--until") { Description = "Before this time (same forms as --since)" };
        var limit = new Option<int>("--limit") { Description = "Records per page (1–1000)", DefaultValueFactory = _ => 50 };
        var before = new Option<long?>("--before") { Description = "Cursor from the previous page" };
        var audit = new Command("audit", "Read the decision trail, newest first") { subject, node, kind, since, until, limit, before };
        audit.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!TryTime(p.GetValue(since), "--since", out var from) || !TryTime(p.GetValue(until), "--until", out var to)) return Refused;
            var subj = p.GetValue(node) is { } n ? $"node/{n}" : p.GetValue(subject);
            var page = await c.QueryAuditAsync(new AuditQuery(subj, p.GetValue(kind), from, to, p.GetValue(limit), p.GetValue(before)), ct);
            Print(p, page, () =>
            {
                foreach (var r in page.Records)
                    Console.WriteLine($"{r.Time:yyyy-MM-dd HH:mm:ss}  {r.Kind,-15} {r.Subject,-20} {r.Reason}" + (r.Guardrail is { } g ? $" [guardrail: {g}]" : ""));
                if (page.NextBefore is { } next) Console.WriteLine($"(more: --before {next})");
            });
            return 0;
        }));
        return audit;
    }

    private static Command PolicyCommand()
    {
        var policy = new Command("policy", "Show, validate and apply the fleet policy");
        var show = new Command("get", "Print the current policy document");
        show.Aliases.Add("show");
        show.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var doc = await c.GetPolicyAsync(ct);
            Print(p, doc, () =>
            {
                Console.WriteLine($"# version {doc.Version}, applied by {doc.AppliedBy}" + (doc.Version > 0 ? $" at {doc.AppliedAt:u}" : " (built-in default)"));
                Console.Write(doc.Document);
            });
            return 0;
        }));
        policy.Add(show);

        var file = new Argument<FileInfo>("file") { Description = "A YAML policy document" };
        var validate = new Command("validate", "Check a policy file without applying it (works offline)") { file };
        validate.SetAction(p =>
        {
            if (!TryRead(p.GetValue(file)!, out var yaml)) return Refused;
            var result = PolicyParser.Parse(yaml);
            if (p.GetValue(Format) == "json") Output.WriteJson(new { valid = result.IsValid, problems = result.Problems });
            else if (result.IsValid) Console.WriteLine($"{p.GetValue(file)!.Name}: valid");
            else
            {
                Console.WriteLine($"{p.GetValue(file)!.Name}: {result.Problems.Length} problem(s)");
                foreach (var problem in result.Problems) Console.WriteLine($"  {problem}");
            }
            return result.IsValid ? 0 : Refused;
        });
        policy.Add(validate);

        var applyFile = new Argument<FileInfo>("file") { Description = "A YAML policy document" };
        var apply = new Command("apply", "Validate and apply a policy file; nothing is applied if any problem is found") { applyFile };
        apply.SetAction((p, ct) =>
        {
            if (!TryRead(p.GetValue(applyFile)!, out var yaml)) return Task.FromResult(Refused);
            return RunAsync(p, async c =>
            {
                var result = await c.ApplyPolicyAsync(yaml, p.GetValue(By)!, ct);
                Print(p, result, () =>
                {
                    if (result.Applied) Console.WriteLine($"Applied policy version {result.Version}.");
                    else
                    {
                        Console.WriteLine($"Refused: {result.Problems.Length} problem(s); version {result.Version} stays in force.");
                        foreach (var problem in result.Problems) Console.WriteLine($"  {problem}");
                    }
                });
                return result.Applied ? 0 : Refused;
            });
        });
        policy.Add(apply);

        var history = new Command("history", "List applied policy versions, newest first");
        history.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var versions = await c.GetPolicyHistoryAsync(ct);
            Print(p, versions, () => Output.Table(["VERSION", "APPLIED", "BY"], versions.Select(v => new[] { v.Version.ToString(), v.AppliedAt.ToString("u"), v.AppliedBy })));
            return 0;
        }));
        policy.Add(history);
        return policy;
    }

    private static Command StatusCommand()
    {
        var status = new Command("status", "Fleet freeze, leases in flight and each domain's guardrails");
        status.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var (fleet, domains) = await c.GetFleetAsync(ct);
            Print(p, new { fleet, domains }, () =>
            {
                Console.WriteLine(fleet.Frozen ? $"Fleet FROZEN by {fleet.FrozenBy} since {fleet.FrozenAt:u}: {fleet.FreezeReason}" : "Fleet not frozen.");
                Console.WriteLine($"Actions in flight: {fleet.ActiveLeases}");
                Output.Table(["DOMAIN", "MEMBERS", "TROUBLED", "STORM BRAKE", "LEASES", "ACTIONS IN WINDOW"],
                    domains.Select(d => new[] { d.Domain, d.Members.ToString(), d.UnhealthyOrSuspect.ToString(), d.StormBrakeOn ? "ON" : "off", d.Leases.Length.ToString(), d.ActionsInWindow.ToString() }));
            });
            return 0;
        }));
        return status;
    }

    private static void Print<T>(ParseResult p, T value, Action table)
    {
        if (p.GetValue(Format) == "json") Output.WriteJson(value);
        else table();
    }

    private static bool TryRead(FileInfo file, out string text)
    {
        text = "";
        try
        {
            text = File.ReadAllText(file.FullName);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Output.Error($"cannot read {file.FullName}: {e.Message}");
            return false;
        }
    }

    private static bool TryTime(string? text, string option, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (Durations.TryParse(text, out var ago)) { value = DateTimeOffset.UtcNow - ago; return true; }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) { value = at; return true; }
        Output.Error($"{option} '{text}' is neither a time (2026-01-01T10:00:00Z) nor a duration ago (15m, 2h)");
        return false;
    }

    /// <summary>Connects, runs the command, and turns every failure into one line on stderr and an exit code.</summary>
    private static async Task<int> RunAsync(ParseResult p, Func<IFleetClient, Task<int>> body)
    {
        var redis = p.GetValue(Redis);
        var gateways = redis is null ? p.GetValue(Gateway)! : $"the gateways listed in Redis {redis}";
        IHost host;
        try
        {
            var builder = Host.CreateApplicationBuilder([]);
            builder.Logging.ClearProviders();
            builder.AddFleetClient(o =>
            {
                o.Gateways = p.GetValue(Gateway)!;
                o.Redis = redis;
                o.ClusterId = p.GetValue(ClusterId)!;
                o.ServiceId = p.GetValue(ServiceId)!;
                o.ConnectAttempts = 2;
            });
            host = builder.Build();
        }
        catch (FleetValidationException e)
        {
            Output.Error(e.Problems.SelectMany(kv => kv.Value).FirstOrDefault() ?? e.Message);
            return Refused;
        }
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await host.StartAsync(cts.Token);
        }
        catch (Exception e)
        {
            Output.Error($"cannot reach the cluster at {gateways}: {Short(e)}");
            return Unreachable;
        }
        try
        {
            return await body(host.Services.GetRequiredService<IFleetClient>());
        }
        catch (FleetValidationException e)
        {
            Output.Error(e.Message);
            foreach (var (field, messages) in e.Problems)
                foreach (var m in messages) Console.Error.WriteLine($"  {field}: {m}");
            return Refused;
        }
        catch (FleetUnavailableException e)
        {
            Output.Error(e.Message);
            return Unreachable;
        }
        finally
        {
            try { await host.StopAsync(TimeSpan.FromSeconds(2)); } catch { /* leaving anyway */ }
            host.Dispose();
        }
    }

    private static string Short(Exception e)
    {
        while (e.InnerException is not null && e is AggregateException or OperationCanceledException) e = e.InnerException;
        return e is OperationCanceledException ? "no answer within 15 s" : e.Message.Split('\n')[0].Trim();
    }
}
