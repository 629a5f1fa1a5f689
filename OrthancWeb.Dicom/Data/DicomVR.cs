namespace OrthancWeb.Dicom.Data;

/// <summary>What a value representation says about encoding, from PS3.5 §6.2 Table 6.2-1 and §7.1.2.</summary>
public sealed class DicomVR : IEquatable<DicomVR>
{
    private DicomVR(string code, VRKind kind, int unitSize, bool longLength, byte padding, int maxLength, bool multiValued)
    {
        Code = code;
        Kind = kind;
        UnitSize = unitSize;
        HasLongLength = longLength;
        Padding = padding;
        MaxLength = maxLength;
        IsMultiValued = multiValued;
        Code16 = (ushort)((code[0] << 8) | code[1]);
    }

    /// <summary>The two letters.</summary>
    public string Code { get; }

    internal ushort Code16 { get; }

    public VRKind Kind { get; }

    /// <summary>Size of one binary value (byte swapping unit for big endian); 1 for strings and byte data.</summary>
    public int UnitSize { get; }

    /// <summary>Explicit VR with two reserved bytes and a 32-bit length (PS3.5 §7.1.2).</summary>
    public bool HasLongLength { get; }

    /// <summary>Byte that pads a value to even length: space for text, NUL for UI and binary.</summary>
    public byte Padding { get; }

    /// <summary>Maximum value length in characters (strings) or bytes; 0 when unbounded.</summary>
    public int MaxLength { get; }

    /// <summary>Text VRs whose values are separated by backslashes (LT, ST, UT, UR are single-valued).</summary>
    public bool IsMultiValued { get; }

    public bool IsString => Kind is VRKind.Text or VRKind.Uid or VRKind.PersonName or VRKind.DecimalString or VRKind.IntegerString or VRKind.Date or VRKind.Time or VRKind.DateTime;

    /// <summary>Text whose bytes follow Specific Character Set (PS3.5 §6.1.2.3); the others are the default repertoire.</summary>
    public bool UsesCharacterSet => this == SH || this == LO || this == ST || this == LT || this == UT || this == PN || this == UC;

    public override string ToString() => Code;
    public bool Equals(DicomVR? other) => ReferenceEquals(this, other);
    public override bool Equals(object? obj) => ReferenceEquals(this, obj);
    public override int GetHashCode() => Code16;

    public static readonly DicomVR AE = new("AE", VRKind.Text, 1, false, (byte)' ', 16, true);
    public static readonly DicomVR AS = new("AS", VRKind.Text, 1, false, (byte)' ', 4, true);
    public static readonly DicomVR AT = new("AT", VRKind.AttributeTag, 2, false, 0, 0, true);
    public static readonly DicomVR CS = new("CS", VRKind.Text, 1, false, (byte)' ', 16, true);
    public static readonly DicomVR DA = new("DA", VRKind.Date, 1, false, (byte)' ', 8, true);
    public static readonly DicomVR DS = new("DS", VRKind.DecimalString, 1, false, (byte)' ', 16, true);
    public static readonly DicomVR DT = new("DT", VRKind.DateTime, 1, false, (byte)' ', 26, true);
    public static readonly DicomVR FD = new("FD", VRKind.Binary, 8, false, 0, 0, true);
    public static readonly DicomVR FL = new("FL", VRKind.Binary, 4, false, 0, 0, true);
    public static readonly DicomVR IS = new("IS", VRKind.IntegerString, 1, false, (byte)' ', 12, true);
    public static readonly DicomVR LO = new("LO", VRKind.Text, 1, false, (byte)' ', 64, true);
    public static readonly DicomVR LT = new("LT", VRKind.Text, 1, false, (byte)' ', 10240, false);
    public static readonly DicomVR OB = new("OB", VRKind.Bytes, 1, true, 0, 0, false);
    public static readonly DicomVR OD = new("OD", VRKind.Bytes, 8, true, 0, 0, false);
    public static readonly DicomVR OF = new("OF", VRKind.Bytes, 4, true, 0, 0, false);
    public static readonly DicomVR OL = new("OL", VRKind.Bytes, 4, true, 0, 0, false);
    public static readonly DicomVR OV = new("OV", VRKind.Bytes, 8, true, 0, 0, false);
    public static readonly DicomVR OW = new("OW", VRKind.Bytes, 2, true, 0, 0, false);
    public static readonly DicomVR PN = new("PN", VRKind.PersonName, 1, false, (byte)' ', 64, true);
    public static readonly DicomVR SH = new("SH", VRKind.Text, 1, false, (byte)' ', 16, true);
    public static readonly DicomVR SL = new("SL", VRKind.Binary, 4, false, 0, 0, true);
    public static readonly DicomVR SQ = new("SQ", VRKind.Sequence, 1, true, 0, 0, false);
    public static readonly DicomVR SS = new("SS", VRKind.Binary, 2, false, 0, 0, true);
    public static readonly DicomVR ST = new("ST", VRKind.Text, 1, false, (byte)' ', 1024, false);
    public static readonly DicomVR SV = new("SV", VRKind.Binary, 8, true, 0, 0, true);
    public static readonly DicomVR TM = new("TM", VRKind.Time, 1, false, (byte)' ', 14, true);
    public static readonly DicomVR UC = new("UC", VRKind.Text, 1, true, (byte)' ', 0, true);
    public static readonly DicomVR UI = new("UI", VRKind.Uid, 1, false, 0, 64, true);
    public static readonly DicomVR UL = new("UL", VRKind.Binary, 4, false, 0, 0, true);
    public static readonly DicomVR UN = new("UN", VRKind.Bytes, 1, true, 0, 0, false);
    public static readonly DicomVR UR = new("UR", VRKind.Text, 1, true, (byte)' ', 0, false);
    public static readonly DicomVR US = new("US", VRKind.Binary, 2, false, 0, 0, true);
    public static readonly DicomVR UT = new("UT", VRKind.Text, 1, true, (byte)' ', 0, false);
    public static readonly DicomVR UV = new("UV", VRKind.Binary, 8, true, 0, 0, true);

    public static IReadOnlyList<DicomVR> All { get; } =
        [AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW, PN, SH, SL, SQ, SS, ST, SV, TM, UC, UI, UL, UN, UR, US, UT, UV];

    /// <summary>The VR for two bytes read from an explicit VR stream, or null when they name none.</summary>
    public static DicomVR? FromBytes(byte a, byte b)
    {
        var code = (ushort)((a << 8) | b);
        foreach (var vr in All)
        {
            if (vr.Code16 == code)
                return vr;
        }
        return null;
    }

    public static DicomVR? FromCode(string code) =>
        code.Length == 2 ? FromBytes((byte)code[0], (byte)code[1]) : null;

    public static DicomVR Parse(string code) =>
        FromCode(code) ?? throw new FormatException($"'{code}' is not a DICOM value representation");
}

/// <summary>How the value bytes of a VR are interpreted.</summary>
public enum VRKind
{
    Text,
    Uid,
    PersonName,
    DecimalString,
    IntegerString,
    Date,
    Time,
    DateTime,
    AttributeTag,
    /// <summary>Fixed-size binary numbers: US, SS, UL, SL, UV, SV, FL, FD.</summary>
    Binary,
    /// <summary>Other byte/word data: OB, OW, OF, OD, OL, OV, UN.</summary>
    Bytes,
    Sequence,
}
