using System.CommandLine;
using Fleet.Abstractions.Supervision;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet approvals list|approve|reject</c> and <c>fleet shadow on|off|list</c>.</summary>
internal static class OversightCommand
{
    public static Command Approvals()
    {
        var approvals = new Command("approvals", "High-risk actions waiting for a person: list, approve, reject. e.g. fleet approvals list; fleet approvals approve ap-0193a2b4c5d");
        var all = new Option<bool>("--all") { Description = "Decided approvals too (the last 1,000)" };
        var list = new Command("list", "Approvals waiting for a person (with --all, decided ones too). e.g. fleet approvals list") { all };
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var rows = await c.ListApprovalsAsync(p.GetValue(all), ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["ID", "STATUS", "SUBJECT", "ACTION", "ASKED", "EXPIRES", "DECIDED BY", "WHY"], rows.Select(a => new[]
                {
                    a.Id, a.Status.ToString().ToLowerInvariant(), a.Subject, a.Action, a.CreatedAt.ToString("u"), $"{a.ExpiresAt:u} ({a.OnTimeout})", a.DecidedBy ?? "", a.Why,
                }));
                Console.WriteLine($"{rows.Length} approval(s)");
            });
            return 0;
        }));
        approvals.Add(list);
        foreach (var approve in new[] { true, false })
        {
            var id = new Argument<string>("id") { Description = "The approval's id (fleet approvals list)" };
            var verb = approve ? "approve" : "reject";
            var command = new Command(verb, approve
                ? "Approve a waiting action: it asks for its lease at once. e.g. fleet approvals approve ap-0193a2b4c5d --reason 'checked the rack'"
                : "Reject a waiting action: its case goes to a person. e.g. fleet approvals reject ap-0193a2b4c5d --reason 'not during the sale'") { id };
            command.SetAction((p, ct) => RunAsync(p, async c =>
            {
                var a = approve ? await c.ApproveAsync(p.GetValue(id)!, p.GetValue(By)!, p.GetValue(Reason), ct) : await c.RejectAsync(p.GetValue(id)!, p.GetValue(By)!, p.GetValue(Reason), ct);
                Print(p, a, () => Console.WriteLine($"{a.Id}: {a.Action} on {a.Subject} {a.Status.ToString().ToLowerInvariant()} by {a.DecidedBy}."));
                return 0;
            }));
            approvals.Add(command);
        }
        return approvals;
    }

    public static Command Shadow()
    {
        var shadow = new Command("shadow", "Shadow (dry-run) mode: the automation decides and records, nothing runs. e.g. fleet shadow on --domain rack-a --reason 'new policy'");
        foreach (var on in new[] { true, false })
        {
            var domain = new Option<string?>("--domain") { Description = "Only this failure domain" };
            var action = new Option<string?>("--action") { Description = "Only this action (e.g. reboot)" };
            var command = new Command(on ? "on" : "off", on
                ? "Turn shadow mode on for the whole fleet, a domain or an action (needs --reason). e.g. fleet shadow on --action reboot --reason 'trial'"
                : "Turn shadow mode off again (needs --reason). e.g. fleet shadow off --action reboot --reason 'trial over'") { domain, action };
            command.SetAction((p, ct) => RunAsync(p, async c =>
            {
                var reason = p.GetValue(Reason);
                if (string.IsNullOrWhiteSpace(reason)) { Terminal.Error($"shadow {(on ? "on" : "off")} needs --reason"); return Refused; }
                var s = await c.SetShadowAsync(on, p.GetValue(domain), p.GetValue(action), p.GetValue(By)!, reason, ct);
                Print(p, s, () => Show(s));
                return 0;
            }));
            shadow.Add(command);
        }
        var list = new Command("list", "What is in shadow mode. e.g. fleet shadow list");
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.GetShadowAsync(ct);
            Print(p, s, () => Show(s));
            return 0;
        }));
        shadow.Add(list);
        return shadow;
    }

    public static Command Learning()
    {
        var learning = new Command("learning", "What the ladder has learned from verified outcomes. e.g. fleet learning show");
        var show = new Command("show", "Per symptom and action: how often the rung healed, how often it failed, the latest outcomes. e.g. fleet learning show");
        show.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var rows = await c.GetLearningAsync(ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["SYMPTOM", "ACTION", "HEALED", "FAILED", "RATE", "LATEST (H healed, F failed)", "LAST"], rows.Select(r => new[]
                {
                    r.Signature, r.Action, r.Successes.ToString(), r.Failures.ToString(),
                    r.Successes + r.Failures == 0 ? "-" : $"{100.0 * r.Successes / (r.Successes + r.Failures):0}%",
                    string.Concat(r.Recent.TakeLast(12).Select(x => x ? 'H' : 'F')), r.LastAt.ToString("u"),
                }));
                Console.WriteLine(rows.IsEmpty ? "Nothing learned yet: no rung has been verified." : $"{rows.Length} row(s); the policy's learning section says when a rung is skipped.");
            });
            return 0;
        }));
        learning.Add(show);
        return learning;
    }

    private static void Show(ShadowStatus s)
    {
        var policy = new List<string>();
        if (s.PolicyFleet) policy.Add("the whole fleet");
        policy.AddRange(s.PolicyDomains.Select(d => $"domain {d}"));
        policy.AddRange(s.PolicyActions.Select(a => $"action {a}"));
        Console.WriteLine(policy.Count == 0 ? "Policy: nothing in shadow mode." : $"Policy: {string.Join(", ", policy)} in shadow mode (oversight.shadow).");
        if (s.Switches.IsEmpty) Console.WriteLine("Switches: none.");
        else Terminal.Table(["SCOPE", "BY", "SINCE", "REASON"], s.Switches.Select(x => new[] { x.Scope, x.By, x.At.ToString("u"), x.Reason }));
    }
}
