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

    /// <summary><c>fleet capacity</c>: the capacity supervisor's demand, requests and plan.</summary>
    public static Command Capacity()
    {
        var capacity = new Command("capacity", "Instances Pending for lack of room, machines asked of the provisioner, and what it would do now. e.g. fleet capacity");
        capacity.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.GetCapacityAsync(ct);
            Print(p, s, () =>
            {
                Console.WriteLine(s.Plan + (s.HeldBy is { } held ? $" (held back by {held})" : ""));
                Terminal.Table(["SERVICE", "PENDING", "EACH", "SINCE"],
                    s.Demands.Select(d => new[] { d.Service, d.Pending.ToString(CultureInfo.InvariantCulture), $"{d.CpuCores.ToString(CultureInfo.InvariantCulture)} cores, {Fleet.Core.Text.Format.Bytes(d.MemoryBytes)}", d.Since.ToString("u") }));
                Terminal.Table(["REQUEST", "SHAPE", "DOMAIN", "COUNT", "ARRIVED", "PHASE", "AT"],
                    s.Requests.Select(r => new[] { r.Key, r.Shape, r.Domain, r.Count.ToString(CultureInfo.InvariantCulture), r.Arrived.Length.ToString(CultureInfo.InvariantCulture), r.Phase.ToString(), r.At.ToString("u") }));
                if (s.Train is { } t) Console.WriteLine(Train(t));
            });
            return 0;
        }));
        return capacity;
    }

    /// <summary>A maintenance train in one line.</summary>
    internal static string Train(Fleet.Abstractions.Lifecycle.TrainRun t) =>
        $"Maintenance train for {t.Domain} ({(t.Running ? "running" : $"finished {t.Finished:u}")}), started by {t.By} at {t.Since:u}, {t.Batch} at a time: {t.Progress}" +
        (t.HeldBy is { } held && t.Running ? $" (held back: {held})" : "") +
        (t.Started.IsEmpty ? "" : $"\n  asked to retire: {string.Join(", ", t.Started)}") +
        (t.Skipped.IsEmpty ? "" : $"\n  left in service by a person: {string.Join(", ", t.Skipped)}");

    /// <summary><c>fleet domains retire ID</c>: a maintenance train; <c>--stop</c> stops it.</summary>
    public static Command Domains()
    {
        var domains = new Command("domains", "Failure domains as a whole. e.g. fleet domains retire rack-b --reason \"rack refresh\"");
        var id = new Argument<string>("id") { Description = "Domain name" };
        var batch = new Option<int>("--batch") { Description = "How many of its nodes drain at once (1 to 100)", DefaultValueFactory = _ => 1 };
        var force = new Option<bool>("--force") { Description = "With --reason: start even when the rest of the fleet lacks room for all of the domain's instances (each node still drains through its services' budgets)" };
        var stop = new Option<bool>("--stop") { Description = "Stop the train retiring this domain: no further node is asked; those draining finish" };
        var retire = new Command("retire", "Retire every node of a domain with a maintenance train: cordoned, then drained a batch at a time under leases, retired once empty; refused (exit 1) while another train runs or when the rest of the fleet lacks room")
            { id, batch, force, stop };
        retire.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var domain = p.GetValue(id)!;
            var t = p.GetValue(stop)
                ? await c.StopTrainAsync(domain, p.GetValue(By)!, p.GetValue(Reason), ct)
                : await c.RetireDomainAsync(domain, p.GetValue(By)!, p.GetValue(Reason), p.GetValue(batch), p.GetValue(force), ct);
            Print(p, t, () => Console.WriteLine(Train(t)));
            return 0;
        }));
        domains.Add(retire);
        return domains;
    }

    /// <summary><c>fleet optimize plan</c>: what the consolidation planner would do now (nothing runs).</summary>
    public static Command Optimize()
    {
        var optimize = new Command("optimize", "Consolidation: free machines by packing instances onto fewer nodes. e.g. fleet optimize plan");
        var plan = new Command("plan", "What the consolidation planner would do now — nodes it could free, the moves, what they save and disrupt; nothing runs");
        plan.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var result = await c.PlanConsolidationAsync(ct);
            Print(p, result, () =>
            {
                Console.WriteLine(result.Summary + ".");
                Terminal.Table(["NODE", "FREED", "SAVING", "DISRUPTION (INSTANCE-MIN)", "WHY"],
                    result.Candidates.Select(x => new[] { x.NodeId, x.Accepted ? "yes" : "no", x.Saving.ToString("0.##", CultureInfo.InvariantCulture),
                        x.Disruption.ToString("0.##", CultureInfo.InvariantCulture), x.Why }));
                Terminal.Table(["SERVICE", "INSTANCE", "FROM", "TO"], result.Moves.Select(m => new[] { m.Service, m.Instance, m.From, m.To }));
            });
            return 0;
        }));
        optimize.Add(plan);
        return optimize;
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
