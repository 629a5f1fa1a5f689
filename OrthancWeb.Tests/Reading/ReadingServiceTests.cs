using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Components.Viewer;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Reading;
using OrthancWeb.Security;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Reading;

/// <summary>
/// The reading viewer's service on a real SQLite index and storage folder: series laid out with their planes, viewports
/// that follow each other, and measurements that measure the stored pixels and belong to the user who drew them.
/// </summary>
public sealed class ReadingServiceTests : IAsyncLifetime
{
    private const string Patient = "READING";
    private const string Study = "2.25.7001";
    private const string FrameOfReference = "2.25.7001.9";
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-reading-").FullName;
    private ServiceProvider _services = null!;
    private ReadingService _reading = null!;

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection();
        RealServices.Add(services, _folder);
        _services = services.BuildServiceProvider();
        await _services.GetRequiredService<IndexStartup>().RunAsync();
        _reading = _services.GetRequiredService<ReadingService>();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>Stores a series in reverse order (the viewer orders by Instance Number) and returns its public ID.</summary>
    private async Task<string> StoreAsync(IReadOnlyList<GeneratedInstance> series)
    {
        var ingest = _services.GetRequiredService<IngestService>();
        string? id = null;
        foreach (var instance in series.Reverse())
            id = (await ingest.StoreAsync(instance.Bytes, new IngestSource(IngestOrigin.WebUI))).SeriesId;
        return id!;
    }

    private Task<string> StoreVolumeAsync(string seriesUid, GeneratedInstances.Plane plane, int count, double first, double step, string frameOfReference = FrameOfReference) =>
        StoreAsync(GeneratedInstances.VolumeSeries(Patient, Study, seriesUid, frameOfReference, plane, count, first, step, 1, seriesUid));

