using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.IO;

/// <summary>
/// How a data set is encoded (PS3.5 §10): VR explicit or implicit, byte order, deflate, and whether pixel data is
/// encapsulated. Every syntax not listed here is explicit VR little endian with encapsulated pixel data (PS3.5 §A.4).
/// </summary>
public sealed class TransferSyntax : IEquatable<TransferSyntax>
{
    private TransferSyntax(string uid, bool explicitVR, bool bigEndian, bool deflated, bool encapsulated, bool lossy = false)
    {
        Uid = uid;
        IsExplicitVR = explicitVR;
        IsBigEndian = bigEndian;
        IsDeflated = deflated;
        IsEncapsulated = encapsulated;
        IsLossy = lossy;
    }

    public string Uid { get; }
    public bool IsExplicitVR { get; }
    public bool IsBigEndian { get; }
    public bool IsDeflated { get; }
    public bool IsEncapsulated { get; }
    public bool IsLossy { get; }

    public string Name => DicomUids.Find(Uid)?.Name ?? Uid;
    public bool IsRetired => DicomUids.Find(Uid)?.IsRetired ?? false;

    public static readonly TransferSyntax ImplicitVRLittleEndian = new("1.2.840.10008.1.2", false, false, false, false);
    public static readonly TransferSyntax ExplicitVRLittleEndian = new("1.2.840.10008.1.2.1", true, false, false, false);
    public static readonly TransferSyntax DeflatedExplicitVRLittleEndian = new("1.2.840.10008.1.2.1.99", true, false, true, false);
    public static readonly TransferSyntax ExplicitVRBigEndian = new("1.2.840.10008.1.2.2", true, true, false, false);
    public static readonly TransferSyntax JPEGBaseline8Bit = new("1.2.840.10008.1.2.4.50", true, false, false, true, true);
    public static readonly TransferSyntax JPEGExtended12Bit = new("1.2.840.10008.1.2.4.51", true, false, false, true, true);
    public static readonly TransferSyntax JPEGLossless = new("1.2.840.10008.1.2.4.57", true, false, false, true);
    public static readonly TransferSyntax JPEGLosslessSV1 = new("1.2.840.10008.1.2.4.70", true, false, false, true);
    public static readonly TransferSyntax JPEGLSLossless = new("1.2.840.10008.1.2.4.80", true, false, false, true);
    public static readonly TransferSyntax JPEGLSNearLossless = new("1.2.840.10008.1.2.4.81", true, false, false, true, true);
    public static readonly TransferSyntax JPEG2000Lossless = new("1.2.840.10008.1.2.4.90", true, false, false, true);
    public static readonly TransferSyntax JPEG2000 = new("1.2.840.10008.1.2.4.91", true, false, false, true, true);
    public static readonly TransferSyntax RLELossless = new("1.2.840.10008.1.2.5", true, false, false, true);

    private static readonly TransferSyntax[] Known =
    [
        ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
        JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless,
        JPEG2000Lossless, JPEG2000, RLELossless,
    ];

    /// <summary>Uncompressed syntaxes, to which any file can be re-encoded without a codec.</summary>
    public bool IsUncompressed => !IsEncapsulated;

    /// <summary>Known syntaxes as they are; any other UID is explicit VR little endian with encapsulated pixel data.</summary>
    public static TransferSyntax Lookup(string uid)
    {
        uid = uid.TrimEnd('\0', ' ');
        foreach (var ts in Known)
            if (ts.Uid == uid) return ts;
        var entry = DicomUids.Find(uid);
        var lossy = entry?.Name.Contains("Lossy", StringComparison.OrdinalIgnoreCase) == true || entry?.Name.Contains("Baseline") == true;
        // 1.2.840.10008.1.2.1.98 (encapsulated uncompressed) and every compressed syntax encapsulate pixel data.
        return new TransferSyntax(uid, true, false, false, true, lossy);
    }

    public bool Equals(TransferSyntax? other) => other is not null && other.Uid == Uid;
    public override bool Equals(object? obj) => Equals(obj as TransferSyntax);
    public override int GetHashCode() => Uid.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => Name;
}
