using System.Globalization;
using System.Text;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>The patient directions at the four edges of a displayed image: what a reader sees as R, L, A, P, H, F.</summary>
public sealed record EdgeLetters(string Top, string Bottom, string Left, string Right);

/// <summary>
/// Patient orientation from Image Orientation (Patient) (0020,0037), PS3.3 C.7.6.2.1.1: the first three values are the
/// direction cosines of a row (the direction of increasing column, to the right on screen), the last three those of a
/// column (downwards on screen), in the patient coordinate system where x grows to the patient's Left, y to
/// Posterior and z to the Head. A direction is named with the letters of PS3.3 C.7.6.1.1.1 (R/L, A/P, H/F), the
/// strongest component first; an oblique one gets two or three letters.
/// </summary>
public static class PatientOrientation
{
    /// <summary>A component smaller than this does not name the direction (cos 75°: a plane tilted by less than 15° keeps one letter).</summary>
    private const double Obliquity = 0.26;

    /// <summary>The letters at the edges, or null when the value is not six numbers describing two unit-like vectors.</summary>
    public static EdgeLetters? FromImageOrientation(string? imageOrientationPatient)
    {
        if (string.IsNullOrWhiteSpace(imageOrientationPatient)) return null;
        var parts = imageOrientationPatient.Split('\\');
        if (parts.Length != 6) return null;
        var v = new double[6];
        for (var i = 0; i < 6; i++)
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out v[i]) || !double.IsFinite(v[i])) return null;
        var row = Letters(v[0], v[1], v[2]);
        var column = Letters(v[3], v[4], v[5]);
        if (row.Length == 0 || column.Length == 0) return null;
        return new EdgeLetters(Top: Letters(-v[3], -v[4], -v[5]), Bottom: column, Left: Letters(-v[0], -v[1], -v[2]), Right: row);
    }

    /// <summary>The letters of a direction, strongest component first.</summary>
    public static string Letters(double x, double y, double z)
    {
        var components = new[] { (Value: x, Positive: 'L', Negative: 'R'), (Value: y, Positive: 'P', Negative: 'A'), (Value: z, Positive: 'H', Negative: 'F') };
        var name = new StringBuilder(3);
        foreach (var c in components.OrderByDescending(c => Math.Abs(c.Value)))
            if (Math.Abs(c.Value) >= Obliquity) name.Append(c.Value > 0 ? c.Positive : c.Negative);
        return name.ToString();
    }
}
