using System.Globalization;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>A point or direction in the patient coordinate system, in millimetres (PS3.3 C.7.6.2.1.1).</summary>
public readonly record struct PatientVector(double X, double Y, double Z)
{
    public static PatientVector operator +(PatientVector a, PatientVector b) => new(a.X + b.X, a.Y + b.Y, a.Z + b.Z);
    public static PatientVector operator -(PatientVector a, PatientVector b) => new(a.X - b.X, a.Y - b.Y, a.Z - b.Z);
    public static PatientVector operator *(PatientVector a, double k) => new(a.X * k, a.Y * k, a.Z * k);
    public double Dot(PatientVector b) => X * b.X + Y * b.Y + Z * b.Z;
    public PatientVector Cross(PatientVector b) => new(Y * b.Z - Z * b.Y, Z * b.X - X * b.Z, X * b.Y - Y * b.X);
    public double Length => Math.Sqrt(Dot(this));
}

/// <summary>
/// Where a frame lies in the patient: Image Position (Patient) is the centre of the first pixel, Image Orientation
/// (Patient) the directions of a row and of a column, Pixel Spacing the distance between rows then between columns
/// (PS3.3 C.7.6.2.1.1, C.7.6.2.1.3 and 10.7.1.3). Image coordinates here put pixel (i, j) over [i, i+1) x [j, j+1),
/// so its centre is (i + 0.5, j + 0.5): the coordinates an SVG drawn over the image uses.
/// </summary>
public sealed record ImagePlane(PatientVector Origin, PatientVector Row, PatientVector Column, double RowSpacing, double ColumnSpacing, int Rows, int Columns)
{
    /// <summary>Two planes closer to parallel than this (cos 1°) are parallel for synchronising and reference lines.</summary>
    private const double ParallelCosine = 0.99985;

    /// <summary>The unit normal (row x column): distances along it are in millimetres even for cosines written a little off unit length.</summary>
    public PatientVector Normal
    {
        get
        {
            var n = Row.Cross(Column);
            return n * (1 / n.Length);
        }
    }

    /// <summary>The plane from the tags' text values, or null when one is missing or malformed.</summary>
    public static ImagePlane? FromTags(string? imagePositionPatient, string? imageOrientationPatient, string? pixelSpacing, int rows, int columns)
    {
        if (rows <= 0 || columns <= 0) return null;
        if (Numbers(imagePositionPatient, 3) is not { } p || Numbers(imageOrientationPatient, 6) is not { } o || Numbers(pixelSpacing, 2) is not { } s)
            return null;
        var row = new PatientVector(o[0], o[1], o[2]);
        var column = new PatientVector(o[3], o[4], o[5]);
        if (Math.Abs(row.Length - 1) > 0.01 || Math.Abs(column.Length - 1) > 0.01 || Math.Abs(row.Dot(column)) > 0.01) return null;
        if (s[0] <= 0 || s[1] <= 0) return null;
        return new ImagePlane(new PatientVector(p[0], p[1], p[2]), row, column, s[0], s[1], rows, columns);
    }

    /// <summary>The patient position of a point in image coordinates.</summary>
    public PatientVector ToPatient(double x, double y) => Origin + Row * ((x - 0.5) * ColumnSpacing) + Column * ((y - 0.5) * RowSpacing);

    /// <summary>The image coordinates of a patient position projected onto this plane.</summary>
    public (double X, double Y) ToImage(PatientVector p)
    {
        var d = p - Origin;
        return (d.Dot(Row) / ColumnSpacing + 0.5, d.Dot(Column) / RowSpacing + 0.5);
    }

    /// <summary>Signed distance of a point from this plane along its normal (the slice "location" used to match slices).</summary>
    public double DistanceTo(PatientVector p) => (p - Origin).Dot(Normal);

    public bool IsParallelTo(ImagePlane other) => Math.Abs(Normal.Dot(other.Normal)) >= ParallelCosine;

    /// <summary>
    /// The reference line of another frame on this one: where the other frame's rectangle crosses this plane, in this
    /// image's coordinates. Null when the planes are parallel or the other frame does not reach this plane.
    /// </summary>
    public (double X1, double Y1, double X2, double Y2)? ReferenceLineOf(ImagePlane other)
    {
        if (IsParallelTo(other)) return null;
        // The other frame's corners (outer edges of its corner pixels) and their distances from this plane.
        PatientVector[] corners =
        [
            other.ToPatient(0, 0), other.ToPatient(other.Columns, 0), other.ToPatient(other.Columns, other.Rows), other.ToPatient(0, other.Rows),
        ];
        var distances = corners.Select(DistanceTo).ToArray();
        var crossings = new List<PatientVector>(4);
        for (var i = 0; i < 4; i++)
        {
            var (a, b) = (i, (i + 1) % 4);
            var (da, db) = (distances[a], distances[b]);
            // A corner in the plane is a crossing (an edge lying in it gives both its corners); otherwise an edge
            // crosses where its ends lie on either side.
            if (da == 0) AddDistinct(crossings, corners[a]);
            if (db == 0) AddDistinct(crossings, corners[b]);
            if (da * db < 0) AddDistinct(crossings, corners[a] + (corners[b] - corners[a]) * (da / (da - db)));
        }
        if (crossings.Count < 2) return null;
        var (x1, y1) = ToImage(crossings[0]);
        var (x2, y2) = ToImage(crossings[1]);
        return (x1, y1, x2, y2);
    }

    private static void AddDistinct(List<PatientVector> points, PatientVector p)
    {
        if (points.All(q => (q - p).Length > 1e-6)) points.Add(p);
    }

    /// <summary>Length in millimetres between two points of this image (anisotropic spacing honoured).</summary>
    public double Distance(double x1, double y1, double x2, double y2) => (ToPatient(x2, y2) - ToPatient(x1, y1)).Length;

    /// <summary>The angle at the vertex (x2, y2), in degrees, measured in the patient (so that non-square pixels do not skew it).</summary>
    public double Angle(double x1, double y1, double x2, double y2, double x3, double y3)
    {
        var vertex = ToPatient(x2, y2);
        var a = ToPatient(x1, y1) - vertex;
        var b = ToPatient(x3, y3) - vertex;
        var denominator = a.Length * b.Length;
        return denominator == 0 ? 0 : Math.Acos(Math.Clamp(a.Dot(b) / denominator, -1, 1)) * 180 / Math.PI;
    }

    private static double[]? Numbers(string? text, int count)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split('\\');
        if (parts.Length != count) return null;
        var values = new double[count];
        for (var i = 0; i < count; i++)
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i])) return null;
        return values;
    }
}
