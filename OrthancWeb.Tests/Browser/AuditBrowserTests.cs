using System.Text.Json.Nodes;
using Microsoft.Playwright;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>The audit trail of what a clinician sees in chromium: one entry per page visit, however the page renders.</summary>
public sealed class AuditBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-audit-")
{

    private static async Task<JsonArray> ViewsOfAsync(HttpClient client, string resourceId)
    {
        var entries = (await Rest.GetJsonAsync(client, "/audit?action=View&limit=1000")).AsArray();
        return new JsonArray(entries.Where(e => e!["ResourceID"]?.GetValue<string>() == resourceId).Select(e => e!.DeepClone()).ToArray());
    }

    [Fact]
    public async Task A_page_loaded_in_full_is_one_view_although_it_renders_twice()
    {
        using var client = Server.CreateRestClient();
        var stored = await Rest.UploadAsync(client, Rest.Sample("CT_small.dcm"));
        var (studyId, seriesId) = (stored["ParentStudy"]!.GetValue<string>(), stored["ParentSeries"]!.GetValue<string>());
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);

        // A full load (typed URL, bookmark, new tab): prerendered with the data, then made interactive.
        await page.GotoAsync($"https://localhost:{Server.HttpsPort}/ui/studies/{studyId}");
        await Chromium.Interactive(page);
        await page.WaitForSelectorAsync("text=CompressedSamples^CT1", new() { Timeout = 30_000 });
        var views = await ViewsOfAsync(client, studyId);
        output.WriteLine(views.ToJsonString());
        Assert.Single(views);
        Assert.Equal("admin", views[0]!["User"]!.GetValue<string>());
        Assert.Equal("UI", views[0]!["Source"]!.GetValue<string>());

        // A second visit is a second view; the series page reached inside the app is one view too.
        await page.ReloadAsync();
        await Chromium.Interactive(page);
        await page.WaitForSelectorAsync("text=CompressedSamples^CT1", new() { Timeout = 30_000 });
        Assert.Equal(2, (await ViewsOfAsync(client, studyId)).Count);
        await page.GotoAsync($"https://localhost:{Server.HttpsPort}/ui/series/{seriesId}");
        await Chromium.Interactive(page);
        Assert.Single(await ViewsOfAsync(client, seriesId));
        // By now any second record of the first visits would be in: still two.
        Assert.Equal(2, (await ViewsOfAsync(client, studyId)).Count);
    }
}
