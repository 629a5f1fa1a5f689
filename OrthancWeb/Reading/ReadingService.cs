using System.Globalization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
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

/// <summary>One frame in a viewport: which instance and frame, and where it lies in the patient when that is known.</summary>
public sealed record ViewerSlice(string InstanceId, int Frame, string Position, EdgeLetters? Orientation, ImagePlane? Plane);

/// <summary>
/// A series as the viewer reads it: its frames in order, the frame of reference they share (for synchronising
/// viewports), and the size of its first image (the drawing area of its measurements).
/// </summary>
public sealed record ViewerSeries(ResourceInfo Series, ResourceInfo? Study, string? FrameOfReferenceUid, int Rows, int Columns, IReadOnlyList<ViewerSlice> Slices)
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

/// <summary>A measurement with what it measures: a length in mm, an angle, or a region's statistics in modality units.</summary>
public sealed record MeasurementResult(long Id, MeasurementKind Kind, IReadOnlyList<ImagePoint> Points, double? Length, double? Angle, RegionStatistics? Statistics, double? Area, string LengthUnit, string ValueUnit)
{
    /// <summary>What is written beside the drawing: the length, the angle, or a region's mean and SD.</summary>
    public string ShortLabel => Kind switch
    {
        MeasurementKind.Length or MeasurementKind.Angle => Label,
        _ when Statistics is { } s => string.Create(CultureInfo.InvariantCulture, $"{s.Mean:0.0} ± {s.StandardDeviation:0.0}{(ValueUnit.Length > 0 ? " " + ValueUnit : "")}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Area:0.0} {LengthUnit}²"),
    };

    /// <summary>Everything it measures, for the list beside the viewer.</summary>
    public string Label => Kind switch
    {
        MeasurementKind.Length => string.Create(CultureInfo.InvariantCulture, $"{Length:0.0} {LengthUnit}"),
        MeasurementKind.Angle => string.Create(CultureInfo.InvariantCulture, $"{Angle:0.0}°"),
        _ when Statistics is { } s => string.Create(CultureInfo.InvariantCulture,
            $"Mean {s.Mean:0.0}{(ValueUnit.Length > 0 ? " " + ValueUnit : "")}, SD {s.StandardDeviation:0.0}, min {s.Minimum:0.#}, max {s.Maximum:0.#}, {Area:0.0} {LengthUnit}²"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Area:0.0} {LengthUnit}² (no pixel values)"),
    };
}

/// <summary>
/// The reading viewer's service: series laid out for viewports (order, planes, frame of reference), and each user's
/// measurements with their values computed from the pixels.
/// </summary>
public sealed class ReadingService(IndexQueries queries, InstanceFiles files, RenderingService rendering, MeasurementStore store)
{
    /// <summary>A user keeps at most this many measurements on one frame (bounded input from a browser).</summary>
    public const int MeasurementsPerFrame = 50;

