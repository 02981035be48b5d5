using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Fleet.Abstractions.Audit;
using Fleet.Core.Text;

namespace Fleet.Core.Guarding
{
    /// <summary>How incidents are named.</summary>
    public static class Incidents
    {
        /// <summary>A storm in a domain: <c>storm/rack-a/20261202T101500Z</c>.</summary>
        public static string Storm(string domain, DateTimeOffset since) => $"storm/{domain}/{since.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}";

        /// <summary>A rollout of a service: <c>rollout/api/3</c>.</summary>
        public static string Rollout(string service, int id) => $"rollout/{service}/{id}";
    }
}

namespace Fleet.Core.Incidents
{
    /// <summary>An incident as a list shows it: what it is about, when it began and last moved, whom it touched, how it ended.</summary>
    public sealed record IncidentSummary(
        string Id,
        string Kind,
        string Title,
        DateTimeOffset Started,
        DateTimeOffset LastAt,
        ImmutableArray<string> Subjects,
        int Records,
        string Outcome,
        bool Open);

    /// <summary>
    /// Decision records grouped into incidents by their incident id — one subject's remediation case, one domain's storm
    /// (the domain's brake and the denials it caused), one rollout — and a blameless postmortem written from a timeline.
    /// Pure: the records in, text out.
    /// </summary>
    public static class IncidentReport
    {
        public static string KindOf(string id) => id.StartsWith("storm/", StringComparison.Ordinal) ? "storm"
            : id.StartsWith("rollout/", StringComparison.Ordinal) ? "rollout" : "case";

        /// <summary>Every incident among the records (any order), newest first.</summary>
        public static ImmutableArray<IncidentSummary> Group(IEnumerable<DecisionRecord> records) =>
            [.. records.Where(r => r.IncidentId is not null).GroupBy(r => r.IncidentId!).Select(g => Summarise(g.Key, g)).OrderByDescending(i => i.LastAt)];

        public static IncidentSummary Summarise(string id, IEnumerable<DecisionRecord> records)
        {
            var list = records.OrderBy(r => r.Time).ThenBy(r => r.Id, StringComparer.Ordinal).ToList();
            var kind = KindOf(id);
            var subjects = list.Select(r => r.Subject).Distinct().ToImmutableArray();
            var (outcome, open) = Outcome(kind, list);
            var first = list.FirstOrDefault(r => r.Kind is DecisionKinds.Proposed or DecisionKinds.Predicted or DecisionKinds.Frozen or DecisionKinds.Operator) ?? list[0];
            var title = kind switch
            {
                "storm" => $"Storm in {id.Split('/')[1]}: {subjects.Count(s => s.StartsWith("node/", StringComparison.Ordinal))} node(s) held back",
                "rollout" => $"Rollout {id.Split('/')[2]} of service {id.Split('/')[1]}",
                _ => $"{Subjects(subjects)}: {Shorten(first.Reason)}",
            };
            return new IncidentSummary(id, kind, title, list[0].Time, list[^1].Time, subjects, list.Count, outcome, open);
        }

        private static (string Outcome, bool Open) Outcome(string kind, List<DecisionRecord> list)
        {
            var last = list[^1];
            if (kind == "storm")
                return list.Any(r => r.Kind == DecisionKinds.Thawed) ? ("the brake was lifted", false) : ("the brake holds", true);
            if (kind == "rollout")
            {
                if (list.LastOrDefault(r => r.Kind == DecisionKinds.RolledBack) is { } back) return ($"rolled back: {Shorten(back.Reason)}", false);
                if (list.Any(r => r.Kind == DecisionKinds.Verified && r.Outcome == "completed")) return ("completed", false);
                return (list.Any(r => r.Outcome == "promoted") ? "promoted, watched" : "in progress", true);
            }
            if (last.Kind == DecisionKinds.HandedToHuman || list.LastOrDefault(r => r.Kind == DecisionKinds.HandedToHuman) is { } hand && !list.Any(r => r.Time > hand.Time && r.Kind == DecisionKinds.Verified))
                return ("handed to a person", true);
            if (list.LastOrDefault(r => r.Kind == DecisionKinds.Verified) is { } verified)
                return (verified.Outcome switch
                {
                    "cleared" => "healed; on probation",
                    "prevented" => "prevented",
                    "recovered-without-action" => "recovered by itself",
                    _ => verified.Outcome ?? "verified",
                }, verified.Outcome == "cleared");
            return ("open", true);
        }

