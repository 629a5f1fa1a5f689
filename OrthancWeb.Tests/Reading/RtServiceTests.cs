using OrthancWeb.Components.Viewer;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Ingest;
using OrthancWeb.Reading;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Reading;

/// <summary>
/// The RT service on a real index and storage: the structure set and dose of the generated set are found for its CT
/// and not for another frame of reference, parsed once, drawn where their geometry says, and a bad RT object is
/// reported, not thrown.
/// </summary>
public sealed class RtServiceTests : IAsyncLifetime
{
    private RealServiceHost _host = null!;

    public async Task InitializeAsync() => _host = await RealServiceHost.StartAsync("ow-rt-");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<string> StoreAsync(IEnumerable<GeneratedInstance> instances)
    {
        string? series = null;
        foreach (var instance in instances)
        {
            var result = await _host.Get<IngestService>().StoreAsync(instance.Bytes, new IngestSource(IngestOrigin.WebUI));
            Assert.NotNull(result.InstanceId);
            series ??= result.SeriesId;
        }
        return series!;
    }

    [Fact]
    public async Task Finds_the_structures_and_dose_over_their_ct_and_draws_them_where_the_geometry_says()
    {
        var rt = GeneratedRt.Make();
        var ct = await StoreAsync(rt.All);
        // A second CT of the same study in another frame of reference: nothing of the RT objects belongs over it.
        var other = await StoreAsync(GeneratedInstances.VolumeSeries("RT-GEN", "2.25.1717", "2.25.1717.7", "2.25.1717.8", GeneratedInstances.Plane.Axial, 2, 0, 5, 4, "OTHER"));
        var service = _host.Get<RtService>();
        var reading = _host.Get<ReadingService>();

        var series = (await reading.OpenSeriesAsync(ct))!;
        var overlay = await service.OverlayForAsync(series);
        Assert.Empty(overlay.Problems);
        var set = Assert.Single(overlay.StructureSets);
        Assert.Equal(GeneratedRt.StructureSetSopUid, set.Instance.MainDicomTags[DicomTags.SOPInstanceUID]);
        Assert.Equal(GeneratedRt.DoseSopUid, Assert.Single(overlay.Doses).Instance.MainDicomTags[DicomTags.SOPInstanceUID]);
        Assert.True((await service.OverlayForAsync((await reading.OpenSeriesAsync(other))!)).IsEmpty);

        // Opened again (another viewport, a reload): the same parsed objects, not parsed again.
        var again = await service.OverlayForAsync(series);
        Assert.Same(set.Structures, Assert.Single(again.StructureSets).Structures);
        Assert.Same(overlay.Doses[0].Dose, again.Doses[0].Dose);

        // The viewport's view of them: slice 3 is z = 10 (slices 5 mm apart: a contour within 2.5 mm is on it).
        var state = new ViewportState(series) { Rt = new RtViewState(overlay) };
        state.Show(2);
        Assert.Equal(2.5, state.HalfSliceGap());
        var contours = state.Rt.ContoursOn(state);
        Assert.Equal(["#ff0000", "#00ff00"], contours.Select(c => c.Colour));
        Assert.Equal([(20.5, 20.5), (40.5, 20.5), (40.5, 40.5), (20.5, 40.5)], contours[0].Contour.Points);
        state.Rt.Hidden.Add(contours[0].Roi); // the PTV's toggle off: the marker alone
        Assert.Equal(["#00ff00"], state.Rt.ContoursOn(state).Select(c => c.Colour));
        // 100% = 1.5 Gy: the isodose line at column 25.5 on z = 10.
        state.Rt.ReferenceDose = 1.5;
        Assert.True(state.Rt.SetLevels("100"));
        var line = Assert.Single(state.Rt.DoseOn(state).Lines);
        Assert.All(line.Segments, s => Assert.Equal(25.5, s.X1, 4));
        Assert.False(state.Rt.SetLevels("100, -5"));
        Assert.False(state.Rt.SetLevels("1,2,3,4,5,6,7,8,9"));
    }

    [Fact]
    public async Task A_bad_rt_object_is_reported_and_the_others_still_drawn()
    {
        var rt = GeneratedRt.Make("RT-BAD", "2.25.1818", "2.25.1818.5");
        var dose = DicomFile.Open(rt.Dose.Bytes.AsMemory());
        dose.Dataset.Add(DicomTags.GridFrameOffsetVector, "0", "10", "20"); // three offsets for two frames
        var ct = await StoreAsync([.. rt.Ct, rt.StructureSet]);
        Assert.NotNull((await _host.Get<IngestService>().StoreAsync(dose.ToBytes(), new IngestSource(IngestOrigin.WebUI))).InstanceId);

        var overlay = await _host.Get<RtService>().OverlayForAsync((await _host.Get<ReadingService>().OpenSeriesAsync(ct))!);
        Assert.Single(overlay.StructureSets);
        Assert.Empty(overlay.Doses);
        Assert.Contains("3 values for 2 frames", Assert.Single(overlay.Problems));
    }

    [Fact]
    public async Task Plan_summary_reads_an_rt_plan_and_refuses_another_object()
    {
        var ingest = _host.Get<IngestService>();
        var plan = await ingest.StoreAsync(await File.ReadAllBytesAsync(Path.Combine(Peers.PydicomDir("test_files"), "rtplan.dcm")), new IngestSource(IngestOrigin.WebUI));
        var summary = (await _host.Get<RtService>().PlanAsync(plan.InstanceId!))!;
        Assert.Equal("Plan1", summary.Plan.Label);
        Assert.Equal(116.0036697, summary.Plan.MetersetOf(1));

        var ct = await ingest.StoreAsync(GeneratedRt.Make("RT-PLAN", "2.25.1919", "2.25.1919.5").Ct[0].Bytes, new IngestSource(IngestOrigin.WebUI));
        await Assert.ThrowsAsync<DicomValidationException>(() => _host.Get<RtService>().PlanAsync(ct.InstanceId!));
        Assert.Null(await _host.Get<RtService>().PlanAsync("no-such-instance"));
    }
}