    public async Task<ViewerSeries?> OpenSeriesAsync(string seriesId, CancellationToken ct = default)
    {
        if (await queries.GetAsync(seriesId, ResourceLevel.Series, ct) is not { } series) return null;
        var study = series.ParentId is { } parent ? await queries.GetAsync(parent, ResourceLevel.Study, ct) : null;
        var instances = new List<ResourceInfo>();
        foreach (var id in await queries.SliceOrderAsync(seriesId, ct))
            if (await queries.GetAsync(id, ResourceLevel.Instance, ct) is { } instance) instances.Add(instance);
        // Size, spacing and frame of reference from the series' first image: they are series-wide for the
        // cross-sectional images that synchronise (PS3.3 C.7.4.1: one frame of reference per series).
        string? frameOfReference = null, spacing = null;
        int rows = 0, columns = 0;
        if (instances.Count > 0 && await files.FindAsync(instances[0].PublicId, ct) is { } attachment)
        {
            var header = files.Read(attachment).Dataset;
            frameOfReference = header.GetString(DicomTags.FrameOfReferenceUID)?.Trim();
            spacing = header.GetString(DicomTags.PixelSpacing);
            rows = header.GetValueOrDefault(DicomTags.Rows, 0, (ushort)0);
            columns = header.GetValueOrDefault(DicomTags.Columns, 0, (ushort)0);
        }
        var slices = new List<ViewerSlice>();
        foreach (var instance in instances)
        {
            var tags = instance.MainDicomTags;
            var frames = int.TryParse(tags.GetValueOrDefault(DicomTags.NumberOfFrames), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? Math.Max(1, n) : 1;
            var position = tags.GetValueOrDefault(DicomTags.ImagePositionPatient) ?? "";
            var orientation = tags.GetValueOrDefault(DicomTags.ImageOrientationPatient);
            // A multi-frame object keeps each frame's position in its functional groups: its frames play in order,
            // without a plane (no letters, synchronisation or reference lines for them).
            var plane = frames == 1 ? ImagePlane.FromTags(position, orientation, spacing, rows, columns) : null;
            var letters = frames == 1 ? PatientOrientation.FromImageOrientation(orientation) : null;
            for (var f = 0; f < frames; f++)
                slices.Add(new ViewerSlice(instance.PublicId, f, position, letters, plane));
        }
        return new ViewerSeries(series, study, string.IsNullOrEmpty(frameOfReference) ? null : frameOfReference, rows, columns, slices);
    }

    /// <summary>The current user's measurements on the given instances.</summary>
    /// <remarks>The server's own work (no caller) has none.</remarks>
    public async Task<IReadOnlyList<StoredMeasurement>> MeasurementsAsync(IReadOnlyCollection<string> instanceIds, CancellationToken ct = default) =>
        Caller.Current is null ? [] : await store.ListAsync(CurrentUser("see measurements"), instanceIds, ct);

    /// <summary>Draws a measurement for the current user and measures it.</summary>
    /// <exception cref="Dicom.DicomValidationException">Wrong number of points, a point far outside the image, or too many on the frame.</exception>
    /// <returns>The measurement as stored and what it measures; null when the instance is gone.</returns>
    public async Task<(StoredMeasurement Stored, MeasurementResult Result)?> AddMeasurementAsync(string instanceId, int frame, MeasurementKind kind, IReadOnlyList<ImagePoint> points, CancellationToken ct = default)
    {
        var user = CurrentUser("measure");
        if (frame < 0) throw new Dicom.DicomValidationException("frame numbers start at 0");
        var expected = kind == MeasurementKind.Angle ? 3 : 2;
        if (points.Count != expected) throw new Dicom.DicomValidationException($"a {kind.ToString().ToLowerInvariant()} has {expected} points, not {points.Count}");
        if (points.Any(p => !double.IsFinite(p.X) || !double.IsFinite(p.Y) || Math.Abs(p.X) > 100_000 || Math.Abs(p.Y) > 100_000))
            throw new Dicom.DicomValidationException("a measurement's point lies outside the image");
        var stored = await store.AddAsync(user, instanceId, frame, kind.ToString(), Format(points), MeasurementsPerFrame, ct);
        if (stored is null) return null;
        return (await MeasureAsync(instanceId, frame, [stored], ct)).SingleOrDefault() is { } result ? (stored, result) : null;
    }

    /// <summary>Deletes one of the current user's measurements.</summary>
    public Task<bool> DeleteMeasurementAsync(long id, CancellationToken ct = default) => store.DeleteAsync(CurrentUser("delete measurements"), id, ct);

    /// <summary>
    /// What the measurements of one frame measure: the file is read once, its pixels decoded once if a region needs
    /// them. Lengths are in mm when the image says its Pixel Spacing (or Imager Pixel Spacing, at the detector), in
    /// pixels otherwise.
    /// </summary>
    public async Task<IReadOnlyList<MeasurementResult>> MeasureAsync(string instanceId, int frame, IReadOnlyList<StoredMeasurement> measurements, CancellationToken ct = default)
    {
        if (measurements.Count == 0) return [];
        var loaded = await rendering.LoadAsync(instanceId, ct);
        if (loaded is null) return [];
        var ds = loaded.File.Dataset;
        int rows = ds.GetValueOrDefault(DicomTags.Rows, 0, (ushort)0), columns = ds.GetValueOrDefault(DicomTags.Columns, 0, (ushort)0);
        var spacing = ds.GetString(DicomTags.PixelSpacing) ?? ds.GetString(DicomTags.ImagerPixelSpacing);
        // Distances within the image only need the spacing: any orientation gives them.
        var plane = ImagePlane.FromTags("0\\0\\0", "1\\0\\0\\0\\1\\0", spacing, rows, columns);
        var lengthUnit = plane is null ? "px" : "mm";
        plane ??= new ImagePlane(default, new PatientVector(1, 0, 0), new PatientVector(0, 1, 0), 1, 1, Math.Max(rows, 1), Math.Max(columns, 1));
        var valueUnit = RegionStatistics.Unit(ds.GetString(DicomTags.Modality), ds.GetString(DicomTags.RescaleType));
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
                    values ??= ModalityValues(loaded, frame);
                    if (values.Length > 0) statistics = RegionStatistics.Of(values, columns, rows, shape, p[0].X, p[0].Y, p[1].X, p[1].Y);
                    break;
                default:
                    continue;
            }
            results.Add(new MeasurementResult(m.Id, kind, p, length, angle, statistics, area, lengthUnit, valueUnit));
        }
        return results;
    }

    /// <summary>A monochrome frame's modality values; none for colour, whose samples are not one quantity.</summary>
    private static double[] ModalityValues(RenderingService.Loaded loaded, int frame)
    {
        if (frame < 0 || frame >= loaded.Frames.FrameCount) return [];
        var decoded = CodecRegistry.Default.DecodeFrame(loaded.Frames, frame);
        return decoded.Photometric is "MONOCHROME1" or "MONOCHROME2" ? Renderer.ModalityValues(decoded, loaded.File.Dataset) : [];
    }

    private static string CurrentUser(string action)
    {
        Caller.Demand(Policies.View, action);
        // Measurements belong to a person: the server's own work (no caller) has none.
        return Caller.Current?.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name }
            ? name
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
