using System.CommandLine;
using Fleet.Abstractions.Links;
using Fleet.Core.Network;
using Fleet.Core.Text;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet links list|get|apply</c> and <c>fleet flows list|get</c>.</summary>
internal static class LinksCommand
{
    public static Command Links()
    {
        var links = new Command("links", "Network links: health, damping, capacity reserved, flows carried. e.g. fleet links list; fleet links apply topology.yaml");
        var list = new Command("list", "Every link with its state and free capacity each way. e.g. fleet links list");
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var rows = await c.ListLinksAsync(ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["LINK", "STATE", "SINCE", "CAPACITY", "FREE A→B", "FREE B→A", "FLOWS", "FLAPS", "DOMAIN"], rows.Select(l => new[]
                {
                    l.Spec.Id, l.State.ToString(), l.Since.ToString("u"), $"{Format.Num(l.Spec.CapacityMbps)} Mbit/s", Format.Num(Math.Round(l.FreeAB, 1)), Format.Num(Math.Round(l.FreeBA, 1)),
                    l.Flows.Length.ToString(), l.Flaps.ToString(), l.Spec.FailureDomain,
                }));
                Console.WriteLine($"{rows.Length} link(s)");
            });
            return 0;
        }));
        links.Add(list);

        var id = new Argument<string>("id") { Description = "The link's id: both ends in order, a~b" };
        var get = new Command("get", "One link: health and why, damping, last probe, reservations, flows. e.g. fleet links get a~b") { id };
        get.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var l = await c.GetLinkAsync(p.GetValue(id)!, ct);
            if (l is null) { Terminal.Error($"link {p.GetValue(id)} is not defined"); return Refused; }
            Print(p, l, () =>
            {
                Console.WriteLine($"Link {l.Spec.Id}: {l.Spec.A} ↔ {l.Spec.B}, {Format.Num(l.Spec.CapacityMbps)} Mbit/s each way, {Format.Num(l.Spec.LatencyMs)} ms, domain {l.Spec.FailureDomain}");
                Console.WriteLine($"State     {l.State} since {l.Since:u}: {l.Note}");
                Console.WriteLine($"Damping   {l.Flaps} flap(s), penalty {Format.Num(l.Penalty)}{(l.SuppressedUntil is { } u ? $", suppressed until {u:u}" : "")}");
                if (l.LastProbe is { } pr)
                    Console.WriteLine($"Probe     #{pr.Sequence} at {l.LastProbeAt:u}: {(pr.Up ? "up" : "down")}, {Format.Num(pr.LatencyMs)} ms, {Format.Num(pr.LossPercent)} % loss, TTL {Format.Duration(pr.Ttl)}");
                Console.WriteLine($"Reserved  {Format.Num(Math.Round(l.ReservedAB, 1))} Mbit/s {l.Spec.A}→{l.Spec.B}, {Format.Num(Math.Round(l.ReservedBA, 1))} Mbit/s {l.Spec.B}→{l.Spec.A}");
                Console.WriteLine($"Flows     {(l.Flows.IsEmpty ? "none" : string.Join(", ", l.Flows))}");
            });
            return 0;
        }));
        links.Add(get);
        links.Add(Delete("link", "Delete a link: its flows move off make-before-break first (refused, exit 1, when one has no other path), then it leaves the topology. e.g. fleet links delete a~b --reason \"decommissioned circuit\"",
            (c, target, by, reason, ct) => c.DeleteLinkAsync(target, by, reason, ct)));

        var file = new Argument<FileInfo>("file") { Description = "A YAML file with links: and flows: (docs/links.md)" };
        var apply = new Command("apply", "Define links and flows from a file; every problem is named by its path, and nothing is applied when any is found. e.g. fleet links apply topology.yaml") { file };
        apply.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!TryRead(p.GetValue(file)!, out var yaml)) return Refused;
            var known = (await c.ListLinksAsync(ct)).SelectMany(l => new[] { l.Spec.A, l.Spec.B }).ToHashSet();
            var doc = TopologyDocument.Parse(yaml, known.Contains);
            if (!doc.IsValid)
            {
                Terminal.Error($"{p.GetValue(file)!.Name} is not a valid topology; nothing was applied:");
                foreach (var problem in doc.Problems) Console.Error.WriteLine($"  {problem}");
                return Refused;
            }
            foreach (var link in doc.Links) await c.ApplyLinkAsync(link, p.GetValue(By)!, ct);
            var placed = new List<FlowStatus>();
            foreach (var flow in doc.Flows.OrderByDescending(f => f.Priority)) placed.Add(await c.ApplyFlowAsync(flow, p.GetValue(By)!, ct));
            Print(p, new { links = doc.Links, flows = placed }, () =>
            {
                Console.WriteLine($"Applied {doc.Links.Length} link(s) and {doc.Flows.Length} flow(s).");
                foreach (var f in placed) Console.WriteLine($"  flow {f.Spec.Id}: {Describe(f)}");
            });
            return 0;
        }));
        links.Add(apply);
        return links;
    }

    public static Command Flows()
    {
        var flows = new Command("flows", "Flows of traffic: their paths, backups and moves. e.g. fleet flows list");
        var list = new Command("list", "Every flow with its state and path. e.g. fleet flows list");
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var rows = await c.ListFlowsAsync(ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["FLOW", "STATE", "FROM", "TO", "MBIT/S", "PRIO", "PATH", "BACKUP"], rows.Select(f => new[]
                {
                    f.Spec.Id, f.State.ToString(), f.Spec.Source, f.Spec.Destination, Format.Num(f.Spec.DemandMbps), f.Spec.Priority.ToString(),
                    f.Path.IsEmpty ? "-" : string.Join("–", f.Path), f.Backup.IsEmpty ? "-" : string.Join("–", f.Backup),
                }));
                Console.WriteLine($"{rows.Length} flow(s)");
            });
            return 0;
        }));
        flows.Add(list);
        var id = new Argument<string>("id") { Description = "The flow's id" };
        var get = new Command("get", "One flow: its path, backup, state and history. e.g. fleet flows get f-17") { id };
        get.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var f = await c.GetFlowAsync(p.GetValue(id)!, ct);
            if (f is null) { Terminal.Error($"flow {p.GetValue(id)} is not defined"); return Refused; }
            Print(p, f, () =>
            {
                Console.WriteLine($"Flow {f.Spec.Id}: {Format.Num(f.Spec.DemandMbps)} Mbit/s from {f.Spec.Source} to {f.Spec.Destination}, priority {f.Spec.Priority}");
                Console.WriteLine($"State     {Describe(f)} (since {f.Since:u})");
                Console.WriteLine("History");
                foreach (var e in f.History) Console.WriteLine($"  {e.At:u}  {e.What}");
            });
            return 0;
        }));
        flows.Add(get);
        flows.Add(Delete("flow", "Delete a flow: its capacity on every link is released and it leaves the registry. e.g. fleet flows delete f-17 --reason \"service retired\"",
            (c, target, by, reason, ct) => c.DeleteFlowAsync(target, by, reason, ct)));
        return flows;
    }

    /// <summary><c>fleet links delete ID</c> and <c>fleet flows delete ID</c>: the answer is one sentence.</summary>
    private static Command Delete(string what, string help, Func<Fleet.Client.IFleetClient, string, string, string?, CancellationToken, Task<string>> delete)
    {
        var target = new Argument<string>("id") { Description = $"The {what}'s id" };
        var cmd = new Command("delete", help) { target };
        cmd.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var summary = await delete(c, p.GetValue(target)!, p.GetValue(By)!, p.GetValue(Reason), ct);
            Print(p, new { deleted = p.GetValue(target), summary }, () => Console.WriteLine(summary + "."));
            return 0;
        }));
        return cmd;
    }

    private static string Describe(FlowStatus f) => f.State switch
    {
        FlowState.NoPath => $"no path: {f.Problem}",
        FlowState.Pending => "pending",
        _ => $"{f.State.ToString().ToLowerInvariant()} on {string.Join("–", f.Path)}{(f.Backup.IsEmpty ? ", no backup" : $", backup {string.Join("–", f.Backup)}")}",
    };
}
