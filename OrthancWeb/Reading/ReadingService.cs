using System.Globalization;
using System.Security.Claims;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Explorer;
using OrthancWeb.Imaging;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Reading;

/// <summary>What a measurement measures, and how many points draw it.</summary>
public enum MeasurementKind
{
    /// <summary>Two points: the distance between them.</summary>
    Length,
    /// <summary>Three points, the vertex in the middle.</summary>
    Angle,
    /// <summary>Two opposite corners: the values inside.</summary>
    Rectangle,
    /// <summary>Two opposite corners of the bounding box: the values inside the ellipse.</summary>
    Ellipse,
}

/// <summary>A point in image coordinates: pixel (i, j) covers [i, i+1) x [j, j+1).</summary>
public readonly record struct ImagePoint(double X, double Y);

/// <summary>
/// One frame in a viewport: which instance and frame, its size (the drawing area of its measurements), and where it
/// lies in the patient when that is known.
/// </summary>
public sealed record ViewerSlice(string InstanceId, int Frame, int Rows, int Columns, string Position, EdgeLetters? Orientation, ImagePlane? Plane);

/// <summary>A series as the viewer reads it: its frames in order, and the frame of reference they share (for synchronising viewports).</summary>
public sealed record ViewerSeries(ResourceInfo Series, ResourceInfo? Study, string? FrameOfReferenceUid, IReadOnlyList<ViewerSlice> Slices)
{
    /// <summary>The frame whose plane is nearest to a point, among frames parallel to <paramref name="plane"/>; null when none is.</summary>
    public int? NearestSlice(ImagePlane plane, PatientVector point)
    {
        int? best = null;
        var bestDistance = double.MaxValue;
        for (var i = 0; i < Slices.Count; i++)
        {
            if (Slices[i].Plane is not { } p || !p.IsParallelTo(plane)) continue;
            var distance = Math.Abs(p.DistanceTo(point));
            if (distance < bestDistance) (best, bestDistance) = (i, distance);
        }
        return best;
    }
}

/// <summary>
/// A measurement with what it measures: a length, an angle, or a region's statistics in modality units. When the
/// frame could not be measured (its file is damaged or gone), <see cref="Problem"/> says why, and the measurement is
/// still listed, to be deleted.
/// </summary>
public sealed record MeasurementResult(long Id, MeasurementKind Kind, IReadOnlyList<ImagePoint> Points, double? Length, double? Angle,
    RegionStatistics? Statistics, double? Area, string LengthUnit, string ValueUnit, string? Problem = null)
{
    /// <summary>What is written beside the drawing: the length, the angle, or a region's mean and SD.</summary>
    public string ShortLabel => Problem is not null ? "?" : Kind switch
    {
        MeasurementKind.Length or MeasurementKind.Angle => Label,
        _ when Statistics is { } s => string.Create(CultureInfo.InvariantCulture, $"{s.Mean:0.0} ± {s.StandardDeviation:0.0}{Unit}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Area:0.0} {LengthUnit}²"),
    };

    /// <summary>Everything it measures, for the list beside the viewer.</summary>
    public string Label => Problem is { } problem ? "not measured: " + problem : Kind switch
    {
        MeasurementKind.Length => string.Create(CultureInfo.InvariantCulture, $"{Length:0.0} {LengthUnit}"),
        MeasurementKind.Angle => string.Create(CultureInfo.InvariantCulture, $"{Angle:0.0}°"),
        _ when Statistics is { } s => string.Create(CultureInfo.InvariantCulture,
            $"Mean {s.Mean:0.0}{Unit}, SD {s.StandardDeviation:0.0}, min {s.Minimum:0.#}, max {s.Maximum:0.#}, {Area:0.0} {LengthUnit}²"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Area:0.0} {LengthUnit}² (no pixel values)"),
    };

    private string Unit => ValueUnit.Length > 0 ? " " + ValueUnit : "";
}

