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
    public async Task EveryKindOfSubjectHasAPage_TheLiveFeedShowsEachRecordOnce_AndUnknownIsNeverShownHealthy()
    {
        // Three nodes registered and never judged: not healthy on the overview, in a grey tile, each listed as Unknown.
        foreach (var id in new[] { "wv-u1", "wv-u2", "wv-u3" }) await f.RegisterAsync(id, "wv-rack-u");
        var page = await SignedInAsync("wv-viewer2", "viewer");
        await Assertions.Expect(page.Locator("[data-domain=wv-rack-u]")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("heat-unknown"));
        await Assertions.Expect(page.Locator("[data-domain=wv-rack-u]")).ToContainTextAsync("3 not judged yet");
        await Assertions.Expect(page.Locator("tr.node[data-node=wv-u2]")).ToContainTextAsync("Unknown (no report judged yet)");
        Assert.Equal(0, await page.Locator("#all-healthy").CountAsync());

        // The live feed: a record made now arrives on the open page, and no record is listed twice (the page came with the latest
        // records, and the stream starts a little before the page was made).
        await f.ReportAsync("wv-u1", 1, healthy: false);
        await Assertions.Expect(page.Locator("#feed li[data-kind=health-changed]", new() { HasText = "wv-u1" }).First).ToBeVisibleAsync(new() { Timeout = 15_000 });
        await Task.Delay(2500); // two more reads of the trail by the feed
        var ids = await page.EvalOnSelectorAllAsync<string[]>("#feed li", "items => items.map(i => i.dataset.id)");
        Assert.True(ids.Length > 3, $"{ids.Length} records in the feed");
        Assert.Equal(ids.Length, ids.Distinct().Count());

        // Links, flows, principals, learning and the policy have pages of their own (the feed and the trail link to them).
        using var admin = await f.HttpAsAsync("wv-admin", "admin");
        foreach (var (id, latency) in new[] { ("wa~wb", 5.0), ("wb~wc", 5.0), ("wa~wc", 20.0) })
            Assert.True((await admin.PutAsJsonAsync($"/api/v1/links/{id}", new { capacityMbps = 100, latencyMs = latency, failureDomain = "wv-metro" })).IsSuccessStatusCode);
        for (var seq = 1; seq <= 3; seq++)
        {
            var probes = new[] { "wa~wb", "wb~wc", "wa~wc" }.Select(l => new { link = l, up = true, latencyMs = 4.0, lossPercent = 0.0, sequence = seq, ttlSeconds = 60 });
            Assert.True((await admin.PostAsJsonAsync("/api/v1/links/probes", probes)).IsSuccessStatusCode);
        }
        var put = await admin.PutAsJsonAsync("/api/v1/flows/wv-flow", new { source = "wa", destination = "wc", demandMbps = 10, priority = 5 });
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        Assert.True((await admin.PostAsJsonAsync("/api/v1/principals/telemetry", new[] { new { principal = "wv-svc@corp", bytesOut = 1000, requests = 10 } })).IsSuccessStatusCode);

        // The network's list learns of a new flow on its own turn: wait until the API lists it, then open the page.
        for (var until = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < until; await Task.Delay(200))
            if ((await f.GetJsonAsync("/api/v1/flows")).EnumerateArray().Any(x => x.GetProperty("spec").GetProperty("id").GetString() == "wv-flow")) break;
        await page.ClickAsync("header a[href='/ui/links']");
        await Assertions.Expect(page.Locator("#links tr[data-link='wa~wb']")).ToContainTextAsync("Up");
        await Assertions.Expect(page.Locator("#flows tr[data-flow=wv-flow]")).ToContainTextAsync("wa–wb–wc");
        await page.ClickAsync("#links tr[data-link='wa~wb'] a");
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("Link wa~wb");
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("wv-flow");
        await Assertions.Expect(page.Locator("#records")).ToContainTextAsync("wa~wb");
        await page.ClickAsync("a[href='/ui/flows/wv-flow']");
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("Flow wv-flow");
        await Assertions.Expect(page.Locator("#state")).ToContainTextAsync("Active");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Shots, "flow.png"), FullPage = true });

        await page.ClickAsync("header a[href='/ui/principals']");
        await Assertions.Expect(page.Locator("#principals tr[data-principal='wv-svc@corp']")).ToContainTextAsync("Normal");
        await page.ClickAsync("#principals tr[data-principal='wv-svc@corp'] a");
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("Principal wv-svc@corp");
        await page.ClickAsync("header a[href='/ui/learning']");
        await Assertions.Expect(page.Locator("#learning-policy")).ToContainTextAsync("Not applied");
        await page.ClickAsync("header a[href='/ui/policy']");
        await Assertions.Expect(page.Locator("#version")).ToContainTextAsync("v");
        await Assertions.Expect(page.Locator("#history")).ToBeVisibleAsync();

        // An unknown subject is a 404 page that says so, not an error.
        var missing = await page.GotoAsync("/ui/links/zz~zy");
        Assert.Equal(404, missing!.Status);
        await Assertions.Expect(page.Locator("p.error")).ToContainTextAsync("Link zz~zy is not defined");
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
