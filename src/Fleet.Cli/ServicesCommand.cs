using System.CommandLine;
using Fleet.Abstractions.Services;
using Fleet.Core.Text;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet services</c>: apply a spec, list, get, scale and delete services.</summary>
internal static class ServicesCommand
{
    public static Command Build()
    {
        var services = new Command("services", "Apply, list, show, scale and delete services. e.g. fleet services apply api.yaml; fleet services get api");

        var file = new Argument<FileInfo>("file") { Description = "A service spec, YAML or JSON (docs/services.md)" };
        var apply = new Command("apply", "Apply a service spec; nothing is applied if any problem is found. e.g. fleet services apply api.yaml") { file };
        apply.SetAction((p, ct) =>
        {
            if (!TryRead(p.GetValue(file)!, out var text)) return Task.FromResult(Refused);
            return RunAsync(p, async c =>
            {
                var result = await c.ApplyServiceAsync(text, p.GetValue(By)!, null, ct);
                Print(p, result, () =>
                {
                    if (result.Applied) Console.WriteLine($"Applied service {result.Status!.Name} (generation {result.Status.Generation}): {result.Status.DesiredReplicas} replica(s) wanted.");
                    else
                    {
                        Console.WriteLine($"Refused: {result.Problems.Length} problem(s); nothing was applied.");
                        foreach (var problem in result.Problems) Console.WriteLine($"  {problem}");
                    }
                });
                return result.Applied ? 0 : Refused;
            });
        });
        services.Add(apply);

        var list = new Command("list", "List services");
        list.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var rows = await c.ListServicesAsync(ct);
            Print(p, rows, () =>
            {
                Terminal.Table(["SERVICE", "VERSION", "DESIRED", "RUNNING", "PENDING", "AUTOSCALING"],
                    rows.Select(r => new[] { r.Name, r.Version, r.Desired.ToString(), r.Running.ToString(), r.Pending.ToString(), r.AutoscalePaused ? "paused" : "" }));
                Console.WriteLine($"{rows.Length} service(s)");
            });
            return 0;
        }));
        services.Add(list);

        var name = new Argument<string>("name") { Description = "Service name" };
        var get = new Command("get", "Show one service: spec, instances (node, version, state, health)") { name };
        get.Aliases.Add("show");
        get.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.GetServiceAsync(p.GetValue(name)!, ct);
            if (s is null) { Terminal.Error($"service '{p.GetValue(name)}' is not known"); return Refused; }
            Print(p, s, () => Show(s));
            return 0;
        }));
        services.Add(get);

        var scaleName = new Argument<string>("name") { Description = "Service name" };
        var replicas = new Argument<int>("replicas") { Description = "Replicas wanted (0 to 10000)" };
        var scale = new Command("scale", "Set the replicas by hand (pauses autoscaling until the spec turns it on again). e.g. fleet services scale api 5") { scaleName, replicas };
        scale.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.ScaleServiceAsync(p.GetValue(scaleName)!, p.GetValue(replicas), p.GetValue(By)!, ct);
            Print(p, s, () => Console.WriteLine($"{s.Name}: {s.DesiredReplicas} replica(s) wanted, {s.Running} running" + (s.AutoscalePaused ? "; autoscaling paused" : "")));
            return 0;
        }));
        services.Add(scale);

        var deleteName = new Argument<string>("name") { Description = "Service name" };
        var delete = new Command("delete", "Stop every instance of a service and forget it. e.g. fleet services delete api") { deleteName };
        delete.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var s = await c.DeleteServiceAsync(p.GetValue(deleteName)!, p.GetValue(By)!, ct);
            Print(p, s, () => Console.WriteLine(s is null ? $"{p.GetValue(deleteName)}: deleted." : $"{s.Name}: deleting, {s.Instances.Length} instance(s) still stopping."));
            return 0;
        }));
        services.Add(delete);
        return services;
    }

    private static void Show(ServiceStatus s)
    {
        var spec = s.Spec;
        Console.WriteLine($"Service   {s.Name}  (generation {s.Generation}, applied by {s.AppliedBy} at {s.AppliedAt:u})" + (s.Deleting ? "  [DELETING]" : ""));
        Console.WriteLine($"Replicas  {s.DesiredReplicas} wanted, {s.Running} running, {s.Up} up; budget {spec.Budget.Describe()} (at least {s.MinHealthy} up)");
        Console.WriteLine($"Each      {Format.Num(spec.Resources.CpuCores)} cores, {Format.Bytes(spec.Resources.MemoryBytes)}; version {spec.Version}" +
            (spec.Placement.Spread ? "; spread across domains" : "") +
            (spec.Placement.Labels.IsEmpty ? "" : $"; labels {string.Join(", ", spec.Placement.Labels.Select(kv => $"{kv.Key}={kv.Value}"))}"));
        if (spec.Scaling is { } sc)
            Console.WriteLine($"Scaling   {(sc.Enabled ? s.AutoscalePaused ? "paused (scaled by hand)" : "on" : "off")}: {sc.Min}–{sc.Max} on {Format.Camel(sc.Metric.ToString())}, target {Format.Num(sc.Target)} ± {Format.Percent(sc.Tolerance * 100)}" +
                (s.LastScale is { } last ? $"; last step {last}" : ""));
        Terminal.Table(["INSTANCE", "NODE", "DOMAIN", "VERSION", "STATE", "HEALTH", "SINCE", "NOTE"],
            s.Instances.Select(i => new[]
            {
                i.Id, i.Node ?? "-", i.Domain ?? "-", i.Version, i.State.ToString() + (i.Moving ? " (moving)" : ""),
                i.Healthy switch { true => "healthy", false => "unhealthy", _ => "-" }, i.Since.ToString("u"), i.Reason ?? "",
            }));
    }
}
