using System.Diagnostics;
using System.Net;
using Microsoft.Playwright;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// Issue 6's target for the viewer: the next slice of a 512x512 CT on screen within 100 ms of the key press, once
/// the reader has looked at the current one long enough for its neighbours to load. Timed alone (see
/// <see cref="Alone"/>): two other server tests beside it on a 2-core CI machine made 80-120 ms of the same change.
/// </summary>
[Collection(Alone.Name)]
public sealed class SliceChangeTimingBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-slices-")
{
    private const int Slices = 7;

    [Fact]
    public async Task The_next_slice_is_on_screen_within_100_ms_of_the_key_press()
    {
        string series;
        using (var client = Server.CreateRestClient())
        {
            string? id = null;
            for (var i = 1; i <= Slices; i++)
            {
                using var r = await client.PostAsync("/instances", new ByteArrayContent(BrowserTests.Ct512("TIMED-1", i)));
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                id = System.Text.Json.Nodes.JsonNode.Parse(await r.Content.ReadAsStringAsync())!["ParentSeries"]!.GetValue<string>();
            }
            series = id!;
        }
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await page.GotoAsync(Url($"ui/viewer/{series}"));
        await Chromium.Interactive(page);
        await page.WaitForSelectorAsync("[data-testid=slice][data-index='0']");
        await page.FocusAsync("[data-testid=viewer]");
        // A reader's first look through the series, untimed: a fresh server compiles its render and event paths on
        // first use (Debug build, seconds on a loaded machine), which is not what a reader scrolling a series meets.
        for (var k = 1; k < Slices; k++)
        {
            await page.Keyboard.PressAsync("ArrowDown");
            await page.WaitForSelectorAsync($"[data-testid=slice][data-index='{k}']");
        }
        for (var k = Slices - 2; k >= 0; k--)
        {
            await page.Keyboard.PressAsync("ArrowUp");
            await page.WaitForSelectorAsync($"[data-testid=slice][data-index='{k}']");
        }
        var changes = new List<long>();
        for (var k = 1; k < Slices; k++)
        {
            // A reader looks at a slice for a moment before moving on: by then its neighbours have loaded.
            await page.WaitForFunctionAsync("() => window.owViewer && owViewer.cache.size > 0 && [...owViewer.cache.values()].every(i => i.complete)", null, new() { Timeout = 15_000 });
            var clock = Stopwatch.StartNew();
            await page.Keyboard.PressAsync("ArrowDown");
            await page.WaitForSelectorAsync($"[data-testid=slice][data-index='{k}']");
            await page.WaitForFunctionAsync("() => { const i = document.querySelector('[data-testid=slice]'); return i.complete && i.naturalWidth > 0; }");
            changes.Add(clock.ElapsedMilliseconds);
            output.WriteLine($"slice {k + 1} of a 512x512 CT: shown after {clock.ElapsedMilliseconds} ms");
        }
        Assert.Contains($"Slice {Slices} / {Slices}", await page.InnerTextAsync("[data-testid=slice-number]"));
        // The median, so that one hiccup of the machine does not decide.
        var median = changes.Order().ElementAt(changes.Count / 2);
        Assert.True(median < 100, $"slice changes took {string.Join(", ", changes)} ms (median {median})");
    }
}
