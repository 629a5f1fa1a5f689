using System.Text.RegularExpressions;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Audit;
using OrthancWeb.Components.Pages;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Rt;

/// <summary>
/// bUnit on the real services: the viewer draws the generated structure set and dose over their CT where the
/// geometry says, with a toggle per ROI and the dose as lines or a wash; the RT Plan summary page; both audited.
/// </summary>
public sealed partial class RtComponentTests : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-bunit-rt-").FullName;

    public RtComponentTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        RealServices.Add(Services, _folder);
        AddAuthorization().SetAuthorized("clinician").SetRoles(OrthancWeb.Security.Roles.Clinician)
            .SetPolicies(OrthancWeb.Security.Policies.View, OrthancWeb.Security.Policies.Modify);
    }

    /// <summary>How long a render may take on a busy machine (the suite shares 2 cores).</summary>
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private AuditWriter Writer => Services.GetRequiredService<AuditWriter>();

    public async Task InitializeAsync()
    {
        Renderer.SetRendererInfo(new Microsoft.AspNetCore.Components.RendererInfo("Server", isInteractive: true));
        await Writer.StartAsync(CancellationToken.None);
        await Services.GetRequiredService<IndexStartup>().RunAsync();
    }

    public new async Task DisposeAsync()
    {
        await Writer.StopAsync(CancellationToken.None);
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    private async Task<List<IngestResult>> StoreAsync(IEnumerable<byte[]> files)
    {
        var stored = new List<IngestResult>();
        foreach (var bytes in files) stored.Add(await Services.GetRequiredService<IngestService>().StoreAsync(bytes, new IngestSource(IngestOrigin.WebUI)));
        return stored;
    }

    private async Task<IReadOnlyList<AuditEntry>> ViewsAsync(string details)
    {
        await Writer.FlushAsync();
        var page = await Services.GetRequiredService<AuditQueries>().PageAsync(new AuditFilter { Action = AuditActions.View }, 0, 100);
        return [.. page.Entries.Where(e => e.Details == details)];
    }

    [GeneratedRegex(@"M([-0-9.]+) [-0-9.]+L([-0-9.]+) [-0-9.]+")]
    private static partial Regex Segment();

    [Fact]
    public async Task Viewer_draws_the_structures_and_dose_over_their_slices_with_a_toggle_per_roi()
    {
        var rt = GeneratedRt.Make();
        var stored = await StoreAsync(rt.All.Select(i => i.Bytes));
        var page = Render<Viewer>(p => p.Add(v => v.SeriesId, rt.CtSeriesId));
        page.WaitForElement("[data-testid=rt-panel]", Wait);
        Assert.Equal(["PTV", "MARKER"], page.FindAll("[data-testid=roi-toggle]").Select(t => t.GetAttribute("data-roi")));
        Assert.Contains("background: #ff0000", page.FindAll("[data-testid=roi] .swatch")[0].GetAttribute("style"));
        // Slice 1 is z = 0: no structure there.
        Assert.Empty(page.FindAll("[data-testid=rt-contour]"));

        // Slice 3, z = 10: the square from (-46, -46) to (34, 34) mm is pixels 20.5 to 40.5, the marker at (25.5, 35.5).
        page.Find("[data-testid=viewer]").KeyDown("ArrowDown");
        page.Find("[data-testid=viewer]").KeyDown("ArrowDown");
        page.WaitForAssertion(() => Assert.Equal("Slice 3 / 6", page.Find("[data-testid=slice-number]").TextContent), Wait);
        var square = page.Find("polygon[data-testid=rt-contour]");
        Assert.Equal(("20.5,20.5 40.5,20.5 40.5,40.5 20.5,40.5", "#ff0000"), (square.GetAttribute("points"), square.GetAttribute("stroke")));
        var marker = page.Find("circle[data-testid=rt-contour]");
        Assert.Equal(("25.5", "35.5", "#00ff00"), (marker.GetAttribute("cx"), marker.GetAttribute("cy"), marker.GetAttribute("fill")));

        // The PTV's toggle off: its square goes, the marker stays; on again.
        page.Find("input[data-roi=PTV]").Change(false);
        page.WaitForAssertion(() => Assert.Empty(page.FindAll("polygon[data-testid=rt-contour]")), Wait);
        Assert.Single(page.FindAll("circle[data-testid=rt-contour]"));
        page.Find("input[data-roi=PTV]").Change(true);
        page.WaitForAssertion(() => Assert.Single(page.FindAll("polygon[data-testid=rt-contour]")), Wait);

        // Isodose lines by default; 100% = 1.5 Gy at one level: the line down column 25.5.
        page.Find("[data-testid=dose-reference]").Change("1.5");
        page.Find("[data-testid=dose-levels]").Change("100");
        page.WaitForAssertion(() => Assert.Equal("1.5", page.Find("[data-testid=isodose]").GetAttribute("data-level")), Wait);
        var segments = Segment().Matches(page.Find("[data-testid=isodose]").GetAttribute("d")!);
        Assert.Equal(31, segments.Count);
        Assert.All(segments, m => Assert.Equal(("25.5", "25.5"), (m.Groups[1].Value, m.Groups[2].Value)));
        Assert.Contains("100% (1.5 Gy)", page.Find("[data-testid=dose-level]").TextContent);

        // The colour wash instead: a run per row from column 26 (the first voxel at 1.5 Gy or more) to the grid's edge.
        page.Find("[data-testid=dose-display]").Change("Wash");
        page.WaitForAssertion(() => Assert.Equal(32, page.FindAll("[data-testid=dose-wash]").Count), Wait);
        Assert.Empty(page.FindAll("[data-testid=isodose]"));
        Assert.StartsWith("26,0 ", page.FindAll("[data-testid=dose-wash]")[0].GetAttribute("points"));

        // Seeing them is a view of the structure set and of the dose, recorded once each.
        var structureId = stored.Single(s => s.InstanceId == rt.StructureSet.Id).InstanceId;
        Assert.Equal([structureId], (await ViewsAsync("viewer: RT structure set")).Select(e => e.ResourceId));
        Assert.Equal([rt.Dose.Id], (await ViewsAsync("viewer: RT dose")).Select(e => e.ResourceId));
    }

    [Fact]
    public async Task Plan_page_summarises_pydicoms_rtplan()
    {
        var plan = (await StoreAsync([await File.ReadAllBytesAsync(Path.Combine(Peers.PydicomDir("test_files"), "rtplan.dcm"))])).Single();
        var instance = Render<Instance>(p => p.Add(i => i.Id, plan.InstanceId!));
        instance.WaitForAssertion(() => Assert.Equal($"ui/instances/{plan.InstanceId}/rtplan", instance.Find("[data-testid=rtplan-link]").GetAttribute("href")), Wait);

        var page = Render<PlanSummary>(p => p.Add(s => s.Id, plan.InstanceId!));
        page.WaitForElement("[data-testid=plan-label]", Wait);
        Assert.Equal("RT Plan Plan1", page.Find("[data-testid=plan-label]").TextContent);
        Assert.Contains("2003-09-03", page.Find("[data-testid=plan-facts]").TextContent);
        Assert.Contains("30 fractions planned, 1 beam(s)", page.Find("[data-testid=fraction-group]").TextContent);
        var prescription = page.FindAll("[data-testid=prescription] tbody tr");
        Assert.Equal(2, prescription.Count);
        Assert.Contains("30.826 Gy", prescription[1].TextContent);
        var cells = page.Find("[data-testid=beam]").QuerySelectorAll("td").Select(c => c.TextContent.Trim()).ToArray();
        Assert.Equal(["1", "Field 1", "STATIC", "PHOTON", "unit001", "6 MV", "2", "0", "116.0 MU", "1.028 Gy"], cells);
        Assert.Equal([plan.InstanceId], (await ViewsAsync("RT plan summary")).Select(e => e.ResourceId));
    }

    [Fact]
    public async Task Plan_page_of_another_object_says_so()
    {
        var ct = (await StoreAsync([GeneratedRt.Make("RT-NOT", "2.25.2020", "2.25.2020.5").Ct[0].Bytes])).Single();
        var page = Render<PlanSummary>(p => p.Add(s => s.Id, ct.InstanceId!));
        page.WaitForAssertion(() => Assert.Contains("not an RT Plan", page.Markup), Wait);
        Assert.Empty(page.FindAll("[data-testid=beams]"));
    }
}
