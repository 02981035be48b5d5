using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Fleet.Silo.Tests;

/// <summary>
/// Telemetry from what teams already run, with the real programs from Debian: Prometheus scraping node_exporter and
/// remote-writing to the silo, Alertmanager sending its webhook, and the OpenTelemetry .NET SDK's OTLP exporter.
/// </summary>
public class IntakeTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    private const string Policy = """
        telemetry:
          reportInterval: 1s
          allowedMisses: 3
          maxTtl: 5s
        health:
          unhealthyAfterFailedReports: 2
        intake:
          checks: ["up == 1"]
        """;

    private static string Program(string name) =>
        new[] { $"/usr/bin/{name}", $"/usr/local/bin/{name}" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is not installed; tests/run-tests.sh installs it from Debian");

    private static Process Start(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task StopAsync(Process p)
    {
        if (!p.HasExited) p.Kill(true);
        await p.WaitForExitAsync();
        p.Dispose();
    }

    private async Task UsePolicyAsync()
    {
        (await f.Http.PutAsync("/api/v1/policy?by=intake-test", new StringContent(Policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
        await Task.Delay(TimeSpan.FromSeconds(6)); // the silo's policy cache takes up to 5 s to see a new version
    }

    private async Task<JsonElement?> NodeAsync(string id)
    {
        using var r = await f.Http.GetAsync($"/api/v1/nodes/{id}");
        return r.StatusCode == HttpStatusCode.NotFound ? null : await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan within, string what) where T : struct
    {
        var until = DateTime.UtcNow + within;
        while (DateTime.UtcNow < until)
        {
            if (await probe() is { } found) return found;
            await Task.Delay(250);
        }
        throw new Xunit.Sdk.XunitException($"not within {within.TotalSeconds} s: {what}");
    }

    [Fact]
    public async Task Prometheus_RemoteWritesNodeExporter_TheNodeAppearsWithRealFigures_AndGoesSuspectWhenTheExporterStops()
    {
        await UsePolicyAsync();
        var key = await f.KeyAsync("prometheus-intake", "ingest");
        var dir = Repo.TempDir("remote-write");
        int exporterPort = Repo.FreePort(), prometheusPort = Repo.FreePort();
        var exporter = Start(Program("prometheus-node-exporter"), $"--web.listen-address=127.0.0.1:{exporterPort}",
            "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo", "--collector.filesystem");
        var config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: node
                static_configs:
                  - targets: ["127.0.0.1:{exporterPort}"]
                    labels: {"{"}node: prom-node-1, domain: rack-prom{"}"}
            remote_write:
              - url: http://127.0.0.1:{f.Silo.HttpPort}/api/v1/write
                authorization:
                  credentials: "{key}"
                queue_config:
                  batch_send_deadline: 500ms
                  min_backoff: 100ms
                  max_backoff: 1s
                metadata_config:
                  send: false
            """);
        var prometheus = Start(Program("prometheus"), $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}",
            $"--web.listen-address=127.0.0.1:{prometheusPort}");
        try
        {
            // The node registers itself from its own figures and reports them.
            var node = await EventuallyAsync(async () => await NodeAsync("prom-node-1") is { } n && n.GetProperty("lastReport").ValueKind == JsonValueKind.Object
                && n.GetProperty("lastReport").GetProperty("cpuPercent").GetDouble() > 0 ? n : (JsonElement?)null, TimeSpan.FromSeconds(60), "prom-node-1 reported with a CPU figure");
            var memTotal = long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
            var report = node.GetProperty("lastReport");
            Assert.Equal(memTotal, report.GetProperty("memoryTotalBytes").GetInt64());
            Assert.InRange(report.GetProperty("memoryUsedBytes").GetInt64(), 1, memTotal);
            Assert.InRange(report.GetProperty("cpuPercent").GetDouble(), 0.0001, 100);
            Assert.Equal("intake", report.GetProperty("source").GetString());
            Assert.Equal("rack-prom", node.GetProperty("domain").GetString());
            var cpus = File.ReadLines("/proc/stat").Count(l => l.Length > 3 && l.StartsWith("cpu") && char.IsDigit(l[3]));
            Assert.Equal(cpus, node.GetProperty("capacity").GetProperty("cpuCores").GetDouble());
            Assert.Equal(memTotal, node.GetProperty("capacity").GetProperty("memoryBytes").GetInt64());
            await EventuallyAsync(async () => (await NodeAsync("prom-node-1"))?.GetProperty("health").GetString() == "Healthy" ? true : (bool?)null,
                TimeSpan.FromSeconds(30), "prom-node-1 Healthy while its exporter runs");

            // The exporter stops (a real signal): Prometheus writes up 0 and staleness markers; the node's reports stop.
            exporter.Kill(true);
            await exporter.WaitForExitAsync();
            await EventuallyAsync(async () => (await NodeAsync("prom-node-1"))?.GetProperty("health").GetString() is "Suspect" ? true : (bool?)null,
                TimeSpan.FromSeconds(30), "prom-node-1 Suspect once its exporter is gone");
            var conditions = (await NodeAsync("prom-node-1"))!.Value.GetProperty("conditions").EnumerateArray().Select(c => c.GetProperty("type").GetString()).ToList();
            Assert.Contains(conditions, t => t is "Silent" or "Stale");
            for (var i = 0; i < 12; i++)
            {
                Assert.NotEqual("Healthy", (await NodeAsync("prom-node-1"))!.Value.GetProperty("health").GetString());
                await Task.Delay(500);
            }
        }
        finally
        {
            await StopAsync(prometheus);
            await StopAsync(exporter);
        }
    }

    [Fact]
    public async Task Alertmanager_AFiringAlertBecomesACondition_ACaseRunsUnderALease_AndTheResolvedAlertClearsIt()
    {
        await UsePolicyAsync();
        var key = await f.KeyAsync("alertmanager-intake", "ingest");
        await f.RegisterAsync("am-node", "rack-am");
        using var reporting = new CancellationTokenSource();
        long seq = 0;
        var reporter = Task.Run(async () =>
        {
            while (!reporting.IsCancellationRequested)
            {
                try { await f.ReportAsync("am-node", Interlocked.Increment(ref seq)); } catch (HttpRequestException) { }
                await Task.Delay(300);
            }
        });
        var dir = Repo.TempDir("alertmanager");
        var port = Repo.FreePort();
        var config = Path.Combine(dir, "alertmanager.yml");
        await File.WriteAllTextAsync(config, $"""
            route:
              receiver: fleet
              group_by: [alertname, node]
              group_wait: 0s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: fleet
                webhook_configs:
                  - url: http://127.0.0.1:{f.Silo.HttpPort}/api/v1/alerts/alertmanager
                    send_resolved: true
                    http_config:
                      authorization:
                        credentials: "{key}"
            """);
        var alertmanager = Start(Program("prometheus-alertmanager"), $"--config.file={config}", $"--storage.path={Path.Combine(dir, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=");
        using var am = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        async Task PostAlertAsync(DateTimeOffset? endsAt)
        {
            var alert = new Dictionary<string, object>
            {
                ["labels"] = new { alertname = "DiskLatencyHigh", node = "am-node", severity = "page" },
                ["annotations"] = new { summary = "disk latency 900 ms on /var" },
                ["startsAt"] = DateTimeOffset.UtcNow.AddMinutes(-1),
            };
            if (endsAt is { } e) alert["endsAt"] = e;
            var until = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    (await am.PostAsJsonAsync("/api/v2/alerts", new[] { alert })).EnsureSuccessStatusCode();
                    return;
                }
                catch (HttpRequestException) when (DateTime.UtcNow < until) { await Task.Delay(300); } // Alertmanager still starting
            }
        }
        try
        {
            await PostAlertAsync(null);
            bool Names(JsonElement node) => node.GetProperty("conditions").EnumerateArray().Any(c => c.GetProperty("reason").GetString()!.Contains("DiskLatencyHigh"));
            await EventuallyAsync(async () => await NodeAsync("am-node") is { } n && Names(n) ? true : (bool?)null, TimeSpan.FromSeconds(30),
                "am-node shows the alert as a condition");

            // The alert counts as a failed check in each report: Unhealthy after the policy's streak, then a case under a lease.
            var permitted = await EventuallyAsync(async () =>
            {
                var page = await f.GetJsonAsync("/api/v1/audit?subject=node/am-node&kind=permitted&limit=5");
                return page.GetProperty("records").GetArrayLength() > 0 ? page.GetProperty("records")[0] : (JsonElement?)null;
            }, TimeSpan.FromSeconds(60), "a permitted action on am-node");
            Assert.Contains("lease", permitted.GetProperty("reason").GetString());
            var trail = await f.GetJsonAsync("/api/v1/audit?subject=node/am-node&limit=200");
            Assert.Contains(trail.GetProperty("records").EnumerateArray(), r => r.GetProperty("reason").GetString()!.Contains("Alert DiskLatencyHigh is firing"));
            Assert.Contains(trail.GetProperty("records").EnumerateArray(), r => r.GetProperty("reason").GetString()!.Contains("alert:DiskLatencyHigh"));

            // Resolved in Alertmanager: the resolved notification clears the condition, and reports no longer carry the check.
            await PostAlertAsync(DateTimeOffset.UtcNow.AddSeconds(-1));
            await EventuallyAsync(async () => await NodeAsync("am-node") is { } n && !Names(n) ? true : (bool?)null, TimeSpan.FromSeconds(30),
                "am-node's alert condition cleared once resolved");
            var after = await f.GetJsonAsync("/api/v1/audit?subject=node/am-node&kind=observed&limit=50");
            Assert.Contains(after.GetProperty("records").EnumerateArray(), r => r.GetProperty("reason").GetString()!.Contains("Alert DiskLatencyHigh on node am-node is resolved"));
        }
        finally
        {
            reporting.Cancel();
            await reporter;
            await StopAsync(alertmanager);
        }
    }

    [Fact]
    public async Task Alerts_OnAServiceAndALink_LandThere_ARolloutTheyFollowRollsBack_AndALinksProbesCountDown()
    {
        (await f.Http.PutAsync("/api/v1/policy?by=intake-test", new StringContent("""
            services:
              reconcileInterval: 500ms
            rollout:
              stepDuration: 10m
              watch: 0s
            """, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
        await Task.Delay(TimeSpan.FromSeconds(6)); // the silo's policy cache takes up to 5 s to see a new version
        var ingest = f.Silo.HttpWith(await f.KeyAsync("alerts-subjects", "ingest"));
        async Task<JsonElement> NotifyAsync(string status, string name, object labels, DateTimeOffset startsAt)
        {
            // Alertmanager's webhook body (version 4), as its webhook_configs send it.
            using var r = await ingest.PostAsJsonAsync("/api/v1/alerts/alertmanager", new
            {
                version = "4", status, receiver = "fleet",
                alerts = new[] { new { status, labels, annotations = new { summary = $"{name} from the team's rules" }, startsAt, fingerprint = $"fp-{name}" } },
            });
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonElement>())[0];
        }

        long seq = 0;
        foreach (var n in new[] { "al-1", "al-2", "al-3" }) (await f.RegisterAsync(n, $"rack-{n}")).EnsureSuccessStatusCode();
        using var reporting = new CancellationTokenSource();
        var reporter = Task.Run(async () =>
        {
            while (!reporting.IsCancellationRequested)
            {
                var at = Interlocked.Increment(ref seq);
                foreach (var n in new[] { "al-1", "al-2", "al-3" }) try { await f.ReportAsync(n, at); } catch (HttpRequestException) { }
                await Task.Delay(500);
            }
        });
        try
        {
            // A service: an alert firing before a rollout starts is shown and recorded, but is not the new version's doing.
            (await f.Http.PutAsync("/api/v1/services/al-svc", new StringContent("replicas: 2\nversion: \"1.0\"\nresources: {cpuCores: 1, memoryBytes: 1Gi}\n",
                Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
            bool RunsOnly(JsonElement s, string version) => s.GetProperty("running").GetInt32() == 2
                && s.GetProperty("instances").EnumerateArray().All(i => i.GetProperty("version").GetString() == version && i.GetProperty("state").GetString() == "Running");
            await EventuallyAsync(async () => RunsOnly(await f.GetJsonAsync("/api/v1/services/al-svc"), "1.0") ? true : (bool?)null, TimeSpan.FromSeconds(60), "al-svc runs 1.0");
            var old = await NotifyAsync("firing", "QueueBacklog", new { alertname = "QueueBacklog", service = "al-svc" }, DateTimeOffset.UtcNow.AddHours(-1));
            Assert.Equal("service/al-svc", old.GetProperty("subject").GetString());
            Assert.True(old.GetProperty("taken").GetBoolean());
            var status = await f.GetJsonAsync("/api/v1/services/al-svc");
            Assert.Contains(status.GetProperty("alerts").EnumerateArray(), a => a.GetProperty("name").GetString() == "QueueBacklog");
            (await f.Http.PostAsJsonAsync("/api/v1/services/al-svc/deploy", new { version = "2.0", strategy = "canary", by = "dana" })).EnsureSuccessStatusCode();
            await Task.Delay(TimeSpan.FromSeconds(3)); // several passes of the service
            Assert.Equal("Progressing", (await f.GetJsonAsync("/api/v1/services/al-svc")).GetProperty("rollout").GetProperty("phase").GetString());

            // One that begins during the rollout fails it: rolled back to 1.0 by itself, the alert named as the cause.
            var began = DateTimeOffset.UtcNow;
            await NotifyAsync("firing", "CheckoutErrors", new { alertname = "CheckoutErrors", service = "al-svc", severity = "page" }, began);
            await EventuallyAsync(async () => RunsOnly(await f.GetJsonAsync("/api/v1/services/al-svc"), "1.0")
                && (await f.GetJsonAsync("/api/v1/services/al-svc/rollouts"))[0].GetProperty("phase").GetString() == "RolledBack" ? true : (bool?)null,
                TimeSpan.FromSeconds(90), "al-svc rolled back to 1.0");
            var failed = await f.GetJsonAsync("/api/v1/audit?subject=service/al-svc&kind=failed&limit=10");
            var why = Assert.Single(failed.GetProperty("records").EnumerateArray());
            Assert.Contains("alert CheckoutErrors began firing on the service", why.GetProperty("reason").GetString());
            Assert.Equal("rollout.alerts", why.GetProperty("policyRule").GetString());
            var rolledBack = await f.GetJsonAsync("/api/v1/audit?subject=service/al-svc&kind=rolled-back&limit=10");
            Assert.Contains("cause: alert CheckoutErrors", Assert.Single(rolledBack.GetProperty("records").EnumerateArray()).GetProperty("reason").GetString());
            await NotifyAsync("resolved", "CheckoutErrors", new { alertname = "CheckoutErrors", service = "al-svc", severity = "page" }, DateTimeOffset.UtcNow);
            status = await f.GetJsonAsync("/api/v1/services/al-svc");
            Assert.DoesNotContain(status.GetProperty("alerts").EnumerateArray(), a => a.GetProperty("name").GetString() == "CheckoutErrors");
            // Its firing notification replayed after the resolved one (a retry, a proxy's replay): the episode stays resolved.
            await NotifyAsync("firing", "CheckoutErrors", new { alertname = "CheckoutErrors", service = "al-svc", severity = "page" }, began);
            status = await f.GetJsonAsync("/api/v1/services/al-svc");
            Assert.DoesNotContain(status.GetProperty("alerts").EnumerateArray(), a => a.GetProperty("name").GetString() == "CheckoutErrors");

            // A link: while an alert fires on it, its probes count as down (the monitor's own hysteresis); resolved, they count again.
            (await f.Http.PutAsJsonAsync("/api/v1/links/alx~aly", new { capacityMbps = 100, latencyMs = 2, failureDomain = "metro" })).EnsureSuccessStatusCode();
            long probe = 0;
            async Task<string> ProbeAsync()
            {
                (await f.Http.PostAsJsonAsync("/api/v1/links/probes", new[] { new { link = "alx~aly", up = true, latencyMs = 2.0, lossPercent = 0.0, sequence = ++probe, ttlSeconds = 60 } }))
                    .EnsureSuccessStatusCode();
                return (await f.GetJsonAsync("/api/v1/links/alx~aly")).GetProperty("state").GetString()!;
            }
            async Task<string> ProbeUntilAsync(string state)
            {
                var last = "";
                for (var i = 0; i < 10 && last != state; i++) last = await ProbeAsync();
                return last;
            }
            Assert.Equal("Up", await ProbeUntilAsync("Up"));
            var onLink = await NotifyAsync("firing", "UplinkErrors", new { alertname = "UplinkErrors", link = "alx~aly", instance = "switch-7:9116" }, DateTimeOffset.UtcNow);
            Assert.Equal("link/alx~aly", onLink.GetProperty("subject").GetString());
            Assert.Contains((await f.GetJsonAsync("/api/v1/links/alx~aly")).GetProperty("alerts").EnumerateArray(), a => a.GetProperty("name").GetString() == "UplinkErrors");
            Assert.Equal("Down", await ProbeUntilAsync("Down")); // the prober still says up; the alert is what counts
            await NotifyAsync("resolved", "UplinkErrors", new { alertname = "UplinkErrors", link = "alx~aly", instance = "switch-7:9116" }, DateTimeOffset.UtcNow);
            Assert.NotEqual("Down", await ProbeUntilAsync("Up"));
            var linkTrail = await f.GetJsonAsync("/api/v1/audit?subject=link/alx~aly&limit=50");
            Assert.Contains(linkTrail.GetProperty("records").EnumerateArray(), r => r.GetProperty("reason").GetString()!.Contains("Alert UplinkErrors is firing on link alx~aly"));

            // A flood of made-up alerts on one subject is bounded: past 100 firing, a new one is not taken.
            using (var flood = await ingest.PostAsJsonAsync("/api/v1/alerts/alertmanager", new
            {
                version = "4", status = "firing",
                alerts = Enumerable.Range(0, 150).Select(i => new { status = "firing", labels = new { alertname = $"Flood{i}", service = "al-svc" }, startsAt = DateTimeOffset.UtcNow.AddHours(-1), fingerprint = $"flood-{i}" }).ToArray(),
            }))
            {
                Assert.Equal(HttpStatusCode.OK, flood.StatusCode);
                var answers = (await flood.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
                Assert.Contains(answers, a => !a.GetProperty("taken").GetBoolean() && a.GetProperty("why").GetString()!.Contains("already has 100 alerts firing"));
            }
            Assert.Equal(100, (await f.GetJsonAsync("/api/v1/services/al-svc")).GetProperty("alerts").GetArrayLength());

            // Subjects Fleet does not know are answered, not taken.
            var unknown = await NotifyAsync("firing", "Nope", new { alertname = "Nope", service = "no-such-svc" }, DateTimeOffset.UtcNow);
            Assert.False(unknown.GetProperty("taken").GetBoolean());
            Assert.Contains("service no-such-svc is not known", unknown.GetProperty("why").GetString());
        }
        finally
        {
            reporting.Cancel();
            await reporter;
        }
    }

    [Fact]
    public async Task Otlp_TheOpenTelemetrySdksExporter_ReachesTheReceiver_AndTheNodeReports()
    {
        var key = await f.KeyAsync("otel-intake", "ingest");
        long used = 3L << 30;
        using var meter = new Meter("fleet.intake.test");
        meter.CreateObservableGauge("system.memory.usage", () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref used), new KeyValuePair<string, object?>("state", "used")),
            new Measurement<long>(5L << 30, new KeyValuePair<string, object?>("state", "free")),
        });
        meter.CreateObservableCounter("system.cpu.time", () => new[]
        {
            new Measurement<double>(Environment.TickCount64 / 1000.0, new KeyValuePair<string, object?>("cpu", "0"), new KeyValuePair<string, object?>("state", "idle")),
            new Measurement<double>(Environment.TickCount64 / 3000.0, new KeyValuePair<string, object?>("cpu", "0"), new KeyValuePair<string, object?>("state", "user")),
        });
        using var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter("fleet.intake.test")
            .ConfigureResource(r => r.AddService("host-metrics").AddAttributes([new("host.name", "otel-node-1"), new("domain", "rack-otel")]))
            .AddOtlpExporter((o, reader) =>
            {
                o.Endpoint = new Uri($"http://127.0.0.1:{f.Silo.HttpPort}/v1/metrics");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Headers = $"Authorization=Bearer {key}";
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 60_000;
            })
            .Build();
        Assert.True(provider.ForceFlush(10_000));
        var node = await EventuallyAsync(async () => await NodeAsync("otel-node-1") is { } n && n.GetProperty("lastReport").ValueKind == JsonValueKind.Object ? n : (JsonElement?)null,
            TimeSpan.FromSeconds(20), "otel-node-1 registered and reported");
        Assert.Equal(8L << 30, node.GetProperty("lastReport").GetProperty("memoryTotalBytes").GetInt64());
        Assert.Equal(3L << 30, node.GetProperty("lastReport").GetProperty("memoryUsedBytes").GetInt64());
        Assert.Equal("rack-otel", node.GetProperty("domain").GetString());

        Interlocked.Exchange(ref used, 4L << 30);
        await Task.Delay(20); // the next export's time is later than the first's
        Assert.True(provider.ForceFlush(10_000));
        await EventuallyAsync(async () => (await NodeAsync("otel-node-1"))?.GetProperty("lastReport").GetProperty("memoryUsedBytes").GetInt64() == 4L << 30 ? true : (bool?)null,
            TimeSpan.FromSeconds(20), "otel-node-1's second export taken");
    }

    [Fact]
    public async Task Otlp_AServicesOwnRequestMetrics_BecomeItsInstancesFigures()
    {
        var key = await f.KeyAsync("otel-svc-intake", "ingest");
        (await f.RegisterAsync("otel-svc-node", "rack-otel-svc")).EnsureSuccessStatusCode();
        long seq = 0;
        using var reporting = new CancellationTokenSource();
        var reporter = Task.Run(async () =>
        {
            while (!reporting.IsCancellationRequested)
            {
                try { await f.ReportAsync("otel-svc-node", Interlocked.Increment(ref seq)); } catch (HttpRequestException) { }
                await Task.Delay(500);
            }
        });
        try
        {
            (await f.Http.PutAsync("/api/v1/services/otel-svc", new StringContent("replicas: 1\nversion: \"1.0\"\nresources: {cpuCores: 1, memoryBytes: 1Gi}\n",
                Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
            var running = await EventuallyAsync(async () => (await f.GetJsonAsync("/api/v1/services/otel-svc")).GetProperty("instances").EnumerateArray()
                .Where(i => i.GetProperty("state").GetString() == "Running").Select(i => (JsonElement?)i).FirstOrDefault(), TimeSpan.FromSeconds(60), "otel-svc runs");
            var id = running.GetProperty("id").GetString()!;

            // The service's own SDK, as a team instruments it: the semantic conventions' request-duration histogram, by status code.
            using var meter = new Meter("fleet.intake.svc.test");
            var duration = meter.CreateHistogram<double>("http.server.request.duration", unit: "s");
            using var provider = Sdk.CreateMeterProviderBuilder()
                .AddMeter("fleet.intake.svc.test")
                .AddView("http.server.request.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] })
                .ConfigureResource(r => r.AddService("otel-svc", serviceVersion: "1.0", serviceInstanceId: id, autoGenerateServiceInstanceId: false))
                .AddOtlpExporter((o, reader) =>
                {
                    o.Endpoint = new Uri($"http://127.0.0.1:{f.Silo.HttpPort}/v1/metrics");
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Headers = $"Authorization=Bearer {key}";
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 60_000;
                    reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
                })
                .Build();
            void Serve(int ok, int failed, double seconds)
            {
                for (var i = 0; i < ok; i++) duration.Record(seconds, new KeyValuePair<string, object?>("http.response.status_code", 200), new KeyValuePair<string, object?>("http.route", "/cart"));
                for (var i = 0; i < failed; i++) duration.Record(seconds, new KeyValuePair<string, object?>("http.response.status_code", 503), new KeyValuePair<string, object?>("http.route", "/cart"));
            }
            Serve(10, 0, 0.004);
            Assert.True(provider.ForceFlush(10_000)); // a cumulative series' first export primes it
            await Task.Delay(1000);
            Serve(90, 10, 0.03); // then 100 requests, 10 failed, all about 30 ms
            Assert.True(provider.ForceFlush(10_000));
            var load = await EventuallyAsync(async () => (await f.GetJsonAsync("/api/v1/services/otel-svc")).GetProperty("instances").EnumerateArray()
                .Where(i => i.GetProperty("id").GetString() == id && i.TryGetProperty("load", out var l) && l.ValueKind == JsonValueKind.Object && l.GetProperty("requests").GetDouble() > 0)
                .Select(i => (JsonElement?)i.GetProperty("load")).FirstOrDefault(), TimeSpan.FromSeconds(20), "otel-svc's instance shows its figures");
            var requests = load.GetProperty("requests").GetDouble();
            Assert.InRange(requests, 100 / 5.0, 100 / 0.9); // 100 requests over the second or so between the two exports
            Assert.InRange(load.GetProperty("errors").GetDouble() / requests, 0.099, 0.101);
            Assert.InRange(load.GetProperty("latencyP50Ms").GetDouble(), 25, 50); // inside the 25–50 ms bucket, not the primed 4 ms
            Assert.InRange(load.GetProperty("latencyP99Ms").GetDouble(), 25, 50);
        }
        finally
        {
            reporting.Cancel();
            await reporter;
        }
    }

    [Fact]
    public async Task Pushes_Malformed_Oversized_OrWithoutTheRightKey_AreRefused_WithNothingTaken()
    {
        var ingest = f.Silo.HttpWith(await f.KeyAsync("refusals-intake", "ingest"));
        var viewer = f.Silo.HttpWith(await f.KeyAsync("refusals-viewer", "viewer"));
        var anonymous = f.Silo.HttpWith(null);
        var good = RemoteWrite(("up", "bad-push-node", 1), ("node_memory_MemTotal_bytes", "bad-push-node", 8e9), ("node_memory_MemAvailable_bytes", "bad-push-node", 4e9));
        foreach (var path in new[] { "/api/v1/write", "/v1/metrics", "/api/v1/alerts/alertmanager" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync(path, new ByteArrayContent(good))).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync(path, new ByteArrayContent(good))).StatusCode);
        }
        // An ingest key pushes and does nothing else.
        Assert.Equal(HttpStatusCode.Forbidden, (await ingest.GetAsync("/api/v1/nodes")).StatusCode);

        async Task RefusedAsync(string path, HttpContent body, HttpStatusCode status, string says)
        {
            // Expect: 100-continue, as a careful pusher sends a large body: a refusal by its length comes before the body is sent
            // (without it the silo answers 413 and closes, and the client may see only its own broken pipe).
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body };
            request.Headers.ExpectContinue = true;
            using var r = await ingest.SendAsync(request);
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == status, $"{path}: {(int)r.StatusCode} {text}");
            Assert.Contains(says, text);
            Assert.DoesNotContain("   at ", text); // no stack trace
        }
        await RefusedAsync("/api/v1/write", new ByteArrayContent(Encoding.UTF8.GetBytes("not snappy at all")), HttpStatusCode.BadRequest, "snappy");
        await RefusedAsync("/api/v1/write", new ByteArrayContent(Snappier.Snappy.CompressToArray(Encoding.UTF8.GetBytes("\u0008\u00ff\u00ff\u00ff"))), HttpStatusCode.BadRequest, "WriteRequest");
        // A block that claims to decompress to 1 GiB (its length header) is refused before anything is allocated.
        await RefusedAsync("/api/v1/write", new ByteArrayContent([0x80, 0x80, 0x80, 0x80, 0x04, 0x00]), HttpStatusCode.RequestEntityTooLarge, "decompresses");
        await RefusedAsync("/api/v1/write", new ByteArrayContent(new byte[9 << 20]), HttpStatusCode.RequestEntityTooLarge, "bytes");
        // Remote-write 2.0 says so in its content type: refused with what to configure, never misread as 1.0.
        var v2 = new ByteArrayContent(Snappier.Snappy.CompressToArray([0x0a, 0x00]));
        v2.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("application/x-protobuf;proto=io.prometheus.write.v2.Request");
        await RefusedAsync("/api/v1/write", v2, HttpStatusCode.UnsupportedMediaType, "protobuf_message: prometheus.WriteRequest");
        await RefusedAsync("/v1/metrics", new ByteArrayContent([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), HttpStatusCode.BadRequest, "ExportMetricsServiceRequest");
        await RefusedAsync("/v1/metrics", new StringContent("{}", Encoding.UTF8, "application/json"), HttpStatusCode.UnsupportedMediaType, "protobuf");
        // A few hundred KB of gzip that unpacks to 250,000 points of a metric intake reads: refused by its count, nothing taken.
        static ByteArrayContent Otlp(string metric, int points)
        {
            var request = new Fleet.Silo.Intake.ExportMetricsServiceRequest
            {
                ResourceMetrics = [new() { Resource = new() { Attributes = [new() { Key = "host.name", Value = new() { StringValue = "bad-push-node" } }] },
                    ScopeMetrics = [new() { Metrics = [new() { Name = metric, Gauge = new() { DataPoints = [.. Enumerable.Range(0, points).Select(_ => new Fleet.Silo.Intake.NumberDataPoint())] } }] }] }],
            };
            using var raw = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(raw, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
                ProtoBuf.Serializer.Serialize(gzip, request);
            var content = new ByteArrayContent(raw.ToArray());
            content.Headers.ContentEncoding.Add("gzip");
            content.Headers.ContentType = new("application/x-protobuf");
            return content;
        }
        await RefusedAsync("/v1/metrics", Otlp("system.memory.usage", 250_000), HttpStatusCode.RequestEntityTooLarge, "data points");
        // The same count of a metric intake does not read is not looked at: taken (as nothing), at once.
        using (var ignored = await ingest.PostAsync("/v1/metrics", Otlp("some.app.metric", 250_000))) Assert.Equal(HttpStatusCode.OK, ignored.StatusCode);
        await RefusedAsync("/api/v1/alerts/alertmanager", new StringContent("{\"alerts\": [" + new string('[', 5000) + "]}", Encoding.UTF8, "application/json"),
            HttpStatusCode.BadRequest, "webhook JSON");
        await RefusedAsync("/api/v1/alerts/alertmanager", JsonContent.Create(new
        {
            alerts = new object[]
            {
                new { status = "firing", labels = new { alertname = "A", node = "bad-push-node" } },
                new { status = "firing", labels = new { node = "bad-push-node" } },
            },
        }), HttpStatusCode.BadRequest, "alertname");
        Assert.Null(await NodeAsync("bad-push-node"));

        // The same series, well formed, are taken.
        using var ok = await ingest.PostAsync("/api/v1/write", new ByteArrayContent(good));
        Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        var node = await EventuallyAsync(async () => await NodeAsync("bad-push-node"), TimeSpan.FromSeconds(10), "bad-push-node taken");
        Assert.Equal(8_000_000_000, node.GetProperty("lastReport").GetProperty("memoryTotalBytes").GetInt64());
    }

    /// <summary>A remote-write body as Prometheus sends it: a snappy block of a protobuf WriteRequest.</summary>
    private static byte[] RemoteWrite(params (string Name, string Node, double Value)[] samples)
    {
        var request = new Fleet.Silo.Intake.WriteRequest
        {
            Timeseries = samples.Select(s => new Fleet.Silo.Intake.TimeSeries
            {
                Labels = [new() { Name = "__name__", Value = s.Name }, new() { Name = "node", Value = s.Node }],
                Samples = [new() { Value = s.Value, Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }],
            }).ToList(),
        };
        using var raw = new MemoryStream();
        ProtoBuf.Serializer.Serialize(raw, request);
        return Snappier.Snappy.CompressToArray(raw.ToArray());
    }
}

/// <summary>The receivers' per-credential rate limit, on a silo of its own with a low limit.</summary>
public class IntakeRateLimitTests
{
    [Fact]
    public async Task AnIngestKeyPushingPastItsBudget_IsAnswered429WithRetryAfter_OnEveryReceiver()
    {
        await using var silo = await SiloProcess.StartAsync(extraArgs: ["--Fleet:Auth:RequestsPerSecond=2", "--Fleet:Auth:Burst=3"]);
        using var ingest = silo.HttpWith(await silo.MakeKeyAsync("rl-ingest", "ingest"));
        foreach (var path in new[] { "/api/v1/write", "/v1/metrics", "/api/v1/alerts/alertmanager" })
        {
            var statuses = new List<HttpStatusCode>();
            string? retryAfter = null;
            for (var i = 0; i < 10; i++)
            {
                HttpContent body = path.Contains("alertmanager") ? new StringContent("{\"alerts\": []}", Encoding.UTF8, "application/json") : new ByteArrayContent([]);
                using var r = await ingest.PostAsync(path, body);
                statuses.Add(r.StatusCode);
                if (r.StatusCode == HttpStatusCode.TooManyRequests) retryAfter ??= r.Headers.RetryAfter?.ToString();
            }
            Assert.True(statuses.Contains(HttpStatusCode.TooManyRequests), $"{path}: {string.Join(", ", statuses)}");
            Assert.NotNull(retryAfter);
        }
    }
}
