using System.Diagnostics;
using System.Globalization;
using Microsoft.Playwright;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// The explorer in a real browser: Debian's chromium driven by Playwright against the app on loopback. Screenshots
/// of every page go to the test output folder (browser-screenshots/).
/// </summary>
public sealed class BrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ui-")
{
    private Task<IPage> LoginAsync(string user, string password) => Chromium.SignInAsync(Server, user, password);

    /// <summary>A MudBlazor text field by test id, wherever MudBlazor puts the attribute (wrapper or input).</summary>
    private static string Field(string testId) => $"input[data-testid={testId}], [data-testid={testId}] input";

    /// <summary>
    /// Chooses files in the upload page's file input once upload.js listens to it: the page attaches the script after
    /// its first interactive render (the input says so with data-ready), and files chosen before that would never be
    /// sent. The page shows its summary with the script's first report.
    /// </summary>
    private async Task ChooseFilesAsync(IPage page, string[] paths)
    {
        await Chromium.Interactive(page);
        await page.WaitForSelectorAsync("[data-testid=upload-input][data-ready=true]", new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });
        await page.SetInputFilesAsync("[data-testid=upload-input]", paths);
        try { await page.WaitForSelectorAsync("[data-testid=upload-summary]", new() { Timeout = 60_000 }); }
        catch (TimeoutException)
        {
            output.WriteLine(await page.InnerTextAsync("body"));
            output.WriteLine(Server.Log);
            throw;
        }
    }

    [Fact]
    public async Task A_2_GB_folder_uploads_through_the_browser()
    {
        // Eight 256 MB files (sparse on disk here, real bytes on the wire): 2 GB in one folder choice.
        const int files = 8;
        const long pixelBytes = 256L * 1024 * 1024 - 4096;
        var folder = Directory.CreateDirectory(Path.Combine(Folder, "chosen-2gb")).FullName; // removed with Folder, pass or fail
        for (var i = 1; i <= files; i++)
            LargeFile(Path.Combine(folder, $"IM{i:D4}"), i, pixelBytes);
        var page = await LoginAsync("admin", ServerProcess.AdminPassword);
        await page.ClickAsync("[data-testid=nav-upload]");
        await WaitForPathAsync(page, "^/ui/upload$");
        await page.WaitForSelectorAsync("input[type=file]", new() { State = WaitForSelectorState.Attached });
        var clock = Stopwatch.StartNew();
        await ChooseFilesAsync(page, Directory.GetFiles(folder));
        try { await page.WaitForSelectorAsync($"[data-testid=upload-summary]:has-text('{files} / {files} files')", new() { Timeout = 600_000 }); }
        catch (TimeoutException)
        {
            output.WriteLine(await page.InnerTextAsync("body"));
            output.WriteLine(Server.Log);
            throw;
        }
        var summary = await page.InnerTextAsync("[data-testid=upload-summary]");
        output.WriteLine($"2 GB through the browser in {clock.Elapsed.TotalSeconds:0.0} s ({files * pixelBytes / clock.Elapsed.TotalSeconds / (1024 * 1024):0} MB/s): {summary}");
        Assert.Contains($"{files} stored", summary);
        await Shot(page, "09-upload-2gb");
        // Each file is in the store whole.
        using var client = Server.CreateRestClient();
        var stats = await Rest.GetJsonAsync(client, "/statistics");
        Assert.True(long.Parse(stats["TotalUncompressedSize"]!.GetValue<string>(), CultureInfo.InvariantCulture) >= files * pixelBytes);
        Directory.Delete(folder, true);
    }

    /// <summary>A Part 10 file with a small header and a large pixel data element of zeros, written sparse.</summary>
    private static void LargeFile(string path, int index, long pixelBytes)
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
        ds.Add(DicomTags.SOPInstanceUID, $"2.25.515151.{index}");
        ds.Add(DicomTags.PatientName, "LARGE^FOLDER");
        ds.Add(DicomTags.PatientID, "LARGE-FOLDER");
        ds.Add(DicomTags.StudyInstanceUID, "2.25.515151.100");
        ds.Add(DicomTags.SeriesInstanceUID, "2.25.515151.200");
        var file = new OrthancWeb.Dicom.IO.DicomFile(ds, OrthancWeb.Dicom.IO.TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        using var stream = File.Create(path);
        stream.Write(file.ToBytes());
        // (7FE0,0010) OB, reserved, 32-bit length (PS3.5 7.1.2), then the value.
        stream.Write([0xE0, 0x7F, 0x10, 0x00, (byte)'O', (byte)'B', 0, 0]);
        stream.Write(BitConverter.GetBytes((uint)pixelBytes));
        stream.SetLength(stream.Position + pixelBytes);
    }

    /// <summary>Opens a study from the studies grid by clicking its row's link.</summary>
    private static async Task OpenRowAsync(IPage page, string text)
    {
        await page.Locator("[data-testid=studies-grid] tbody tr", new() { HasText = text }).First.Locator("[data-testid=study-link]").ClickAsync();
        await WaitForPathAsync(page, "^/ui/studies/[^/]+$");
    }

    /// <summary>
    /// Waits for the browser's location to match. Blazor navigates inside the page (history.pushState, no load
    /// event), and Playwright's WaitForURL, which also waits for a load, missed some of those navigations; polling
    /// location does not.
    /// </summary>
    private static Task<IJSHandle> WaitForPathAsync(IPage page, string pathAndQueryPattern) =>
        page.WaitForFunctionAsync("p => new RegExp(p).test(location.pathname + location.search)", pathAndQueryPattern, new() { Timeout = 15_000 });

    /// <summary>A 512x512 16-bit CT slice: a body-like disc of soft tissue with a denser ring and noise, rescaled to HU.</summary>
    internal static byte[] Ct512(string patientId, int index)
    {
        var ds = StoreBehaviourTests.CtSlice(patientId, index);
        ds.Add(DicomTags.ImagePositionPatient, "-250", "-250", (index * 5).ToString(CultureInfo.InvariantCulture));
        var rng = new Random(index);
        GeneratedInstances.AddCtImage(ds, 512, 512, (x, y) =>
        {
            var r = Math.Sqrt((x - 256.0) * (x - 256) + (y - 256.0) * (y - 256));
            var hu = r > 220 ? -1000 : r > 200 ? 700 : 40 + 30 * Math.Sin((x + index * 7) / 20.0);
            return hu + rng.Next(-20, 20);
        });
        var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return file.ToBytes();
    }

    private static Task Shot(IPage page, string name) => Chromium.ShotAsync(page, name);

    [Fact]
    public async Task Clinician_journey_and_viewer_restrictions()
    {
        var page = await LoginAsync("admin", ServerProcess.AdminPassword);
        await Shot(page, "01-home");

        // Upload a folder by the file input: pydicom files, a 5-slice series, and a non-DICOM file from a "CD".
        var folder = Directory.CreateDirectory(Path.Combine(Folder, "chosen-cd")).FullName; // removed with Folder, pass or fail
        foreach (var name in new[] { "CT_small.dcm", "MR_small.dcm", "rtplan.dcm" }) File.Copy(Rest.Sample(name), Path.Combine(folder, name));
        for (var i = 1; i <= 5; i++) File.WriteAllBytes(Path.Combine(folder, $"slice{i}.dcm"), Ct512("VIEWER-1", i));
        File.WriteAllText(Path.Combine(folder, "autorun.inf"), "[autorun]\nopen=viewer.exe\n");
        await page.ClickAsync("[data-testid=nav-upload]");
        await WaitForPathAsync(page, "^/ui/upload$");
        await page.WaitForSelectorAsync("input[type=file]", new() { State = WaitForSelectorState.Attached });
        await ChooseFilesAsync(page, Directory.GetFiles(folder));
        try { await page.WaitForSelectorAsync("[data-testid=upload-summary]:has-text('9 / 9 files')", new() { Timeout = 60_000 }); }
        catch (TimeoutException)
        {
            await Shot(page, "02-upload-failed");
            output.WriteLine(await page.InnerTextAsync("body"));
            output.WriteLine(Server.Log);
            throw;
        }
        var summary = await page.InnerTextAsync("[data-testid=upload-summary]");
        Assert.Contains("8 stored", summary);
        Assert.Contains("1 skipped", summary);
        await Shot(page, "02-upload");

        // The patients grid: one row per patient with its counts; its Studies button opens that patient's studies.
        await page.ClickAsync("[data-testid=nav-patients]");
        await page.FillAsync(Field("patients-search-name"), "compressedsamples^mr");
        await page.ClickAsync("[data-testid=patients-search-button]");
        await page.WaitForSelectorAsync("[data-testid=patients-grid] >> text=CompressedSamples^CT1", new() { State = WaitForSelectorState.Detached, Timeout = 10_000 });
        await page.WaitForSelectorAsync("[data-testid=patients-grid] >> text=CompressedSamples^MR1");
        await Shot(page, "02b-patients");
        await page.Locator("[data-testid=patients-grid] tbody tr", new() { HasText = "CompressedSamples^MR1" }).Locator("[data-testid=patient-studies]").ClickAsync();
        await WaitForPathAsync(page, "^/ui/studies\\?patientId=.+$");
        await page.WaitForSelectorAsync("[data-testid=studies-grid] >> text=CompressedSamples^MR1");

        // Search a patient and open the study.
        await page.ClickAsync("[data-testid=nav-studies]");
        await WaitForPathAsync(page, "^/ui/studies$");
        // Leaving the patient filter lists every study again before the search narrows it.
        await page.WaitForSelectorAsync("[data-testid=studies-grid] >> text=CompressedSamples^CT1");
        await page.WaitForSelectorAsync("[data-testid=studies-grid] >> text=CompressedSamples^MR1");
        await page.FillAsync(Field("search-name"), "compressedsamples^ct");
        await page.ClickAsync("[data-testid=search-button]");
        // The grid first lists every study; the search leaves only the matching one.
        await page.WaitForSelectorAsync("text=CompressedSamples^MR1", new() { State = WaitForSelectorState.Detached, Timeout = 10_000 });
        await page.WaitForSelectorAsync("text=CompressedSamples^CT1");
        await Shot(page, "03-studies");
        await OpenRowAsync(page, "CompressedSamples^CT1");
        await page.WaitForSelectorAsync("[data-testid=series-list]");
        await Shot(page, "04-study");

        // Tag viewer, filtered.
        await page.ClickAsync("[data-testid=open-series]");
        await WaitForPathAsync(page, "^/ui/series/[^/]+$");
        await page.ClickAsync("[data-testid=open-instance]");
        await page.WaitForSelectorAsync("[data-testid=tag-tree]");
        await page.FillAsync(Field("tag-filter"), "PatientName");
        await page.WaitForSelectorAsync("[data-testid=tag-tree] >> text=ImageType", new() { State = WaitForSelectorState.Detached, Timeout = 10_000 });
        await page.WaitForSelectorAsync("[data-testid=tag-tree] >> text=CompressedSamples^CT1");
        await Shot(page, "05-tags");

        // Viewer on the 5-slice series: three slice changes with the keyboard (their speed is measured alone, on a
        // quiet machine, by SliceChangeTimingBrowserTests).
        await page.ClickAsync("[data-testid=nav-studies]");
        await page.FillAsync(Field("search-id"), "VIEWER-1");
        await page.ClickAsync("[data-testid=search-button]");
        // The search is a navigation of its own (its URL): wait for it, or it lands after the click on the row.
        await WaitForPathAsync(page, "^/ui/studies\\?patientId=VIEWER-1$");
        // And for the grid to show the search's result (it lists every study until then): a row clicked while the
        // grid replaces its rows can be gone before its link is followed.
        await page.WaitForFunctionAsync("""
            () => {
              const rows = [...document.querySelectorAll('[data-testid=studies-grid] tbody tr')];
              return rows.length > 0 && rows.every(r => r.textContent.includes('VIEWER-1'));
            }
            """, null, new() { Timeout = 15_000 });
        await OpenRowAsync(page, "VIEWER-1");
        await page.ClickAsync("[data-testid=open-viewer]");
        await page.WaitForSelectorAsync("[data-testid=slice]");
        await page.FocusAsync("[data-testid=viewer]");
        for (var k = 1; k <= 3; k++)
        {
            await page.Keyboard.PressAsync("ArrowDown");
            await page.WaitForSelectorAsync($"[data-testid=slice][data-index='{k}']");
        }
        await page.WaitForFunctionAsync("() => { const i = document.querySelector('[data-testid=slice]'); return i.complete && i.naturalWidth > 0; }");
        Assert.Equal(512, await page.EvalOnSelectorAsync<int>("[data-testid=slice]", "i => i.naturalWidth")); // sent at its own size
        Assert.Contains("Slice 4 / 5", await page.InnerTextAsync("[data-testid=slice-number]"));
        await Shot(page, "06-viewer");

        // Workflows on the CT study: download it as a ZIP, anonymize it, follow the job to its new study.
        await page.ClickAsync("[data-testid=nav-studies]");
        await page.FillAsync(Field("search-name"), "compressedsamples^ct");
        await page.ClickAsync("[data-testid=search-button]");
        await page.WaitForSelectorAsync("text=CompressedSamples^MR1", new() { State = WaitForSelectorState.Detached, Timeout = 10_000 });
        await OpenRowAsync(page, "CompressedSamples^CT1");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("[data-testid=download-zip]"));
        var zipPath = Path.Combine(folder, "study.zip");
        await download.SaveAsAsync(zipPath);
        using (var zip = System.IO.Compression.ZipFile.OpenRead(zipPath))
            Assert.Single(zip.Entries, e => e.FullName.EndsWith(".dcm", StringComparison.Ordinal));
        await page.ClickAsync("[data-testid=anonymize]");
        await page.FillAsync(Field("anon-name"), "TRIAL^BROWSER");
        await page.ClickAsync("[data-testid=anonymize-submit]");
        await WaitForPathAsync(page, "^/ui/jobs");
        await page.WaitForSelectorAsync("[data-testid=job-state]:has-text('Success')", new() { Timeout = 30_000 });
        await Shot(page, "06b-jobs");
        await page.ClickAsync("[data-testid=job-result]");
        await WaitForPathAsync(page, "^/ui/studies/[^/]+$");
        await page.WaitForSelectorAsync("text=TRIAL^BROWSER");

        // Create a Viewer account, log out.
        await page.ClickAsync("[data-testid=nav-users]");
        await page.FillAsync(Field("new-user-name"), "reader");
        await page.FillAsync(Field("new-user-password"), "Reader-Pa55");
        await page.ClickAsync("[data-testid=add-user]");
        await page.WaitForSelectorAsync("[data-testid=users] >> text=reader");
        await Shot(page, "07-users");
        await page.ClickAsync("text=Log out");
        await page.WaitForURLAsync("**/account/login**");

        // A Viewer sees studies but neither upload nor delete.
        var reader = await LoginAsync("reader", "Reader-Pa55");
        Assert.Equal(0, await reader.Locator("[data-testid=nav-upload]").CountAsync());
        await reader.ClickAsync("[data-testid=nav-studies]");
        await OpenRowAsync(reader, "CompressedSamples^MR1");
        await reader.WaitForSelectorAsync("[data-testid=series-list]");
        Assert.Equal(0, await reader.Locator("[data-testid=delete-study]").CountAsync());
        Assert.Equal(0, await reader.Locator("[data-testid=anonymize]").CountAsync());
        Assert.Equal(0, await reader.Locator("[data-testid=send]").CountAsync());
        Assert.Equal(1, await reader.Locator("[data-testid=download-zip]").CountAsync()); // exporting is viewing
        await reader.ClickAsync("[data-testid=nav-patients]");
        await reader.WaitForSelectorAsync("[data-testid=patients-grid] >> text=CompressedSamples^MR1");
        Assert.Equal(0, await reader.Locator("[data-testid=patient-delete]").CountAsync());
        await reader.GotoAsync($"https://localhost:{Server.HttpsPort}/ui/upload");
        await reader.WaitForSelectorAsync("text=not authorized", new() { Timeout = 10_000 }).ContinueWith(_ => { });
        Assert.Equal(0, await reader.Locator("input[type=file]").CountAsync());
        await Shot(reader, "08-viewer-role");
        Directory.Delete(folder, true);
    }
}
