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

    /// <summary>
    /// Deflated data (PS3.5 §A.5) is inflated no further than this many bytes: a few kilobytes of deflate stream can
    /// stand for gigabytes of zeros, and the inflated values are held in memory (a stream cannot leave them in the file).
    /// </summary>
    public long MaxInflatedSize { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Nor past this many times the deflated bytes read so far (checked once <see cref="InflationRatioGrace"/> bytes
    /// are out). Real data sets deflate 2-20 times, a deflate bomb about 1000 times.
    /// </summary>
    public int MaxInflationRatio { get; init; } = 200;

    /// <summary>Inflated bytes allowed before the ratio is checked: a small data set full of padding can deflate very well.</summary>
    public const long InflationRatioGrace = 1024 * 1024;
}