    /// <summary>A signed-in account as Identity makes it: its ID, its name and its role.</summary>
    private static ClaimsPrincipal User(string name, string role, string? id = null) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, id ?? "id-" + name), new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], "test"));

    [Fact]
    public async Task A_series_opens_in_instance_order_with_the_plane_of_each_slice()
    {
        var series = (await _reading.OpenSeriesAsync(await StoreVolumeAsync("2.25.7001.1", GeneratedInstances.Plane.Axial, 10, 0, 5)))!;
        Assert.Equal((FrameOfReference, 10), (series.FrameOfReferenceUid, series.Slices.Count));
        Assert.All(series.Slices, s => Assert.Equal((64, 64), (s.Rows, s.Columns)));
        // Stored last to first, shown first to last: slice k at z = 5k.
        Assert.Equal(Enumerable.Range(0, 10).Select(k => 5.0 * k), series.Slices.Select(s => s.Plane!.Origin.Z));
        Assert.All(series.Slices, s => Assert.Equal(4, s.Plane!.RowSpacing));
        Assert.Equal("A", series.Slices[0].Orientation!.Top);
    }

    [Fact]
    public async Task Viewports_follow_the_nearest_parallel_slice_of_the_same_frame_of_reference()
    {
        var thick = new ViewportState((await _reading.OpenSeriesAsync(await StoreVolumeAsync("2.25.7001.1", GeneratedInstances.Plane.Axial, 10, 0, 5)))!);
        var thin = new ViewportState((await _reading.OpenSeriesAsync(await StoreVolumeAsync("2.25.7001.2", GeneratedInstances.Plane.Axial, 25, 0, 3)))!);
        var sagittal = new ViewportState((await _reading.OpenSeriesAsync(await StoreVolumeAsync("2.25.7001.3", GeneratedInstances.Plane.Sagittal, 8, -14, 4)))!);
        var elsewhere = new ViewportState((await _reading.OpenSeriesAsync(await StoreVolumeAsync("2.25.7001.4", GeneratedInstances.Plane.Axial, 25, 0, 2, "2.25.7001.99")))!);

        // The 5 mm series (z = 0 to 45) at z = 20: the 3 mm one (z = 0 to 72) shows its nearest, z = 21.
        Assert.True(thick.Show(4));
        Assert.True(thin.Follow(thick));
        Assert.Equal(21, thin.Slice.Plane!.Origin.Z);
        // Back from the thin one at z = 33: the thick one shows z = 35; from z = 72, past its end, its last slice.
        thin.Show(11);
        thick.Follow(thin);
        Assert.Equal(35, thick.Slice.Plane!.Origin.Z);
        thin.Show(24);
        thick.Follow(thin);
        Assert.Equal(45, thick.Slice.Plane!.Origin.Z);
        // Not parallel, or another frame of reference (another acquisition): no following.
        Assert.False(sagittal.Follow(thick));
        Assert.False(elsewhere.Follow(thick));
        Assert.Equal(0, elsewhere.Index);

        // Reference lines: the sagittal slice at x = 10 on the axial one is the column at (10 + 128) / 4 = 34.5, top to bottom.
        sagittal.Show(6);
        var (x1, y1, x2, y2) = thick.ReferenceLineOf(sagittal)!.Value;
        Assert.Equal((34.5, 34.5), (x1, x2));
        Assert.Equal((0.0, 64.0), (Math.Min(y1, y2), Math.Max(y1, y2)));
        Assert.Null(thick.ReferenceLineOf(thin)); // parallel
        Assert.Null(elsewhere.ReferenceLineOf(sagittal)); // another frame of reference
    }

    [Fact]
    public async Task Measurements_measure_the_stored_pixels_in_modality_units_and_belong_to_their_user()
    {
        var series = (await _reading.OpenSeriesAsync(await StoreVolumeAsync("2.25.7001.1", GeneratedInstances.Plane.Axial, 3, 0, 5)))!;
        var slice = series.Slices[1];
        var instances = series.Slices.Select(s => s.InstanceId).ToList();
        using (Caller.Enter(User("alice", Roles.Viewer)))
        {
            // 20 x 20 pixels of 40 HU away from the dense block: 80 mm x 80 mm.
            var (_, square) = (await _reading.AddMeasurementAsync(slice.InstanceId, 0, MeasurementKind.Rectangle, [new(20, 20), new(40, 40)]))!.Value;
            Assert.Equal((400, 40.0, 0.0, 40.0, 40.0), (square.Statistics!.Count, square.Statistics.Mean, square.Statistics.StandardDeviation, square.Statistics.Minimum, square.Statistics.Maximum));
            Assert.Equal(6400, square.Area!.Value, 9);
            Assert.Equal("Mean 40.0 HU, SD 0.0, min 40, max 40, 6400.0 mm²", square.Label);
            // An ellipse inside the 1000 HU block, one straddling both: the mean lies between.
            var (_, dense) = (await _reading.AddMeasurementAsync(slice.InstanceId, 0, MeasurementKind.Ellipse, [new(2, 2), new(14, 14)]))!.Value;
            Assert.Equal((1000.0, 0.0), (dense.Statistics!.Mean, dense.Statistics.StandardDeviation));
            var (_, mixed) = (await _reading.AddMeasurementAsync(slice.InstanceId, 0, MeasurementKind.Rectangle, [new(8, 0), new(24, 16)]))!.Value;
            Assert.Equal((40.0, 1000.0, 520.0), (mixed.Statistics!.Minimum, mixed.Statistics.Maximum, mixed.Statistics.Mean));
            var (_, length) = (await _reading.AddMeasurementAsync(slice.InstanceId, 0, MeasurementKind.Length, [new(10, 10), new(10, 30)]))!.Value;
            Assert.Equal("80.0 mm", length.Label);
            var (_, angle) = (await _reading.AddMeasurementAsync(slice.InstanceId, 0, MeasurementKind.Angle, [new(30, 10), new(10, 10), new(30, 30)]))!.Value;
            Assert.Equal(45, angle.Angle!.Value, 9);

            // Read again from the index (a new page, another day), measured again from the pixels.
            var stored = await _reading.MeasurementsAsync(instances);
            Assert.Equal(5, stored.Count);
            Assert.All(stored, m => Assert.Equal((slice.InstanceId, 0), (m.InstanceId, m.Frame)));
            var again = await _reading.MeasureAsync(slice.InstanceId, 0, stored);
            Assert.Equal([square.Label, dense.Label, mixed.Label, length.Label, angle.Label], again.Select(r => r.Label));
        }
        using (Caller.Enter(User("bob", Roles.Clinician)))
        {
            // Another user sees none of them and cannot delete them.
            Assert.Empty(await _reading.MeasurementsAsync(instances));
            var alices = await _services.GetRequiredService<MeasurementStore>().ListAsync("id-alice", instances, default);
            Assert.Equal(5, alices.Count);
            Assert.False(await _reading.DeleteMeasurementAsync(alices[0].Id));
        }
        using (Caller.Enter(User("alice", Roles.Viewer)))
        {
            var mine = await _reading.MeasurementsAsync(instances);
            Assert.True(await _reading.DeleteMeasurementAsync(mine[0].Id));
            Assert.Equal(4, (await _reading.MeasurementsAsync(instances)).Count);
        }

        // A new account given the name of a deleted one starts with no measurements: they belong to the account's ID.
        using (Caller.Enter(User("alice", Roles.Viewer, id: "id-alice-2")))
            Assert.Empty(await _reading.MeasurementsAsync(instances));

        // The instance goes, and its measurements with it.
        await _services.GetRequiredService<IndexWriter>().DeleteAsync(slice.InstanceId, ResourceLevel.Instance, default);
        await using var db = await _services.GetRequiredService<IDbContextFactory<IndexDbContext>>().CreateDbContextAsync();
        Assert.Equal(0, await db.Measurements.CountAsync());
    }

    [Fact]
    public async Task Malformed_or_excessive_measurements_are_refused_and_the_server_has_none()
    {
        var series = (await _reading.OpenSeriesAsync(await StoreVolumeAsync("2.25.7001.1", GeneratedInstances.Plane.Axial, 1, 0, 5)))!;
        var instance = series.Slices[0].InstanceId;
        // Not a user: the server's own work neither measures nor has measurements.
        await Assert.ThrowsAsync<AccessDeniedException>(() => _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(1, 1), new(2, 2)]));
        Assert.Empty(await _reading.MeasurementsAsync([instance]));
        using (Caller.Enter(User("alice", Roles.Viewer)))
        {
            var wrongCount = await Assert.ThrowsAsync<DicomValidationException>(() => _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Angle, [new(1, 1), new(2, 2)]));
            Assert.Contains("3 points", wrongCount.Message);
            await Assert.ThrowsAsync<DicomValidationException>(() => _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(double.NaN, 1), new(2, 2)]));
            await Assert.ThrowsAsync<DicomValidationException>(() => _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(1e9, 1), new(2, 2)]));
            for (var i = 0; i < ReadingService.MeasurementsPerFrame; i++)
                Assert.NotNull(await _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(1, 1), new(2, 2 + i)]));
            var tooMany = await Assert.ThrowsAsync<DicomValidationException>(() => _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(1, 1), new(3, 3)]));
            Assert.Contains($"at most {ReadingService.MeasurementsPerFrame}", tooMany.Message);
            // A frame the instance does not have, and an instance that is not stored, take no measurement.
            var noFrame = await Assert.ThrowsAsync<DicomValidationException>(() => _reading.AddMeasurementAsync(instance, 1, MeasurementKind.Length, [new(1, 1), new(2, 2)]));
            Assert.Contains("no frame 1", noFrame.Message);
            Assert.Null(await _reading.AddMeasurementAsync("not-an-instance", 0, MeasurementKind.Length, [new(1, 1), new(2, 2)]));
        }
    }

    [Fact]
    public async Task A_frame_that_cannot_be_measured_stores_nothing_and_lists_what_was_stored_with_the_reason()
    {
        // Pixel data cut to 100 bytes: the instance is stored (its header is fine) but its pixels cannot be decoded.
        var whole = GeneratedInstances.VolumeSeries(Patient, Study, "2.25.7001.5", FrameOfReference, GeneratedInstances.Plane.Axial, 1, 0, 5, 1, "CUT")[0];
        var file = DicomFile.Open(whole.Bytes.AsMemory());
        file.Dataset.AddBytes(DicomTags.PixelData, DicomVR.OW, new byte[100]);
        var stored = await _services.GetRequiredService<IngestService>().StoreAsync(file.ToBytes(), new IngestSource(IngestOrigin.WebUI));
        Assert.Equal(IngestStatus.Success, stored.Status);
        var instance = stored.InstanceId!;
        using (Caller.Enter(User("alice", Roles.Viewer)))
        {
            await Assert.ThrowsAsync<ImagingException>(() => _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Rectangle, [new(1, 1), new(20, 20)]));
            Assert.Empty(await _reading.MeasurementsAsync([instance]));
            // A length needs no pixels: it is kept. Shown later, when the pixels are needed after all, it is listed
            // with the reason rather than failing the page.
            Assert.NotNull(await _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(1, 1), new(1, 11)]));
            var kept = await _reading.MeasurementsAsync([instance]);
            var broken = kept.Select(m => m with { Kind = nameof(MeasurementKind.Ellipse) }).ToList();
            var result = Assert.Single(await _reading.MeasureAsync(instance, 0, broken));
            Assert.StartsWith("not measured: ", result.Label);
            Assert.Equal("?", result.ShortLabel);
            // A deleted instance's measurements are listed the same way until the page learns they are gone.
            var gone = Assert.Single(await _reading.MeasureAsync("not-stored", 0, kept));
            Assert.Equal("not measured: the image is no longer stored", gone.Label);
        }
    }

    [Fact]
    public async Task Non_square_pixels_and_images_are_measured_along_the_right_axes()
    {
        // 48 columns x 32 rows, rows 2 mm apart and columns 1 mm apart; the block of 1000 HU is in the first 16 x 16.
        var ds = DicomFile.Open(GeneratedInstances.VolumeSeries(Patient, Study, "2.25.7001.6", FrameOfReference, GeneratedInstances.Plane.Axial, 1, 0, 5, 1, "WIDE")[0].Bytes.AsMemory());
        ds.Dataset.Add(DicomTags.PixelSpacing, "2", "1");
        GeneratedInstances.AddCtImage(ds.Dataset, 32, 48, (x, y) => x < 16 && y < 16 ? 1000 : 40);
        var instance = (await _services.GetRequiredService<IngestService>().StoreAsync(ds.ToBytes(), new IngestSource(IngestOrigin.WebUI))).InstanceId!;
        var series = (await _reading.OpenSeriesAsync(PublicIds.Series(Patient, Study, "2.25.7001.6")))!;
        Assert.Equal((32, 48), (series.Slices[0].Rows, series.Slices[0].Columns));
        using (Caller.Enter(User("alice", Roles.Viewer)))
        {
            // 10 pixels across is 10 mm, 10 down is 20 mm.
            Assert.Equal(10, (await _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(30, 20), new(40, 20)]))!.Value.Result.Length!.Value, 9);
            Assert.Equal(20, (await _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Length, [new(30, 20), new(30, 30)]))!.Value.Result.Length!.Value, 9);
            // A region 24 wide and 8 high over the block's right edge, below its top: x 8..31, y 8..15, a third dense.
            var (_, region) = (await _reading.AddMeasurementAsync(instance, 0, MeasurementKind.Rectangle, [new(8, 8), new(32, 16)]))!.Value;
            Assert.Equal((192, 1000.0, 40.0), (region.Statistics!.Count, region.Statistics.Maximum, region.Statistics.Minimum));
            Assert.Equal((64 * 1000 + 128 * 40) / 192.0, region.Statistics.Mean, 9);
            Assert.Equal(24 * 1 * 8 * 2, region.Area!.Value, 9);
        }
    }
}
