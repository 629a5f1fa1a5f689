namespace OrthancWeb.Dicom.Imaging;

/// <summary>The shape of a region of interest, drawn over an image in image coordinates.</summary>
public enum RegionShape
{
    Rectangle,
    /// <summary>The ellipse inscribed in the rectangle.</summary>
    Ellipse,
}

/// <summary>
/// Statistics of the modality values (rescaled: HU for CT, PS3.3 C.7.6.16.2.11) of the pixels inside a region. A pixel
/// counts when its centre lies inside; the standard deviation is the population's, as workstations report it.
/// </summary>
public sealed record RegionStatistics(int Count, double Mean, double StandardDeviation, double Minimum, double Maximum)
{
    /// <summary>Statistics of a region of a frame of modality values (row-major, columns x rows), or null when no pixel centre is inside.</summary>
    public static RegionStatistics? Of(ReadOnlySpan<double> values, int columns, int rows, RegionShape shape, double x1, double y1, double x2, double y2)
    {
        if (values.Length < (long)columns * rows) throw new ArgumentException("fewer values than columns x rows", nameof(values));
        var (left, right) = (Math.Min(x1, x2), Math.Max(x1, x2));
        var (top, bottom) = (Math.Min(y1, y2), Math.Max(y1, y2));
        var (cx, cy, rx, ry) = ((left + right) / 2, (top + bottom) / 2, (right - left) / 2, (bottom - top) / 2);
        // Only the pixels whose centres can be inside: i + 0.5 in [left, right].
        // Clamped as doubles first: a point far outside the image must not overflow the cast.
        var firstColumn = (int)Math.Clamp(Math.Ceiling(left - 0.5), 0, columns);
        var lastColumn = (int)Math.Clamp(Math.Floor(right - 0.5), -1, columns - 1);
        var firstRow = (int)Math.Clamp(Math.Ceiling(top - 0.5), 0, rows);
        var lastRow = (int)Math.Clamp(Math.Floor(bottom - 0.5), -1, rows - 1);
        var count = 0;
        double mean = 0, squares = 0, min = double.MaxValue, max = double.MinValue;
        for (var j = firstRow; j <= lastRow; j++)
            for (var i = firstColumn; i <= lastColumn; i++)
            {
                if (shape == RegionShape.Ellipse)
                {
                    if (rx == 0 || ry == 0) continue;
                    var (dx, dy) = ((i + 0.5 - cx) / rx, (j + 0.5 - cy) / ry);
                    if (dx * dx + dy * dy > 1) continue;
                }
                var v = values[j * columns + i];
                // Welford's update: one pass, no loss of precision on large regions of large values.
                count++;
                var delta = v - mean;
                mean += delta / count;
                squares += delta * (v - mean);
                if (v < min) min = v;
                if (v > max) max = v;
            }
        return count == 0 ? null : new RegionStatistics(count, mean, Math.Sqrt(squares / count), min, max);
    }

    /// <summary>The area of the shape in square millimetres, for spacing between rows and between columns.</summary>
    public static double Area(RegionShape shape, double width, double height, double rowSpacing, double columnSpacing)
    {
        var rectangle = Math.Abs(width) * columnSpacing * Math.Abs(height) * rowSpacing;
        return shape == RegionShape.Ellipse ? rectangle * Math.PI / 4 : rectangle;
    }

    /// <summary>
    /// The unit of a frame's modality values: Rescale Type when the object names it (PS3.3 C.11.1.1.2), HU for CT
    /// (PS3.3 C.8.2.1.1.2 requires Hounsfield units), otherwise none (stored values, "US" unspecified).
    /// </summary>
    /// <param name="rescaled">Whether a rescale was applied to the stored values: without one (an enhanced object keeps its
    /// rescale in the functional groups) the values are stored values, in no unit.</param>
    public static string Unit(string? modality, string? rescaleType, bool rescaled = true)
    {
        if (!rescaled) return "";
        if (!string.IsNullOrWhiteSpace(rescaleType) && rescaleType.Trim() != "US") return rescaleType.Trim();
        return modality?.Trim() == "CT" ? "HU" : "";
    }
}
