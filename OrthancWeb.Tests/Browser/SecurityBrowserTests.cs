using Microsoft.Playwright;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// Issue 15.14 and 15.11 in Debian's chromium: every page works under the Content-Security-Policy with no violation
/// reported, and an open page of a user who is deleted goes back to the login page within the validation interval.
/// </summary>
public sealed class SecurityBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-sec-")
{
    /// <summary>Open circuits revalidated every second, so a deleted user's page is seen out quickly.</summary>
    protected override Dictionary<string, string>? ServerEnvironment => new() { ["Security__SessionValidationInterval"] = "1" };

    /// <summary>A page that records every CSP violation (the DOM event and the console's report) in <paramref name="violations"/>.</summary>
    private async Task<IPage> NewPageAsync(List<string> violations)
    {
        var context = await Chromium.Browser.NewContextAsync(new() { IgnoreHTTPSErrors = true, ViewportSize = new() { Width = 1400, Height = 1000 } });
        await context.AddInitScriptAsync("document.addEventListener('securitypolicyviolation', e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));");
        var page = await context.NewPageAsync();
        page.Console += (_, message) =>
        {
            if (message.Type == "error") output.WriteLine("console error: " + message.Text);
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase) ||
                message.Text.Contains("CSP violation", StringComparison.Ordinal))
                lock (violations) violations.Add(message.Text);
        };
        return page;
    }

    private async Task LoginAsync(IPage page, string user, string password)
    {
        await page.GotoAsync($"https://localhost:{Server.HttpsPort}/");
        await page.WaitForURLAsync("**/account/login**");
        await page.FillAsync("#userName", user);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("[data-testid=current-user]");
        await Interactive(page);
    }

    private static Task<IElementHandle?> Interactive(IPage page) =>
        page.WaitForSelectorAsync("[data-testid=interactive]", new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });

    private static string Field(string testId) => $"input[data-testid={testId}], [data-testid={testId}] input";

    [Fact]
    public async Task Every_page_works_under_the_content_security_policy_and_a_deleted_users_open_page_is_signed_out()
    {
        var violations = new List<string>();
        var admin = await NewPageAsync(violations);
        await LoginAsync(admin, "admin", ServerProcess.AdminPassword);
        foreach (var (nav, selector) in new[]
                 {
                     ("nav-patients", "[data-testid=patients-grid]"), ("nav-studies", "[data-testid=studies-grid]"),
                     ("nav-upload", "input[type=file]"), ("nav-jobs", "text=Jobs"), ("nav-modalities", "text=Modalities"),
                     ("nav-routing", "text=Routing"), ("nav-users", "[data-testid=users]"),
                 })
        {
            await admin.ClickAsync($"[data-testid={nav}]");
            await admin.WaitForSelectorAsync(selector, new() { State = WaitForSelectorState.Attached, Timeout = 15_000 });
        }
        // Interactive: a MudBlazor select opens and a user is added through the circuit.
        await admin.FillAsync(Field("new-user-name"), "temp");
        await admin.FillAsync(Field("new-user-password"), "Temp-Pa55word");
        await admin.ClickAsync("[data-testid=add-user]");
        await admin.WaitForSelectorAsync("[data-testid=users] >> text=temp");

        // The temporary user opens a page and leaves it open (a live circuit).
        var temp = await NewPageAsync(violations);
        await LoginAsync(temp, "temp", "Temp-Pa55word");
        await temp.ClickAsync("[data-testid=nav-studies]");
        await temp.WaitForSelectorAsync("[data-testid=studies-grid]");

        await admin.Locator("[data-testid=users] tbody tr", new() { HasText = "temp" }).Locator("button:has-text('Delete')").ClickAsync();
        await admin.WaitForSelectorAsync("[data-testid=users] >> text=temp", new() { State = WaitForSelectorState.Detached });
        // Within the interval (1 s here) the circuit is found out and the page goes to the login page, where the
        // cookie is refused too. 20 s is the deadline on a loaded machine, not the expectation.
        await temp.WaitForFunctionAsync("() => location.pathname === '/account/login'", null, new() { Timeout = 20_000 });
        await temp.GotoAsync($"https://localhost:{Server.HttpsPort}/ui/studies");
        await temp.WaitForURLAsync("**/account/login**");

        // The API's documentation page has its own policy and works under it.
        await admin.GotoAsync($"https://localhost:{Server.HttpsPort}/api-docs");
        await admin.WaitForSelectorAsync(".swagger-ui", new() { Timeout = 15_000 });

        Assert.True(violations.Count == 0, "CSP violations:\n" + string.Join("\n", violations));
    }
}
