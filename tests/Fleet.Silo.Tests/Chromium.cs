using Microsoft.Playwright;

namespace Fleet.Silo.Tests;

/// <summary>Debian's Chromium driven by Playwright (its own browser download fails here), one per test class.</summary>
public sealed class Chromium : IAsyncDisposable
{
    public IPlaywright Playwright { get; private init; } = null!;
    public IBrowser Browser { get; private init; } = null!;

    public static async Task<Chromium> LaunchAsync()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
        return new Chromium { Playwright = playwright, Browser = browser };
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        Playwright.Dispose();
    }
}
