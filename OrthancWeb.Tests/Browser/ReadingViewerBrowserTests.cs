using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using OrthancWeb.Index;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// The reading viewer in chromium: two viewports that scroll together, a reference line between orthogonal series,
/// and measurements drawn with the mouse that measure HU and stay with the user who drew them.
/// </summary>
public sealed partial class ReadingViewerBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-reading-")
{
    private const string Patient = "READER";
    private const string Study = "2.25.8101";
    private const string FrameOfReference = "2.25.8101.9";

    private static async Task<string> StoreAsync(HttpClient client, string seriesUid, GeneratedInstances.Plane plane, int count, double first, double step, int number, string description)
    {
        foreach (var instance in GeneratedInstances.VolumeSeries(Patient, Study, seriesUid, FrameOfReference, plane, count, first, step, number, description))
            Assert.True((await client.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).IsSuccessStatusCode);
        return PublicIds.Series(Patient, Study, seriesUid);
    }

    private static ILocator Viewport(IPage page, int n) => page.Locator($"[data-testid=viewer][data-viewport='{n}']");

    /// <summary>The z of the slice a viewport shows, from its overlay ("Position -126 -126 20").</summary>
    private static async Task<double> ZAsync(IPage page, int n)
    {
        var text = await Viewport(page, n).Locator("[data-testid=slice-position]").InnerTextAsync();
        return double.Parse(text.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1], CultureInfo.InvariantCulture);
    }

    /// <summary>Drags with the mouse between two points of a viewport's 64 x 64 image, in image coordinates.</summary>
    private static async Task DragAsync(IPage page, int n, (double X, double Y) from, (double X, double Y) to)
    {
        var box = (await Viewport(page, n).Locator("svg.marks").BoundingBoxAsync())!;
        var scale = Math.Min(box.Width / 64, box.Height / 64);
        var (left, top) = (box.X + (box.Width - 64 * scale) / 2, box.Y + (box.Height - 64 * scale) / 2);
        await page.Mouse.MoveAsync((float)(left + from.X * scale), (float)(top + from.Y * scale));
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync((float)(left + (from.X + to.X) / 2 * scale), (float)(top + (from.Y + to.Y) / 2 * scale));
        await page.Mouse.MoveAsync((float)(left + to.X * scale), (float)(top + to.Y * scale));
        await page.Mouse.UpAsync();
    }

    /// <summary>Opens the viewer at <paramref name="url"/> and goes to the last slice of its first viewport (z = 45).</summary>
    private static async Task OpenAtLastSliceAsync(IPage page, string url)
    {
        await page.GotoAsync(url);
        await Chromium.Interactive(page);
        await Viewport(page, 1).FocusAsync();
        await page.Keyboard.PressAsync("End");
        await page.WaitForFunctionAsync("() => document.querySelector(\"[data-viewport='1'] [data-testid=slice-position]\").textContent.endsWith(' 45')");
    }

    [GeneratedRegex(@"Length: ([0-9.]+) mm")]
    private static partial Regex LengthLabel();

    [Fact]
    public async Task Two_viewports_scroll_together_show_reference_lines_and_keep_each_users_measurements()
    {
        string axial5, axial3, sagittal;
        using (var client = Server.CreateRestClient())
        {
            axial5 = await StoreAsync(client, "2.25.8101.1", GeneratedInstances.Plane.Axial, 10, 0, 5, 1, "AXIAL 5MM");
            axial3 = await StoreAsync(client, "2.25.8101.2", GeneratedInstances.Plane.Axial, 16, 0, 3, 2, "AXIAL 3MM");
            sagittal = await StoreAsync(client, "2.25.8101.3", GeneratedInstances.Plane.Sagittal, 8, -14, 4, 3, "SAGITTAL");
        }
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        var viewer = Url($"ui/viewer/{axial5}?layout=2&series={axial3}");
        await page.GotoAsync(viewer);
        await Chromium.Interactive(page);
        await Viewport(page, 2).Locator("[data-testid=slice]").WaitForAsync();

        // Scrolling the 5 mm series to z = 20 brings the 3 mm one to its nearest slice, z = 21; and back.
        await Viewport(page, 1).FocusAsync();
        for (var i = 0; i < 4; i++) await page.Keyboard.PressAsync("ArrowDown");
        await page.WaitForFunctionAsync("() => document.querySelector(\"[data-viewport='1'] [data-testid=slice-number]\").textContent.includes('Slice 5 /')");
        await page.WaitForFunctionAsync("() => document.querySelector(\"[data-viewport='2'] [data-testid=slice-position]\").textContent.endsWith(' 21')");
        Assert.Equal((20, 21), (await ZAsync(page, 1), await ZAsync(page, 2)));
        await Viewport(page, 2).FocusAsync();
        await page.Keyboard.PressAsync("End"); // z = 45, the last of both
        await page.WaitForFunctionAsync("() => document.querySelector(\"[data-viewport='1'] [data-testid=slice-position]\").textContent.endsWith(' 45')");
        // Sync off: the other viewport stays where it is.
        await page.ClickAsync("input[data-testid=sync], [data-testid=sync] input");
        await Viewport(page, 2).FocusAsync();
        await page.Keyboard.PressAsync("Home");
        await page.WaitForFunctionAsync("() => document.querySelector(\"[data-viewport='2'] [data-testid=slice-position]\").textContent.endsWith(' 0')");
        Assert.Equal(45, await ZAsync(page, 1));

        // The sagittal series in the second viewport: its first slice (x = -14) is a line down column 28.5 of the axial one.
        await Viewport(page, 2).Locator("..").Locator("[data-testid=series-picker]").SelectOptionAsync(sagittal);
        await page.WaitForFunctionAsync("s => location.search.includes(s)", sagittal);
        var line = Viewport(page, 1).Locator("[data-testid=reference-line]");
        await line.WaitForAsync(new() { State = WaitForSelectorState.Attached }); // a vertical line has no width: "visible" never holds
        Assert.Equal(("28.5", "28.5", "0", "64"), (await line.GetAttributeAsync("x1"), await line.GetAttributeAsync("x2"),
            Math.Min(double.Parse((await line.GetAttributeAsync("y1"))!, CultureInfo.InvariantCulture), double.Parse((await line.GetAttributeAsync("y2"))!, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture),
            Math.Max(double.Parse((await line.GetAttributeAsync("y1"))!, CultureInfo.InvariantCulture), double.Parse((await line.GetAttributeAsync("y2"))!, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture)));
        // Its line on the sagittal one follows the axial slice: z = 45 is row (126 - 45) / 4 + 0.5 = 20.75.
        Assert.Equal("20.75", await Viewport(page, 2).Locator("[data-testid=reference-line]").GetAttributeAsync("y1"));

        // Measurements on the axial slice: a rectangle in the 40 HU area, and a length of 20 pixels (80 mm).
        await Viewport(page, 1).ClickAsync(new() { Position = new() { X = 5, Y = 5 } }); // active viewport: 1
        await page.ClickAsync("[data-testid=tool-rectangle]");
        await DragAsync(page, 1, (20, 20), (40, 40));
        await page.WaitForSelectorAsync("[data-testid=measurement-label]:has-text('Mean 40.0 HU, SD 0.0, min 40, max 40')");
        // The length tool by its key, from the focused viewport.
        await Viewport(page, 1).FocusAsync();
        await page.Keyboard.PressAsync("l");
        await page.WaitForSelectorAsync("[data-testid=tool-length][aria-pressed=true]");
        await DragAsync(page, 1, (10, 10), (10, 30));
        var length = page.Locator("[data-testid=measurement-label]", new() { HasText = "Length" });
        await length.WaitForAsync();
        Assert.InRange(double.Parse(LengthLabel().Match(await length.InnerTextAsync()).Groups[1].Value, CultureInfo.InvariantCulture), 79, 81);
        Assert.Equal(2, await Viewport(page, 1).Locator("[data-testid=measurement-mark]").CountAsync());
        await Chromium.ShotAsync(page, "20-reading-viewer");

        // Kept: a new visit draws them again, measured again from the pixels.
        await OpenAtLastSliceAsync(page, viewer.Replace(axial3, sagittal, StringComparison.Ordinal));
        await page.WaitForSelectorAsync("[data-testid=measurement-label]:has-text('Mean 40.0 HU')");
        Assert.Equal(2, await Viewport(page, 1).Locator("[data-testid=measurement-mark]").CountAsync());
        // Deleting one leaves the other, for good.
        await page.ClickAsync("[data-testid=delete-measurement] >> nth=0");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=measurement]').length === 1");

        // Another user sees none of them.
        await page.GotoAsync(Url("ui/users"));
        await Chromium.Interactive(page);
        await page.FillAsync("input[data-testid=new-user-name], [data-testid=new-user-name] input", "second");
        await page.FillAsync("input[data-testid=new-user-password], [data-testid=new-user-password] input", "Second-Pa55");
        await page.ClickAsync("[data-testid=add-user]");
        await page.WaitForSelectorAsync("[data-testid=users] >> text=second");
        var other = await Chromium.SignInAsync(Server, "second", "Second-Pa55");
        await OpenAtLastSliceAsync(other, viewer);
        // The viewport counts the stored measurements of the slice it shows, with the slice, in the same render.
        Assert.Equal("0", await Viewport(other, 1).GetAttributeAsync("data-measurement-count"));
        Assert.Equal(0, await other.Locator("[data-testid=measurement-mark]").CountAsync());
        // While the first user's remaining measurement is still theirs, on the same slice.
        await OpenAtLastSliceAsync(page, viewer);
        Assert.Equal("1", await Viewport(page, 1).GetAttributeAsync("data-measurement-count"));
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=measurement]').length === 1");

        // Four viewports: the two series and two empty ones waiting for a choice.
        await page.ClickAsync("[data-testid=layout-4]");
        await page.WaitForFunctionAsync("() => location.search.includes('layout=4')");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=empty-viewport]').length === 2");
        Assert.Equal(2, await page.Locator("[data-testid=viewer][data-viewport]").CountAsync());
        await Chromium.ShotAsync(page, "21-reading-viewer-four");
        output.WriteLine("reading viewer: sync, reference lines, measurements per user checked");
    }
}