/// <summary>
/// The reading viewer's service: series laid out for viewports (order, planes, frame of reference), and each user's
/// measurements with their values computed from the pixels.
/// </summary>
public sealed class ReadingService(IndexQueries queries, ExplorerService explorer, InstanceFiles files, RenderingService rendering, MeasurementStore store)
{
    /// <summary>A user keeps at most this many measurements on one frame, and this many in all (bounded input from a browser).</summary>
    public const int MeasurementsPerFrame = 50;
    public const int MeasurementsPerUser = 10_000;

    /// <summary>Frames listed per instance at most: Number of Frames is a stored tag, and a hostile one must not make a billion slices.</summary>
    public const int MaximumFrames = 10_000;

    /// <summary>Regions are measured on frames of at most this many pixels (a 64-bit value each while measuring).</summary>
    public const long MaximumMeasuredPixels = 64L * 1024 * 1024;

    public async Task<ViewerSeries?> OpenSeriesAsync(string seriesId, CancellationToken ct = default)
    {
        if (await queries.GetAsync(seriesId, ResourceLevel.Series, ct) is not { } series) return null;
        var study = series.ParentId is { } parent ? await queries.GetAsync(parent, ResourceLevel.Study, ct) : null;
        var instances = await explorer.SliceOrderAsync(series, ct);
        // Each image's own size and spacing (a localizer may share the series with the axial slices), read from its
        // header off the caller's thread; the frame of reference is the series' (PS3.3 C.7.4.1).
        var headers = await Task.Run(async () =>
        {
            var read = new List<(int Rows, int Columns, string? Spacing, string? FrameOfReference)>(instances.Count);
            foreach (var instance in instances)
            {
                ct.ThrowIfCancellationRequested();
                if (await files.FindAsync(instance.PublicId, ct) is not { } attachment) { read.Add((0, 0, null, null)); continue; }
                var header = files.Read(attachment).Dataset;
                read.Add((header.GetValueOrDefault(DicomTags.Rows, 0, (ushort)0), header.GetValueOrDefault(DicomTags.Columns, 0, (ushort)0),
                    header.GetString(DicomTags.PixelSpacing), header.GetString(DicomTags.FrameOfReferenceUID)?.Trim()));
            }
            return read;
        }, ct);
        var slices = new List<ViewerSlice>();
        for (var i = 0; i < instances.Count; i++)
        {
            var tags = instances[i].MainDicomTags;
            var (rows, columns, spacing, _) = headers[i];
            var frames = int.TryParse(tags.GetValueOrDefault(DicomTags.NumberOfFrames), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, MaximumFrames) : 1;
            var position = tags.GetValueOrDefault(DicomTags.ImagePositionPatient) ?? "";
            var orientation = tags.GetValueOrDefault(DicomTags.ImageOrientationPatient);
            // A multi-frame object keeps each frame's position in its functional groups: its frames play in order,
            // without a plane (no letters, synchronisation or reference lines for them).
            var plane = frames == 1 ? ImagePlane.FromTags(position, orientation, spacing, rows, columns) : null;
            var letters = frames == 1 ? PatientOrientation.FromImageOrientation(orientation) : null;
            for (var f = 0; f < frames; f++)
                slices.Add(new ViewerSlice(instances[i].PublicId, f, rows, columns, position, letters, plane));
        }
        var frameOfReference = headers.Select(h => h.FrameOfReference).FirstOrDefault(f => !string.IsNullOrEmpty(f));
        return new ViewerSeries(series, study, frameOfReference, slices);
    }

    /// <summary>The current user's measurements on the given instances.</summary>
    /// <remarks>The server's own work (no caller) has none.</remarks>
    public async Task<IReadOnlyList<StoredMeasurement>> MeasurementsAsync(IReadOnlyCollection<string> instanceIds, CancellationToken ct = default) =>
        Caller.Current is null ? [] : await store.ListAsync(CurrentUser("see measurements"), instanceIds, ct);

