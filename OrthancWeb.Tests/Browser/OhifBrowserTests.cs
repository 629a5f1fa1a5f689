using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Playwright;
using OrthancWeb.DicomWeb.Ohif;
using OrthancWeb.Index;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Browser;

/// <summary>
/// OHIF, fetched by the build and served by us under /ohif/, in chromium against our own DICOMweb server: its study
/// list, a CT drawn in a viewport, an RT structure set's structures, and the Open in OHIF button of our study page.
/// Every test also fails on a Content-Security-Policy violation and on an answer of ours in error, so that a policy
/// too strict for OHIF, or a DICOMweb request we answer wrongly, is seen even when OHIF copes with it.
/// </summary>
public sealed class OhifBrowserTests(ITestOutputHelper output) : ChromiumServerTest("ow-ohif-")
{
    private readonly ConcurrentQueue<string> _problems = new();

    /// <summary>A signed-in page that records CSP violations, page errors and failed answers of ours.</summary>
    private async Task<IPage> SignInAsync()
    {
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        page.Console += (_, m) =>
        {
            if (m.Type is "error" or "warning") output.WriteLine($"console {m.Type}: {m.Text}");
            if (m.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase)) _problems.Enqueue($"CSP: {m.Text}");
        };
        page.PageError += (_, e) => output.WriteLine($"page error: {e}");
        page.Response += (_, r) =>
        {
            if (r.Url.Contains("/dicom-web/", StringComparison.Ordinal) || r.Url.Contains("/wado", StringComparison.Ordinal))
                output.WriteLine($"{r.Request.Method} {r.Url} -> {r.Status} {r.Headers.GetValueOrDefault("content-type")}");
            if (r.Status >= 400 && r.Url.StartsWith(Url(""), StringComparison.Ordinal))
                _problems.Enqueue($"{r.Request.Method} {r.Url} -> {r.Status}");
        };
        return page;
    }

    /// <summary>A screenshot, and what went wrong so far (the test's output says why before any assertion does).</summary>
    private async Task ShotAsync(IPage page, string name)
    {
        await Chromium.ShotAsync(page, name);
        foreach (var p in _problems) output.WriteLine($"so far: {p}");
    }

    private void AssertNoProblems()
    {
        foreach (var p in _problems) output.WriteLine(p);
        Assert.Empty(_problems);
    }

    private async Task<string> UploadAsync(params string[] paths)
    {
        using var client = Server.CreateRestClient();
        string? study = null;
        foreach (var path in paths)
            study = (string?)(await Rest.UploadAsync(client, path))["ParentStudy"];
        return study!;
    }

    [Fact]
    public async Task OHIFs_study_list_shows_our_studies()
    {
        await UploadAsync(Rest.Sample("CT_small.dcm"), Rest.Sample("MR_small.dcm"));
        var page = await SignInAsync();
        await page.GotoAsync(Url("ohif/"));
        // OHIF's worklist, filled by QIDO-RS /studies: one row per study (its description, modality and patient).
        try
        {
            await page.WaitForSelectorAsync("text=e+1", new() { Timeout = 60_000 });
            await page.WaitForSelectorAsync("text=No Description", new() { Timeout = 10_000 });
        }
        finally
        {
            await ShotAsync(page, "ohif-01-study-list");
            output.WriteLine(await page.InnerTextAsync("body"));
        }
        var list = await page.InnerTextAsync("body");
        Assert.Contains("1-2 of 2", list);
        Assert.Contains("CompressedSamples", list);
        AssertNoProblems();
    }

    /// <summary>How much of the viewport's canvas is drawn: pixels brighter than black, and distinct grey levels.</summary>
    private const string CanvasInk = """
        () => {
          const canvas = document.querySelector('canvas.cornerstone-canvas');
          if (!canvas || canvas.width === 0 || canvas.height === 0) return null;
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let lit = 0; const levels = new Set();
          for (let i = 0; i < data.length; i += 4) {
            if (data[i] + data[i + 1] + data[i + 2] > 30) lit++;
            levels.add(data[i]);
          }
          return { lit, levels: levels.size, pixels: data.length / 4 };
        }
        """;

    [Fact]
    public async Task Opening_a_CT_study_draws_its_image_in_a_viewport()
    {
        await UploadAsync(Rest.Sample("CT_small.dcm"));
        var page = await SignInAsync();
        await page.GotoAsync(Url(OhifViewer.StudyUrl("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322")[1..]));
        try
        {
            // Drawn, not merely there: CT_small's body and its table cover a good part of the viewport, in many grey levels.
            await page.WaitForFunctionAsync($"() => {{ const ink = ({CanvasInk})(); return ink && ink.lit > ink.pixels / 50 && ink.levels > 32; }}", null, new() { Timeout = 90_000 });
        }
        finally { await ShotAsync(page, "ohif-02-ct"); }
        var ink = await page.EvaluateAsync<System.Text.Json.JsonElement>(CanvasInk);
        output.WriteLine($"viewport: {ink}");
        AssertNoProblems();
    }

    /// <summary>
    /// A planning CT (10 slices of 64 x 64, 4 mm) and an RTSTRUCT drawn on it, written by pydicom: two ROIs, a 20 mm
    /// square GTV and an 200 mm square body outline, on every slice, each contour referencing its CT image.
    /// </summary>
    private const string RtStudyScript = """
        import sys, os, numpy as np, pydicom
        from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
        from pydicom.sequence import Sequence
        from pydicom.uid import ExplicitVRLittleEndian
        out = sys.argv[1]
        root = '2.25.4242017'
        study, ct_series, rt_series, frame = root + '.1', root + '.2', root + '.3', root + '.4'
        N, size, spacing = 10, 64, 4.0
        def base(sop_class, sop_uid, modality, series, number, desc):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID = sop_class, sop_uid, ExplicitVRLittleEndian
            ds = FileDataset(None, {}, file_meta=meta, preamble=b'\0' * 128)
            ds.SpecificCharacterSet = 'ISO_IR 100'
            ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
            ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = 'RT^STRUCTURES', 'RT-OHIF', '19600101', 'O'
            ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = study, '20260401', '101500', '1', 'RTACC1'
            ds.StudyDescription, ds.ReferringPhysicianName = 'RT PLANNING', ''
            ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality, ds.SeriesDescription = series, number, modality, desc
            ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame, ''
            ds.Manufacturer, ds.OperatorsName = 'OrthancWeb tests', ''
            return ds
        cts = []
        for k in range(N):
            uid = f'{ct_series}.{k + 1}'
            ds = base('1.2.840.10008.5.1.4.1.1.2', uid, 'CT', ct_series, 1, 'PLANNING CT')
            ds.InstanceNumber, ds.PatientPosition, ds.ImageType, ds.KVP = k + 1, 'HFS', ['ORIGINAL', 'PRIMARY', 'AXIAL'], 120
            ds.ImagePositionPatient = [-126.0, -126.0, k * spacing]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing, ds.SliceThickness = [spacing, spacing], spacing
            ds.Rows = ds.Columns = size
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME2'
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.RescaleIntercept, ds.RescaleSlope, ds.WindowCenter, ds.WindowWidth = -1024, 1, 40, 400
            y, x = np.mgrid[0:size, 0:size]
            r = np.hypot(x - 31.5, y - 31.5)
            hu = np.where(r < 28, 40 + 20 * np.sin(x / 3.0 + k), -1000) + np.where(r < 8, 60, 0)
            ds.PixelData = (hu + 1024).astype('<u2').tobytes()
            ds.save_as(os.path.join(out, f'ct{k + 1:02d}.dcm'), write_like_original=False)
            cts.append(ds)
        rt = base('1.2.840.10008.5.1.4.1.1.481.3', rt_series + '.1', 'RTSTRUCT', rt_series, 2, 'STRUCTURES')
        rt.InstanceNumber, rt.StructureSetLabel, rt.StructureSetDate, rt.StructureSetTime = 1, 'OHIF TEST', '20260401', '101500'
        def img_ref(ct):
            i = Dataset(); i.ReferencedSOPClassUID, i.ReferencedSOPInstanceUID = ct.SOPClassUID, ct.SOPInstanceUID; return i
        series_ref = Dataset(); series_ref.SeriesInstanceUID = ct_series; series_ref.ContourImageSequence = Sequence([img_ref(c) for c in cts])
        study_ref = Dataset(); study_ref.ReferencedSOPClassUID = '1.2.840.10008.3.1.2.3.1'; study_ref.ReferencedSOPInstanceUID = study
        study_ref.RTReferencedSeriesSequence = Sequence([series_ref])
        for_ref = Dataset(); for_ref.FrameOfReferenceUID = frame; for_ref.RTReferencedStudySequence = Sequence([study_ref])
        rt.ReferencedFrameOfReferenceSequence = Sequence([for_ref])
        rois = [(1, 'GTV_OHIF', [255, 0, 0], 10.0), (2, 'BODY_OHIF', [0, 255, 0], 100.0)]
        rt.StructureSetROISequence = Sequence()
        rt.ROIContourSequence = Sequence()
        rt.RTROIObservationsSequence = Sequence()
        for number, name, color, half in rois:
            s = Dataset(); s.ROINumber, s.ReferencedFrameOfReferenceUID, s.ROIName, s.ROIGenerationAlgorithm = number, frame, name, 'MANUAL'
            rt.StructureSetROISequence.append(s)
            c = Dataset(); c.ROIDisplayColor, c.ReferencedROINumber = color, number; c.ContourSequence = Sequence()
            for ct in cts:
                z = float(ct.ImagePositionPatient[2])
                contour = Dataset(); contour.ContourImageSequence = Sequence([img_ref(ct)])
                contour.ContourGeometricType = 'CLOSED_PLANAR'
                pts = [(-half, -half), (half, -half), (half, half), (-half, half)]
                contour.NumberOfContourPoints = len(pts); contour.ContourData = [v for p in pts for v in (p[0], p[1], z)]
                c.ContourSequence.append(contour)
            rt.ROIContourSequence.append(c)
            o = Dataset(); o.ObservationNumber, o.ReferencedROINumber, o.RTROIInterpretedType, o.ROIInterpreter = number, number, 'GTV' if number == 1 else 'EXTERNAL', ''
            rt.RTROIObservationsSequence.append(o)
        rt.ApprovalStatus = 'UNAPPROVED'
        rt.save_as(os.path.join(out, 'rtstruct.dcm'), write_like_original=False)
        print(study)
        """;

    private const string RtStudyUid = "2.25.4242017.1";

    /// <summary>The colours the viewport's contours are drawn in (cornerstone's SVG layer over the image).</summary>
    private const string ContourColours = """
        () => [...new Set([...document.querySelectorAll('svg.svg-layer [stroke]')].map(e => e.getAttribute('stroke')))]
        """;

    /// <summary>OHIF as a returning user sees it: its first-visit tour of the viewer, which covers the viewport, already seen.</summary>
    private static Task<IAsyncDisposable> SkipToursAsync(IPage page) =>
        page.Context.AddInitScriptAsync("localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']))");

    [Fact]
    public async Task A_study_with_an_RT_structure_set_shows_its_structures()
    {
        var folder = Directory.CreateDirectory(Path.Combine(Folder, "rt")).FullName;
        File.WriteAllText(Path.Combine(folder, "make.py"), RtStudyScript);
        var made = Peers.Run(Peers.DebianPython, Path.Combine(folder, "make.py"), folder);
        Assert.True(made.ExitCode == 0, made.Stderr);
        await UploadAsync(Directory.GetFiles(folder, "*.dcm").Order(StringComparer.Ordinal).ToArray());

        var page = await SignInAsync();
        await SkipToursAsync(page);
        await page.GotoAsync(Url(OhifViewer.StudyUrl(RtStudyUid)[1..]));
        // The planning CT first, drawn in the viewport.
        try { await page.WaitForFunctionAsync($"() => {{ const ink = ({CanvasInk})(); return ink && ink.lit > ink.pixels / 50; }}", null, new() { Timeout = 90_000 }); }
        finally { await ShotAsync(page, "ohif-03a-planning-ct"); }
        try
        {
            // The RTSTRUCT series into the viewport (its contours come from its WADO-RS metadata); OHIF asks before
            // loading it as a segmentation, then lists its ROIs by name in its segmentation panel.
            await page.GetByText("STRUCTURES", new() { Exact = true }).DblClickAsync();
            await page.GetByText("Do you want to open this Segmentation?").WaitForAsync(new() { Timeout = 60_000 });
            await page.GetByRole(AriaRole.Button, new() { Name = "Yes", Exact = true }).ClickAsync();
            // The right-hand panel is folded to its icons: open its segmentation tab.
            await page.Locator("[data-cy^=panelSegmentation][data-cy$='-btn']").First.ClickAsync();
            await page.GetByText("GTV_OHIF", new() { Exact = true }).First.WaitForAsync(new() { Timeout = 60_000 });
            await page.GetByText("BODY_OHIF", new() { Exact = true }).First.WaitForAsync(new() { Timeout = 10_000 });
        }
        finally { await ShotAsync(page, "ohif-03-rtstruct"); }
        // Drawn over the CT in their ROI Display Colors: GTV red, body green.
        var colours = await page.EvaluateAsync<string[]>(ContourColours);
        output.WriteLine($"contours drawn in: {string.Join(", ", colours)}");
        Assert.Contains("rgba(255, 0, 0, 1)", colours);
        Assert.Contains("rgba(0, 255, 0, 1)", colours);
        AssertNoProblems();
    }

    [Fact]
    public async Task Open_in_OHIF_on_our_study_page_opens_OHIF_on_that_study()
    {
        var study = await UploadAsync(Rest.Sample("CT_small.dcm"));
        await UploadAsync(Rest.Sample("MR_small.dcm"));
        var page = await SignInAsync();
        await SkipToursAsync(page);
        // The studies grid has it on every row, the study page beside the study's actions.
        await page.GotoAsync(Url("ui/studies"));
        await Chromium.Interactive(page);
        await page.WaitForSelectorAsync("[data-testid=studies-grid] >> text=CompressedSamples^CT1");
        Assert.Equal(2, await page.Locator("[data-testid=study-ohif]").CountAsync());
        await page.GotoAsync(Url($"ui/studies/{study}"));
        await Chromium.Interactive(page);
        await page.ClickAsync("[data-testid=open-ohif]");
        await page.WaitForURLAsync("**/ohif/viewer?StudyInstanceUIDs=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322");
        try
        {
            await page.WaitForFunctionAsync($"() => {{ const ink = ({CanvasInk})(); return ink && ink.lit > ink.pixels / 50 && ink.levels > 32; }}", null, new() { Timeout = 90_000 });
            // OHIF's own study panel names the study it opened, and only that one (the MR is not in it).
            await page.GetByText("e+1", new() { Exact = true }).First.WaitForAsync();
        }
        finally { await ShotAsync(page, "ohif-04-from-study-page"); }
        Assert.DoesNotContain("4MR1", await page.InnerTextAsync("body"));
        AssertNoProblems();
    }
}

