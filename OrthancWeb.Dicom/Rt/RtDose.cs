using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Rt;

/// <summary>A segment of an isodose line in a slice's image coordinates.</summary>
public readonly record struct IsodoseSegment(double X1, double Y1, double X2, double Y2);

/// <summary>The isodose line of one level on one slice: the segments marching squares found.</summary>
public sealed record IsodoseLine(double Level, IReadOnlyList<IsodoseSegment> Segments);

/// <summary>
/// A run of dose voxels of one row of the dose plane that reach the same level (index into the levels, lowest 0),
/// as the quadrilateral it covers on the slice (four corners in image coordinates): the colour wash.
/// </summary>
public sealed record DoseWashRun(int Band, IReadOnlyList<(double X, double Y)> Corners);

/// <summary>
/// An RT Dose grid (PS3.3 A.18, the RT Dose module C.8.8.3): frames of Rows x Columns voxels at Image Position /
/// Orientation (Patient) and Pixel Spacing, stacked along the normal at the Grid Frame Offset Vector, each voxel's
/// stored value times Dose Grid Scaling in Dose Units (GY or RELATIVE). The frames come through the toolkit's own
/// frame decoding (native, RLE, and the other codecs).
/// </summary>
public sealed class RtDose
{
    public const string SopClassUid = "1.2.840.10008.5.1.4.1.1.481.2";

    private readonly float[][] _frames;

    private RtDose(ImagePlane plane, double[] offsets, float[][] frames, string units, string? type, string? summation, string? frameOfReference, string? plan)
    {
        (Plane, FrameOffsets, _frames, Units, DoseType, SummationType, FrameOfReferenceUid, ReferencedPlanUid) = (plane, offsets, frames, units, type, summation, frameOfReference, plan);
        Maximum = frames.Length == 0 ? 0 : frames.Max(f => f.Length == 0 ? 0 : f.Max());
    }

    /// <summary>The plane of the first frame.</summary>
    public ImagePlane Plane { get; }

    /// <summary>Each frame's distance from the first along the plane's normal, in mm.</summary>
    public IReadOnlyList<double> FrameOffsets { get; }

    /// <summary>Dose Units (3004,0002): GY or RELATIVE.</summary>
    public string Units { get; }
    public string? DoseType { get; }
    public string? SummationType { get; }
    public string? FrameOfReferenceUid { get; }

    /// <summary>The plan this dose was computed for (Referenced RT Plan Sequence), when given.</summary>
    public string? ReferencedPlanUid { get; }

    /// <summary>The largest dose in the grid, in <see cref="Units"/>.</summary>
    public double Maximum { get; }

    public int FrameCount => _frames.Length;

    /// <summary>The dose of a voxel (column, row of frame), in <see cref="Units"/>.</summary>
    public double this[int frame, int column, int row] => _frames[frame][row * Plane.Columns + column];

