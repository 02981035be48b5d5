using System.Diagnostics;
using System.Text;
using Fleet.Silo.Tests;

namespace Fleet.Agent.Tests;

/// <summary>A real fleet-agent process supervising a real HTTP server (python3 -m http.server) on a loopback port.</summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private Process? _process;
    private readonly StringBuilder _log = new();

    public string NodeId { get; }
    public int WebPort { get; } = Repo.FreePort();
    public int ProbePort { get; } = Repo.FreePort();
    public string Dir { get; }
    public string ConfigPath => Path.Combine(Dir, "agent.yaml");
    public string Log { get { lock (_log) return _log.ToString(); } }

    public static string AgentDll => Path.Combine(Repo.Root, "src", "Fleet.Agent", "bin", Repo.Configuration, "net10.0", "fleet-agent.dll");

    public static string Python => new[] { "/usr/bin/python3", "/usr/local/bin/python3" }.FirstOrDefault(File.Exists)
        ?? Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(p => Path.Combine(p, "python3")).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("python3 is not installed; tests/run-tests.sh installs it from Debian");

    public AgentProcess(string nodeId)
    {
        NodeId = nodeId;
        Dir = Repo.TempDir($"agent-{nodeId}");
    }

    /// <summary>
    /// Writes the agent's config; <paramref name="key"/> (its agent key) goes to an owner-only file the config names.
    /// <paramref name="webStartDelay"/>: the web server waits that long before it listens (a service slow to start).
    /// </summary>
    public void WriteConfig(string gateway, string domain, IEnumerable<AgentProcess> peers, string extra = "", string? key = null, TimeSpan? webStartDelay = null,
        string? actionKeyPem = null, string? webUser = null, string? silos = null)
    {
        var web = webStartDelay is { } delay
            ? $"    command: /bin/sh\n    args: [\"-c\", \"sleep {delay.TotalSeconds:0.#}; exec {Python} -m http.server {WebPort} --bind 127.0.0.1\"]"
            : $"    command: {Python}\n    args: [-m, http.server, \"{WebPort}\", --bind, 127.0.0.1]";
        var keyFile = Path.Combine(Dir, "agent.key");
        if (key is not null) File.WriteAllText(keyFile, key + "\n");
        var actionKeyFile = Path.Combine(Dir, "action-key.pem");
        if (actionKeyPem is not null) File.WriteAllText(actionKeyFile, actionKeyPem);
        var peerLines = string.Join("\n", peers.Select(p => $"  - {{ node: {p.NodeId}, address: \"127.0.0.1:{p.ProbePort}\" }}"));
        File.WriteAllText(ConfigPath, $$"""
            node: { id: {{NodeId}}, domain: {{domain}} }
            cluster: { gateways: "{{gateway}}"{{(silos is null ? "" : $", silos: \"{silos}\"")}}{{(key is null ? "" : $", keyFile: {keyFile}")}}{{(actionKeyPem is null ? "" : $", actionKeyFile: {actionKeyFile}")}} }
            reportInterval: 1s
            stateDir: {{Path.Combine(Dir, "state")}}
            probe: { listen: "127.0.0.1:{{ProbePort}}" }
            peers:
            {{(peerLines.Length == 0 ? "  []" : peerLines)}}
            processes:
              - name: web
            {{web}}
                workingDir: {{Dir}}{{(webUser is null ? "" : $"\n    user: {webUser}")}}
            checks:
              - name: web-alive
                process: web
              - name: web-http
                http: { url: "http://127.0.0.1:{{WebPort}}/", timeout: 1s }
            {{extra}}
            """.Replace("peers:\n  []", "peers: []"));
    }

    public void Start()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { AgentDll, "--config", ConfigPath }) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The grain id the agent's observer has (from its log line), once it attached.</summary>
    public string? ObserverId() =>
        Log.Split('\n').Select(l => l.IndexOf("actions reach this agent as ", StringComparison.Ordinal) is var i and >= 0 ? l[(i + 28)..].Trim() : null)
            .LastOrDefault(x => x is not null);

    /// <summary>The pid of the supervised web server, from the agent's pid file.</summary>
    public int? WebPid()
    {
        var file = Path.Combine(Dir, "state", "web.pid");
        return File.Exists(file) && int.TryParse(File.ReadAllText(file), out var pid) && Directory.Exists($"/proc/{pid}") ? pid : null;
    }

    public async Task KillAsync()
    {
        Repo.Signal(_process!.Id, Repo.SigKill);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            Repo.Signal(_process.Id, Repo.SigTerm);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try { await _process.WaitForExitAsync(cts.Token); } catch (OperationCanceledException) { _process.Kill(true); }
        }
        if (WebPid() is { } orphan) try { Repo.Signal(orphan, Repo.SigKill); } catch (InvalidOperationException) { }
        _process?.Dispose();
    }
}
