using System.Globalization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Dicom.Rt;

/// <summary>Contour Geometric Type (3006,0042), PS3.3 C.8.8.6.1.</summary>
public enum ContourGeometricType
{
    /// <summary>CLOSED_PLANAR: a polygon whose last point joins the first.</summary>
    ClosedPlanar,
    /// <summary>OPEN_PLANAR: a polyline in one plane.</summary>
    OpenPlanar,
    /// <summary>POINT: a single point (an isocentre, a marker).</summary>
    Point,
    /// <summary>OPEN_NONPLANAR: a polyline through space; not drawn on slices.</summary>
    OpenNonplanar,
}

/// <summary>ROI Display Color (3006,002A): red, green, blue, each 0-255 (PS3.3 C.8.8.6).</summary>
public readonly record struct RtColour(byte Red, byte Green, byte Blue)
{
    public string Hex => string.Create(CultureInfo.InvariantCulture, $"#{Red:x2}{Green:x2}{Blue:x2}");
}

/// <summary>One item of the Contour Sequence: its points in the patient (mm), and the images it was drawn on (Contour Image Sequence).</summary>
public sealed record RtContour(ContourGeometricType Type, IReadOnlyList<PatientVector> Points, IReadOnlyList<string> ContourImageUids);

/// <summary>An ROI: Structure Set ROI Sequence (number, name, frame of reference) joined to its ROI Contour Sequence item (colour, contours).</summary>
public sealed record RtRoi(int Number, string Name, RtColour Colour, string? FrameOfReferenceUid, string? InterpretedType, IReadOnlyList<RtContour> Contours);

/// <summary>An image series the structure set was drawn on: Referenced Frame of Reference Sequence → RT Referenced Study → RT Referenced Series (PS3.3 C.8.8.5).</summary>
public sealed record RtReferencedSeries(string FrameOfReferenceUid, string? StudyInstanceUid, string SeriesInstanceUid);

