using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fleet.Agent.Tests;
using Fleet.Silo.Tests;

namespace Fleet.Benchmarks;

/// <summary>
/// Crash → restart of a supervised process: Fleet (agent reports every 1 s, the silo decides, the agent restarts) beside
/// Debian's supervisord restarting the same process, in the same run.
/// </summary>
internal static class AgentBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        var crashes = Math.Max(20, o.Kills * 2);
        Console.WriteLine($"# agent: {crashes} SIGKILLs of a supervised python3 http.server, 1 s reports");
        var rows = new List<string>();
        var figures = new Dictionary<string, double> { ["processCrashes"] = crashes };
        foreach (var failedReports in new[] { 1, 2 })
        {
            var samples = await FleetAsync(crashes, failedReports);
            rows.Add(Row($"Fleet (agent + silo), Unhealthy after {failedReports} failing report(s)", samples));
            Console.WriteLine(rows[^1]);
            BenchOptions.AddRun(figures, failedReports == 1 ? "1FailedReport" : $"{failedReports}FailedReports", Figures("fleetRestart", samples));
        }
        var supervisord = await SupervisordAsync(crashes);
        if (supervisord is not null)
        {
            rows.Add(Row("supervisord (autorestart=true)", supervisord));
            Console.WriteLine(rows[^1]);
            foreach (var (name, value) in Figures("supervisordRestart", supervisord)) figures[name] = value;
        }
        Console.WriteLine();
        Console.WriteLine("| restarter | crashes | p50 ms | p95 ms | max ms |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var r in rows) Console.WriteLine(r);
        o.WriteJson(figures);
    }

    private static string Row(string who, List<double> ms) =>
        $"| {who} | {ms.Count} | {Stats.Percentile(ms, 50):0} | {Stats.Percentile(ms, 95):0} | {ms.Max():0} |";

    /// <summary>A row's figures by name: <paramref name="who"/> followed by P50Ms, P95Ms, MaxMs.</summary>
    private static Dictionary<string, double> Figures(string who, List<double> ms) => new()
    {
        [$"{who}P50Ms"] = Stats.Percentile(ms, 50), [$"{who}P95Ms"] = Stats.Percentile(ms, 95), [$"{who}MaxMs"] = ms.Max(),
    };

    private static async Task<List<double>> FleetAsync(int crashes, int failedReports)
    {
        await using var silo = await SiloProcess.StartAsync(extraArgs: ["--Fleet:Actuator:Kind=Agent", "--Fleet:Actuator:RetryDelay=00:00:00.200"]);
        var policy = $"""
            telemetry:
              reportInterval: 1s
            health:
              unhealthyAfterFailedReports: {failedReports}
              recoverAfterReports: 1
            remediation:
              cooldown: 0s
              probation: 0s
              flapWindow: 0s
            guardrails:
              maxActionsPerWindow: 100000
            """;
        (await silo.Http.PutAsync("/api/v1/policy?by=bench", new StringContent(policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
        await using var agent = new AgentProcess("bench-host");
        agent.WriteConfig(silo.Gateway, "rack-1", [], key: silo.AdminKey);
        agent.Start();
        await UntilAsync(async () => await HealthAsync(silo) == "Healthy", TimeSpan.FromSeconds(60));

        var samples = new List<double>();
        for (var i = 0; i < crashes; i++)
        {
            var pid = agent.WebPid() ?? throw new InvalidOperationException("no web process");
            var sw = Stopwatch.StartNew();
            Repo.Signal(pid, Repo.SigKill);
            while (agent.WebPid() is not { } p || p == pid)
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("no restart within 60 s");
                await Task.Delay(5);
            }
            samples.Add(sw.Elapsed.TotalMilliseconds);
            await UntilAsync(async () => await HealthAsync(silo) == "Healthy", TimeSpan.FromSeconds(60));
            await Task.Delay(300);
        }
        return samples;
    }

    private static async Task<string?> HealthAsync(SiloProcess silo)
    {
        using var r = await silo.Http.GetAsync("/api/v1/nodes/bench-host");
        if (!r.IsSuccessStatusCode) return null;
        var s = await r.Content.ReadFromJsonAsync<JsonElement>();
        return s.TryGetProperty("remediation", out _) ? "busy" : s.GetProperty("health").GetString();
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.Elapsed > timeout) throw new TimeoutException("condition not met");
            await Task.Delay(50);
        }
    }

    private static async Task<List<double>?> SupervisordAsync(int crashes)
    {
        if (!File.Exists("/usr/bin/supervisord"))
        {
            Console.Error.WriteLine("  supervisord not installed (apt-get install supervisor); its row is left out");
            return null;
        }
        var dir = Repo.TempDir("supervisord");
        var port = Repo.FreePort();
        var conf = Path.Combine(dir, "supervisord.conf");
        await File.WriteAllTextAsync(conf, $"""
            [supervisord]
            nodaemon=true
            logfile={dir}/supervisord.log
            pidfile={dir}/supervisord.pid
            [program:web]
            command={AgentProcess.Python} -m http.server {port} --bind 127.0.0.1
            directory={dir}
            autorestart=true
            startsecs=0
            """);
        var psi = new ProcessStartInfo("/usr/bin/supervisord", ["-c", conf]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var sup = Process.Start(psi)!;
        sup.OutputDataReceived += (_, _) => { };
        sup.ErrorDataReceived += (_, _) => { };
        sup.BeginOutputReadLine();
        sup.BeginErrorReadLine();
        try
        {
            var samples = new List<double>();
            await UntilAsync(() => Task.FromResult(FindPid(port) is not null), TimeSpan.FromSeconds(20));
            for (var i = 0; i < crashes; i++)
            {
                var pid = FindPid(port)!.Value;
                var sw = Stopwatch.StartNew();
                Repo.Signal(pid, Repo.SigKill);
                while (FindPid(port) is not { } p || p == pid)
                {
                    if (sw.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("supervisord did not restart it");
                    await Task.Delay(5);
                }
                samples.Add(sw.Elapsed.TotalMilliseconds);
                await Task.Delay(1200);
            }
            return samples;
        }
        finally
        {
            Repo.Signal(sup.Id, Repo.SigTerm);
            await sup.WaitForExitAsync();
        }
    }

    /// <summary>The pid of the live http.server on this port, from /proc.</summary>
    private static int? FindPid(int port)
    {
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var pid)) continue;
            try
            {
                var cmd = File.ReadAllText(Path.Combine(d, "cmdline"));
                if (cmd.Contains("http.server") && cmd.Contains(port.ToString()) && !File.ReadAllText(Path.Combine(d, "stat")).Contains(") Z ")) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return null;
    }
}
