using System.CommandLine;
using Fleet.Core.Policies;
using Fleet.Simulator;

namespace Fleet.Cli;

/// <summary><c>fleet sim</c>: run a scenario against a private in-process silo and print its scorecard.</summary>
internal static class SimCommand
{
    public static Command Build(Option<string> format)
    {
        var sim = new Command("sim", "Drive a virtual fleet through a fault scenario and score how Fleet handled it. e.g. fleet sim run mixed");

        var list = new Command("list", "List the built-in scenarios");
        list.SetAction(_ =>
        {
            foreach (var name in ScenarioLoader.BuiltIn)
            {
                var s = ScenarioLoader.Load(name);
                Console.WriteLine($"{name,-18} {s.Nodes,6} nodes  {Scorecard.Clock(s.Duration),8}  {s.Description}");
            }
            return 0;
        });
        sim.Add(list);

        var scenario = new Argument<string>("scenario") { Description = "A built-in scenario name (fleet sim list) or a scenario YAML file" };
        var nodes = new Option<int?>("--nodes") { Description = "Override the scenario's node count" };
        var domains = new Option<int?>("--domains") { Description = "Override the scenario's failure-domain count" };
        var duration = new Option<string?>("--duration") { Description = "Override the simulated duration (e.g. 30m, 4h)" };
        var interval = new Option<string?>("--report-interval") { Description = "Override the report interval (e.g. 1s)" };
        var realTime = new Option<bool>("--real-time") { Description = "Run on the wall clock instead of simulated time (for scale runs)" };
        var save = new Option<FileInfo?>("--save") { Description = "Also write the scorecard as JSON to this file" };
        var run = new Command("run", "Run a scenario and print its scorecard. e.g. fleet sim run mixed --nodes 200") { scenario, nodes, domains, duration, interval, realTime, save };
        run.SetAction(async (p, ct) =>
        {
            Scenario s;
            try
            {
                s = ScenarioLoader.Load(p.GetValue(scenario)!);
                if (p.GetValue(nodes) is { } n) s = s with { Nodes = n };
                if (p.GetValue(domains) is { } d) s = s with { Domains = d };
                if (p.GetValue(duration) is { } dt) s = s with { Duration = Durations.TryParse(dt, out var v) ? v : throw new ScenarioException([$"--duration: '{dt}' is not a duration"]) };
                if (p.GetValue(interval) is { } it) s = s with { ReportInterval = Durations.TryParse(it, out var v) ? v : throw new ScenarioException([$"--report-interval: '{it}' is not a duration"]) };
                if (s.Nodes < 1 || s.Domains < 1 || s.Domains > s.Nodes) throw new ScenarioException(["--nodes and --domains must be at least 1, with no more domains than nodes"]);
            }
            catch (ScenarioException e)
            {
                Terminal.Error("the scenario is not valid:");
                foreach (var problem in e.Problems) Console.Error.WriteLine($"  {problem}");
                return FleetCommand.Refused;
            }

            var live = !Console.IsErrorRedirected;
            var progress = new Progress<SimProgress>(pr =>
            {
                var line = $"[sim {Scorecard.Clock(pr.Simulated)} / {Scorecard.Clock(pr.Total)}] faults injected {pr.Injected}, healed {pr.Healed}, open {pr.Open}; reports {pr.Reports:N0}";
                if (live) Console.Error.Write("\r" + line.PadRight(100));
                else Console.Error.WriteLine(line);
            });
            Console.Error.WriteLine($"Running '{s.Name}': {s.Nodes} nodes in {s.Domains} domains, {Scorecard.Clock(s.Duration)} {(p.GetValue(realTime) ? "in real time" : "of simulated time")}.");
            var card = await Simulation.RunAsync(s, p.GetValue(realTime), progress, ct);
            if (live) Console.Error.WriteLine();
            if (p.GetValue(save) is { } file) await File.WriteAllTextAsync(file.FullName, card.ToJson(), ct);
            Console.WriteLine(p.GetValue(format) == "json" ? card.ToJson() : card.ToTable());
            return card.GuardrailViolations == 0 ? 0 : FleetCommand.Refused;
        });
        sim.Add(run);
        return sim;
    }
}
