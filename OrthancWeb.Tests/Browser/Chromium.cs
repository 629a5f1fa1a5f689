using Microsoft.Playwright;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Browser;

/// <summary>Debian's chromium under Playwright, launched and signed in the same way by every browser test.</summary>
public sealed class Chromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private Chromium(IPlaywright playwright, IBrowser browser) => (Playwright, Browser) = (playwright, browser);

    public IPlaywright Playwright { get; }
    public IBrowser Browser { get; }

    public static async Task<Chromium> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"{ExecutablePath} is required by the browser tests: apt-get install -y chromium");
        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        return new Chromium(playwright, browser);
    }

    /// <summary>A new browser context (its own cookies) signed in through the login page, with the circuit connected.</summary>
    public async Task<IPage> SignInAsync(ServerProcess server, string user, string password)
    {
        var context = await Browser.NewContextAsync(new() { IgnoreHTTPSErrors = true, ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"https://localhost:{server.HttpsPort}/");
        await page.WaitForURLAsync("**/account/login**");
        await page.FillAsync("#userName", user);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=current-user]");
        await Interactive(page);
        return page;
    }

    /// <summary>Waits until the Blazor circuit is connected, so clicks and file choices reach the server.</summary>
    public static Task<IElementHandle?> Interactive(IPage page) =>
        page.WaitForSelectorAsync("[data-testid=interactive]", new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });

    /// <summary>Opens the upload page and waits until upload.js listens to its inputs and drop zone.</summary>
    public static async Task OpenUploadPageAsync(IPage page, ServerProcess server)
    {
        await page.GotoAsync($"https://localhost:{server.HttpsPort}/ui/upload");
        await Interactive(page);
        await page.WaitForSelectorAsync("[data-testid=upload-input][data-ready=true]", new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });
    }

    /// <summary>A screenshot kept with the test's output (browser-screenshots/).</summary>
    public static async Task ShotAsync(IPage page, string name)
    {
        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "browser-screenshots")).FullName;
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        Playwright.Dispose();
    }
}
