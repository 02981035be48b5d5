using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>A real Prometheus server scrapes the silo's /metrics and answers a query on Fleet's own series.</summary>
public class PrometheusScrapeTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    [Fact]
    public async Task Prometheus_ScrapesSilo_FleetSeriesQueryable()
    {
        var prometheus = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists);
        Assert.True(prometheus is not null, "prometheus is not installed; tests/run-tests.sh installs it from Debian");

        await f.RegisterAsync("prom-1", "rack-prom");
        await f.ReportAsync("prom-1", 1);

        var dir = Repo.TempDir("prometheus");
        var port = Repo.FreePort();
        var config = Path.Combine(dir, "prometheus.yml");
        // Prometheus scrapes with a viewer key of its own (/metrics needs one unless Fleet:Auth:OpenMetrics is set).
        var key = await f.Silo.MakeKeyAsync("prometheus", "viewer");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: fleet
                authorization:
                  type: Bearer
                  credentials: "{key}"
                static_configs:
                  - targets: ["127.0.0.1:{f.Silo.HttpPort}"]
            """);
        var psi = new ProcessStartInfo(prometheus!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}", $"--web.listen-address=127.0.0.1:{port}" })
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var query = Uri.EscapeDataString("fleet_nodes{health=\"Healthy\"}");
            double? value = null;
            var until = DateTime.UtcNow.AddSeconds(60);
            while (value is null && DateTime.UtcNow < until)
            {
                await Task.Delay(500);
                try
                {
                    var answer = await http.GetFromJsonAsync<JsonElement>($"/api/v1/query?query={query}");
                    var result = answer.GetProperty("data").GetProperty("result");
                    if (result.GetArrayLength() > 0) value = double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (HttpRequestException) { }
            }
            Assert.True(value >= 1, $"Prometheus should see at least one Healthy node, saw {value?.ToString() ?? "nothing"}");

            var up = await http.GetFromJsonAsync<JsonElement>($"/api/v1/query?query={Uri.EscapeDataString("up{job=\"fleet\"}")}");
            Assert.Equal("1", up.GetProperty("data").GetProperty("result")[0].GetProperty("value")[1].GetString());
        }
        finally
        {
            process.Kill(true);
            await process.WaitForExitAsync();
        }
    }
}
