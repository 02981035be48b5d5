using System.Diagnostics;
using Fleet.Silo.Tests;

namespace Fleet.Cluster.Tests;

/// <summary>A private redis-server on a loopback port, AOF on, that a test may stop and start again on the same data.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;
    public int Port { get; } = Repo.FreePort();
    public string Dir { get; } = Repo.TempDir("redis");
    public string Connection => $"127.0.0.1:{Port}";

    public static string Binary => new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("redis-server is not installed; tests/run-tests.sh installs it from Debian");

    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", Dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "" })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var c = new System.Net.Sockets.TcpClient();
                await c.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (System.Net.Sockets.SocketException) { await Task.Delay(50); }
        }
        throw new TimeoutException("redis-server did not start");
    }

    /// <summary>SIGTERM: Redis flushes its AOF and exits.</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited) return;
        Repo.Signal(_process.Id, Repo.SigTerm);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false }) { _process.Kill(); await _process.WaitForExitAsync(); }
        _process?.Dispose();
    }
}
