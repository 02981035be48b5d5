using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Fleet.Silo.Tests;

/// <summary>Where the built silo and CLI are, and small process helpers.</summary>
public static partial class Repo
{
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    public static string Root { get; } = FindRoot();

    public static string SiloDll => Path.Combine(Root, "silo", "Fleet.Silo", "bin", Configuration, "net10.0", "Fleet.Silo.dll");
    public static string CliDll => Path.Combine(Root, "src", "Fleet.Cli", "bin", Configuration, "net10.0", "fleet.dll");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Fleet.sln"))) return dir.FullName;
        throw new InvalidOperationException("Fleet.sln not found above " + AppContext.BaseDirectory);
    }

    private static readonly HashSet<int> GivenPorts = [];

    /// <summary>
    /// A loopback port nobody listens on right now, and never one this process was given before: the system can hand the
    /// same free port to two asks in a row (seen here: a silo given one port for both its silo and gateway endpoints).
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            using var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            var port = ((IPEndPoint)l.LocalEndpoint).Port;
            lock (GivenPorts)
                if (GivenPorts.Add(port)) return port;
        }
    }

    public static string TempDir(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "fleet-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public const int SigKill = 9, SigTerm = 15, SigStop = 19, SigCont = 18;

    public static void Signal(int pid, int signal)
    {
        if (Kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Runs a command to its end; returns exit code, stdout, stderr.</summary>
    public static async Task<(int Code, string Out, string Err)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A real silo process on loopback ports the test chose, with its own data folder.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    public int HttpPort { get; }
    public int GatewayPort { get; }
    public int SiloPort { get; }
    public string DataDir { get; }
    public HttpClient Http { get; }
    public int Pid => _process.Id;
    public string Log { get { lock (_log) return _log.ToString(); } }
    public string Gateway => $"127.0.0.1:{GatewayPort}";

    private SiloProcess(string dataDir, int httpPort, int siloPort, int gatewayPort, IEnumerable<string> extraArgs)
    {
        DataDir = dataDir;
        HttpPort = httpPort;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var extra = extraArgs.ToList();
        // Every test silo checks credentials, as a real one does: an admin key given by configuration (a fresh one unless the
        // test gives its own, or asks for the first start's generated key with NoAdminKey), the key file in its data folder
        // (never the user's), and rate limits (HTTP's and the gateway's) out of the way unless the test sets them.
        AdminKey = extra.FirstOrDefault(a => a.StartsWith(AdminKeyArg, StringComparison.Ordinal))?[AdminKeyArg.Length..];
        if (extra.Remove(NoAdminKey)) AdminKey = null;
        else if (AdminKey is null && !extra.Contains("--Fleet:Auth:Enabled=false")) extra.Add(AdminKeyArg + (AdminKey = TestKeys.New()));
        KeyFile = Path.Combine(dataDir, "admin.key");
        if (!extra.Any(a => a.StartsWith("--Fleet:Auth:KeyFile=", StringComparison.Ordinal))) extra.Add($"--Fleet:Auth:KeyFile={KeyFile}");
        if (!extra.Any(a => a.StartsWith("--Fleet:Auth:RequestsPerSecond=", StringComparison.Ordinal))) extra.AddRange(["--Fleet:Auth:RequestsPerSecond=1000000", "--Fleet:Auth:Burst=1000000"]);
        if (!extra.Any(a => a.StartsWith("--Fleet:Auth:GatewayRequestsPerSecond=", StringComparison.Ordinal))) extra.AddRange(["--Fleet:Auth:GatewayRequestsPerSecond=1000000", "--Fleet:Auth:GatewayBurst=1000000"]);
        foreach (var a in new[] { Repo.SiloDll, "--urls", $"http://127.0.0.1:{httpPort}", $"--Fleet:DataDir={dataDir}",
                     $"--Fleet:SiloPort={siloPort}", $"--Fleet:GatewayPort={gatewayPort}", "--Logging:LogLevel:Default=Warning" }.Concat(extra))
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        if (AdminKey is not null) Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
    }

    public const string AdminKeyArg = "--Fleet:Auth:AdminKey=";

    /// <summary>Pass as an extra argument to start without a configured admin key (the first start makes one and writes <see cref="KeyFile"/>).</summary>
    public const string NoAdminKey = "no-admin-key";

    /// <summary>The admin key the silo was given (null with <see cref="NoAdminKey"/> or authentication off); <see cref="Http"/> sends it.</summary>
    public string? AdminKey { get; private set; }

    /// <summary>Where the silo writes the admin key it makes at a first start without a configured one.</summary>
    public string KeyFile { get; }

    /// <summary>A client for the same silo sending another credential (null: none).</summary>
    public HttpClient HttpWith(string? key)
    {
        var http = new HttpClient { BaseAddress = Http.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>Makes a key through the API with the admin key (as an admin would) and returns its secret.</summary>
    public async Task<string> MakeKeyAsync(string name, string role, string? node = null)
    {
        using var r = await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(Http, "/api/v1/keys", new { name, role, node });
        var body = await r.Content.ReadAsStringAsync();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"making key {name}: {(int)r.StatusCode} {body}");
        return System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("secret").GetString()!;
    }

    /// <summary>The CLI's arguments to reach this silo with its admin key (or <paramref name="key"/>).</summary>
    public string[] CliArgs(string? key = null) => ["--gateway", Gateway, .. (key ?? AdminKey) is { } k ? new[] { "--key", k } : []];

    /// <summary>Starts a silo and waits until /health answers 200.</summary>
    public static Task<SiloProcess> StartAsync(string? dataDir = null, IEnumerable<string>? extraArgs = null) =>
        StartAsync(dataDir ?? Repo.TempDir("silo"), extraArgs ?? [], Repo.FreePort(), Repo.FreePort(), Repo.FreePort());

    /// <summary>Starts a silo on the given ports and waits until /health answers 200.</summary>
    public static async Task<SiloProcess> StartAsync(string dataDir, IEnumerable<string> extraArgs, int httpPort, int siloPort, int gatewayPort)
    {
        var silo = new SiloProcess(dataDir, httpPort, siloPort, gatewayPort, extraArgs);
        try
        {
            await silo.WaitHealthyAsync();
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
        return silo;
    }

    public bool HasExited => _process.HasExited;

    public async Task WaitHealthyAsync(TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited) throw new InvalidOperationException($"The silo exited with {_process.ExitCode}:\n{Log}");
            try
            {
                using var r = await Http.GetAsync("/health");
                if (r.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        throw new TimeoutException($"The silo did not become healthy:\n{Log}");
    }

    public async Task KillAsync()
    {
        Repo.Signal(_process.Id, Repo.SigKill);
        await _process.WaitForExitAsync();
    }

    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        Repo.Signal(_process.Id, Repo.SigTerm);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { _process.Kill(true); }
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); } catch { /* already gone */ }
        Http.Dispose();
        _process.Dispose();
    }
}

/// <summary>Fleet keys for tests, in the form the silo takes (fk_ + 12 hex digits + _ + 43 base64url characters).</summary>
public static class TestKeys
{
    public static string New() =>
        $"fk_{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6))}_" +
        Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
