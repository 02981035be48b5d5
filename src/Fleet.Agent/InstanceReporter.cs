using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Abstractions.Services;
using Fleet.Client;

namespace Fleet.Agent;

/// <summary>
/// Reads the figures of the service instances on this host from the local endpoint the config names
/// (<c>instances.url</c>) and reports them, every <c>instances.every</c>: what a rollout is judged on and what
/// autoscaling follows. A read or a report that fails is logged once until it works again; nothing is buffered (an old
/// figure is worth little to a judgement).
/// </summary>
public sealed partial class InstanceReporter(AgentConfig config, IServiceProvider services, ILogger<InstanceReporter> log) : BackgroundService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private bool _failing;

    /// <summary>One instance as the local endpoint describes it.</summary>
    private sealed record Figures(string? Service, string? Instance, string? Version, double? Requests, double? Errors, double? LatencyP50Ms, double? LatencyP99Ms,
        long? MemoryBytes, bool? Healthy, double? CpuPercent);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (config.Instances is not { } section) return;
        using var http = new HttpClient { Timeout = section.ReadTimeout };
        using var timer = new PeriodicTimer(section.Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var client = services.GetService<IFleetClient>();
                if (client is null) continue;
                var figures = await http.GetFromJsonAsync<List<Figures?>>(section.Url, Json, stoppingToken) ?? [];
                var now = DateTimeOffset.UtcNow;
                var reports = figures.OfType<Figures>().Where(x => x.Service is not null && x.Instance is not null)
                    .Select(x => new InstanceReport(x.Service!, x.Instance!, x.Version ?? "unknown", x.Requests ?? 0, x.Errors ?? 0, x.LatencyP50Ms ?? 0, x.LatencyP99Ms ?? 0,
                        x.MemoryBytes ?? 0, x.Healthy ?? true, x.CpuPercent, now)
                    {
                        // Ordered by the agent's clock (it survives the agent's restarts); silent after three intervals without one.
                        Sequence = now.ToUnixTimeMilliseconds(), Ttl = TimeSpan.FromSeconds(Math.Clamp(3 * section.Interval.TotalSeconds, 1, 3600)),
                    })
                    .ToList();
                if (reports.Count > 0) await client.ReportInstancesAsync(reports, stoppingToken);
                if (_failing) LogRecovered(log, section.Url, reports.Count);
                _failing = false;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                if (!_failing) LogFailed(log, section.Url, e.Message.Split('\n')[0]);
                _failing = true;
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Could not read or report the instances' figures from {Url}: {Error}; trying again each interval")]
    private static partial void LogFailed(ILogger logger, string url, string error);

    [LoggerMessage(LogLevel.Information, "The instances' figures from {Url} are reported again ({Count} instance(s))")]
    private static partial void LogRecovered(ILogger logger, string url, int count);
}
