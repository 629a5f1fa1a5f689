using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace OrthancWeb.Dicom.Data;

/// <summary>Conversions between encoded value bytes (little endian, PS3.5 §6.2) and .NET values.</summary>
internal static class DicomValues
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Text VRs whose leading spaces are significant (PS3.5 Table 6.2-1).</summary>
    private static bool KeepsLeadingSpaces(DicomVR vr) => vr == DicomVR.LT || vr == DicomVR.ST || vr == DicomVR.UT || vr == DicomVR.PN || vr == DicomVR.UC;

    public static string DecodeText(DicomElement e, DicomCharacterSet cs)
    {
        var span = e.Buffer.Memory.Span;
        return e.VR.UsesCharacterSet ? cs.Decode(span, e.VR) : Encoding.Latin1.GetString(span);
    }

    public static string ToText(DicomElement e, DicomCharacterSet cs)
    {
        if (e.VR.IsString || e.VR == DicomVR.UR)
            return DecodeText(e, cs).TrimEnd(' ', '\0');
        return string.Join('\\', ToStrings(e, cs));
    }

    public static string[] ToStrings(DicomElement e, DicomCharacterSet cs)
    {
        if (e.Length == 0) return [];
        var vr = e.VR;
        if (vr.IsString || vr == DicomVR.UR)
        {
            var text = DecodeText(e, cs);
            if (!vr.IsMultiValued) return [text.TrimEnd(' ', '\0')];
            var parts = text.Split('\\');
            for (var i = 0; i < parts.Length; i++)
                parts[i] = KeepsLeadingSpaces(vr) ? parts[i].TrimEnd(' ', '\0') : parts[i].Trim(' ', '\0');
            return parts;
        }
        var span = e.Buffer.Memory.Span;
        if (vr == DicomVR.AT)
        {
            var tags = new string[span.Length / 4];
            for (var i = 0; i < tags.Length; i++)
                tags[i] = new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(span[(4 * i)..]), BinaryPrimitives.ReadUInt16LittleEndian(span[(4 * i + 2)..])).ToString();
            return tags;
        }
        if (vr.Kind == VRKind.Binary || vr == DicomVR.OF || vr == DicomVR.OD || vr == DicomVR.OL || vr == DicomVR.OV)
        {
            var n = span.Length / vr.UnitSize;
            var result = new string[n];
            for (var i = 0; i < n; i++) result[i] = FormatBinary(vr, span[(i * vr.UnitSize)..]);
            return result;
        }
        return [Convert.ToBase64String(span)];
    }

    private static string FormatBinary(DicomVR vr, ReadOnlySpan<byte> s)
    {
        if (vr == DicomVR.US) return BinaryPrimitives.ReadUInt16LittleEndian(s).ToString(Inv);
        if (vr == DicomVR.SS) return BinaryPrimitives.ReadInt16LittleEndian(s).ToString(Inv);
        if (vr == DicomVR.UL || vr == DicomVR.OL) return BinaryPrimitives.ReadUInt32LittleEndian(s).ToString(Inv);
        if (vr == DicomVR.SL) return BinaryPrimitives.ReadInt32LittleEndian(s).ToString(Inv);
        if (vr == DicomVR.UV || vr == DicomVR.OV) return BinaryPrimitives.ReadUInt64LittleEndian(s).ToString(Inv);
        if (vr == DicomVR.SV) return BinaryPrimitives.ReadInt64LittleEndian(s).ToString(Inv);
        if (vr == DicomVR.FL || vr == DicomVR.OF) return BinaryPrimitives.ReadSingleLittleEndian(s).ToString("R", Inv);
        return BinaryPrimitives.ReadDoubleLittleEndian(s).ToString("R", Inv);
    }

    private static bool TryBinaryDouble(DicomVR vr, ReadOnlySpan<byte> s, out double d)
    {
        d = 0;
        if (s.Length < vr.UnitSize) return false;
        if (vr == DicomVR.US) d = BinaryPrimitives.ReadUInt16LittleEndian(s);
        else if (vr == DicomVR.SS) d = BinaryPrimitives.ReadInt16LittleEndian(s);
        else if (vr == DicomVR.UL || vr == DicomVR.OL) d = BinaryPrimitives.ReadUInt32LittleEndian(s);
        else if (vr == DicomVR.SL) d = BinaryPrimitives.ReadInt32LittleEndian(s);
        else if (vr == DicomVR.UV || vr == DicomVR.OV) d = BinaryPrimitives.ReadUInt64LittleEndian(s);
        else if (vr == DicomVR.SV) d = BinaryPrimitives.ReadInt64LittleEndian(s);
        else if (vr == DicomVR.FL || vr == DicomVR.OF) d = BinaryPrimitives.ReadSingleLittleEndian(s);
        else if (vr == DicomVR.FD || vr == DicomVR.OD) d = BinaryPrimitives.ReadDoubleLittleEndian(s);
        else return false;
        return true;
    }

    public static bool TryConvert<T>(DicomElement e, int index, DicomCharacterSet cs, out T value)
    {
        value = default!;
        var vr = e.VR;
        var t = typeof(T);
        if (vr.Kind == VRKind.Binary || vr == DicomVR.OF || vr == DicomVR.OD || vr == DicomVR.OL || vr == DicomVR.OV || (vr == DicomVR.OW && t != typeof(string)))
        {
            var unit = vr == DicomVR.OW ? 2 : vr.UnitSize;
            var span = e.Buffer.Memory.Span;
            if ((long)(index + 1) * unit > span.Length) return false;
            var s = span[(index * unit)..];
            if (vr == DicomVR.OW) { value = ConvertNumber<T>(BinaryPrimitives.ReadUInt16LittleEndian(s), null); return true; }
            if (t == typeof(string)) { value = (T)(object)FormatBinary(vr, s); return true; }
            // 64-bit integers keep full precision rather than passing through double.
            if (vr == DicomVR.UV) { value = ConvertNumber<T>(BinaryPrimitives.ReadUInt64LittleEndian(s), null); return true; }
            if (vr == DicomVR.SV) { value = ConvertNumber<T>(null, BinaryPrimitives.ReadInt64LittleEndian(s)); return true; }
            if (!TryBinaryDouble(vr, s, out var d)) return false;
            return TryFromDouble(d, out value);
        }
        if (vr == DicomVR.AT)
        {
            var span = e.Buffer.Memory.Span;
            if ((index + 1) * 4 > span.Length) return false;
            var tag = new DicomTag(BinaryPrimitives.ReadUInt16LittleEndian(span[(4 * index)..]), BinaryPrimitives.ReadUInt16LittleEndian(span[(4 * index + 2)..]));
            if (t == typeof(DicomTag)) { value = (T)(object)tag; return true; }
            if (t == typeof(uint)) { value = (T)(object)tag.Value; return true; }
            if (t == typeof(string)) { value = (T)(object)tag.ToString(); return true; }
            return false;
        }
        var strings = ToStrings(e, cs);
        if (index >= strings.Length) return false;
        var text = strings[index];
        if (t == typeof(string)) { value = (T)(object)text; return true; }
        if (t == typeof(DateOnly)) return TryCast(DicomDateTime.TryParseDate(text, out var d), d, out value);
        if (t == typeof(TimeOnly)) return TryCast(DicomDateTime.TryParseTime(text, out var tm), tm, out value);
        if (t == typeof(DateTime))
        {
            if (vr == DicomVR.DA) return TryCast(DicomDateTime.TryParseDate(text, out var dd), dd.ToDateTime(TimeOnly.MinValue), out value);
            return TryCast(DicomDateTime.TryParseDateTime(text, out var dt), dt, out value);
        }
        if (t == typeof(DicomTag)) return TryCast(DicomTag.TryParse(text, out var tg), tg, out value);
        if (t == typeof(decimal)) return TryCast(decimal.TryParse(text, NumberStyles.Float, Inv, out var m), m, out value);
        if (t == typeof(long) || t == typeof(ulong) || t == typeof(int) || t == typeof(uint) || t == typeof(short) || t == typeof(ushort) || t == typeof(byte))
        {
            if (long.TryParse(text, NumberStyles.Integer, Inv, out var l)) { value = ConvertNumber<T>(null, l); return true; }
        }
        if (double.TryParse(text, NumberStyles.Float, Inv, out var dbl)) return TryFromDouble(dbl, out value);
        return false;
    }

    private static bool TryCast<T, TValue>(bool ok, TValue v, out T value)
    {
        value = ok ? (T)(object)v! : default!;
        return ok;
    }

    private static bool TryFromDouble<T>(double d, out T value)
    {
        var t = typeof(T);
        object? o = t == typeof(double) ? d
            : t == typeof(float) ? (float)d
            : t == typeof(decimal) ? (decimal)d
            : t == typeof(int) ? (int)d
            : t == typeof(uint) ? (uint)d
            : t == typeof(long) ? (long)d
            : t == typeof(ulong) ? (ulong)d
            : t == typeof(short) ? (short)d
            : t == typeof(ushort) ? (ushort)d
            : t == typeof(byte) ? (byte)d
            : t == typeof(string) ? d.ToString("R", Inv)
            : null;
        value = o is null ? default! : (T)o;
        return o is not null;
    }

    private static T ConvertNumber<T>(ulong? u, long? s)
    {
        var t = typeof(T);
        if (t == typeof(string)) return (T)(object)(u?.ToString(Inv) ?? s!.Value.ToString(Inv));
        if (u is { } uv) return (T)Convert.ChangeType(uv, t, Inv);
        return (T)Convert.ChangeType(s!.Value, t, Inv);
    }

    // ---- encoding ----

    public static DicomVR DefaultVR(DicomTag tag, DicomDataset context)
    {
        if (tag.IsPrivateCreator) return DicomVR.LO;
        var entry = context.FindEntry(tag);
        if (entry is null || entry.VRs.Count == 0) return DicomVR.UN;
        if (entry.VRs.Count > 1 && entry.VRs.Contains(DicomVR.US) && entry.VRs.Contains(DicomVR.SS))
            return context.GetValueOrDefault<int>(DicomTags.PixelRepresentation, 0, 0) == 1 ? DicomVR.SS : DicomVR.US;
        return entry.DefaultVR;
    }

    /// <summary>Joins, encodes and pads text to even length with the VR's padding byte (PS3.5 §6.2).</summary>
    public static byte[] FromStrings(DicomVR vr, string[] values, DicomCharacterSet cs)
    {
        if (!vr.IsString && vr != DicomVR.UR)
            return FromValues(vr, values.Select(v => vr.Kind == VRKind.AttributeTag ? (object)DicomTag.Parse(v) : double.Parse(v, Inv)).ToArray(), cs);
        var text = string.Join('\\', values);
        var bytes = vr.UsesCharacterSet ? cs.Encode(text, vr) : Encoding.ASCII.GetBytes(text);
        if ((bytes.Length & 1) == 1)
        {
            Array.Resize(ref bytes, bytes.Length + 1);
            bytes[^1] = vr.Padding;
        }
        return bytes;
    }

    public static byte[] FromValues<T>(DicomVR vr, T[] values, DicomCharacterSet cs) where T : notnull
    {
        if (vr.IsString || vr == DicomVR.UR)
            return FromStrings(vr, values.Select(v => FormatForText(vr, v)).ToArray(), cs);
        if (vr == DicomVR.AT)
        {
            var at = new byte[values.Length * 4];
            for (var i = 0; i < values.Length; i++)
            {
                var tag = values[i] is DicomTag dt ? dt : new DicomTag(Convert.ToUInt32(values[i], Inv));
                BinaryPrimitives.WriteUInt16LittleEndian(at.AsSpan(4 * i), tag.Group);
                BinaryPrimitives.WriteUInt16LittleEndian(at.AsSpan(4 * i + 2), tag.Element);
            }
            return at;
        }
        var unit = vr == DicomVR.OB || vr == DicomVR.UN ? 1 : vr.UnitSize;
        var bytes = new byte[values.Length * unit];
        for (var i = 0; i < values.Length; i++)
        {
            var s = bytes.AsSpan(i * unit);
            object v = values[i];
            if (vr == DicomVR.US || vr == DicomVR.OW) BinaryPrimitives.WriteUInt16LittleEndian(s, Convert.ToUInt16(v, Inv));
            else if (vr == DicomVR.SS) BinaryPrimitives.WriteInt16LittleEndian(s, Convert.ToInt16(v, Inv));
            else if (vr == DicomVR.UL || vr == DicomVR.OL) BinaryPrimitives.WriteUInt32LittleEndian(s, Convert.ToUInt32(v, Inv));
            else if (vr == DicomVR.SL) BinaryPrimitives.WriteInt32LittleEndian(s, Convert.ToInt32(v, Inv));
            else if (vr == DicomVR.UV || vr == DicomVR.OV) BinaryPrimitives.WriteUInt64LittleEndian(s, Convert.ToUInt64(v, Inv));
            else if (vr == DicomVR.SV) BinaryPrimitives.WriteInt64LittleEndian(s, Convert.ToInt64(v, Inv));
            else if (vr == DicomVR.FL || vr == DicomVR.OF) BinaryPrimitives.WriteSingleLittleEndian(s, Convert.ToSingle(v, Inv));
            else if (vr == DicomVR.FD || vr == DicomVR.OD) BinaryPrimitives.WriteDoubleLittleEndian(s, Convert.ToDouble(v, Inv));
            else s[0] = Convert.ToByte(v, Inv);
        }
        return bytes;
    }

    private static string FormatForText(DicomVR vr, object v) => v switch
    {
        DateOnly d => d.ToString("yyyyMMdd", Inv),
        TimeOnly t => t.ToString(t.Ticks % TimeSpan.TicksPerSecond == 0 ? "HHmmss" : "HHmmss.ffffff", Inv),
        DateTime dt when vr == DicomVR.DA => dt.ToString("yyyyMMdd", Inv),
        DateTime dt when vr == DicomVR.TM => dt.ToString("HHmmss.ffffff", Inv),
        DateTime dt => dt.ToString("yyyyMMddHHmmss.ffffff", Inv),
        double d when vr == DicomVR.DS => FormatDecimalString(d),
        float f when vr == DicomVR.DS => FormatDecimalString(f),
        IFormattable f => f.ToString(null, Inv),
        _ => v.ToString() ?? "",
    };

    /// <summary>DS holds at most 16 characters (PS3.5 Table 6.2-1): shortest round-trip form, else fewer digits.</summary>
    internal static string FormatDecimalString(double d)
    {
        var s = d.ToString("R", Inv);
        for (var digits = 15; s.Length > 16 && digits > 0; digits--)
            s = d.ToString("G" + digits, Inv);
        return s;
    }
}