    /// <exception cref="RtObjectException">The geometry is missing or malformed, or the grid is past <see cref="RtLimits"/>.</exception>
    /// <exception cref="ImagingException">The frames cannot be decoded.</exception>
    public static RtDose Read(DicomDataset ds, TransferSyntax syntax)
    {
        var info = PixelDataInfo.From(ds);
        var plane = ImagePlane.FromTags(RtValues.String(ds, DicomTags.ImagePositionPatient), RtValues.String(ds, DicomTags.ImageOrientationPatient),
            RtValues.String(ds, DicomTags.PixelSpacing), info.Rows, info.Columns)
            ?? throw new RtObjectException("the dose has no valid Image Position, Image Orientation, Pixel Spacing, Rows and Columns");
        if (info.SamplesPerPixel != 1) throw new RtObjectException("a dose grid has one sample per voxel (PS3.3 C.8.8.3.4.1)");
        if (info.NumberOfFrames > RtLimits.MaximumDoseFrames || (long)info.Rows * info.Columns * info.NumberOfFrames > RtLimits.MaximumDoseVoxels)
            throw new RtObjectException($"the dose grid has {(long)info.Rows * info.Columns * info.NumberOfFrames} voxels in {info.NumberOfFrames} frames, past the {RtLimits.MaximumDoseVoxels} we read");

        // Grid Frame Offset Vector (C.8.8.3.2): relative to Image Position when its first value is 0; otherwise the
        // frames' own positions along the normal, the first at Image Position. Either way, minus the first value.
        double[] offsets;
        if (info.NumberOfFrames == 1 && !ds.Contains(DicomTags.GridFrameOffsetVector)) offsets = [0];
        else
        {
            var vector = RtValues.Decimals(ds, DicomTags.GridFrameOffsetVector)
                ?? throw new RtObjectException("the Grid Frame Offset Vector (3004,000C) is malformed");
            if (vector.Length != info.NumberOfFrames)
                throw new RtObjectException($"the Grid Frame Offset Vector has {vector.Length} values for {info.NumberOfFrames} frames");
            offsets = [.. vector.Select(v => v - vector[0])];
            for (var i = 2; i < offsets.Length; i++)
                if (Math.Sign(offsets[i] - offsets[i - 1]) != Math.Sign(offsets[1] - offsets[0]) || offsets[i] == offsets[i - 1])
                    throw new RtObjectException("the Grid Frame Offset Vector is not monotonic");
        }
        var scaling = RtValues.Decimal(ds, DicomTags.DoseGridScaling) ?? 1;

        var source = new FrameSource(ds, syntax);
        if (source.FrameCount < info.NumberOfFrames) throw new RtObjectException($"the dose holds {source.FrameCount} of its {info.NumberOfFrames} frames");
        var frames = new float[info.NumberOfFrames][];
        for (var k = 0; k < frames.Length; k++)
        {
            // Stored values through the modality rescale the renderer uses (none for doses), then Dose Grid Scaling.
            var values = Renderer.ModalityValues(CodecRegistry.Default.DecodeFrame(source, k), ds);
            var frame = frames[k] = new float[values.Length];
            for (var i = 0; i < values.Length; i++) frame[i] = (float)(values[i] * scaling);
        }
        var plan = RtValues.Items(ds, DicomTags.ReferencedRTPlanSequence).Select(i => RtValues.Text(i, DicomTags.ReferencedSOPInstanceUID)).FirstOrDefault(u => u is not null);
        return new RtDose(plane, offsets, frames, (RtValues.Text(ds, DicomTags.DoseUnits) ?? "GY").ToUpperInvariant(),
            RtValues.Text(ds, DicomTags.DoseType), RtValues.Text(ds, DicomTags.DoseSummationType), RtValues.Text(ds, DicomTags.FrameOfReferenceUID), plan);
    }

    /// <summary>
    /// The dose plane at a slice: the frames on either side of it along the normal, interpolated linearly by its
    /// distance between them. Null when the slice is not parallel to the frames or lies outside the grid.
    /// </summary>
    public DoseSection? SectionAt(ImagePlane slice)
    {
        if (!Plane.IsParallelTo(slice)) return null;
        var d = Plane.DistanceTo(slice.Origin);
        const double Tolerance = 1e-3;
        for (var k = 0; k < _frames.Length; k++)
        {
            if (Math.Abs(FrameOffsets[k] - d) <= Tolerance) return new DoseSection(At(FrameOffsets[k]), _frames[k]);
            if (k + 1 >= _frames.Length) break;
            var (a, b) = (FrameOffsets[k], FrameOffsets[k + 1]);
            if ((d - a) * (d - b) >= 0) continue;
            var t = (d - a) / (b - a);
            var (fa, fb) = (_frames[k], _frames[k + 1]);
            var values = new float[fa.Length];
            for (var i = 0; i < values.Length; i++) values[i] = (float)(fa[i] + (fb[i] - fa[i]) * t);
            return new DoseSection(At(d), values);
        }
        return null;
    }

    private ImagePlane At(double offset) => Plane with { Origin = Plane.Origin + Plane.Normal * offset };

    /// <summary>The isodose lines of <paramref name="levels"/> (in <see cref="Units"/>) on a slice; none when the grid does not reach it.</summary>
    /// <exception cref="RtObjectException">More than <see cref="RtLimits.MaximumIsodoseSegments"/> segments (a noisy grid at many levels).</exception>
    public IReadOnlyList<IsodoseLine> IsodoseLines(ImagePlane slice, IReadOnlyList<double> levels) =>
        SectionAt(slice) is { } section ? section.IsodoseLines(slice, levels) : [];

    /// <summary>The colour wash of <paramref name="levels"/> on a slice; none when the grid does not reach it.</summary>
    public IReadOnlyList<DoseWashRun> Wash(ImagePlane slice, IReadOnlyList<double> levels) =>
        SectionAt(slice) is { } section ? section.Wash(slice, levels) : [];
}

/// <summary>The dose on one plane: values at voxel centres (column + 0.5, row + 0.5 in the plane's image coordinates).</summary>
public sealed record DoseSection(ImagePlane Plane, float[] Values)
{
    public double ValueAt(int column, int row) => Values[row * Plane.Columns + column];

