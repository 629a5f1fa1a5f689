namespace OrthancWeb.Dicom.Rt;

/// <summary>
/// An RT object the toolkit will not read: a module it needs is missing or malformed, or it goes past one of
/// <see cref="RtLimits"/> (a hostile file must cost bounded work and memory, and say why it was refused).
/// </summary>
public sealed class RtObjectException(string message) : DicomException(message);

/// <summary>Bounds on what an RT object may make us read or draw; real plans stay far below them.</summary>
public static class RtLimits
{
    /// <summary>ROIs in a structure set (clinical sets hold tens, rarely a few hundred).</summary>
    public const int MaximumRois = 1_000;

    /// <summary>Contour points in a whole structure set (a fine body outline over 300 slices is about 200,000).</summary>
    public const int MaximumContourPoints = 2_000_000;

    /// <summary>Dose voxels (Rows x Columns x frames): 16 M floats is 64 MB, a 2 mm grid over a whole torso.</summary>
    public const long MaximumDoseVoxels = 16L * 1024 * 1024;

    /// <summary>Frames of a dose grid (Grid Frame Offset Vector values).</summary>
    public const int MaximumDoseFrames = 4_096;

    /// <summary>Isodose segments drawn on one slice, all levels together.</summary>
    public const int MaximumIsodoseSegments = 200_000;

    /// <summary>Colour-wash runs drawn on one slice.</summary>
    public const int MaximumWashRuns = 65_536;

    /// <summary>Beams, dose references and fraction groups of a plan, and control points read per beam.</summary>
    public const int MaximumPlanItems = 1_000;
    public const int MaximumControlPoints = 10_000;
}
