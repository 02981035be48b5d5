using System.CommandLine;
using Fleet.Abstractions.Services;
using Fleet.Client;
using Fleet.Core.Text;
using static Fleet.Cli.FleetCommand;

namespace Fleet.Cli;

/// <summary><c>fleet services</c>: apply a spec, list, get, scale and delete services.</summary>
internal static class ServicesCommand
{
    public static Command Build()
    {
        var services = new Command("services", "Apply, list, show, scale, delete and roll out services. e.g. fleet services apply api.yaml; fleet services deploy api --version 2.1");

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
        AddRollouts(services);
        return services;
    }

    private static void AddRollouts(Command services)
    {
        var name = new Argument<string>("name") { Description = "Service name" };
        var version = new Option<string>("--version") { Description = "The version to roll out", Required = true };
        var strategy = new Option<string?>("--strategy") { Description = "canary (default: a canary share judged against a fresh baseline, then batches) or rolling (batches only)" };
        var watch = new Option<bool>("--watch") { Description = "Follow the rollout's steps until it is promoted, rolled back or paused" };
        var deploy = new Command("deploy", "Roll out a new version: canary first, each step judged, rolled back by itself on a failed judgement. " +
            "e.g. fleet services deploy api --version 2.1 --watch") { name, version, strategy, watch };
        deploy.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var r = await c.DeployServiceAsync(p.GetValue(name)!, p.GetValue(version)!, p.GetValue(strategy), p.GetValue(By)!, ct);
            Print(p, r, () => Console.WriteLine($"Rollout {r.Id} of {r.Service}: {r.From} → {r.To} ({r.Strategy}): " +
                string.Join(", ", r.Steps.Select(st => $"{st.Name} to {st.Target}")) + "."));
            return p.GetValue(watch) ? await WatchAsync(c, r.Service, r.Id, ct) : 0;
        }));
        services.Add(deploy);

        var rollouts = new Command("rollouts", "A service's rollouts, newest first: steps, judgements with their figures, outcome. e.g. fleet services rollouts api") { name };
        rollouts.SetAction((p, ct) => RunAsync(p, async c =>
        {
            var list = await c.ListRolloutsAsync(p.GetValue(name)!, ct);
            Print(p, list, () =>
            {
                if (list.IsEmpty) Console.WriteLine($"{p.GetValue(name)} has no rollout on record.");
                foreach (var r in list) ShowRollout(r);
            });
            return 0;
        }));
        services.Add(rollouts);

        foreach (var (verb, help, call) in new (string, string, Func<IFleetClient, string, string, string?, CancellationToken, Task<RolloutView>>)[]
        {
            ("rollback", "Roll back the rollout under way, or go back to the version before the last completed one. e.g. fleet services rollback api --reason 'p99 up'",
                (c, n, by, why, ct) => c.RollbackServiceAsync(n, by, why, ct)),
            ("promote", "Pass a paused (or progressing) rollout's current step by hand, or end a promoted version's watch. e.g. fleet services promote api",
                (c, n, by, _, ct) => c.PromoteRolloutAsync(n, by, ct)),
            ("abort", "Stop the rollout under way and roll it back. e.g. fleet services abort api --reason 'wrong build'",
                (c, n, by, why, ct) => c.AbortRolloutAsync(n, by, why, ct)),
            ("resume", "Judge a paused rollout's step again from now. e.g. fleet services resume api",
                (c, n, by, _, ct) => c.ResumeRolloutAsync(n, by, ct)),
        })
        {
            var target = new Argument<string>("name") { Description = "Service name" };
            var command = new Command(verb, help) { target };
            command.SetAction((p, ct) => RunAsync(p, async c =>
            {
                var r = await call(c, p.GetValue(target)!, p.GetValue(By)!, p.GetValue(Reason), ct);
                Print(p, r, () => Console.WriteLine($"Rollout {r.Id} of {r.Service} ({r.From} → {r.To}): {Phase(r)}."));
                return 0;
            }));
            services.Add(command);
        }
    }

    /// <summary>Follows a rollout: one line per change of step or phase and per judgement, until it leaves progressing.</summary>
    private static async Task<int> WatchAsync(IFleetClient c, string service, int id, CancellationToken ct)
    {
        var shown = "";
        var judged = 0;
        while (!ct.IsCancellationRequested)
        {
            var r = (await c.ListRolloutsAsync(service, ct)).FirstOrDefault(x => x.Id == id);
            if (r is null) { Terminal.Error($"rollout {id} of {service} is no longer on record"); return Refused; }
            foreach (var j in r.Judgements.Skip(judged)) Console.WriteLine($"  {j.At:HH:mm:ss} {j.Verdict.ToString().ToLowerInvariant()}: {j.Summary}");
            judged = r.Judgements.Length;
            var step = r.Step < r.Steps.Length ? r.Steps[r.Step] : null;
            var line = $"{Phase(r)}" + (r.Phase == RolloutPhase.Progressing && step is not null
                ? $": {step.Name} ({r.CandidateInstances} of {step.Target} instance(s) on {r.To}{(step.ReadyAt is { } ready ? $", ready at {ready:HH:mm:ss}, judging" : ", starting")})"
                : "");
            if (line != shown) Console.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss} {line}");
            shown = line;
            switch (r.Phase)
            {
                case RolloutPhase.Watching or RolloutPhase.Completed:
                    Console.WriteLine($"{r.To} is promoted" + (r.WatchUntil is { } until && r.Phase == RolloutPhase.Watching ? $"; it is watched until {until:u} (fleet services rollouts {service})." : "."));
                    return 0;
                case RolloutPhase.RolledBack:
                    Console.WriteLine($"Rolled back to {r.From}.");
                    return Refused;
                case RolloutPhase.Paused:
                    Console.WriteLine($"Paused for a person: {r.PausedReason}. Decide with fleet services promote|resume|abort {service}.");
                    return Refused;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
        return Refused;
    }

    private static string Phase(RolloutView r) => r.Phase switch
    {
        RolloutPhase.Progressing => $"progressing, step {r.Step + 1} of {r.Steps.Length}",
        RolloutPhase.Paused => "paused",
        RolloutPhase.Watching => $"promoted, watched until {r.WatchUntil:u}",
        RolloutPhase.Completed => "completed",
        RolloutPhase.RollingBack => $"rolling back to {r.From}",
        _ => $"rolled back to {r.From}",
    };

    private static void ShowRollout(RolloutView r)
    {
        Console.WriteLine($"Rollout {r.Id}  {r.From} → {r.To}  ({r.Strategy}, started {r.StartedAt:u} by {r.StartedBy}): {Phase(r)}" + (r.Outcome is { } o ? $" [{o}]" : ""));
        if (r.PausedReason is { } paused) Console.WriteLine($"  paused: {paused}");
        if (!r.Steps.IsEmpty)
            Terminal.Table(["STEP", "TARGET", "STARTED", "READY", "ENDED", "OUTCOME"], r.Steps.Select(st => new[]
            {
                st.Name, st.Target.ToString(), st.StartedAt?.ToString("HH:mm:ss") ?? "-", st.ReadyAt?.ToString("HH:mm:ss") ?? "-", st.EndedAt?.ToString("HH:mm:ss") ?? "-", st.Outcome ?? "",
            }));
        foreach (var j in r.Judgements) Console.WriteLine($"  {j.At:u} {j.Verdict.ToString().ToLowerInvariant()}: {j.Summary}");
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
        if (s.Rollout is { } r) Console.WriteLine($"Rollout   {r.Id}: {r.From} → {r.To}, {Phase(r)} ({r.CandidateInstances} on {r.To}, {r.StableInstances} on {r.From})");
    }
}
