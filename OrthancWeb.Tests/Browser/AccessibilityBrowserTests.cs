using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// Every page of the explorer under axe-core (Deque's engine, as auditors run it): no serious or critical violation,
/// in the light and the dark theme (the theme follows the system's setting), and no page wider than a tablet.
/// </summary>
public sealed class AccessibilityBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-a11y-")
{

    /// <summary>Every page a user can open, with the element that says it has loaded its data.</summary>
    private async Task<List<(string Path, string Ready)>> PagesAsync()
    {
        using var client = Server.CreateRestClient();
        var ct = await Rest.UploadAsync(client, Rest.Sample("CT_small.dcm"));
        await Rest.UploadAsync(client, Rest.Sample("MR_small.dcm"));
        string Id(string key) => ct[key]!.GetValue<string>();
        // DICOM-RT: a CT with its structure set and dose (the viewer's RT panel), and an RT Plan's summary.
        var rt = Infrastructure.GeneratedRt.Make();
        foreach (var instance in rt.All)
            Assert.True((await client.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).IsSuccessStatusCode);
        var plan = (await Rest.UploadAsync(client, Rest.Sample("rtplan.dcm")))["ID"]!.GetValue<string>();
        return
        [
            ("", "[data-testid=recent-study]"),
            ("ui/patients", "[data-testid=patient-link]"),
            ($"ui/patients/{Id("ParentPatient")}", "[data-testid=timeline-study]"),
            ("ui/studies", "[data-testid=study-link]"),
            ($"ui/studies/{Id("ParentStudy")}", "[data-testid=series-list] tbody tr"),
            ($"ui/series/{Id("ParentSeries")}", "[data-testid=open-instance]"),
            ($"ui/instances/{Id("ID")}", "[data-testid=tag-tree]"),
            ($"ui/viewer/{Id("ParentSeries")}", "[data-testid=slice]"),
            ($"ui/viewer/{rt.CtSeriesId}", "[data-testid=rt-panel]"),
            ($"ui/instances/{plan}/rtplan", "[data-testid=beams]"),
            ("ui/upload", "[data-testid=upload-input][data-ready=true]"),
            ("ui/jobs", "[data-testid=jobs]"),
            ("ui/modalities", "h5, h6"),
            ("ui/routing", "h5, h6"),
            ("ui/users", "[data-testid=users]"),
            ("ui/audit", "[data-testid=audit-grid]"),
            ("account/password", "form"),
        ];
    }

    /// <summary>The serious and critical violations of the page as axe reports them, one line each.</summary>
    private static async Task<List<string>> ViolationsAsync(IPage page, string path)
    {
        var result = await page.RunAxe();
        return result.Violations
            .Where(v => v.Impact is "serious" or "critical")
            .SelectMany(v => v.Nodes.Select(n => $"/{path}: {v.Impact} {v.Id} ({v.Help}) at {string.Join(" ", n.Target)}: {n.Html}"))
            .ToList();
    }

    /// <summary>
    /// One walk through the pages, each audited in both themes: the page is loaded once, axe runs, the system's
    /// setting flips, the page follows it (its background says when), and axe runs again.
    /// </summary>
    [Fact]
    public async Task Every_page_passes_axe_in_the_light_and_the_dark_theme_with_no_serious_or_critical_violation()
    {
        var pages = await PagesAsync();
        var violations = new List<string>();

        // The login page, before signing in.
        foreach (var scheme in new[] { ColorScheme.Light, ColorScheme.Dark })
        {
            var context = await Chromium.Browser.NewContextAsync(new() { IgnoreHTTPSErrors = true, ColorScheme = scheme, ViewportSize = new() { Width = 1280, Height = 900 } });
            var anonymous = await context.NewPageAsync();
            await anonymous.GotoAsync($"https://localhost:{Server.HttpsPort}/account/login");
            violations.AddRange(await ViolationsAsync(anonymous, $"account/login ({scheme})"));
            await context.CloseAsync();
        }

        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        var current = ColorScheme.Light;
        await page.EmulateMediaAsync(new() { ColorScheme = current });
        foreach (var (i, (path, ready)) in pages.Index())
        {
            var live = !path.StartsWith("account/", StringComparison.Ordinal); // account pages are static
            await page.GotoAsync($"https://localhost:{Server.HttpsPort}/{path}");
            if (live) await Chromium.Interactive(page);
            await page.WaitForSelectorAsync(ready, new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });
            // Each page starts in the theme the previous one ended in, then flips: both themes, one load.
            for (var pass = 0; pass < 2; pass++)
            {
                if (pass == 1)
                {
                    current = current == ColorScheme.Light ? ColorScheme.Dark : ColorScheme.Light;
                    await page.EmulateMediaAsync(new() { ColorScheme = current });
                    if (!live) await page.ReloadAsync(); // a static page reads the setting when it loads
                }
                // The theme follows the system once the circuit is live (the page's background says which one is on).
                if (live)
                    await page.WaitForFunctionAsync("dark => getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).every(c => +c < 100) === dark",
                        current == ColorScheme.Dark, new() { Timeout = 10_000 });
                // Buttons ease into the new theme's colours (MudBlazor's 250 ms transitions): audit the colours the
                // user is left with, not a frame half-way (a CI run caught a filled button mid-way at low contrast).
                await page.WaitForFunctionAsync("() => document.getAnimations().every(a => !(a instanceof CSSTransition))",
                    null, new() { Timeout = 10_000 });
                violations.AddRange(await ViolationsAsync(page, $"{path} ({current})"));
                await Chromium.ShotAsync(page, $"a11y-{current.ToString().ToLowerInvariant()}-{i:00}-{string.Join("-", path.Split('/').Take(2))}");
            }
        }
        foreach (var v in violations) output.WriteLine(v);
        Assert.True(violations.Count == 0, $"{violations.Count} serious or critical axe violation(s):\n{string.Join("\n", violations)}");
    }

    [Fact]
    public async Task Every_page_fits_a_tablet_without_sideways_scrolling()
    {
        var pages = await PagesAsync();
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        var tooWide = new List<string>();
        foreach (var (width, height) in new[] { (768, 1024), (1024, 768) })
        {
            await page.SetViewportSizeAsync(width, height);
            foreach (var (path, ready) in pages)
            {
                await page.GotoAsync($"https://localhost:{Server.HttpsPort}/{path}");
                if (!path.StartsWith("account/", StringComparison.Ordinal)) await Chromium.Interactive(page);
                await page.WaitForSelectorAsync(ready, new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });
                var scroll = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
                if (scroll > width) tooWide.Add($"/{path} at {width}x{height} is {scroll} px wide");
            }
            await Chromium.ShotAsync(page, $"tablet-{width}x{height}-last");
        }
        Assert.True(tooWide.Count == 0, string.Join("\n", tooWide));
    }
}