/// <summary>DA, TM and DT parsing (PS3.5 §6.2), including the old ACR-NEMA forms with '.' and ':' separators.</summary>
public static class DicomDateTime
{
    public static bool TryParseDate(string s, out DateOnly date)
    {
        s = s.Trim().Replace(".", "");
        date = default;
        return s.Length == 8 && DateOnly.TryParseExact(s, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
    }

    public static bool TryParseTime(string s, out TimeOnly time)
    {
        time = default;
        s = s.Trim().Replace(":", "");
        if (s.Length < 2) return false;
        var frac = 0L;
        var dot = s.IndexOf('.');
        if (dot >= 0)
        {
            var f = s[(dot + 1)..];
            if (f.Length is 0 or > 6 || !f.All(char.IsAsciiDigit)) return false;
            frac = long.Parse(f.PadRight(7, '0'), CultureInfo.InvariantCulture);
            s = s[..dot];
        }
        if (s.Length is not (2 or 4 or 6) || !s.All(char.IsAsciiDigit)) return false;
        var h = int.Parse(s[..2], CultureInfo.InvariantCulture);
        var m = s.Length >= 4 ? int.Parse(s[2..4], CultureInfo.InvariantCulture) : 0;
        var sec = s.Length >= 6 ? int.Parse(s[4..6], CultureInfo.InvariantCulture) : 0;
        if (sec == 60) sec = 59; // leap second allowed by PS3.5
        if (h > 23 || m > 59 || sec > 59) return false;
        time = new TimeOnly(h, m, sec).Add(TimeSpan.FromTicks(frac));
        return true;
    }

    public static bool TryParseDateTime(string s, out DateTime value)
    {
        value = default;
        s = s.Trim();
        var offset = s.IndexOfAny(['+', '-'], 4);
        if (offset > 0) s = s[..offset]; // the UTC offset suffix is kept out of a local DateTime
        if (s.Length < 4 || !int.TryParse(s[..4], NumberStyles.None, CultureInfo.InvariantCulture, out var year)) return false;
        var month = s.Length >= 6 ? int.Parse(s[4..6], CultureInfo.InvariantCulture) : 1;
        var day = s.Length >= 8 ? int.Parse(s[6..8], CultureInfo.InvariantCulture) : 1;
        if (month is < 1 or > 12 || day < 1 || year < 1 || day > DateTime.DaysInMonth(year, month)) return false;
        var time = TimeOnly.MinValue;
        if (s.Length > 8 && !TryParseTime(s[8..], out time)) return false;
        value = new DateOnly(year, month, day).ToDateTime(time);
        return true;
    }
}
