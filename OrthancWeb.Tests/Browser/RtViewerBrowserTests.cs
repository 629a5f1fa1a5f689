using Microsoft.Playwright;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// DICOM-RT in the reading viewer, in chromium: the generated structure set's square lies on screen over the
/// pixels its patient coordinates name, and stays on them as the image is zoomed and panned; its toggle hides it.
/// </summary>
public sealed class RtViewerBrowserTests() : ChromiumServerTest("ow-ui-rt-")
{
    private const int Size = 64;

    /// <summary>Where image coordinates (x, y) of the 64 x 64 slice are on screen: the image fills its box "contain", centred.</summary>
    private static async Task<(double X, double Y, double Scale)> ImageOriginAsync(IPage page)
    {
        var box = (await page.Locator("[data-testid=slice]").BoundingBoxAsync())!;
        var scale = Math.Min(box.Width / Size, box.Height / Size);
        return (box.X + (box.Width - Size * scale) / 2, box.Y + (box.Height - Size * scale) / 2, scale);
    }

    /// <summary>
    /// An SVG element's geometry on screen (left, top, right, bottom): its own box carried by the screen transform,
    /// zoom and pan included. Not the bounding client rect, which Chromium widens by a miter's reach of the stroke.
    /// </summary>
    private static async Task<double[]> OnScreenAsync(IPage page, string selector) =>
        await page.Locator(selector).EvaluateAsync<double[]>(
            "el => { const b = el.getBBox(), m = el.getScreenCTM(); return [b.x * m.a + m.e, b.y * m.d + m.f, (b.x + b.width) * m.a + m.e, (b.y + b.height) * m.d + m.f]; }");

    /// <summary>The square's corners on screen, as image coordinates through the image's own box on screen.</summary>
    private static async Task<(double Left, double Top, double Right, double Bottom)> SquareInImageAsync(IPage page)
    {
        var square = await OnScreenAsync(page, "polygon[data-testid=rt-contour]");
        var (x, y, scale) = await ImageOriginAsync(page);
        return ((square[0] - x) / scale, (square[1] - y) / scale, (square[2] - x) / scale, (square[3] - y) / scale);
    }

    private static void AssertSquareAt20_5To40_5((double Left, double Top, double Right, double Bottom) square)
    {
        // The square from (-46, -46) to (34, 34) mm is image (20.5, 20.5) to (40.5, 40.5); a tenth of a pixel for rounding.
        Assert.InRange(square.Left, 20.4, 20.6);
        Assert.InRange(square.Top, 20.4, 20.6);
        Assert.InRange(square.Right, 40.4, 40.6);
        Assert.InRange(square.Bottom, 40.4, 40.6);
    }

    [Fact]
    public async Task Structure_contour_is_drawn_over_its_pixels_and_follows_zoom_and_pan()
    {
        var rt = GeneratedRt.Make();
        using (var client = Server.CreateRestClient())
            foreach (var instance in rt.All)
                Assert.True((await client.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).IsSuccessStatusCode);
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await page.GotoAsync(Url($"ui/viewer/{rt.CtSeriesId}"));
        await Chromium.Interactive(page);
        await page.WaitForSelectorAsync("[data-testid=rt-panel]");

        // Slice 3 (z = 10) by the keyboard.
        await page.Locator("[data-testid=viewer]").FocusAsync();
        await page.Keyboard.PressAsync("ArrowDown");
        await page.Keyboard.PressAsync("ArrowDown");
        await page.WaitForSelectorAsync("polygon[data-testid=rt-contour]");
        Assert.Equal("#ff0000", await page.Locator("polygon[data-testid=rt-contour]").GetAttributeAsync("stroke"));
        AssertSquareAt20_5To40_5(await SquareInImageAsync(page));
        var before = await OnScreenAsync(page, "polygon[data-testid=rt-contour]");

        // Zoomed twice (x 1.5625): larger on screen by as much, still over the same pixels.
        await page.ClickAsync("button:has-text('Zoom +')");
        await page.ClickAsync("button:has-text('Zoom +')");
        await page.WaitForFunctionAsync("() => document.querySelector('.viewer .frame').style.transform.includes('scale(1.5625)')");
        var zoomed = await OnScreenAsync(page, "polygon[data-testid=rt-contour]");
        Assert.InRange((zoomed[2] - zoomed[0]) / (before[2] - before[0]), 1.55, 1.575);
        AssertSquareAt20_5To40_5(await SquareInImageAsync(page));

        // Panned with the mouse: the image and the square move together.
        await page.ClickAsync("[data-testid=tool-pan]");
        var viewer = (await page.Locator("[data-testid=viewer]").BoundingBoxAsync())!;
        var (cx, cy) = ((float)(viewer.X + viewer.Width / 2), (float)(viewer.Y + viewer.Height / 2));
        await page.Mouse.MoveAsync(cx, cy);
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync(cx + 40, cy + 30, new() { Steps = 4 });
        await page.Mouse.UpAsync();
        // Each of the four mouse moves is its own round trip and render: wait for the last one's, not the first that
        // moved the frame (once the wait ended on the third move's 30 px). A pan that never gets there times out.
        await page.WaitForFunctionAsync("""
            x0 => {
              const el = document.querySelector('polygon[data-testid=rt-contour]'), b = el.getBBox(), m = el.getScreenCTM();
              return b.x * m.a + m.e - x0 >= 35;
            }
            """, zoomed[0], new() { Timeout = 15_000 });
        var panned = await OnScreenAsync(page, "polygon[data-testid=rt-contour]");
        Assert.InRange(panned[0] - zoomed[0], 35, 45);
        Assert.InRange(panned[1] - zoomed[1], 25, 35);
        AssertSquareAt20_5To40_5(await SquareInImageAsync(page));
        await Chromium.ShotAsync(page, "30-rt-viewer-structures");

        // The isodose line at 1.5 Gy (100% of a 1.5 Gy reference) runs down column 25.5.
        await page.FillAsync("[data-testid=dose-reference]", "1.5");
        await page.Locator("[data-testid=dose-reference]").DispatchEventAsync("change");
        await page.FillAsync("[data-testid=dose-levels]", "100");
        await page.Locator("[data-testid=dose-levels]").DispatchEventAsync("change");
        // Each change is its own round trip: wait for the one line of the one level.
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('[data-testid=isodose]')].map(p => p.dataset.level).join() === '1.5'");
        var line = await OnScreenAsync(page, "[data-testid=isodose]");
        var (x, _, scale) = await ImageOriginAsync(page);
        Assert.InRange((line[0] - x) / scale, 25.4, 25.6);
        Assert.InRange((line[2] - x) / scale, 25.4, 25.6);

        // The PTV's toggle, by the keyboard: its square goes.
        await page.Locator("input[data-roi=PTV]").FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await page.WaitForSelectorAsync("polygon[data-testid=rt-contour]", new() { State = WaitForSelectorState.Detached });
        Assert.Equal(1, await page.Locator("circle[data-testid=rt-contour]").CountAsync());
    }
}
