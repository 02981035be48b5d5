using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>Links and flows through the REST API and the CLI of a real silo process: a topology applied from a file, probes, a flow placed and moved off a cut link; bad topology refused by its path, nothing applied.</summary>
public class LinksApiTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    private Task<(int Code, string Out, string Err)> Fleet(params string[] args) =>
        Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(), .. args], TimeSpan.FromSeconds(60));

    private long _seq;

    private async Task ProbeAsync(bool up, params string[] links)
    {
        var body = links.Select(l => new { link = l, up, latencyMs = 4.0, lossPercent = up ? 0.0 : 100.0, sequence = ++_seq, ttlSeconds = 60 }).ToArray();
        var r = await f.Http.PostAsJsonAsync("/api/v1/links/probes", body);
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage r, HttpStatusCode status)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{(int)r.StatusCode}: {text}");
        Assert.DoesNotContain("   at ", text);
        return JsonDocument.Parse(text).RootElement;
    }

    [Fact]
    public async Task ATopologyFromAFile_ProbedUp_AFlowPlacedAndMovedOffACutLink_BadInputRefusedByPath()
    {
        var dir = Repo.TempDir("links");
        var bad = Path.Combine(dir, "bad.yaml");
        await File.WriteAllTextAsync(bad, """
            links:
              - {id: la~lb, capacityMbps: 100, latencyMs: 5, failureDomain: metro}
              - {id: lc~lb, capacityMbps: -1, latencyMs: 5, failureDomain: metro}
            flows:
              - {id: lf-x, source: la, destination: nowhere, demandMbps: 10}
            """);
        var (code, stdout, stderr) = await Fleet("links", "apply", bad);
        Assert.Equal(1, code);
        Assert.Contains("nothing was applied", stderr);
        Assert.Contains("links[1].id (line 3)", stderr);
        Assert.Contains("write it lb~lc", stderr);
        Assert.Contains("links[1].capacityMbps (line 3)", stderr);
        Assert.Contains("flows[0].destination (line 5): site 'nowhere' is unknown", stderr);
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/links/la~lb")).StatusCode);

        var good = Path.Combine(dir, "topology.yaml");
        await File.WriteAllTextAsync(good, """
            links:
              - {id: la~lb, capacityMbps: 100, latencyMs: 5, failureDomain: metro}
              - {id: lb~lc, capacityMbps: 100, latencyMs: 5, failureDomain: metro}
              - {id: la~ld, capacityMbps: 100, latencyMs: 8, failureDomain: metro}
              - {id: lc~ld, capacityMbps: 100, latencyMs: 8, failureDomain: metro}
            """);
        (code, stdout, stderr) = await Fleet("links", "apply", good);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("Applied 4 link(s) and 0 flow(s).", stdout);
        for (var i = 0; i < 3; i++) await ProbeAsync(true, "la~lb", "lb~lc", "la~ld", "lc~ld"); // the default: up after 3 good probes

        var put = await f.Http.PutAsJsonAsync("/api/v1/flows/lf-1", new { source = "la", destination = "lc", demandMbps = 10, priority = 5 });
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var flow = await put.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(flow.GetProperty("state").GetString() == "Active", flow.ToString());
        Assert.Equal("la,lb,lc", string.Join(",", flow.GetProperty("path").EnumerateArray().Select(x => x.GetString())));
        Assert.Equal("la,ld,lc", string.Join(",", flow.GetProperty("backup").EnumerateArray().Select(x => x.GetString())));

        // Cut: the flow switches to its backup at once.
        await ProbeAsync(false, "lb~lc");
        await ProbeAsync(false, "lb~lc");
        var until = DateTime.UtcNow.AddSeconds(20);
        JsonElement now = default;
        while (DateTime.UtcNow < until)
        {
            now = await f.GetJsonAsync("/api/v1/flows/lf-1");
            if (string.Join(",", now.GetProperty("path").EnumerateArray().Select(x => x.GetString())) == "la,ld,lc") break;
            await Task.Delay(200);
        }
        Assert.Equal("la,ld,lc", string.Join(",", now.GetProperty("path").EnumerateArray().Select(x => x.GetString())));
        Assert.Contains(now.GetProperty("history").EnumerateArray(), e => e.GetProperty("what").GetString()!.StartsWith("switched to backup la–ld–lc"));
        var link = await f.GetJsonAsync("/api/v1/links/lb~lc");
        Assert.Equal("Down", link.GetProperty("state").GetString());
        Assert.Equal(0, link.GetProperty("flows").GetArrayLength());
        var trail = await f.GetJsonAsync("/api/v1/audit?subject=link/lb~lc&limit=50");
        Assert.Contains(trail.GetProperty("records").EnumerateArray(), r => r.GetProperty("kind").GetString() == "executed"
            && r.GetProperty("reason").GetString()!.Contains("1 switched to their backup at once"));

        (code, stdout, _) = await Fleet("flows", "get", "lf-1");
        Assert.Equal(0, code);
        Assert.Contains("switched to backup la–ld–lc", stdout);
        (code, stdout, _) = await Fleet("links", "list");
        Assert.Equal(0, code);
        Assert.Contains("lb~lc", stdout);
        Assert.Contains("Down", stdout);
        (code, stdout, _) = await Fleet("links", "get", "la~ld");
        Assert.Equal(0, code);
        Assert.Contains("Flows     lf-1", stdout);

        // Bad input, each refused by its field, nothing stored.
        var e = await ProblemAsync(await f.Http.PutAsJsonAsync("/api/v1/links/lb~la", new { capacityMbps = 10, latencyMs = 1, failureDomain = "metro" }), HttpStatusCode.BadRequest);
        Assert.Contains("write it la~lb", e.GetProperty("errors").GetProperty("id")[0].GetString());
        e = await ProblemAsync(await f.Http.PutAsJsonAsync("/api/v1/links/la~lz", new { capacityMbps = -5, latencyMs = 1, failureDomain = "metro" }), HttpStatusCode.BadRequest);
        Assert.True(e.GetProperty("errors").TryGetProperty("capacityMbps", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/links/la~lz")).StatusCode);
        e = await ProblemAsync(await f.Http.PutAsJsonAsync("/api/v1/flows/lf-2", new { source = "la", destination = "mars", demandMbps = 1 }), HttpStatusCode.BadRequest);
        Assert.Contains("site 'mars' is unknown", e.GetProperty("errors").GetProperty("destination")[0].GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/flows/lf-2")).StatusCode);
        e = await ProblemAsync(await f.Http.PostAsJsonAsync("/api/v1/links/probes", new[] { new { link = "la~lb", up = true, latencyMs = 1.0, lossPercent = 150.0, sequence = 99L } }), HttpStatusCode.BadRequest);
        Assert.True(e.GetProperty("errors").TryGetProperty("[0].lossPercent", out _));
        await ProblemAsync(await f.Http.PutAsJsonAsync("/api/v1/flows/lf-3", new { source = "la", destination = "lc", demandMbps = 1, colour = "red" }), HttpStatusCode.BadRequest);
        var unknown = await f.Http.PostAsJsonAsync("/api/v1/links/probes", new[] { new { link = "qa~qb", up = true, sequence = 1L } });
        Assert.Equal("UnknownLink", (await unknown.Content.ReadFromJsonAsync<JsonElement>())[0].GetString());
    }

    [Fact]
    public async Task DeletingALinkAndAFlow_ThroughTheCliAndRest_TheFlowMovesOffFirst_UnknownsAreNotFound_BadIdsRefused()
    {
        foreach (var (id, latency) in new[] { ("ma~mb", 5.0), ("mb~mc", 5.0), ("ma~md", 8.0), ("mc~md", 8.0) })
        {
            var r = await f.Http.PutAsJsonAsync($"/api/v1/links/{id}", new { capacityMbps = 100, latencyMs = latency, failureDomain = "metro-m" });
            Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
        }
        for (var i = 0; i < 3; i++) await ProbeAsync(true, "ma~mb", "mb~mc", "ma~md", "mc~md");
        var put = await f.Http.PutAsJsonAsync("/api/v1/flows/mf-1", new { source = "ma", destination = "mc", demandMbps = 10 });
        Assert.Equal("ma,mb,mc", string.Join(",", (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("path").EnumerateArray().Select(x => x.GetString())));

        var (code, stdout, stderr) = await Fleet("links", "delete", "mb~mc", "--reason", "circuit returned");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("Deleted link mb~mc at the request of", stdout);
        Assert.Contains("1 flow(s) moved off make-before-break", stdout);
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/links/mb~mc")).StatusCode);
        var flow = await f.GetJsonAsync("/api/v1/flows/mf-1");
        Assert.Equal("ma,md,mc", string.Join(",", flow.GetProperty("path").EnumerateArray().Select(x => x.GetString())));
        Assert.DoesNotContain((await f.GetJsonAsync("/api/v1/links")).EnumerateArray(), l => l.GetProperty("spec").GetProperty("id").GetString() == "mb~mc");

        // The only way left: the link is not deleted while the flow needs it.
        var refused = await ProblemAsync(await f.Http.DeleteAsync("/api/v1/links/ma~md?reason=tidy"), HttpStatusCode.Conflict);
        Assert.Equal("no-path", refused.GetProperty("guardrail").GetString());
        Assert.Equal(HttpStatusCode.OK, (await f.Http.GetAsync("/api/v1/links/ma~md")).StatusCode);

        var deleted = await f.Http.DeleteAsync("/api/v1/flows/mf-1?reason=retired");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.StartsWith("Deleted flow mf-1", (await deleted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("summary").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.GetAsync("/api/v1/flows/mf-1")).StatusCode);
        (code, stdout, stderr) = await Fleet("links", "delete", "ma~md");
        Assert.True(code == 0, stdout + stderr);

        await ProblemAsync(await f.Http.DeleteAsync("/api/v1/links/zz~zy"), HttpStatusCode.BadRequest); // reversed ends: not a link id
        await ProblemAsync(await f.Http.DeleteAsync("/api/v1/links/za~zb"), HttpStatusCode.NotFound);
        await ProblemAsync(await f.Http.DeleteAsync("/api/v1/flows/no-such-flow"), HttpStatusCode.NotFound);
        (code, _, stderr) = await Fleet("flows", "delete", "no-such-flow");
        Assert.Equal(1, code);
        Assert.Contains("not defined", stderr);
    }
}
