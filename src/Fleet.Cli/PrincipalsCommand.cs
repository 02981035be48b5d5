using System.CommandLine;
using Fleet.Abstractions.Principals;
using Fleet.Core.Text;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet principals</c>: accounts judged against their own history, and the release of a containment.</summary>
internal static class PrincipalsCommand
{
    public static Command Build()
    {
        var principals = new Command("principals", "Accounts and service identities: their standing, and releasing a containment. e.g. fleet principals list");

        var list = new Command("list", "List principals: phase, reports in the baseline, last report. e.g. fleet principals list");
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var rows = await c.ListPrincipalsAsync(ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["PRINCIPAL", "PHASE", "SINCE", "REPORTS", "LAST REPORT", "NOTE"], rows.Select(r => new[]
                {
                    r.Id, r.Phase.ToString(), r.Since?.ToString("u") ?? "", r.Samples.ToString(), r.LastReportAt?.ToString("u") ?? "", r.Note ?? "",
                }));
                Console.WriteLine($"{rows.Length} principal(s), {rows.Count(r => r.Phase != PrincipalPhase.Normal)} contained");
            });
            return 0;
        }));
        principals.Add(list);

        var id = new Argument<string>("id") { Description = "Principal id (e.g. svc-backup@corp)" };
        var get = new Command("get", "Show one principal: phase, the evidence, its baseline. e.g. fleet principals get svc-backup@corp") { id };
        get.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (await c.GetPrincipalAsync(p.GetValue(id)!, ct) is not { } s)
            {
                Terminal.Error($"principal '{p.GetValue(id)}' has never reported");
                return Refused;
            }
            Print(p, s, () =>
            {
                Console.WriteLine($"Principal {s.Id}{(s.ApprovalRequired ? "  [approval required]" : "")}");
                Console.WriteLine($"Phase     {s.Phase}" + (s.Since is { } since ? $" since {since:u}" : "") + (s.Action is { } a && s.Phase != PrincipalPhase.Normal ? $" ({a})" : ""));
                if (s.Evidence is { } e) Console.WriteLine($"Evidence  {e}");
                if (s.Note is { } n) Console.WriteLine($"Note      {n}");
                foreach (var b in s.Baseline)
                    Console.WriteLine($"Baseline  {b.Metric}: median {Format.Num(Math.Round(b.Median, 1))} ± {Format.Num(Math.Round(b.Mad, 1))} (MAD) over {b.Samples} reports");
            });
            return 0;
        }));
        principals.Add(get);

        var target = new Argument<string>("id") { Description = "Principal id" };
        var release = new Command("release", "Lift a containment (needs --reason). e.g. fleet principals release svc-backup@corp --reason \"false alarm: migration\"") { target };
        release.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (string.IsNullOrWhiteSpace(p.GetValue(Reason)))
            {
                Terminal.Error("--reason is required: say why the containment is lifted");
                return Refused;
            }
            var s = await c.ReleasePrincipalAsync(p.GetValue(target)!, p.GetValue(By)!, p.GetValue(Reason)!, ct);
            Print(p, s, () => Console.WriteLine($"{s.Id}: {s.Phase}"));
            return 0;
        }));
        principals.Add(release);
        return principals;
    }
}
