using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// The explorer's navigation as a clinician uses it in chromium: rows are links (middle-click opens a tab), the
/// studies grid's search, page and sort are in the URL (bookmark, reload, back), and a patient's timeline.
/// </summary>
public sealed class ExplorerLinksBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-links-")
{
    private HttpClient _client = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _client = Server.CreateRestClient();
    }

    public override async Task DisposeAsync()
    {
        _client?.Dispose(); // null when the server did not start
        await base.DisposeAsync();
    }

    /// <summary>A 64x64 slice of its own study: the UIDs come from the patient and study numbers, so each call is one study.</summary>
    private static byte[] Slice(string patientId, int study, string date, string modality, string description)
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SpecificCharacterSet, "ISO_IR 100");
        ds.Add(DicomTags.SOPClassUID, modality == "MR" ? "1.2.840.10008.5.1.4.1.1.4" : "1.2.840.10008.5.1.4.1.1.2");
        var uid = $"2.25.{(uint)StableHash(patientId)}.{study}";
        ds.Add(DicomTags.SOPInstanceUID, uid + ".1.1");
        ds.Add(DicomTags.StudyInstanceUID, uid);
        ds.Add(DicomTags.SeriesInstanceUID, uid + ".1");
        ds.Add(DicomTags.PatientName, $"LINKS^{patientId}");
        ds.Add(DicomTags.PatientID, patientId);
        ds.Add(DicomTags.StudyDate, date);
        ds.Add(DicomTags.StudyDescription, description);
        ds.Add(DicomTags.Modality, modality);
        ds.Add(DicomTags.SeriesNumber, "1");
        ds.Add(DicomTags.InstanceNumber, "1");
        ds.Add(DicomTags.SamplesPerPixel, (ushort)1);
        ds.Add(DicomTags.PhotometricInterpretation, "MONOCHROME2");
        ds.Add(DicomTags.Rows, (ushort)64);
        ds.Add(DicomTags.Columns, (ushort)64);
        ds.Add(DicomTags.BitsAllocated, (ushort)8);
        ds.Add(DicomTags.BitsStored, (ushort)8);
        ds.Add(DicomTags.HighBit, (ushort)7);
        ds.Add(DicomTags.PixelRepresentation, (ushort)0);
        var pixels = new byte[64 * 64];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i % 64 * 4);
        ds.AddBytes(DicomTags.PixelData, DicomVR.OB, pixels);
        var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return file.ToBytes();
    }

    private static int StableHash(string text) => text.Aggregate(17, (h, c) => unchecked(h * 31 + c));

    private async Task<JsonNode> StoreAsync(byte[] file)
    {
        using var response = await _client.PostAsync("/instances", new ByteArrayContent(file));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        return body;
    }

    /// <summary>The patient names in the studies grid's rows, top to bottom.</summary>
    private static async Task<string[]> GridPatientsAsync(IPage page) =>
        (await page.Locator("[data-testid=studies-grid] [data-testid=study-link]").AllInnerTextsAsync()).Select(t => t.Trim()).ToArray();

    private static Task<IJSHandle> WaitForLocationAsync(IPage page, string pattern) =>
        page.WaitForFunctionAsync("p => new RegExp(p).test(location.pathname + location.search)", pattern, new() { Timeout = 15_000 });

    /// <summary>Waits until the grid shows exactly these patients, in this order.</summary>
    private static async Task WaitForRowsAsync(IPage page, params string[] patients)
    {
        try
        {
            await page.WaitForFunctionAsync(
                "want => JSON.stringify([...document.querySelectorAll('[data-testid=studies-grid] [data-testid=study-link]')].map(a => a.textContent.trim())) === want",
                System.Text.Json.JsonSerializer.Serialize(patients), new() { Timeout = 15_000 });
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"grid shows [{string.Join(", ", await GridPatientsAsync(page))}], expected [{string.Join(", ", patients)}] at {page.Url}");
        }
    }

    [Fact]
    public async Task Study_rows_are_links_and_the_search_page_and_sort_survive_bookmark_reload_and_back()
    {
        // 30 studies of 30 patients a day apart (LINKS^P00 oldest), and one that the search must leave out.
        var studyOf = new Dictionary<string, string>();
        for (var i = 0; i < 30; i++)
        {
            var id = $"P{i:00}";
            var stored = await StoreAsync(Slice(id, 1, new DateOnly(2024, 1, 1).AddDays(i).ToString("yyyyMMdd", CultureInfo.InvariantCulture), "CT", $"CHEST {i}"));
            studyOf[$"LINKS^{id}"] = stored["ParentStudy"]!.GetValue<string>();
        }
        await StoreAsync(Slice("ELSEWHERE", 1, "20240615", "MR", "KNEE"));
        var newestFirst = Enumerable.Range(0, 30).Reverse().Select(i => $"LINKS^P{i:00}").ToArray();

        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await page.GotoAsync(Url("ui/studies"));
        await Chromium.Interactive(page);
        await page.FillAsync("input[data-testid=search-name], [data-testid=search-name] input", "links^p");
        await page.ClickAsync("[data-testid=search-button]");
        // The search is in the URL, and the grid is on its first page, newest first.
        await WaitForLocationAsync(page, "^/ui/studies\\?name=links%5Ep$");
        await WaitForRowsAsync(page, newestFirst[..25]);

        // Each row's patient name is an anchor to its study.
        var firstLink = page.Locator("[data-testid=studies-grid] [data-testid=study-link]").First;
        Assert.Equal($"ui/studies/{studyOf["LINKS^P29"]}", await firstLink.GetAttributeAsync("href"));
        // Middle-click opens the study in a new tab, the grid stays where it is.
        var tab = await page.Context.RunAndWaitForPageAsync(() => firstLink.ClickAsync(new() { Button = MouseButton.Middle }));
        await tab.WaitForURLAsync($"**/ui/studies/{studyOf["LINKS^P29"]}");
        await tab.WaitForSelectorAsync("[data-testid=series-list]", new() { Timeout = 30_000 });
        await tab.CloseAsync();
        Assert.EndsWith("/ui/studies?name=links%5Ep", page.Url);

        // Page 2 is in the URL too, a history entry of its own.
        await page.ClickAsync("[data-testid=studies-grid] .mud-table-pagination-actions button:nth-last-child(2)");
        await WaitForLocationAsync(page, "^/ui/studies\\?name=links%5Ep&page=2$");
        await WaitForRowsAsync(page, newestFirst[25..]);
        await Chromium.ShotAsync(page, "links-01-studies-page-2");

        // Open a study from page 2, then back: the same page of the same search.
        await page.Locator("[data-testid=studies-grid] [data-testid=study-link]", new() { HasText = "LINKS^P03" }).ClickAsync();
        await WaitForLocationAsync(page, $"^/ui/studies/{studyOf["LINKS^P03"]}$");
        await page.WaitForSelectorAsync("[data-testid=series-list]", new() { Timeout = 30_000 });
        await page.GoBackAsync();
        await WaitForLocationAsync(page, "^/ui/studies\\?name=links%5Ep&page=2$");
        await WaitForRowsAsync(page, newestFirst[25..]);
        // Back once more: the search's first page.
        await page.GoBackAsync();
        await WaitForLocationAsync(page, "^/ui/studies\\?name=links%5Ep$");
        await WaitForRowsAsync(page, newestFirst[..25]);

        // A bookmark with another sort, opened in a new tab of its own: the same rows as the URL says, and the
        // search box shows the search.
        var bookmark = await page.Context.NewPageAsync();
        await bookmark.GotoAsync(Url("ui/studies?name=links%5Ep&sort=PatientName&dir=asc&page=2"));
        await Chromium.Interactive(bookmark);
        await WaitForRowsAsync(bookmark, Enumerable.Range(25, 5).Select(i => $"LINKS^P{i:00}").ToArray());
        Assert.Equal("links^p", await bookmark.InputValueAsync("input[data-testid=search-name], [data-testid=search-name] input"));
        // Reloading keeps it all.
        await bookmark.ReloadAsync();
        await Chromium.Interactive(bookmark);
        await WaitForRowsAsync(bookmark, Enumerable.Range(25, 5).Select(i => $"LINKS^P{i:00}").ToArray());
        await Chromium.ShotAsync(bookmark, "links-02-bookmark-sorted");

        // A page number edited by hand into something else opens the first page, not an error.
        await bookmark.GotoAsync(Url("ui/studies?name=links%5Ep&page=abc"));
        await Chromium.Interactive(bookmark);
        await WaitForRowsAsync(bookmark, newestFirst[..25]);
        await bookmark.GoBackAsync();
        await WaitForRowsAsync(bookmark, Enumerable.Range(25, 5).Select(i => $"LINKS^P{i:00}").ToArray());

        // The patient ID cell is a link to the patient's timeline.
        await bookmark.Locator("[data-testid=studies-grid] tbody tr", new() { HasText = "LINKS^P27" }).Locator("[data-testid=patient-link]").ClickAsync();
        await WaitForLocationAsync(bookmark, "^/ui/patients/[0-9a-f-]+$");
        await bookmark.WaitForSelectorAsync("[data-testid=patient-name]:has-text('LINKS^P27')", new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task A_patients_timeline_lists_every_study_newest_first_with_previews_and_filters_by_modality()
    {
        var stored = new[]
        {
            await StoreAsync(Slice("TIMELINE-1", 1, "20190305", "CT", "CT THORAX")),
            await StoreAsync(Slice("TIMELINE-1", 2, "20241120", "CT", "CT THORAX FOLLOW-UP")),
            await StoreAsync(Slice("TIMELINE-1", 3, "20210712", "MR", "MR KNEE")),
            await StoreAsync(Slice("SOMEONE-ELSE", 1, "20230101", "CT", "NOT THIS PATIENT")),
        };
        var patient = stored[0]["ParentPatient"]!.GetValue<string>();
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);

        // From the patients grid: the name is a link to the timeline.
        await page.GotoAsync(Url("ui/patients"));
        await Chromium.Interactive(page);
        var link = page.Locator("[data-testid=patients-grid] [data-testid=patient-link]", new() { HasText = "LINKS^TIMELINE-1" });
        Assert.Equal($"ui/patients/{patient}", await link.GetAttributeAsync("href"));
        await link.ClickAsync();
        await WaitForLocationAsync(page, $"^/ui/patients/{patient}$");
        await page.WaitForSelectorAsync("[data-testid=timeline-study]", new() { Timeout = 30_000 });

        // Newest first, each with its date, its modality and a link to the study; this patient's only.
        var titles = await page.Locator("[data-testid=timeline-study-link]").AllInnerTextsAsync();
        Assert.Equal(["CT THORAX FOLLOW-UP", "MR KNEE", "CT THORAX"], titles);
        Assert.Equal($"ui/studies/{stored[1]["ParentStudy"]!.GetValue<string>()}", await page.Locator("[data-testid=timeline-study-link]").First.GetAttributeAsync("href"));
        var first = await page.Locator("[data-testid=timeline-study]").First.InnerTextAsync();
        Assert.Contains("2024-11-20", first);
        Assert.Contains("CT", first);
        Assert.Equal("3 studies", (await page.InnerTextAsync("[data-testid=timeline-count]")).Trim());

        // Every study shows its series' previews, rendered (not broken images), each a link to the viewer.
        var previews = page.Locator("[data-testid=timeline-preview] img");
        Assert.Equal(3, await previews.CountAsync());
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('[data-testid=timeline-preview] img')].every(i => i.complete && i.naturalWidth > 0)", null, new() { Timeout = 30_000 });
        Assert.Equal($"ui/viewer/{stored[2]["ParentSeries"]!.GetValue<string>()}", await page.Locator("[data-testid=timeline-preview]").Nth(1).GetAttributeAsync("href"));
        await Chromium.ShotAsync(page, "links-03-timeline");

        // Only MR: the prior of another modality is one click away.
        await page.Locator("[data-testid=timeline-modalities] .mud-chip", new() { HasText = "MR" }).ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelectorAll('[data-testid=timeline-study]').length === 1", null, new() { Timeout = 15_000 });
        Assert.Equal(["MR KNEE"], await page.Locator("[data-testid=timeline-study-link]").AllInnerTextsAsync());
        await Chromium.ShotAsync(page, "links-04-timeline-mr");

        // The timeline's visit is one view of the patient in the audit trail.
        var views = (await Rest.GetJsonAsync(_client, "/audit?action=View&limit=1000")).AsArray()
            .Where(e => e!["ResourceID"]?.GetValue<string>() == patient).ToList();
        output.WriteLine(string.Join("\n", views.Select(v => v!.ToJsonString())));
        Assert.Single(views);
        Assert.Equal("TIMELINE-1", views[0]!["PatientID"]!.GetValue<string>());
    }
}
