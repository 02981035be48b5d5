using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Silo.Tests;

namespace Fleet.Cluster.Tests;

/// <summary>N real silo processes on one Redis, with a service id of their own so tests sharing a Redis never meet.</summary>
public sealed class ClusterSilos : IAsyncDisposable
{
    public string Redis { get; }
    public string ServiceId { get; } = "t" + Guid.NewGuid().ToString("N")[..10];
    public List<SiloProcess?> Silos { get; } = [];
    private readonly List<(int Http, int Silo, int Gateway)> _ports = [];
    private readonly string[] _extra;

    public ClusterSilos(string redis, params string[] extraArgs)
    {
        Redis = redis;
        _extra = extraArgs;
    }

    private IEnumerable<string> Args(int i) =>
    [
        "--Fleet:Clustering=Redis", "--Fleet:Storage=Redis", "--Fleet:Audit=Redis", "--Fleet:Reminders=Redis",
        $"--Fleet:Redis={Redis}", $"--Fleet:ServiceId={ServiceId}", $"--Fleet:ClusterId={ServiceId}", SiloProcess.AdminKeyArg + AdminKey, $"--Fleet:Auth:ClusterSecret={ClusterSecret}", .. _extra,
    ];

    /// <summary>The admin key every silo of the cluster is given (as a Kubernetes Secret would give it).</summary>
    public string AdminKey { get; } = TestKeys.New();

    /// <summary>The secret every silo of the cluster shares (as a Kubernetes Secret would give it).</summary>
    public string ClusterSecret { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public async Task StartAsync(int count)
    {
        // Distinct ports across every silo of the cluster: the OS may hand a just-freed port out again.
        var taken = new HashSet<int>(_ports.SelectMany(p => new[] { p.Http, p.Silo, p.Gateway }));
        int Next()
        {
            int port;
            while (!taken.Add(port = Repo.FreePort())) { }
            return port;
        }
        for (var i = 0; i < count; i++)
        {
            _ports.Add((Next(), Next(), Next()));
            Silos.Add(null);
        }
        await Task.WhenAll(Enumerable.Range(0, count).Select(StartOneAsync));
    }

    /// <summary>Starts silo i on its own fixed ports (the same ports when it is restarted).</summary>
    public async Task StartOneAsync(int i)
    {
        var (http, silo, gateway) = _ports[i];
        Silos[i] = await SiloProcess.StartAsync(Repo.TempDir($"silo{i}"), Args(i), http, silo, gateway);
    }

    public SiloProcess Any(int? except = null) =>
        Silos.Select((s, i) => (s, i)).First(x => x.s is not null && x.i != except).s!;

    public int IndexOfHost(string hostedOn) =>
        _ports.FindIndex(p => hostedOn.Contains($":{p.Silo}:", StringComparison.Ordinal) || hostedOn.EndsWith($":{p.Silo}", StringComparison.Ordinal));

    /// <summary>
    /// No call between the silos was taken for a client's (the cluster's own calls carry its stamp): no silo logged a refused
    /// gateway call, and the trail holds no gateway refusal.
    /// </summary>
    public async Task AssertNoCallOfTheClusterWasRefusedAsync()
    {
        foreach (var silo in Silos.Where(s => s is not null))
            if (silo!.Log.Split('\n').FirstOrDefault(l => l.Contains("Refused a client's call")) is { } line)
                throw new InvalidOperationException($"a silo refused a call: {line}");
        var refused = await GetAsync(Any(), "/api/v1/audit?subject=gateway&limit=10");
        if (refused.GetProperty("records").GetArrayLength() > 0) throw new InvalidOperationException($"the trail holds gateway refusals: {refused}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in Silos) if (s is not null) await s.DisposeAsync();
    }

    public static async Task<JsonElement> GetAsync(SiloProcess silo, string path) => await silo.Http.GetFromJsonAsync<JsonElement>(path);

    /// <summary>
    /// GET once the silo answers: right after a silo is killed, the survivor may answer 503 ("try again shortly") until the
    /// cluster has declared the dead silo dead and its grains live again elsewhere. Anything but 503 ends the wait.
    /// </summary>
    public static async Task<JsonElement> GetOnceAnsweringAsync(SiloProcess silo, string path, TimeSpan? within = null)
    {
        var until = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            using var response = await silo.Http.GetAsync(path);
            if (response.StatusCode != System.Net.HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > until)
            {
                response.EnsureSuccessStatusCode();
                return await response.Content.ReadFromJsonAsync<JsonElement>();
            }
            await Task.Delay(1000);
        }
    }
}