    /// <summary>
    /// Draws a measurement for the current user: it is measured first, so a frame that cannot be measured (a damaged
    /// file, a frame the instance does not have) stores nothing.
    /// </summary>
    /// <returns>The measurement as stored and what it measures; null when the instance is gone.</returns>
    /// <exception cref="Dicom.DicomValidationException">Wrong number of points, a point far outside the image, no such frame, or too many measurements.</exception>
    public async Task<(StoredMeasurement Stored, MeasurementResult Result)?> AddMeasurementAsync(string instanceId, int frame, MeasurementKind kind, IReadOnlyList<ImagePoint> points, CancellationToken ct = default)
    {
        var user = CurrentUser("measure");
        if (!Enum.IsDefined(kind)) throw new Dicom.DicomValidationException($"unknown kind of measurement {kind}");
        var expected = kind == MeasurementKind.Angle ? 3 : 2;
        if (points.Count != expected) throw new Dicom.DicomValidationException($"a {kind.ToString().ToLowerInvariant()} has {expected} points, not {points.Count}");
        if (points.Any(p => !double.IsFinite(p.X) || !double.IsFinite(p.Y) || Math.Abs(p.X) > 100_000 || Math.Abs(p.Y) > 100_000))
            throw new Dicom.DicomValidationException("a measurement's point lies outside the image");
        var draft = new StoredMeasurement(0, instanceId, frame, kind.ToString(), Format(points));
        var loaded = await Task.Run(() => rendering.LoadAsync(instanceId, ct), ct);
        if (loaded is null) return null;
        if (frame < 0 || frame >= loaded.Frames.FrameCount) throw new Dicom.DicomValidationException($"the instance has no frame {frame}");
        var measured = await Task.Run(() => Measure(loaded, frame, [draft]), ct);
        if (measured.Single().Problem is { } problem) throw new ImagingException(problem);
        var stored = await store.AddAsync(user, instanceId, frame, draft.Kind, draft.Points, MeasurementsPerFrame, MeasurementsPerUser, ct);
        return stored is null ? null : (stored, measured.Single() with { Id = stored.Id });
    }

    /// <summary>Deletes one of the current user's measurements.</summary>
    public Task<bool> DeleteMeasurementAsync(long id, CancellationToken ct = default) => store.DeleteAsync(CurrentUser("delete measurements"), id, ct);

    /// <summary>
    /// What the measurements of one frame measure: the file is read once, its pixels decoded once if a region needs
    /// them, off the caller's thread. Never throws for the file's sake: a frame that cannot be measured gives results
    /// that say why, so that the page can still list them (and the user delete them).
    /// </summary>
    public async Task<IReadOnlyList<MeasurementResult>> MeasureAsync(string instanceId, int frame, IReadOnlyList<StoredMeasurement> measurements, CancellationToken ct = default)
    {
        if (measurements.Count == 0) return [];
        try
        {
            var loaded = await Task.Run(() => rendering.LoadAsync(instanceId, ct), ct);
            if (loaded is null) return Failed(measurements, "the image is no longer stored");
            return await Task.Run(() => Measure(loaded, frame, measurements), ct);
        }
        catch (Exception ex) when (ex is Dicom.DicomException or IOException)
        {
            return Failed(measurements, ex.Message);
        }
    }

    private static List<MeasurementResult> Failed(IReadOnlyList<StoredMeasurement> measurements, string problem) =>
        [.. measurements.Select(m => new MeasurementResult(m.Id, Enum.TryParse<MeasurementKind>(m.Kind, out var k) ? k : MeasurementKind.Length,
            Parse(m.Points) ?? [], null, null, null, null, "", "", problem))];

