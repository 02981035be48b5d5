using System.CommandLine;
using System.Globalization;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Client;
using Fleet.Core.Policies;
using Fleet.Core.Validation;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet audit</c>: read the decision trail.</summary>
internal static class AuditCommand
{
    public static Command Build()
    {
        var subject = new Option<string?>("--subject") { Description = "Subject, e.g. node/web-01, domain/rack-a, fleet/default, policy" };
        var node = new Option<string?>("--node") { Description = "Shorthand for --subject node/ID" };
        var kind = new Option<string?>("--kind") { Description = $"One of: {string.Join(", ", DecisionKinds.All)}" };
        var since = new Option<string?>("--since") { Description = "From this time: ISO 8601 (2026-01-01T10:00:00Z) or a duration ago (15m, 2h)" };
        var until = new Option<string?>("--until") { Description = "Before this time (same forms as --since)" };
        var limit = new Option<int>("--limit") { Description = "Records per page (1–1000)", DefaultValueFactory = _ => 50 };
        var before = new Option<long?>("--before") { Description = "Cursor from the previous page" };
        var incident = new Option<string?>("--incident") { Description = "Only this incident's records (fleet incidents list)" };
        var audit = new Command("audit", "Read the decision trail, newest first. e.g. fleet audit --node web-01 --since 1h") { subject, node, kind, since, until, limit, before, incident };
        audit.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!TryTime(p.GetValue(since), "--since", out var from) || !TryTime(p.GetValue(until), "--until", out var to)) return Refused;
            var subj = p.GetValue(node) is { } n ? $"node/{n}" : p.GetValue(subject);
            var page = await c.QueryAuditAsync(new AuditQuery(subj, p.GetValue(kind), from, to, p.GetValue(limit), p.GetValue(before)) { Incident = p.GetValue(incident) }, ct);
            Print(p, page, () =>
            {
                foreach (var r in page.Records)
                    Console.WriteLine($"{r.Time:yyyy-MM-dd HH:mm:ss}  {r.Kind,-15} {r.Subject,-20} {r.Reason}" + (r.Guardrail is { } g ? $" [guardrail: {g}]" : ""));
                if (page.NextBefore is { } next) Console.WriteLine($"(more: --before {next})");
            });
            return 0;
        }));
        var verifySince = new Option<string?>("--since") { Description = "Check from this time (ISO 8601 or a duration ago); default the whole trail" };
        var verify = new Command("verify", "Walk the trail's hash chain: exit 0 when it holds, 1 naming the first record that does not") { verifySince };
        verify.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!TryTime(p.GetValue(verifySince), "--since", out var from)) return Refused;
            var result = await c.VerifyAuditAsync(from, ct);
            Print(p, result, () =>
            {
                var older = result.Unsealed > 0 ? $"; {result.Unsealed:N0} older record(s) outside the chain (written before records were sealed)" : "";
                var signed = result.LastCheckpoint is { } last ? $"; {result.Checkpoints:N0} signed checkpoint(s) hold, the newest at {last:u}" : "; no signed checkpoint yet";
                Console.WriteLine(result.Holds
                    ? $"The trail holds: {result.Records:N0} record(s) in {result.Streams} stream(s) checked{(from is null ? "" : $" since {from:u}")}{signed}{older}."
                    : $"The trail is broken at record {result.BrokenAt}: {result.Why}.");
            });
            return result.Holds ? 0 : Refused;
        }));
        audit.Add(verify);
        return audit;
    }
}