        /// <summary>A blameless postmortem in Markdown: summary, impact, timeline, signals, decisions, guardrails, outcome, open questions.</summary>
        public static string Postmortem(string id, IReadOnlyList<DecisionRecord> records, DateTimeOffset now)
        {
            var list = records.OrderBy(r => r.Time).ThenBy(r => r.Id, StringComparer.Ordinal).ToList();
            if (list.Count == 0) return $"# Incident {id}\n\nNo record of this incident is kept.\n";
            var s = Summarise(id, list);
            var sb = new StringBuilder();
            sb.AppendLine($"# Postmortem: {s.Title}");
            sb.AppendLine();
            sb.AppendLine($"Incident `{id}` ({s.Kind}), {s.Started:u} to {s.LastAt:u} ({Format.Duration(s.LastAt - s.Started)}); outcome: **{s.Outcome}**{(s.Open ? " (still open)" : "")}.");
            sb.AppendLine("Written by Fleet from its decision records; blameless: it says what the system saw and did, and why.");
            sb.AppendLine();
            sb.AppendLine("## Summary");
            sb.AppendLine();
            var actions = list.Where(r => r.Kind == DecisionKinds.Executed).ToList();
            var denials = list.Where(r => r.Kind == DecisionKinds.Denied).ToList();
            sb.AppendLine($"{s.Subjects.Length} subject(s) ({Subjects(s.Subjects)}); {list.Count} decision record(s): {actions.Count} action(s) carried out, " +
                $"{denials.Count} denial(s) by a guardrail, {list.Count(r => r.Kind == DecisionKinds.Failed)} failure(s).");
            sb.AppendLine();
            sb.AppendLine("## Impact");
            sb.AppendLine();
            foreach (var subject in s.Subjects.Where(x => x.StartsWith("node/", StringComparison.Ordinal) || x.StartsWith("service/", StringComparison.Ordinal)))
            {
                var mine = list.Where(r => r.Subject == subject).ToList();
                var down = mine.FirstOrDefault(r => r.Kind == DecisionKinds.HealthChanged && r.Reason.Contains("Unhealthy", StringComparison.Ordinal))?.Time
                           ?? mine.FirstOrDefault(r => r.Kind is DecisionKinds.Proposed or DecisionKinds.Denied)?.Time;
                var back = mine.LastOrDefault(r => r.Kind == DecisionKinds.Verified || r.Kind == DecisionKinds.RolledBack)?.Time;
                if (down is { } from)
                    sb.AppendLine($"* {subject}: {Format.Duration((back ?? now) - from)} from the first sign of trouble ({from:HH:mm:ss}) to " +
                        (back is { } b ? $"its recovery ({b:HH:mm:ss})" : "now (not recovered)") + ".");
            }
            if (s.Kind == "rollout" && list.FirstOrDefault(r => r.Kind == DecisionKinds.RolledBack) is { } rb) sb.AppendLine($"* {Shorten(rb.Reason, 300)}");
            sb.AppendLine();
            sb.AppendLine("## Timeline");
            sb.AppendLine();
            sb.AppendLine("| time (UTC) | subject | what | why |");
            sb.AppendLine("| --- | --- | --- | --- |");
            foreach (var r in list)
                sb.AppendLine($"| {r.Time:HH:mm:ss} | {r.Subject} | {r.Kind}{(r.Action is { } a ? $" {a}" : "")} | {Cell(r.Reason)} |");
            sb.AppendLine();
            sb.AppendLine("## Signals");
            sb.AppendLine();
            var signals = list.Where(r => r.Kind is DecisionKinds.HealthChanged or DecisionKinds.Observed or DecisionKinds.Predicted or DecisionKinds.Frozen).ToList();
            if (signals.Count == 0) sb.AppendLine("None recorded in this incident.");
            foreach (var r in signals) sb.AppendLine($"* {r.Time:HH:mm:ss} {r.Subject}: {r.Reason}");
            sb.AppendLine();
            sb.AppendLine("## Decisions and their reasons");
            sb.AppendLine();
            foreach (var r in list.Where(r => r.Kind is DecisionKinds.Proposed or DecisionKinds.Permitted or DecisionKinds.Executed or DecisionKinds.Escalated
                         or DecisionKinds.Judged or DecisionKinds.Shadowed or DecisionKinds.AwaitingApproval or DecisionKinds.Approved or DecisionKinds.Rejected
                         or DecisionKinds.HandedToHuman or DecisionKinds.Operator))
                sb.AppendLine($"* {r.Time:HH:mm:ss} {r.Subject}, {r.Kind}{(r.PolicyRule is { } rule ? $" ({rule})" : "")}: {r.Reason}");
            sb.AppendLine();
            sb.AppendLine("## Guardrails that engaged");
            sb.AppendLine();
            var engaged = list.Where(r => r.Guardrail is not null).GroupBy(r => r.Guardrail!).ToList();
            if (engaged.Count == 0) sb.AppendLine("None.");
            foreach (var g in engaged) sb.AppendLine($"* {g.Key}: {g.Count()} time(s), first at {g.First().Time:HH:mm:ss}: {Shorten(g.First().Reason, 240)}");
            sb.AppendLine();
            sb.AppendLine("## Outcome");
            sb.AppendLine();
            var verdicts = list.Where(r => r.Kind is DecisionKinds.Verified or DecisionKinds.Failed or DecisionKinds.RolledBack or DecisionKinds.Thawed).ToList();
            if (verdicts.Count == 0) sb.AppendLine($"{s.Outcome}.");
            foreach (var r in verdicts) sb.AppendLine($"* {r.Time:HH:mm:ss} {r.Subject}, {r.Kind}: {r.Reason}");
            sb.AppendLine();
            sb.AppendLine("## Open questions");
            sb.AppendLine();
            var questions = Questions(s, list, now);
            if (questions.Count == 0) sb.AppendLine("None the records raise.");
            foreach (var q in questions) sb.AppendLine($"* {q}");
            return sb.ToString();
        }