    /// <summary>
    /// Lengths are in mm when the image says its Pixel Spacing; with Imager Pixel Spacing only (projection
    /// radiography) they are at the detector (PS3.3 10.7.1.1), and say so; in pixels otherwise.
    /// </summary>
    private static List<MeasurementResult> Measure(RenderingService.Loaded loaded, int frame, IReadOnlyList<StoredMeasurement> measurements)
    {
        var ds = loaded.File.Dataset;
        int rows = ds.GetValueOrDefault(DicomTags.Rows, 0, (ushort)0), columns = ds.GetValueOrDefault(DicomTags.Columns, 0, (ushort)0);
        var (spacing, lengthUnit) = ds.GetString(DicomTags.PixelSpacing) is { } ps ? (ps, "mm")
            : ds.GetString(DicomTags.ImagerPixelSpacing) is { } ips ? (ips, "mm at detector") : (null, "px");
        // Distances within the image only need the spacing: any orientation gives them.
        var plane = ImagePlane.FromTags("0\\0\\0", "1\\0\\0\\0\\1\\0", spacing, Math.Max(rows, 1), Math.Max(columns, 1));
        if (plane is null) lengthUnit = "px";
        plane ??= new ImagePlane(default, new PatientVector(1, 0, 0), new PatientVector(0, 1, 0), 1, 1, Math.Max(rows, 1), Math.Max(columns, 1));
        // HU and the like only when a rescale was applied: an enhanced object keeps it in its functional groups.
        var rescaled = ds.Contains(DicomTags.RescaleSlope) || ds.Contains(DicomTags.RescaleIntercept);
        var valueUnit = RegionStatistics.Unit(ds.GetString(DicomTags.Modality), ds.GetString(DicomTags.RescaleType), rescaled);
        double[]? values = null;
        var results = new List<MeasurementResult>();
        foreach (var m in measurements)
        {
            if (!Enum.TryParse<MeasurementKind>(m.Kind, out var kind) || Parse(m.Points) is not { } p) continue;
            double? length = null, angle = null, area = null;
            RegionStatistics? statistics = null;
            switch (kind)
            {
                case MeasurementKind.Length when p.Count == 2:
                    length = plane.Distance(p[0].X, p[0].Y, p[1].X, p[1].Y);
                    break;
                case MeasurementKind.Angle when p.Count == 3:
                    angle = plane.Angle(p[0].X, p[0].Y, p[1].X, p[1].Y, p[2].X, p[2].Y);
                    break;
                case MeasurementKind.Rectangle or MeasurementKind.Ellipse when p.Count == 2:
                    var shape = kind == MeasurementKind.Ellipse ? RegionShape.Ellipse : RegionShape.Rectangle;
                    area = RegionStatistics.Area(shape, p[1].X - p[0].X, p[1].Y - p[0].Y, plane.RowSpacing, plane.ColumnSpacing);
                    values ??= ModalityValues(loaded, frame, rows, columns);
                    if (values.Length > 0) statistics = RegionStatistics.Of(values, columns, rows, shape, p[0].X, p[0].Y, p[1].X, p[1].Y);
                    break;
                default:
                    continue;
            }
            results.Add(new MeasurementResult(m.Id, kind, p, length, angle, statistics, area, lengthUnit, valueUnit));
        }
        return results;
    }

    /// <summary>A monochrome frame's modality values; none for colour (its samples are not one quantity) or a frame too large.</summary>
    private static double[] ModalityValues(RenderingService.Loaded loaded, int frame, int rows, int columns)
    {
        if (frame < 0 || frame >= loaded.Frames.FrameCount || (long)rows * columns > MaximumMeasuredPixels) return [];
        var decoded = CodecRegistry.Default.DecodeFrame(loaded.Frames, frame);
        return decoded.Photometric is "MONOCHROME1" or "MONOCHROME2" ? Renderer.ModalityValues(decoded, loaded.File.Dataset) : [];
    }

    /// <summary>
    /// The account the measurements belong to: its ID (the NameIdentifier claim of an Identity sign-in), so that a new
    /// account given a deleted one's name starts with none. The server's own work (no caller) has no account.
    /// </summary>
    private static string CurrentUser(string action)
    {
        Caller.Demand(Policies.View, action);
        var user = Caller.Current;
        return user?.Identity?.IsAuthenticated == true && user.FindFirst(ClaimTypes.NameIdentifier)?.Value is { Length: > 0 } id
            ? id
            : throw new AccessDeniedException($"only a signed-in user may {action}");
    }

    private static string Format(IEnumerable<ImagePoint> points) =>
        string.Join(';', points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.X:0.##},{p.Y:0.##}")));

    private static List<ImagePoint>? Parse(string text)
    {
        var points = new List<ImagePoint>();
        foreach (var pair in text.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var xy = pair.Split(',');
            if (xy.Length != 2
                || !double.TryParse(xy[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
                || !double.TryParse(xy[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var y)) return null;
            points.Add(new ImagePoint(x, y));
        }
        return points;
    }
}
