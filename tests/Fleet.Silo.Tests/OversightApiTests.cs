using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fleet.Silo.Tests;

/// <summary>Approvals and shadow mode through the REST API and the CLI of a real silo process; a viewer may look and not decide.</summary>
public class OversightApiTests(SiloFixture f) : IClassFixture<SiloFixture>
{
    private const string Policy = """
        oversight:
          approvals:
            actions: [restart-services]
            timeout: 1h
        """;

    private Task<(int Code, string Out, string Err)> Fleet(params string[] args) =>
        Repo.RunAsync("dotnet", [Repo.CliDll, .. f.Silo.CliArgs(), .. args], TimeSpan.FromSeconds(60));

    [Fact]
    public async Task AFailingNodeWaitsForApproval_ListedApprovedThroughTheCli_ShadowSwitchedThroughTheApi()
    {
        Assert.Equal(HttpStatusCode.OK, (await f.Http.PutAsync("/api/v1/policy?by=test", new StringContent(Policy, Encoding.UTF8, "text/yaml"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await f.RegisterAsync("ov-1", "rack-ov")).StatusCode);
        long seq = 0;
        JsonElement pending = default;
        var until = DateTime.UtcNow.AddSeconds(40);
        while (DateTime.UtcNow < until)
        {
            await f.ReportAsync("ov-1", ++seq, healthy: false);
            pending = await f.GetJsonAsync("/api/v1/approvals");
            if (pending.GetArrayLength() > 0) break;
            await Task.Delay(500);
        }
        var approval = Assert.Single(pending.EnumerateArray());
        var id = approval.GetProperty("id").GetString()!;
        Assert.Equal("node/ov-1", approval.GetProperty("subject").GetString());
        Assert.Equal("restart-services", approval.GetProperty("action").GetString());
        Assert.Empty((await f.GetJsonAsync("/api/v1/fleet")).GetProperty("domains").EnumerateArray()
            .Where(d => d.GetProperty("domain").GetString() == "rack-ov").SelectMany(d => d.GetProperty("leases").EnumerateArray()));

        var (code, stdout, stderr) = await Fleet("approvals", "list");
        Assert.True(code == 0, stderr);
        Assert.Contains(id, stdout);
        Assert.Contains("restart-services", stdout);

        // A viewer sees the approvals and may not decide them.
        using var viewer = await f.HttpAsAsync("ov-viewer", "viewer");
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/api/v1/approvals")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsJsonAsync($"/api/v1/approvals/{id}/approve", new { reason = "me" })).StatusCode);

        (code, stdout, stderr) = await Fleet("approvals", "approve", id, "--reason", "checked the rack");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains($"{id}: restart-services on node/ov-1 approved", stdout);
        (code, _, stderr) = await Fleet("approvals", "reject", id, "--reason", "too late");
        Assert.Equal(1, code);
        Assert.Contains("already approved", stderr);
        Assert.Equal(HttpStatusCode.NotFound, (await f.Http.PostAsJsonAsync("/api/v1/approvals/ap-nope/approve", new { reason = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/approvals/bad%20id/approve", new { reason = "x" })).StatusCode);

        // Approved: the restart runs (the node's case leaves its wait for a lease).
        until = DateTime.UtcNow.AddSeconds(40);
        var ran = false;
        while (DateTime.UtcNow < until && !ran)
        {
            await f.ReportAsync("ov-1", ++seq, healthy: false);
            var trail = await f.GetJsonAsync("/api/v1/audit?subject=node/ov-1&kind=executed&limit=10");
            ran = trail.GetProperty("records").EnumerateArray().Any(r => r.GetProperty("action").GetString() == "restart-services");
            await Task.Delay(500);
        }
        Assert.True(ran, "the approved restart ran");

        // Shadow mode through the API; bad requests answered 400.
        Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/shadow", new { on = true })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await f.Http.PostAsJsonAsync("/api/v1/shadow", new { on = true, domain = "a", action = "reboot", reason = "both" })).StatusCode);
        var on = await f.Http.PostAsJsonAsync("/api/v1/shadow", new { on = true, action = "reboot", reason = "trial" });
        Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        (code, stdout, _) = await Fleet("shadow", "list");
        Assert.Equal(0, code);
        Assert.Contains("action/reboot", stdout);
        (code, stdout, _) = await Fleet("shadow", "off", "--action", "reboot", "--reason", "trial over");
        Assert.Equal(0, code);
        Assert.Contains("Switches: none.", stdout);

        // What the ladder has learned (the table may still be empty: a rung's outcome is known only once verified).
        (code, stdout, _) = await Fleet("learning", "show");
        Assert.Equal(0, code);
        Assert.Contains("SYMPTOM", stdout);
        Assert.Equal(JsonValueKind.Array, (await f.GetJsonAsync("/api/v1/learning")).ValueKind);
    }
}
