using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.IO;

/// <summary>How much of a file to read and what to tolerate.</summary>
public sealed record DicomReadOptions
{
    public static readonly DicomReadOptions Default = new();

    /// <summary>Top-level reading stops before the first element whose tag is at or after this one (e.g. PixelData).</summary>
    public DicomTag? StopBeforeTag { get; init; }

    /// <summary>Values at least this long stay in the file and are read when asked for (file sources only).</summary>
    public long LazyThreshold { get; init; } = 256 * 1024;

    /// <summary>Sequences nested deeper than this are rejected; real data rarely goes past 6.</summary>
    public int MaxDepth { get; init; } = 32;

    /// <summary>Odd value lengths break PS3.5 §7.1.1; DCMTK reads them with a warning, and so do we unless strict.</summary>
    public bool Strict { get; init; }
}
