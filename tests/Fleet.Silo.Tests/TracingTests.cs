using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fleet.Silo.Tests.Otlp;
using Google.Protobuf;

namespace Fleet.Silo.Tests;

/// <summary>
/// A real silo exports the trace of one remediation case over OTLP/HTTP (protobuf) to a receiver of the test's own
/// (types generated from the .proto with Grpc.Tools): one trace from the report that opened the case to its verification,
/// across grains, and the decision records carry its trace id.
/// </summary>
public class TracingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>A ladder fast enough for a test: 1 s reports, two failed reports make a node unhealthy, 2 s of probation.</summary>
    internal const string Policy = """
        telemetry:
          reportInterval: 1s
          allowedMisses: 3
        health:
          unhealthyAfterFailedReports: 2
          recoverAfterReports: 2
        remediation:
          cooldown: 0s
          probation: 2s
        """;

    [Fact]
    public async Task OneRemediation_IsOneTrace_ObserveJudgeProposePermitActVerify_AcrossGrains()
    {
        var port = Repo.FreePort();
        using var receiver = new HttpListener();
        receiver.Prefixes.Add($"http://127.0.0.1:{port}/");
        receiver.Start();
        var spans = new ConcurrentQueue<(string Scope, Span Span)>();
        var paths = new ConcurrentQueue<string>();
        _ = Task.Run(async () =>
        {
            while (receiver.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await receiver.GetContextAsync(); } catch { return; }
                paths.Enqueue($"{ctx.Request.HttpMethod} {ctx.Request.Url!.AbsolutePath} {ctx.Request.ContentType}");
                using (var body = new MemoryStream())
                {
                    await ctx.Request.InputStream.CopyToAsync(body);
                    var request = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
                    foreach (var rs in request.ResourceSpans)
                        foreach (var ss in rs.ScopeSpans)
                            foreach (var span in ss.Spans) spans.Enqueue((ss.Scope?.Name ?? "", span));
                }
                ctx.Response.StatusCode = 200;
                ctx.Response.Close();
            }
        });

        await using var silo = await SiloProcess.StartAsync(extraArgs: [$"--Fleet:Otlp:Endpoint=http://127.0.0.1:{port}"]);
        (await silo.Http.PutAsync("/api/v1/policy", new StringContent(Policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
        (await silo.Http.PostAsJsonAsync("/api/v1/nodes", new { id = "tr-1", domain = "rack-t", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } })).EnsureSuccessStatusCode();
        long seq = 0;
        async Task ReportAsync(bool healthy) =>
            (await silo.Http.PostAsJsonAsync("/api/v1/nodes/tr-1/telemetry", new
            {
                sequence = ++seq, ttlSeconds = 30, cpuPercent = 10, memoryUsedBytes = 1L << 30, memoryTotalBytes = 8L << 30,
                checks = new[] { new { name = "http", passed = healthy, detail = healthy ? "200" : "connection refused" } },
            })).EnsureSuccessStatusCode();
        async Task<List<JsonElement>> TrailAsync() =>
            [.. (await silo.Http.GetFromJsonAsync<JsonElement>("/api/v1/audit?subject=node/tr-1&limit=200")).GetProperty("records").EnumerateArray()];

        for (var i = 0; i < 3; i++) await ReportAsync(true);
        var until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until && !(await TrailAsync()).Any(r => r.GetProperty("kind").GetString() == "executed"))
        {
            await ReportAsync(false);
            await Task.Delay(500);
        }
        until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until && !(await TrailAsync()).Any(r => r.GetProperty("kind").GetString() == "verified"))
        {
            await ReportAsync(true);
            await Task.Delay(500);
        }
        var trail = await TrailAsync();
        Assert.Contains(trail, r => r.GetProperty("kind").GetString() == "verified");

        // The case's trace: its root, and every step as a span of the same trace.
        until = DateTime.UtcNow.AddSeconds(20);
        string[] steps = ["fleet.observe", "fleet.judge", "fleet.propose", "fleet.permit", "fleet.act", "fleet.verify"];
        List<(string Scope, Span Span)> trace = [];
        while (DateTime.UtcNow < until)
        {
            var root = spans.FirstOrDefault(s => s.Span.Name == "fleet.case").Span;
            if (root is not null)
            {
                trace = [.. spans.Where(s => s.Span.TraceId == root.TraceId)];
                if (steps.All(n => trace.Any(s => s.Span.Name == n)) && trace.Any(s => s.Scope == "Microsoft.Orleans.Application")) break;
            }
            await Task.Delay(250);
        }
        output.WriteLine($"received {spans.Count} spans via {string.Join(", ", paths.Distinct())}; the case's trace: " +
            string.Join(", ", trace.Select(s => s.Span.Name)));
        Assert.All(paths, p => Assert.StartsWith("POST /v1/traces application/x-protobuf", p));
        var caseRoot = Assert.Single(trace, s => s.Span.Name == "fleet.case").Span;
        Assert.True(caseRoot.ParentSpanId.IsEmpty, "the case's root starts its own trace");
        foreach (var step in steps) Assert.Contains(trace, s => s.Span.Name == step);
        // Across grains: the supervisors' and the ledger's grain calls made inside the case are spans of its trace.
        Assert.Contains(trace, s => s.Scope == "Microsoft.Orleans.Application");
        // One tree: every span's parent is a span of the trace, up to the root.
        var ids = trace.Select(s => s.Span.SpanId).ToHashSet();
        Assert.All(trace.Where(s => s.Span != caseRoot), s => Assert.Contains(s.Span.ParentSpanId, ids));
        // The case's decision records carry its trace id.
        var traceId = Convert.ToHexStringLower(caseRoot.TraceId.ToByteArray());
        foreach (var kind in new[] { "proposed", "permitted", "executed", "verified" })
            Assert.Equal(traceId, trail.First(r => r.GetProperty("kind").GetString() == kind).GetProperty("traceId").GetString());
        receiver.Stop();
    }
}
