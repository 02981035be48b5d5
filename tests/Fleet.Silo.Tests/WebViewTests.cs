using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace Fleet.Silo.Tests;

/// <summary>
/// The web view in a real browser (Debian's Chromium driven by Playwright) against a real silo process: sign-in with a
/// key, the overview's domains and counts, a node turning red without a reload, a node's records in order, and the
/// approvals page's buttons (an operator's work, a viewer sees none). Screenshots go to TestResults/screenshots.
/// </summary>
public sealed class WebViewTests(SiloFixture f) : IClassFixture<SiloFixture>, IAsyncLifetime
{
    private Chromium _chromium = null!;
    private IBrowser _browser => _chromium.Browser;
    private static readonly string Shots = Path.Combine(Repo.Root, "TestResults", "screenshots");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Shots);
        _chromium = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync() => await _chromium.DisposeAsync();

    private string BaseUrl => $"http://127.0.0.1:{f.Silo.HttpPort}";

    /// <summary>A browser page signed in with a key of the given role, through the sign-in form.</summary>
    private async Task<IPage> SignedInAsync(string name, string role, int width = 1280)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = BaseUrl, ViewportSize = new ViewportSize { Width = width, Height = 900 } });
        // A loaded CI machine (two cores, other silos running) is slower than this one: generous waits, never fixed sleeps.
        context.SetDefaultTimeout(60_000);
        context.SetDefaultNavigationTimeout(60_000);
        var page = await context.NewPageAsync();
        // The server redirects before anything is committed; waiting for the browser's load event here only adds a way to time out.
        await page.GotoAsync("/", new PageGotoOptions { WaitUntil = WaitUntilState.Commit });
        Assert.Contains("/ui/signin", page.Url); // not signed in: to the sign-in page
        await page.FillAsync("input[name=key]", await f.KeyAsync(name, role));
        await page.ClickAsync("#signin button[type=submit]");
        // The overview keeps a live feed open; wait for the signed-in page itself, not for the browser's load events.
        await page.WaitForURLAsync(BaseUrl + "/", new PageWaitForURLOptions { WaitUntil = WaitUntilState.Commit });
        await Assertions.Expect(page.Locator("header .who")).ToContainTextAsync(name);
        return page;
    }

    private async Task NodesAsync(params (string Id, string Domain)[] nodes)
    {
        foreach (var (id, domain) in nodes)
        {
            await f.RegisterAsync(id, domain);
            await f.ReportAsync(id, 1);
        }
    }

    [Fact]
    public async Task Overview_ListsEveryDomainWithItsCounts_AndANodeTurnsRedWithoutAReload_ItsPageListsItsRecordsInOrder()
    {
        await NodesAsync(("wv-a1", "wv-rack-a"), ("wv-a2", "wv-rack-a"), ("wv-b1", "wv-rack-b"));
        var page = await SignedInAsync("wv-viewer", "viewer");
        await Assertions.Expect(page.Locator("[data-domain=wv-rack-a]")).ToContainTextAsync("2 members: 2 Healthy");
        await Assertions.Expect(page.Locator("[data-domain=wv-rack-b]")).ToContainTextAsync("1 members: 1 Healthy");
        await Assertions.Expect(page.Locator("header .who")).ToContainTextAsync("wv-viewer (viewer)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "overview.png"), FullPage = true });

        // The node reports its own failure: on the open page (no reload) it shows in red within a few seconds.
        for (var seq = 2; seq <= 4; seq++) await f.ReportAsync("wv-b1", seq, healthy: false);
        var row = page.Locator("tr.node[data-node=wv-b1]");
        await Assertions.Expect(row).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("unhealthy"), new() { Timeout = 10_000 });
        Assert.Equal("rgb(198, 40, 40)", await row.EvaluateAsync<string>("e => getComputedStyle(e).color"));
        await Assertions.Expect(page.Locator("[data-domain=wv-rack-b]")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("heat-[34]"));
        await Assertions.Expect(page.Locator("#feed")).ToContainTextAsync("wv-b1", new() { Timeout = 10_000 }); // the live feed
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "overview-unhealthy.png"), FullPage = true });

        await page.ClickAsync("tr.node[data-node=wv-b1] a");
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("Node wv-b1");
        await Assertions.Expect(page.Locator("#conditions")).ToContainTextAsync("http");
        var rows = await page.Locator("#records tr[data-kind]").AllAsync();
        var kinds = new List<string>();
        foreach (var r in rows) kinds.Add((await r.GetAttributeAsync("data-kind"))!);
        Assert.Equal("registered", kinds[0]);
        Assert.True(kinds.IndexOf("health-changed") > 0, string.Join(", ", kinds));
        Assert.True(kinds.IndexOf("proposed") > kinds.IndexOf("health-changed"), string.Join(", ", kinds));
        await Assertions.Expect(page.Locator("#records")).ToContainTextAsync("Proposed restart-services for node wv-b1");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "node.png"), FullPage = true });

        // The node's case is an incident: listed, and its postmortem rendered (its timeline a table, in order).
        await page.GotoAsync("/ui/incidents");
        var incidentRow = page.Locator("#incidents tr[data-incident]", new() { HasText = "node/wv-b1" }).First;
        await incidentRow.Locator("a").ClickAsync();
        await Assertions.Expect(page.Locator("#postmortem h1")).ToContainTextAsync("Postmortem: node/wv-b1");
        await Assertions.Expect(page.Locator("#postmortem h2", new() { HasText = "Timeline" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#postmortem table")).ToContainTextAsync("proposed restart-services");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "postmortem.png"), FullPage = true });

        // The trail, searched: by subject and a duration ago; a bad time is answered in words.
        await page.GotoAsync("/ui/audit?subject=node/wv-b1&kind=proposed&since=15m");
        await Assertions.Expect(page.Locator("#records")).ToContainTextAsync("Proposed restart-services for node wv-b1");
        Assert.Equal(0, await page.Locator("#records tr[data-kind=registered]").CountAsync());
        await page.GotoAsync("/ui/audit?since=yesterday-ish");
        await Assertions.Expect(page.Locator("p.error")).ToContainTextAsync("since: 'yesterday-ish' is not a time");

        // A phone's width: the same page, readable.
        var phone = await SignedInAsync("wv-viewer", "viewer", width: 390);
        await Assertions.Expect(phone.Locator("[data-domain=wv-rack-a]")).ToBeVisibleAsync();
        await phone.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "overview-phone.png"), FullPage = true });
    }

    [Fact]
    public async Task Approvals_AnOperatorsApproveButtonWorks_AViewerSeesNone_TheFormCarriesAnAntiforgeryToken()
    {
        var policy = "oversight:\n  approvals:\n    actions: [restart-services]\n    timeout: 1h\n";
        Assert.True((await f.Http.PutAsync("/api/v1/policy?by=test", new StringContent(policy, Encoding.UTF8, "text/yaml"))).IsSuccessStatusCode);
        await NodesAsync(("wv-ap1", "wv-rack-ap"));
        string? id = null;
        for (var seq = 2; seq < 60 && id is null; seq++)
        {
            await f.ReportAsync("wv-ap1", seq, healthy: false);
            var pending = await f.GetJsonAsync("/api/v1/approvals");
            id = pending.EnumerateArray().FirstOrDefault(a => a.GetProperty("subject").GetString() == "node/wv-ap1") is { ValueKind: JsonValueKind.Object } a ? a.GetProperty("id").GetString() : null;
            if (id is null) await Task.Delay(500);
        }
        Assert.NotNull(id);

        var viewer = await SignedInAsync("wv-viewer2", "viewer");
        await viewer.GotoAsync("/ui/approvals");
        await Assertions.Expect(viewer.Locator($"tr[data-approval={id}]")).ToBeVisibleAsync();
        Assert.Equal(0, await viewer.Locator("button:has-text('Approve')").CountAsync());
        await viewer.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "approvals-viewer.png"), FullPage = true });

        var op = await SignedInAsync("wv-operator", "operator");
        // A POST without the page's antiforgery token is refused, even with the operator's cookie (what a forged cross-site form would send).
        var session = (await op.Context.CookiesAsync()).Single(c => c.Name == ".fleet.session");
        using (var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(BaseUrl) })
        {
            var forged = new HttpRequestMessage(HttpMethod.Post, "/ui/approvals?handler=Approve") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["id"] = id! }) };
            forged.Headers.Add("Cookie", $".fleet.session={session.Value}");
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await http.SendAsync(forged)).StatusCode);
            var anonymous = await http.PostAsync("/ui/approvals?handler=Approve", new FormUrlEncodedContent(new Dictionary<string, string> { ["id"] = id! }));
            Assert.Equal(System.Net.HttpStatusCode.Redirect, anonymous.StatusCode);
        }
        Assert.Contains((await f.GetJsonAsync("/api/v1/approvals")).EnumerateArray(), a => a.GetProperty("id").GetString() == id);

        await op.GotoAsync("/ui/approvals");
        var form = op.Locator($"tr[data-approval={id}] form");
        Assert.Equal(1, await form.Locator("input[name=__RequestVerificationToken]").CountAsync());
        await form.Locator("input[name=reason]").FillAsync("checked the rack");
        await form.Locator("button:has-text('Approve')").ClickAsync();
        await Assertions.Expect(op.Locator("#message")).ToContainTextAsync($"{id}: restart-services on node/wv-ap1 approved by wv-operator");
        await op.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "approvals-operator.png"), FullPage = true });
        var all = await f.GetJsonAsync("/api/v1/approvals?all=true");
        var decided = all.EnumerateArray().Single(a => a.GetProperty("id").GetString() == id);
        Assert.Equal("Approved", decided.GetProperty("status").GetString());
        Assert.Equal("wv-operator", decided.GetProperty("decidedBy").GetString());
    }

    [Fact]
    public async Task WithoutSigningIn_PagesGoToSignIn_AndTheApiNeverTakesTheCookie()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(BaseUrl) };
        var overview = await http.GetAsync("/");
        Assert.Equal(System.Net.HttpStatusCode.Redirect, overview.StatusCode);
        Assert.StartsWith("/ui/signin", overview.Headers.Location!.OriginalString);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/ui/fleet.css")).StatusCode); // assets are served by the silo itself

        var bad = await http.PostAsync("/ui/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = "fk_nope" }));
        Assert.NotEqual(System.Net.HttpStatusCode.Redirect, bad.StatusCode);

        // Signed in in a browser, the cookie opens the pages but not the API.
        var page = await SignedInAsync("wv-viewer3", "viewer");
        var cookies = await page.Context.CookiesAsync();
        var session = Assert.Single(cookies, c => c.Name == ".fleet.session");
        Assert.True(session.HttpOnly);
        using var withCookie = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(BaseUrl) };
        var api = new HttpRequestMessage(HttpMethod.Get, "/api/v1/nodes");
        api.Headers.Add("Cookie", $".fleet.session={session.Value}");
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await withCookie.SendAsync(api)).StatusCode);
        var ui = new HttpRequestMessage(HttpMethod.Get, "/ui/audit");
        ui.Headers.Add("Cookie", $".fleet.session={session.Value}");
        Assert.Equal(System.Net.HttpStatusCode.OK, (await withCookie.SendAsync(ui)).StatusCode);
    }

    [Fact]
    public async Task ARevokedKeysSession_IsRefusedAtOnce_AndTheCookieKeysAreEncryptedAtRest()
    {
        var page = await SignedInAsync("wv-revoked", "viewer");
        var session = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == ".fleet.session");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(BaseUrl) };
        HttpRequestMessage Audit()
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/ui/audit");
            request.Headers.Add("Cookie", $".fleet.session={session.Value}");
            return request;
        }
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.SendAsync(Audit())).StatusCode);
        (await f.Http.DeleteAsync("/api/v1/keys/wv-revoked")).EnsureSuccessStatusCode();
        var after = await http.SendAsync(Audit());
        Assert.Equal(System.Net.HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("/ui/signin", after.Headers.Location!.OriginalString);

        // The keys that sign and encrypt the cookies are on disk only as ciphertext under the cluster secret.
        var files = Directory.GetFiles(Path.Combine(f.Silo.DataDir, "web-keys"), "*.xml");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var xml = await File.ReadAllTextAsync(file);
            Assert.Contains("<encryptedKey", xml);
            Assert.Contains("fleetSeal=", xml);
            Assert.DoesNotContain("<masterKey", xml);
        }
    }
}