        private static List<string> Questions(IncidentSummary s, List<DecisionRecord> list, DateTimeOffset now)
        {
            var q = new List<string>();
            if (list.Any(r => r.Kind == DecisionKinds.HandedToHuman && r.Action == Abstractions.Actions.ActionNames.Human))
                q.Add("No ladder rung healed this symptom: should the ladder have another rung for it, or should the symptom page a person sooner?");
            var failed = list.Where(r => r.Kind == DecisionKinds.Failed && r.Action is not null).GroupBy(r => r.Action!).Where(g => g.Any()).ToList();
            foreach (var g in failed) q.Add($"{g.Key} failed {g.Count()} time(s) here: is it the right remedy for this symptom?");
            var stormDenials = list.Where(r => r.Kind == DecisionKinds.Denied && r.Guardrail == Abstractions.Supervision.Guardrails.StormBrake).ToList();
            if (stormDenials.Count > 0)
            {
                var held = (list.FirstOrDefault(r => r.Kind == DecisionKinds.Thawed)?.Time ?? now) - (list.FirstOrDefault(r => r.Kind == DecisionKinds.Frozen)?.Time ?? stormDenials[0].Time);
                var nodes = stormDenials.Select(r => r.Subject).Distinct().Count();
                q.Add($"The storm brake held for {Format.Duration(held)} while {nodes} node(s) asked for an action: were any of them real failures that waited?");
            }
            if (list.Any(r => r.Kind == DecisionKinds.Denied && r.Guardrail is "max-concurrent-per-domain" or "max-actions-per-window"))
                q.Add("The domain's action budget held actions back: is the budget right for this domain's size?");
            if (list.Any(r => r.Kind == DecisionKinds.Shadowed)) q.Add("Shadow mode recorded what would have been done: would it have helped?");
            if (s.Kind == "rollout" && list.Any(r => r.Kind == DecisionKinds.Judged && r.Outcome == "extended"))
                q.Add("Judgements were inconclusive for lack of traffic: should the canary share or the step duration be larger for this service?");
            if (s.Open) q.Add("The incident is still open: who owns it now?");
            return q;
        }

        private static string Subjects(ImmutableArray<string> subjects) =>
            subjects.Length <= 3 ? string.Join(", ", subjects) : $"{string.Join(", ", subjects.Take(3))} and {subjects.Length - 3} more";

        private static string Shorten(string text, int max = 120) => text.Length <= max ? text : text[..(max - 1)] + "…";

        private static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");
    }
}