/// <summary>A server whose OHIF bundle is missing (its path points nowhere): no Open in OHIF anywhere.</summary>
public sealed class OhifMissingBrowserTests() : ChromiumServerTest("ow-ohif-missing-")
{
    protected override string Settings => ", \"OhifPath\": \"/nonexistent/ohif\"";

    [Fact]
    public async Task Without_the_bundle_the_buttons_are_hidden()
    {
        using (var client = Server.CreateRestClient())
            await Rest.UploadAsync(client, Rest.Sample("CT_small.dcm"));
        var page = await Chromium.SignInAsync(Server, "admin", ServerProcess.AdminPassword);
        await page.GotoAsync(Url("ui/studies"));
        await Chromium.Interactive(page);
        await page.WaitForSelectorAsync("[data-testid=studies-grid] >> text=CompressedSamples^CT1");
        Assert.Equal(0, await page.Locator("[data-testid=study-ohif]").CountAsync());
        await page.Locator("[data-testid=study-link]").First.ClickAsync();
        await page.WaitForSelectorAsync("[data-testid=series-list]");
        // The study page is fully drawn (its series and actions) and has no OHIF button.
        await page.WaitForSelectorAsync("[data-testid=open-viewer]");
        Assert.Equal(0, await page.Locator("[data-testid=open-ohif]").CountAsync());
        Assert.Contains("OHIF is not available, and the Open in OHIF buttons are hidden: OrthancWeb:OhifPath (/nonexistent/ohif) holds no index.html", Server.Log);
    }
}
