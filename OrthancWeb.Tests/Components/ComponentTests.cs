using System.Globalization;
using Bunit;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using MudBlazor.Services;
using OrthancWeb.Components.Explorer;
using OrthancWeb.Components.Pages;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Explorer;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Storage;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Components;

/// <summary>bUnit tests of the explorer's components with the real services (SQLite index, storage folder) behind them.</summary>
public sealed class ComponentTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-").FullName;

    /// <summary>The components' clock (the viewer's cine): it moves only when a test moves it.</summary>
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    public ComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        RealServices.Add(Services, _folder);
        Services.AddSingleton<TimeProvider>(_clock);
        AddAuthorization().SetAuthorized("clinician").SetRoles(OrthancWeb.Security.Roles.Clinician)
            .SetPolicies(OrthancWeb.Security.Policies.View, OrthancWeb.Security.Policies.Modify);
    }

    public async Task InitializeAsync()
    {
        // The pages run interactively on the server (ViewedPage asks, to record each view once); set once every
        // service is registered, since the renderer is one of them.
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        await Services.GetRequiredService<IndexStartup>().RunAsync();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Fact]
    public void Tag_tree_shows_sequences_private_creators_and_cut_binary_values_and_filters()
    {
        var ds = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), "rtplan.dcm")).Dataset;
        var tree = Render<TagTree>(p => p.Add(t => t.Dataset, ds));
        Assert.Contains("DoseReferenceSequence", tree.Markup);
        Assert.Contains("2 item(s)", tree.Markup);
        Assert.Contains("Last^First^mid^pre", tree.Markup);

        var filtered = Render<TagTree>(p => p.Add(t => t.Dataset, ds).Add(t => t.Filter, "DoseReferenceStructureType"));
        Assert.Contains("COORDINATES", filtered.Markup);
        Assert.DoesNotContain("Last^First^mid^pre", filtered.Markup);

        var ct = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")).Dataset;
        var binary = Render<TagTree>(p => p.Add(t => t.Dataset, ct).Add(t => t.Filter, "PixelData"));
        Assert.Contains("(binary, 32768 bytes)", binary.Markup);
    }

    [Fact]
    public async Task Upload_page_attaches_the_browsers_sender_and_counts_what_it_reports()
    {
        // The files themselves go from the browser to POST ui/upload/file (upload.js; the browser tests drive it):
        // the page hands its drop zone and pickers to the script and lists the outcomes the script reports.
        var page = Render<Upload>();
        var attach = JSInterop.VerifyInvoke("owUpload.attach");
        Assert.Equal(4, attach.Arguments.Count);
        await page.InvokeAsync(() => page.Instance.OnUploadReport(new Upload.UploadReport(5, 3000, 2, 1000, 0, false,
        [
            new("CD/IM1", "Success", null, "id-1"),
            new("CD/autorun.inf", "Skipped", "not a DICOM file", null),
        ])));
        page.WaitForAssertion(() => Assert.Contains("2 / 5 files: 1 stored, 0 already stored, 0 rejected, 1 skipped", page.Markup));
        await page.InvokeAsync(() => page.Instance.OnUploadReport(new Upload.UploadReport(5, 3000, 5, 3000, 1, true,
        [
            new("CD/IM2", "AlreadyStored", null, "id-2"),
            new("CD/IM3", "Invalid", "Not a valid DICOM file: truncated", null),
            new("CD/IM4", "Failed", "connection lost (after 3 attempts)", null),
        ])));
        page.WaitForAssertion(() => Assert.Contains("5 / 5 files: 1 stored, 1 already stored, 1 rejected, 1 skipped, 1 failed", page.Markup));
        Assert.Contains("Not a valid DICOM file: truncated", page.Markup);
        // A finished upload with failures offers to send them again.
        page.Find("[data-testid=upload-retry]").Click();
        JSInterop.VerifyInvoke("owUpload.retryFailed");
    }

    [Fact]
    public async Task A_patients_timeline_loads_its_newest_studies_then_more_and_filters_over_all_of_them()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        for (var k = 0; k < 60; k++)
        {
            var uid = $"1.2.826.0.1.3680043.10.543.8.{k}";
            var instance = GeneratedInstances.Ct("TIMELINE-UI", uid + ".1", uid + ".2", uid + ".3", 1, pixelBytes: 512,
                studyDate: new DateOnly(2015, 1, 1).AddDays(k).ToString("yyyyMMdd", CultureInfo.InvariantCulture), description: $"STUDY {k}", modality: k % 12 == 0 ? "MR" : "CT");
            await ingest.StoreAsync(instance.Bytes, new IngestSource(IngestOrigin.WebUI));
        }
        var page = Render<Patient>(p => p.Add(x => x.Id, PublicIds.Patient("TIMELINE-UI")));
        page.WaitForAssertion(() => Assert.Equal(ExplorerService.TimelinePage, page.FindAll("[data-testid=timeline-study]").Count), TimeSpan.FromSeconds(10));
        Assert.Equal("60 studies", page.Find("[data-testid=timeline-count]").TextContent.Trim());
        Assert.Contains("STUDY 59", page.FindAll("[data-testid=timeline-study-link]")[0].TextContent);

        page.Find("[data-testid=timeline-more]").Click();
        page.WaitForAssertion(() => Assert.Equal(60, page.FindAll("[data-testid=timeline-study]").Count), TimeSpan.FromSeconds(10));
        Assert.Empty(page.FindAll("[data-testid=timeline-more]"));

        // The MR chip: the five MR studies, the oldest of which was not among the first page.
        page.FindAll("[data-testid=timeline-modalities] .mud-chip").Single(c => c.TextContent.Contains("MR", StringComparison.Ordinal)).Click();
        page.WaitForAssertion(() => Assert.Equal(["STUDY 48", "STUDY 36", "STUDY 24", "STUDY 12", "STUDY 0"],
            page.FindAll("[data-testid=timeline-study-link]").Select(a => a.TextContent.Trim())), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Studies_grid_lists_what_the_index_holds_and_searches_it()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        foreach (var name in new[] { "CT_small.dcm", "MR_small.dcm" })
            await ingest.StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), name)), new IngestSource(IngestOrigin.WebUI));
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Studies>();
        page.WaitForAssertion(() =>
        {
            Assert.Contains("CompressedSamples^CT1", page.Markup);
            Assert.Contains("CompressedSamples^MR1", page.Markup);
        }, TimeSpan.FromSeconds(10));
        page.Find("[data-testid=search-name] input, input[data-testid=search-name]").Input("compressedsamples^m");
        page.Find("[data-testid=search-button]").Click();
        page.WaitForAssertion(() =>
        {
            Assert.Contains("CompressedSamples^MR1", page.Markup);
            Assert.DoesNotContain("CompressedSamples^CT1", page.Markup);
        }, TimeSpan.FromSeconds(10));
        // The row carries the study's modality, counts and disk size, computed from the index.
        var cells = page.Find("[data-testid=studies-grid] tbody tr").QuerySelectorAll("td").Select(c => c.TextContent.Trim()).ToList();
        Assert.Equal(["MR", "1", "1", OrthancWeb.Explorer.ByteSize.Format(new FileInfo(Path.Combine(Peers.PydicomDir("test_files"), "MR_small.dcm")).Length), "Open in OHIF"], cells.Skip(7));
        // And OHIF on that study, by its Study Instance UID (the build fetched OHIF, so the column is there).
        Assert.Equal("/ohif/viewer?StudyInstanceUIDs=1.3.6.1.4.1.5962.1.2.4.20040826185059.5457",
            page.Find("[data-testid=studies-grid] tbody tr [data-testid=study-ohif]").GetAttribute("href"));
    }

    [Fact]
    public async Task Patients_grid_shows_counts_and_disk_size_and_protects_a_patient()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        var path = Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm");
        var stored = await ingest.StoreAsync(File.ReadAllBytes(path), new IngestSource(IngestOrigin.WebUI));
        await ingest.StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), "MR_small.dcm")), new IngestSource(IngestOrigin.WebUI));
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Patients>();
        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("[data-testid=patients-grid] tbody tr").Count), TimeSpan.FromSeconds(10));
        var ctRow = page.FindAll("[data-testid=patients-grid] tbody tr").Single(r => r.TextContent.Contains("CompressedSamples^CT1"));
        var cells = ctRow.QuerySelectorAll("td").Select(c => c.TextContent.Trim()).ToList();
        Assert.Equal(["1", "1"], cells.Skip(5).Take(2));
        Assert.Equal(OrthancWeb.Explorer.ByteSize.Format(new FileInfo(path).Length), cells[7]);

        ctRow.QuerySelector("[data-testid=patient-protect]")!.Click();
        var queries = Services.GetRequiredService<IndexQueries>();
        await WaitUntilAsync(async () => (await queries.GetAsync(stored.PatientId!, ResourceLevel.Patient, default))!.IsProtected, "protected");
        page.Find("[data-testid=patients-search-name] input, input[data-testid=patients-search-name]").Input("compressedsamples^c");
        page.Find("[data-testid=patients-search-button]").Click();
        page.WaitForAssertion(() => Assert.Single(page.FindAll("[data-testid=patients-grid] tbody tr")), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Series_page_pages_its_instances_in_instance_number_order()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        IngestResult? last = null;
        // Stored out of order, and with numbers whose text order (1, 10, 11, ...) differs from their numeric order.
        foreach (var i in Enumerable.Range(1, 60).OrderBy(i => (i * 37) % 61))
            last = await ingest.StoreAsync(OrthancWeb.Tests.Server.StoreBehaviourTests.Instance("SERIES-PAGED", i, 1024), new IngestSource(IngestOrigin.WebUI));
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Series>(p => p.Add(s => s.Id, last!.SeriesId!));
        page.WaitForAssertion(() => Assert.Equal(50, page.FindAll("[data-testid=instances] tbody tr").Count), TimeSpan.FromSeconds(10));
        var numbers = page.FindAll("[data-testid=instances] tbody tr").Select(r => int.Parse(r.QuerySelector("td")!.TextContent, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, 50), numbers);
        Assert.Contains("60 instance(s)", page.Find("[data-testid=series-counts]").TextContent);
        Assert.Contains("1-50 of 60", page.Markup);
    }

    [Fact]
    public async Task Deleting_a_series_asks_first_then_removes_it_and_returns_to_its_study()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        var kept = await ingest.StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")), new IngestSource(IngestOrigin.WebUI));
        // A second series in the same study: same patient and study, another series UID.
        var doomed = await ingest.StoreAsync(CtSmallInSeries("2.25.777.1", "2.25.777.2"), new IngestSource(IngestOrigin.WebUI));
        Assert.Equal(kept.StudyId, doomed.StudyId);

        var dialogs = Render<MudBlazor.MudDialogProvider>();
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Series>(p => p.Add(s => s.Id, doomed.SeriesId!));
        page.WaitForElement("[data-testid=delete-series]").Click();
        // Cancel first: nothing is deleted.
        dialogs.WaitForElement(".mud-dialog");
        dialogs.FindAll(".mud-dialog button").Single(b => b.TextContent.Contains("Cancel")).Click();
        var queries = Services.GetRequiredService<IndexQueries>();
        Assert.NotNull(await queries.GetAsync(doomed.SeriesId!, ResourceLevel.Series, default));

        page.Find("[data-testid=delete-series]").Click();
        dialogs.WaitForElement(".mud-dialog");
        dialogs.FindAll(".mud-dialog button").Single(b => b.TextContent.Contains("Delete")).Click();
        var navigation = Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>();
        page.WaitForAssertion(() => Assert.EndsWith($"ui/studies/{kept.StudyId}", navigation.Uri), TimeSpan.FromSeconds(10));
        Assert.Null(await queries.GetAsync(doomed.SeriesId!, ResourceLevel.Series, default));
        Assert.NotNull(await queries.GetAsync(kept.SeriesId!, ResourceLevel.Series, default));
    }

    [Fact]
    public async Task Viewer_names_the_patient_directions_at_the_edges_of_an_axial_slice()
    {
        var stored = await Services.GetRequiredService<IngestService>().StoreAsync(
            await File.ReadAllBytesAsync(OrthancWeb.Tests.Server.Rest.Sample("CT_small.dcm")), new IngestSource(IngestOrigin.WebUI));
        var page = Render<Viewer>(p => p.Add(v => v.SeriesId, stored.SeriesId!));
        page.WaitForElement("[data-testid=slice]");
        // CT_small is axial (1\0\0\0\1\0), seen from the feet: the patient's right on the left, anterior at the top.
        Assert.Equal(("A", "P", "R", "L"), (page.Find("[data-testid=orientation-top]").TextContent, page.Find("[data-testid=orientation-bottom]").TextContent,
            page.Find("[data-testid=orientation-left]").TextContent, page.Find("[data-testid=orientation-right]").TextContent));
    }

    [Fact]
    public async Task Viewer_plays_the_frames_of_a_multi_frame_instance_as_slices()
    {
        // Two RGB frames, RLE-compressed, in one instance: two slices in the viewer, each its own rendered frame.
        var stored = await Services.GetRequiredService<IngestService>().StoreAsync(
            await File.ReadAllBytesAsync(Path.Combine(Peers.PydicomDir("test_files"), "SC_rgb_rle_2frame.dcm")), new IngestSource(IngestOrigin.WebUI));
        var page = Render<Viewer>(p => p.Add(v => v.SeriesId, stored.SeriesId!));
        page.WaitForElement("[data-testid=slice]");
        Assert.Equal("Slice 1 / 2", page.Find("[data-testid=slice-number]").TextContent);
        Assert.StartsWith($"instances/{stored.InstanceId}/frames/0/rendered", page.Find("[data-testid=slice]").GetAttribute("src"));
        // The page has finished its first interactive render once it asked the browser to preload the next frame.
        page.WaitForAssertion(() => Assert.Contains(JSInterop.Invocations["owViewer.preload"],
            call => ((string[])call.Arguments[0]!).Any(u => u.Contains("/frames/1/", StringComparison.Ordinal))), TimeSpan.FromSeconds(5));
        page.Find("[data-testid=viewer]").KeyDown("ArrowDown");
        page.WaitForAssertion(() => Assert.Equal("Slice 2 / 2", page.Find("[data-testid=slice-number]").TextContent), TimeSpan.FromSeconds(5));
        Assert.StartsWith($"instances/{stored.InstanceId}/frames/1/rendered", page.Find("[data-testid=slice]").GetAttribute("src"));
    }

    [Fact]
    public async Task Viewer_controls_move_through_slices_and_change_the_window()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        var byNumber = new Dictionary<int, string>();
        foreach (var i in new[] { 3, 1, 5, 2, 4 }) // stored out of order; shown in Instance Number order
            byNumber[i] = (await ingest.StoreAsync(OrthancWeb.Tests.Server.StoreBehaviourTests.Instance("VIEWER-B", i, 1024), new IngestSource(IngestOrigin.WebUI))).InstanceId!;
        var series = (await Services.GetRequiredService<IndexQueries>().GetAsync(byNumber[1], ResourceLevel.Instance, default))!.ParentId!;
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Viewer>(p => p.Add(v => v.SeriesId, series));
        page.WaitForElement("[data-testid=slice]");
        string Src() => page.Find("[data-testid=slice]").GetAttribute("src")!;
        string Number() => page.Find("[data-testid=slice-number]").TextContent;
        Assert.Equal("Slice 1 / 5", Number());
        Assert.StartsWith($"instances/{byNumber[1]}/frames/0/rendered", Src());
        Assert.Empty(page.FindAll("[data-testid=orientation-left]")); // these instances have no Image Orientation (Patient)
        // The next slices are preloaded in the browser (viewer.js).
        page.WaitForAssertion(() => Assert.Contains(JSInterop.Invocations["owViewer.preload"],
            call => ((string[])call.Arguments[0]!).Any(u => u.Contains(byNumber[2]))), TimeSpan.FromSeconds(5));

        var viewer = page.Find("[data-testid=viewer]");
        viewer.KeyDown("ArrowDown");
        page.Find("[data-testid=viewer]").KeyDown("ArrowDown");
        Assert.Equal("Slice 3 / 5", Number());
        Assert.Contains(byNumber[3], Src());
        page.Find("[data-testid=viewer]").Wheel(new Microsoft.AspNetCore.Components.Web.WheelEventArgs { DeltaY = -100 });
        Assert.Equal("Slice 2 / 5", Number());
        page.Find("[data-testid=viewer]").KeyDown("End");
        page.Find("[data-testid=viewer]").KeyDown("ArrowDown"); // clamped at the last slice
        Assert.Equal("Slice 5 / 5", Number());

        // A preset sets the window of the rendered frames; dragging right widens it, down raises the level.
        page.FindAll("button").Single(b => b.TextContent.Trim() == "CT lung").Click();
        Assert.Contains("window-center=-600&window-width=1500", Src());
        page.Find("[data-testid=viewer]").MouseDown(new Microsoft.AspNetCore.Components.Web.MouseEventArgs { ClientX = 100, ClientY = 100 });
        page.Find("[data-testid=viewer]").MouseMove(new Microsoft.AspNetCore.Components.Web.MouseEventArgs { ClientX = 110, ClientY = 105 });
        page.Find("[data-testid=viewer]").MouseUp();
        Assert.Contains("W 1540 / L -590", page.Markup);
        page.FindAll("button").Single(b => b.TextContent.Trim() == "Reset").Click();
        Assert.Contains("Window: file default", page.Markup);
        Assert.DoesNotContain("window-center", Src());

        // Cine plays through the stack on the page's clock, a slice every 100 ms, wrapping round, and stops. It starts
        // on the last slice: its first tick, at once, wraps round to the first.
        page.Find("[data-testid=cine]").Click();
        Assert.Equal("true", page.Find("[data-testid=cine]").GetAttribute("data-playing"));
        page.WaitForAssertion(() => Assert.Equal("Slice 1 / 5", Number()), TimeSpan.FromSeconds(10));
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        page.WaitForAssertion(() => Assert.Equal("Slice 2 / 5", Number()), TimeSpan.FromSeconds(10));
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        page.WaitForAssertion(() => Assert.Equal("Slice 3 / 5", Number()), TimeSpan.FromSeconds(10));
        page.Find("[data-testid=cine]").Click();
        Assert.Equal("false", page.Find("[data-testid=cine]").GetAttribute("data-playing"));
        // Stopped: the time of a tick passes, then a key press, handled after anything that tick could have queued.
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        page.Find("[data-testid=viewer]").KeyDown("ArrowUp");
        Assert.Equal("Slice 2 / 5", Number());
    }

    [Fact]
    public async Task Study_page_lists_its_series_in_series_number_order_with_counts()
    {
        var ingest = Services.GetRequiredService<IngestService>();
        IngestResult? stored = null;
        // Series 10 with two instances, series 9 with one: text order would put 10 first.
        foreach (var (series, sop, number) in new[] { ("2.25.888.10", "2.25.888.101", "10"), ("2.25.888.10", "2.25.888.102", "10"), ("2.25.888.9", "2.25.888.91", "9") })
            stored = await ingest.StoreAsync(CtSmallInSeries(series, sop, number), new IngestSource(IngestOrigin.WebUI));
        Render<MudBlazor.MudPopoverProvider>();
        var page = Render<Study>(p => p.Add(s => s.Id, stored!.StudyId!));
        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("[data-testid=series-list] tbody tr").Count), TimeSpan.FromSeconds(10));
        var rows = page.FindAll("[data-testid=series-list] tbody tr").Select(r => r.QuerySelectorAll("td").Select(c => c.TextContent.Trim()).ToList()).ToList();
        Assert.Equal(["9", "10"], rows.Select(r => r[1]));
        Assert.Equal(["1", "2"], rows.Select(r => r[5]));
        Assert.Contains("2 series, 3 instance(s)", page.Find("[data-testid=study-counts]").TextContent);
    }

    /// <summary>pydicom's CT_small.dcm as another instance of the same study, in the series given.</summary>
    private static byte[] CtSmallInSeries(string seriesUid, string sopUid, string? seriesNumber = null)
    {
        var file = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm"));
        file.Dataset.Add(OrthancWeb.Dicom.Data.DicomTags.SeriesInstanceUID, seriesUid);
        file.Dataset.Add(OrthancWeb.Dicom.Data.DicomTags.SOPInstanceUID, sopUid);
        if (seriesNumber is not null) file.Dataset.Add(OrthancWeb.Dicom.Data.DicomTags.SeriesNumber, seriesNumber);
        return file.ToBytes();
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 100 && !await condition(); i++) await Task.Delay(50);
        Assert.True(await condition(), $"still not {what} after 5 s");
    }
}