/// <summary>A contour as it lies on one slice, in that slice's image coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)).</summary>
public sealed record RtSliceContour(int RoiNumber, ContourGeometricType Type, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// An RT Structure Set (PS3.3 A.19): the Structure Set module (C.8.8.5), ROI Contour (C.8.8.6) and RT ROI
/// Observations (C.8.8.8) read into small types; contours stay in patient coordinates until a slice asks for them.
/// </summary>
public sealed record RtStructureSet(string Label, string? Name, IReadOnlyList<string> FrameOfReferenceUids,
    IReadOnlyList<RtReferencedSeries> ReferencedSeries, IReadOnlyList<RtRoi> Rois)
{
    public const string SopClassUid = "1.2.840.10008.5.1.4.1.1.481.3";

    /// <summary>Colours for ROIs without ROI Display Color (it is type 3).</summary>
    private static readonly RtColour[] Palette = [new(255, 64, 64), new(64, 255, 64), new(64, 160, 255), new(255, 255, 64), new(255, 64, 255), new(64, 255, 255)];

    /// <exception cref="RtObjectException">No Structure Set ROI Sequence, or past <see cref="RtLimits"/>.</exception>
    public static RtStructureSet Read(DicomDataset ds)
    {
        var roiItems = ds.GetSequence(DicomTags.StructureSetROISequence)?.Items
            ?? throw new RtObjectException("the structure set has no Structure Set ROI Sequence (3006,0020)");
        if (roiItems.Count > RtLimits.MaximumRois)
            throw new RtObjectException($"the structure set has {roiItems.Count} ROIs, more than the {RtLimits.MaximumRois} we read");

        var frames = new List<string>();
        var series = new List<RtReferencedSeries>();
        foreach (var frame in RtValues.Items(ds, DicomTags.ReferencedFrameOfReferenceSequence))
        {
            if (RtValues.Text(frame, DicomTags.FrameOfReferenceUID) is not { } uid) continue;
            frames.Add(uid);
            foreach (var study in RtValues.Items(frame, DicomTags.RTReferencedStudySequence))
                foreach (var s in RtValues.Items(study, DicomTags.RTReferencedSeriesSequence))
                    if (RtValues.Text(s, DicomTags.SeriesInstanceUID) is { } seriesUid)
                        series.Add(new RtReferencedSeries(uid, RtValues.Text(study, DicomTags.ReferencedSOPInstanceUID), seriesUid));
        }

        // ROI Contour and RT ROI Observations refer to the ROI by Referenced ROI Number (3006,0084).
        var contourItems = RtValues.Items(ds, DicomTags.ROIContourSequence)
            .Where(i => RtValues.Integer(i, DicomTags.ReferencedROINumber) is not null)
            .GroupBy(i => RtValues.Integer(i, DicomTags.ReferencedROINumber)!.Value).ToDictionary(g => g.Key, g => g.First());
        var interpreted = RtValues.Items(ds, DicomTags.RTROIObservationsSequence)
            .Where(i => RtValues.Integer(i, DicomTags.ReferencedROINumber) is not null)
            .GroupBy(i => RtValues.Integer(i, DicomTags.ReferencedROINumber)!.Value)
            .ToDictionary(g => g.Key, g => RtValues.Text(g.First(), DicomTags.RTROIInterpretedType));

        var rois = new List<RtRoi>(roiItems.Count);
        var points = 0L;
        foreach (var item in roiItems)
        {
            if (RtValues.Integer(item, DicomTags.ROINumber) is not { } number) continue;
            var name = RtValues.Text(item, DicomTags.ROIName) ?? $"ROI {number}";
            var colour = Palette[rois.Count % Palette.Length];
            var contours = new List<RtContour>();
            if (contourItems.TryGetValue(number, out var contourItem))
            {
                if (ColourOf(contourItem) is { } c) colour = c;
                foreach (var contour in RtValues.Items(contourItem, DicomTags.ContourSequence))
                {
                    // Counted before the values are parsed: a hostile set is refused before it costs memory.
                    points += contour.GetValueCount(DicomTags.ContourData) / 3;
                    if (points > RtLimits.MaximumContourPoints)
                        throw new RtObjectException($"the structure set has more than {RtLimits.MaximumContourPoints} contour points");
                    if (Contour(contour) is { } read) contours.Add(read);
                }
            }
            rois.Add(new RtRoi(number, name, colour, RtValues.Text(item, DicomTags.ReferencedFrameOfReferenceUID),
                interpreted.GetValueOrDefault(number), contours));
        }
        return new RtStructureSet(RtValues.Text(ds, DicomTags.StructureSetLabel) ?? "", RtValues.Text(ds, DicomTags.StructureSetName), frames, series, rois);
    }

    private static RtColour? ColourOf(DicomDataset item) =>
        RtValues.Decimals(item, DicomTags.ROIDisplayColor) is [var r, var g, var b]
            ? new RtColour((byte)Math.Clamp(r, 0, 255), (byte)Math.Clamp(g, 0, 255), (byte)Math.Clamp(b, 0, 255))
            : null;

    /// <summary>A contour item, or null when its type is unknown or its Contour Data is not whole triplets (it is skipped, not fatal).</summary>
    private static RtContour? Contour(DicomDataset item)
    {
        ContourGeometricType? type = RtValues.Text(item, DicomTags.ContourGeometricType) switch
        {
            "CLOSED_PLANAR" => ContourGeometricType.ClosedPlanar,
            "OPEN_PLANAR" => ContourGeometricType.OpenPlanar,
            "POINT" => ContourGeometricType.Point,
            "OPEN_NONPLANAR" => ContourGeometricType.OpenNonplanar,
            _ => null,
        };
        if (type is null || RtValues.Decimals(item, DicomTags.ContourData) is not { Length: > 0 } data || data.Length % 3 != 0) return null;
        var points = new PatientVector[data.Length / 3];
        for (var i = 0; i < points.Length; i++) points[i] = new PatientVector(data[3 * i], data[3 * i + 1], data[3 * i + 2]);
        var images = RtValues.Items(item, DicomTags.ContourImageSequence)
            .Select(i => RtValues.Text(i, DicomTags.ReferencedSOPInstanceUID)).OfType<string>().ToList();
        return new RtContour(type.Value, points, images);
    }

    /// <summary>
    /// Whether the structures were drawn on a series: it is one of the RT Referenced Series, or, when the set names
    /// none, it shares a Referenced Frame of Reference (contours are in that frame's patient coordinates, C.8.8.6.2).
    /// </summary>
    public bool References(string? seriesInstanceUid, string? frameOfReferenceUid)
    {
        if (seriesInstanceUid is not null && ReferencedSeries.Any(s => s.SeriesInstanceUid == seriesInstanceUid)) return true;
        if (frameOfReferenceUid is null) return false;
        return FrameOfReferenceUids.Contains(frameOfReferenceUid) || Rois.Any(r => r.FrameOfReferenceUid == frameOfReferenceUid);
    }

    /// <summary>
    /// The planar contours and points lying on a slice, in its image coordinates: those whose every point is within
    /// <paramref name="tolerance"/> mm of the slice's plane (half the distance to the next slice). Geometry decides
    /// rather than the Contour Image Sequence (type 3), so any series of the frame of reference with the same planes shows them.
    /// </summary>
    public IReadOnlyList<RtSliceContour> ContoursOn(ImagePlane plane, double tolerance, IReadOnlySet<int>? roiNumbers = null)
    {
        var found = new List<RtSliceContour>();
        foreach (var roi in Rois)
        {
            if (roiNumbers is not null && !roiNumbers.Contains(roi.Number)) continue;
            foreach (var contour in roi.Contours)
            {
                if (contour.Type == ContourGeometricType.OpenNonplanar) continue;
                if (!contour.Points.All(p => Math.Abs(plane.DistanceTo(p)) <= tolerance)) continue;
                found.Add(new RtSliceContour(roi.Number, contour.Type, [.. contour.Points.Select(plane.ToImage)]));
            }
        }
        return found;
    }
}
