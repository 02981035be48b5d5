using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace Fleet.Silo.Tests;

/// <summary>
/// Pages stay inert whatever the fleet reports, in a real browser (Debian's Chromium) against a real silo: script tags,
/// <c>onerror=</c> attributes and <c>javascript:</c> links planted in a node's check detail (an agent key can send one)
/// and in an operator's reason reach the node page, the trail, the approvals and the incident's postmortem — and none of
/// them runs: the flag each payload would set stays unset, and every page is sent with its Content-Security-Policy.
/// </summary>
public sealed class InertPageTests(SiloFixture f) : IClassFixture<SiloFixture>, IAsyncLifetime
{
    private Chromium _chromium = null!;
    private IBrowser _browser => _chromium.Browser;

    /// <summary>Each payload sets window.__pwned if anything in the page runs it.</summary>
    private const string Payload =
        "<script>window.__pwned=1</script> <img src=x onerror=\"window.__pwned=1\"> [open the runbook](javascript:window.__pwned=1) " +
        "<a href=\"javascript:window.__pwned=1\">here</a> <https://example.com/ok>";

    public async Task InitializeAsync()
    {
        _chromium = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync() => await _chromium.DisposeAsync();

    private string BaseUrl => $"http://127.0.0.1:{f.Silo.HttpPort}";

    [Fact]
    public async Task PayloadsInReportsAndReasons_RunOnNoPage_AndEveryPageSendsItsSecurityHeaders()
    {
        // Every case waits for a person, so the payload reaches the approvals page too.
        var policy = "oversight:\n  approvals:\n    actions: [restart-services]\n    timeout: 1h\nremediation:\n  cooldown: 0s\n";
        (await f.Http.PutAsync("/api/v1/policy?by=test", new StringContent(policy, Encoding.UTF8, "text/yaml"))).EnsureSuccessStatusCode();
        var agent = f.Silo.HttpWith(await f.KeyAsync("inert-agent", "agent", "inert-1"));
        (await agent.PostAsJsonAsync("/api/v1/nodes", new { id = "inert-1", domain = "inert-rack", capacity = new { cpuCores = 4, memoryBytes = 8L << 30, diskBytes = 0 } })).EnsureSuccessStatusCode();
        (await f.Http.PostAsJsonAsync("/api/v1/nodes/inert-1/cordon", new { reason = Payload })).EnsureSuccessStatusCode();
        string? approval = null;
        for (var seq = 1; seq < 60 && approval is null; seq++)
        {
            var report = new { sequence = seq, cpuPercent = 5, memoryUsedBytes = 1L << 30, memoryTotalBytes = 8L << 30, checks = new[] { new { name = "http", passed = false, detail = Payload } } };
            (await agent.PostAsJsonAsync("/api/v1/nodes/inert-1/telemetry", report)).EnsureSuccessStatusCode();
            var pending = await f.GetJsonAsync("/api/v1/approvals");
            approval = pending.EnumerateArray().FirstOrDefault(a => a.GetProperty("subject").GetString() == "node/inert-1") is { ValueKind: JsonValueKind.Object } a ? a.GetProperty("id").GetString() : null;
            if (approval is null) await Task.Delay(500);
        }
        Assert.NotNull(approval);
        var incidents = await f.GetJsonAsync("/api/v1/incidents");
        var incident = incidents.EnumerateArray().First(i => i.GetProperty("subjects").EnumerateArray().Any(s => s.GetString() == "node/inert-1")).GetProperty("id").GetString()!;

        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = BaseUrl });
        context.SetDefaultTimeout(60_000);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        await page.FillAsync("input[name=key]", await f.KeyAsync("inert-operator", "operator"));
        await page.ClickAsync("#signin button[type=submit]");
        await page.WaitForURLAsync(BaseUrl + "/", new PageWaitForURLOptions { WaitUntil = WaitUntilState.Commit });

        foreach (var path in new[] { "/ui/nodes/inert-1", "/ui/audit", "/ui/approvals", $"/ui/incidents/{incident}" })
        {
            var response = await page.GotoAsync(path);
            Assert.NotNull(response);
            var headers = await response!.AllHeadersAsync();
            Assert.Contains("script-src 'self'", headers["content-security-policy"]);
            Assert.Contains("frame-ancestors 'none'", headers["content-security-policy"]);
            Assert.Equal("nosniff", headers["x-content-type-options"]);
            Assert.Equal("no-referrer", headers["referrer-policy"]);
            // The payload is on the page, as text (the approval names the action and its subject, not the detail).
            if (path != "/ui/approvals") await Assertions.Expect(page.Locator("body")).ToContainTextAsync("window.__pwned=1");
            else await Assertions.Expect(page.Locator($"tr[data-approval='{approval}']")).ToBeVisibleAsync();
            // No link leads to javascript:; clicking the runbook link's text runs nothing.
            foreach (var link in await page.Locator("a").AllAsync())
                Assert.DoesNotContain("javascript:", (await link.GetAttributeAsync("href")) ?? "", StringComparison.OrdinalIgnoreCase);
            var runbook = page.Locator("a", new() { HasText = "open the runbook" });
            if (await runbook.CountAsync() > 0) await runbook.First.ClickAsync();
            await page.WaitForTimeoutAsync(300);
            Assert.False(await page.EvaluateAsync<bool>("() => window.__pwned === 1"), $"a payload ran on {path}");
        }
        // The postmortem's http link stays a link.
        await page.GotoAsync($"/ui/incidents/{incident}");
        Assert.True(await page.Locator("#postmortem a[href='https://example.com/ok']").CountAsync() > 0);
    }
}
