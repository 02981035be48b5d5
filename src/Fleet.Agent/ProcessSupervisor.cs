using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Fleet.Agent;

/// <summary>
/// Starts the processes the config names and carries out start/stop/restart on them when the cluster asks. It does not
/// restart a process on its own: a death shows in the process check, and the cluster decides (with its guardrails).
/// Pid files under stateDir let a restarted agent stop what its previous run left behind before it starts afresh.
/// </summary>
public sealed partial class ProcessSupervisor(AgentConfig config, ILogger<ProcessSupervisor> log) : IDisposable
{
    private readonly ConcurrentDictionary<string, Process> _running = new();
    private readonly ConcurrentDictionary<string, int?> _lastExit = new();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public void StartAll()
    {
        Directory.CreateDirectory(config.StateDir);
        foreach (var p in config.Processes)
        {
            StopLeftover(p);
            Start(p.Name);
        }
    }

    public bool IsRunning(string name, out string detail)
    {
        if (_running.TryGetValue(name, out var p) && !p.HasExited) { detail = $"pid {p.Id}"; return true; }
        detail = _lastExit.TryGetValue(name, out var code) && code is { } c ? $"not running (exited with code {c})" : "not running";
        return false;
    }

    public int? Pid(string name) => _running.TryGetValue(name, out var p) && !p.HasExited ? p.Id : null;

    public string Start(string name)
    {
        var spec = config.Processes.Single(p => p.Name == name);
        if (_running.TryGetValue(name, out var existing) && !existing.HasExited) return $"{name} already runs (pid {existing.Id})";
        var psi = new ProcessStartInfo(spec.Command) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in spec.Args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in spec.Env) psi.Environment[k] = v;
        if (spec.WorkingDir is { } wd) psi.WorkingDirectory = wd;
        if (spec.User is { } user) psi.UserName = user;
        AgentEnvironment.Scrub(psi);
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"{spec.Command} did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => { try { _lastExit[name] = process.ExitCode; } catch (InvalidOperationException) { } };
        _running[name] = process;
        File.WriteAllText(PidFile(name), process.Id.ToString());
        LogStarted(log, name, process.Id);
        return $"started {name} (pid {process.Id})";
    }

    public async Task<string> StopAsync(string name)
    {
        if (!_running.TryGetValue(name, out var p) || p.HasExited) return $"{name} was not running";
        var pid = p.Id;
        Kill(pid, 15); // SIGTERM, and SIGCONT so a stopped (hung) process can act on it
        Kill(pid, 18);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(true); await p.WaitForExitAsync(); }
        File.Delete(PidFile(name));
        LogStopped(log, name, pid);
        return $"stopped {name} (pid {pid})";
    }

    public async Task<string> RestartAsync(string name)
    {
        var stopped = await StopAsync(name);
        return $"{stopped}; {Start(name)}";
    }

    private string PidFile(string name) => Path.Combine(config.StateDir, $"{name}.pid");

    private void StopLeftover(AgentConfig.ProcessSection spec)
    {
        var file = PidFile(spec.Name);
        if (!File.Exists(file) || !int.TryParse(File.ReadAllText(file), out var pid)) return;
        var cmdline = Path.Combine(config.ProcRoot, pid.ToString(), "cmdline");
        if (File.Exists(cmdline) && File.ReadAllText(cmdline).Contains(Path.GetFileName(spec.Command), StringComparison.Ordinal))
        {
            Kill(pid, 9);
            LogLeftover(log, spec.Name, pid);
            for (var i = 0; i < 50 && File.Exists(cmdline); i++) Thread.Sleep(20);
        }
        File.Delete(file);
    }

    public async Task StopAllAsync()
    {
        foreach (var name in _running.Keys) await StopAsync(name);
    }

    public void Dispose()
    {
        foreach (var p in _running.Values) p.Dispose();
    }

    [LoggerMessage(LogLevel.Information, "Started process {Name} (pid {Pid})")]
    private static partial void LogStarted(ILogger logger, string name, int pid);

    [LoggerMessage(LogLevel.Information, "Stopped process {Name} (pid {Pid})")]
    private static partial void LogStopped(ILogger logger, string name, int pid);

    [LoggerMessage(LogLevel.Warning, "Stopped process {Name} (pid {Pid}) left behind by an earlier run of the agent")]
    private static partial void LogLeftover(ILogger logger, string name, int pid);
}