    /// <summary>
    /// Marching squares over the voxel centres: each square of four neighbouring centres gets the segments where
    /// the dose crosses the level, placed by linear interpolation along its edges; a saddle is settled by the
    /// square's mean. Segments are found in the dose plane and carried through the patient onto the slice.
    /// </summary>
    public IReadOnlyList<IsodoseLine> IsodoseLines(ImagePlane slice, IReadOnlyList<double> levels)
    {
        var (columns, rows) = (Plane.Columns, Plane.Rows);
        var lines = new List<IsodoseLine>(levels.Count);
        var total = 0;
        foreach (var level in levels)
        {
            var segments = new List<IsodoseSegment>();
            for (var r = 0; r + 1 < rows; r++)
                for (var c = 0; c + 1 < columns; c++)
                {
                    // Corners clockwise from the top left: a, b (right), d (bottom right), e (bottom).
                    double a = ValueAt(c, r), b = ValueAt(c + 1, r), d = ValueAt(c + 1, r + 1), e = ValueAt(c, r + 1);
                    var index = (a >= level ? 8 : 0) | (b >= level ? 4 : 0) | (d >= level ? 2 : 0) | (e >= level ? 1 : 0);
                    if (index is 0 or 15) continue;
                    var (x, y) = (c + 0.5, r + 0.5);
                    (double, double) Top() => (x + Fraction(a, b, level), y);
                    (double, double) Right() => (x + 1, y + Fraction(b, d, level));
                    (double, double) Bottom() => (x + Fraction(e, d, level), y + 1);
                    (double, double) Left() => (x, y + Fraction(a, e, level));
                    void Add((double X, double Y) p, (double X, double Y) q)
                    {
                        if (++total > RtLimits.MaximumIsodoseSegments)
                            throw new RtObjectException($"the isodose lines need more than {RtLimits.MaximumIsodoseSegments} segments on this slice");
                        var (p1, q1) = (slice.ToImage(Plane.ToPatient(p.X, p.Y)), slice.ToImage(Plane.ToPatient(q.X, q.Y)));
                        segments.Add(new IsodoseSegment(p1.X, p1.Y, q1.X, q1.Y));
                    }
                    var centreAbove = (a + b + d + e) / 4 >= level;
                    switch (index)
                    {
                        case 1 or 14: Add(Left(), Bottom()); break;
                        case 2 or 13: Add(Bottom(), Right()); break;
                        case 3 or 12: Add(Left(), Right()); break;
                        case 4 or 11: Add(Top(), Right()); break;
                        case 6 or 9: Add(Top(), Bottom()); break;
                        case 7 or 8: Add(Left(), Top()); break;
                        case 5: // a and d below, b and e above
                            if (centreAbove) { Add(Left(), Top()); Add(Bottom(), Right()); } else { Add(Top(), Right()); Add(Left(), Bottom()); }
                            break;
                        case 10: // a and d above
                            if (centreAbove) { Add(Top(), Right()); Add(Left(), Bottom()); } else { Add(Left(), Top()); Add(Bottom(), Right()); }
                            break;
                    }
                }
            lines.Add(new IsodoseLine(level, segments));
        }
        return lines;
    }

    /// <summary>Where along an edge from value p to value q the level is crossed (0 at p, 1 at q).</summary>
    private static double Fraction(double p, double q, double level) => q == p ? 0.5 : Math.Clamp((level - p) / (q - p), 0, 1);

    /// <summary>
    /// Each voxel's footprint coloured by the highest level its dose reaches (levels ascending), neighbouring voxels of a
    /// row with the same band joined into one run.
    /// </summary>
    public IReadOnlyList<DoseWashRun> Wash(ImagePlane slice, IReadOnlyList<double> levels)
    {
        var sorted = levels.Order().ToArray();
        var runs = new List<DoseWashRun>();
        if (sorted.Length == 0) return runs;
        int Band(double v) { var band = -1; for (var i = 0; i < sorted.Length && v >= sorted[i]; i++) band = i; return band; }
        (double, double) On(double x, double y) => slice.ToImage(Plane.ToPatient(x, y));
        for (var r = 0; r < Plane.Rows; r++)
        {
            var c = 0;
            while (c < Plane.Columns)
            {
                var band = Band(ValueAt(c, r));
                var start = c;
                while (c < Plane.Columns && Band(ValueAt(c, r)) == band) c++;
                if (band < 0) continue;
                if (runs.Count >= RtLimits.MaximumWashRuns)
                    throw new RtObjectException($"the colour wash needs more than {RtLimits.MaximumWashRuns} runs on this slice");
                runs.Add(new DoseWashRun(band, [On(start, r), On(c, r), On(c, r + 1), On(start, r + 1)]));
            }
        }
        return runs;
    }
}
