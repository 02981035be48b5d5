using System.CommandLine;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet incidents list|get|postmortem</c>.</summary>
internal static class IncidentsCommand
{
    public static Command Build()
    {
        var incidents = new Command("incidents", "Decision records grouped into incidents (a case, a storm, a rollout), and a blameless postmortem of one. e.g. fleet incidents list --since 24h");
        var since = new Option<string?>("--since") { Description = "From this time: ISO 8601 or a duration ago (default 24h)" };
        var list = new Command("list", "Incidents, newest first. e.g. fleet incidents list --since 2h") { since };
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!TryTime(p.GetValue(since) ?? "24h", "--since", out var from)) return Refused;
            var rows = await c.ListIncidentsAsync(from!.Value, ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["INCIDENT", "KIND", "STARTED", "LAST", "RECORDS", "OUTCOME", "TITLE"], rows.Select(i => new[]
                {
                    i.Id, i.Kind, i.Started.ToString("u"), i.LastAt.ToString("HH:mm:ss"), i.Records.ToString(), i.Outcome + (i.Open ? " (open)" : ""), i.Title,
                }));
                Console.WriteLine($"{rows.Length} incident(s)");
            });
            return 0;
        }));
        incidents.Add(list);

        var id = new Argument<string>("id") { Description = "The incident's id (fleet incidents list)" };
        var get = new Command("get", "An incident's records in time order. e.g. fleet incidents get storm/rack-a/20261202T101500Z") { id };
        get.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (await c.GetIncidentAsync(p.GetValue(id)!, ct) is not { } incident) { Terminal.Error($"no decision record names incident '{p.GetValue(id)}'"); return Refused; }
            Print(p, new { incident.Summary, incident.Records }, () =>
            {
                var s = incident.Summary;
                Console.WriteLine($"Incident {s.Id} ({s.Kind}): {s.Title}");
                Console.WriteLine($"{s.Started:u} to {s.LastAt:u}; outcome: {s.Outcome}{(s.Open ? " (open)" : "")}; subjects: {string.Join(", ", s.Subjects)}");
                foreach (var r in incident.Records) Console.WriteLine($"{r.Time:HH:mm:ss}  {r.Kind,-17} {r.Subject,-20} {r.Reason}");
            });
            return 0;
        }));
        incidents.Add(get);

        var pmId = new Argument<string>("id") { Description = "The incident's id" };
        var postmortem = new Command("postmortem", "A blameless postmortem of an incident, in Markdown: summary, impact, timeline, signals, decisions, guardrails, outcome, open questions. e.g. fleet incidents postmortem rollout/api/3 > pm.md") { pmId };
        postmortem.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (await c.PostmortemAsync(p.GetValue(pmId)!, ct) is not { } text) { Terminal.Error($"no decision record names incident '{p.GetValue(pmId)}'"); return Refused; }
            Console.Write(text);
            return 0;
        }));
        incidents.Add(postmortem);
        return incidents;
    }
}
