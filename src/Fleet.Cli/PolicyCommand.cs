using System.CommandLine;
using System.Globalization;
using Fleet.Abstractions.Audit;
using Fleet.Abstractions.Nodes;
using Fleet.Client;
using Fleet.Core.Policies;
using Fleet.Core.Validation;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet policy</c>: show, validate, apply and list policies.</summary>
internal static class PolicyCommand
{
    public static Command Build()
    {
        var policy = new Command("policy", "Show, validate and apply the fleet policy. e.g. fleet policy validate my-policy.yaml");
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
        var validate = new Command("validate", "Check a policy file without applying it (works offline). e.g. fleet policy validate my-policy.yaml") { file };
        validate.SetAction(p =>
        {
            if (!TryRead(p.GetValue(file)!, out var yaml)) return Refused;
            var result = PolicyParser.Parse(yaml);
            if (p.GetValue(Output) == "json") Terminal.WriteJson(new { valid = result.IsValid, problems = result.Problems });
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
        var apply = new Command("apply", "Validate and apply a policy file; nothing is applied if any problem is found. e.g. fleet policy apply my-policy.yaml") { applyFile };
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

        var history = new Command("history", "List applied policy versions, newest first. e.g. fleet policy history");
        history.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var versions = await c.GetPolicyHistoryAsync(ct);
            Print(p, versions, () => Terminal.Table(["VERSION", "APPLIED", "BY"], versions.Select(v => new[] { v.Version.ToString(), v.AppliedAt.ToString("u"), v.AppliedBy })));
            return 0;
        }));
        policy.Add(history);

        var diffFile = new Argument<FileInfo>("file") { Description = "A YAML policy document" };
        var diff = new Command("diff", "What applying a policy file would change, field by field (exit 1 if it is not valid). e.g. fleet policy diff my-policy.yaml") { diffFile };
        diff.SetAction((p, ct) => RunAsync(p, async c =>
        {
            if (!TryRead(p.GetValue(diffFile)!, out var text)) return Refused;
            var d = await c.DiffPolicyAsync(text, ct);
            Print(p, d, () =>
            {
                foreach (var problem in d.Problems) Console.WriteLine($"  {problem.Path}{(problem.Line is { } l ? $" (line {l})" : "")}: {problem.Message}");
                if (!d.Problems.IsEmpty) Console.WriteLine($"Not valid: {d.Problems.Length} problem(s); nothing to compare.");
                else if (d.Changes.IsEmpty) Console.WriteLine($"No change against version {d.From}.");
                else
                {
                    Console.WriteLine($"Against version {d.From}, {d.Changes.Length} change(s):");
                    foreach (var line in d.Text) Console.WriteLine($"  {line}");
                }
            });
            return d.Problems.IsEmpty ? 0 : Refused;
        }));
        policy.Add(diff);

        var version = new Argument<int>("version") { Description = "The version to apply again (fleet policy history; 0 is the built-in default)" };
        var rollback = new Command("rollback", "Apply an earlier policy version again, as a new version. e.g. fleet policy rollback 3") { version };
        rollback.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var result = await c.RollbackPolicyAsync(p.GetValue(version), p.GetValue(By)!, ct);
            Print(p, result, () =>
            {
                if (result.Applied) Console.WriteLine($"Rolled back to version {p.GetValue(version)}: applied as version {result.Version}.");
                else foreach (var problem in result.Problems) Console.WriteLine($"Refused: {problem.Path}: {problem.Message}");
            });
            return result.Applied ? 0 : Refused;
        }));
        policy.Add(rollback);
        return policy;
    }
}
