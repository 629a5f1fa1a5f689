using System.Text;

namespace OrthancWeb.Dicom.Data;

/// <summary>
/// Specific Character Set (0008,0005), PS3.3 §C.12.1.1.2 and PS3.5 §6.1: turns the bytes of SH, LO, ST, LT, UT, UC and
/// PN values into text and back. Single values name one encoding; several values (or any "ISO 2022" term) switch
/// between code elements with escape sequences (ISO/IEC 2022, PS3.5 §6.1.2.5).
/// </summary>
public sealed class DicomCharacterSet
{
    private readonly CodeElement[] _elements;
    private readonly Encoding? _single;

    public static readonly DicomCharacterSet Default = new([""]);

    private static volatile DicomCharacterSet _fallback = Default;

    /// <summary>
    /// What a data set without Specific Character Set (0008,0005) is read with: the default repertoire (kept lenient as
    /// Latin-1) unless the server says otherwise, as Orthanc's DefaultEncoding does for the files of a site whose
    /// modalities send, say, Cyrillic without declaring it. Process-wide, as Orthanc's is.
    /// </summary>
    public static DicomCharacterSet Fallback
    {
        get => _fallback;
        set => _fallback = value ?? throw new ArgumentNullException(nameof(value));
    }

    public DicomCharacterSet(IReadOnlyList<string> terms)
    {
        Terms = terms.Select(t => t.Trim()).ToArray();
        if (Terms.Count == 0)
            Terms = [""];
        IsIso2022 = Terms.Count > 1 || Terms[0].StartsWith("ISO 2022", StringComparison.Ordinal);
        if (!IsIso2022)
        {
            _single = SingleByteTerm(Terms[0]) ?? throw new NotSupportedException($"Specific Character Set '{Terms[0]}' is not supported");
            _elements = [];
            return;
        }
        _elements = Terms.Select(t => Iso2022Term(t) ?? throw new NotSupportedException($"Specific Character Set '{t}' is not supported")).ToArray();
    }

    /// <summary>The defined terms, value 1 first (empty string is the default repertoire).</summary>
    public IReadOnlyList<string> Terms { get; }

    public bool IsIso2022 { get; }

    /// <summary>Parses the raw value of (0008,0005); unknown terms fall back to the default repertoire, as DCMTK does.</summary>
    public static DicomCharacterSet FromValue(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
            return Default;
        try
        {
            return new DicomCharacterSet(value.Split('\\'));
        }
        catch (NotSupportedException)
        {
            return Default;
        }
    }

    public string Decode(ReadOnlySpan<byte> bytes, DicomVR vr)
    {
        if (_single is not null)
            return _single.GetString(bytes);
        return DecodeIso2022(bytes, vr);
    }

    public byte[] Encode(string text, DicomVR vr)
    {
        if (_single is not null)
            return _single.GetBytes(text);
        return EncodeIso2022(text, vr);
    }

    // ---- single-valued terms (PS3.3 Table C.12-2) ----

    private static Encoding CodePage(int cp) =>
        CodePagesEncodingProvider.Instance.GetEncoding(cp) ?? Encoding.GetEncoding(cp);

    private static Encoding? SingleByteTerm(string term) => term switch
    {
        "" or "ISO_IR 6" => Encoding.Latin1, // default repertoire; bytes above 0x7F are kept as Latin-1 rather than lost
        "ISO_IR 100" => Encoding.Latin1,
        "ISO_IR 101" => CodePage(28592),
        "ISO_IR 109" => CodePage(28593),
        "ISO_IR 110" => CodePage(28594),
        "ISO_IR 144" => CodePage(28595),
        "ISO_IR 127" => CodePage(28596),
        "ISO_IR 126" => CodePage(28597),
        "ISO_IR 138" => CodePage(28598),
        "ISO_IR 148" => CodePage(28599),
        "ISO_IR 203" => CodePage(28605),
        "ISO_IR 166" => CodePage(874),
        "ISO_IR 13" => CodePage(932), // JIS X 0201: Shift_JIS's single-byte half
        "ISO_IR 192" => new UTF8Encoding(false, false),
        "GB18030" => CodePage(54936),
        "GBK" => CodePage(936),
        _ => null,
    };

    // ---- ISO 2022 code extensions (PS3.3 Tables C.12-3 and C.12-4) ----

    private enum Target { G0, G1 }

    private sealed record CodeElement(string Term, byte[] Escape, Target Target, int BytesPerChar, Encoding Encoding);

    private static readonly byte[] EscAscii = [0x1B, 0x28, 0x42];   // ESC ( B

    private static CodeElement? Iso2022Term(string term) => term switch
    {
        "" or "ISO 2022 IR 6" => new(term, EscAscii, Target.G0, 1, Encoding.Latin1),
        "ISO 2022 IR 100" => new(term, [0x1B, 0x2D, 0x41], Target.G1, 1, Encoding.Latin1),
        "ISO 2022 IR 101" => new(term, [0x1B, 0x2D, 0x42], Target.G1, 1, CodePage(28592)),
        "ISO 2022 IR 109" => new(term, [0x1B, 0x2D, 0x43], Target.G1, 1, CodePage(28593)),
        "ISO 2022 IR 110" => new(term, [0x1B, 0x2D, 0x44], Target.G1, 1, CodePage(28594)),
        "ISO 2022 IR 144" => new(term, [0x1B, 0x2D, 0x4C], Target.G1, 1, CodePage(28595)),
        "ISO 2022 IR 127" => new(term, [0x1B, 0x2D, 0x47], Target.G1, 1, CodePage(28596)),
        "ISO 2022 IR 126" => new(term, [0x1B, 0x2D, 0x46], Target.G1, 1, CodePage(28597)),
        "ISO 2022 IR 138" => new(term, [0x1B, 0x2D, 0x48], Target.G1, 1, CodePage(28598)),
        "ISO 2022 IR 148" => new(term, [0x1B, 0x2D, 0x4D], Target.G1, 1, CodePage(28599)),
        "ISO 2022 IR 203" => new(term, [0x1B, 0x2D, 0x62], Target.G1, 1, CodePage(28605)),
        "ISO 2022 IR 166" => new(term, [0x1B, 0x2D, 0x54], Target.G1, 1, CodePage(874)),
        // JIS X 0201: katakana in G1 (ESC ) I), romaji in G0 (ESC ( J).
        "ISO 2022 IR 13" => new(term, [0x1B, 0x29, 0x49], Target.G1, 1, CodePage(932)),
        // JIS X 0208 in G0 (ESC $ B): 7-bit pairs, decoded as EUC-JP after setting the high bits.
        "ISO 2022 IR 87" => new(term, [0x1B, 0x24, 0x42], Target.G0, 2, CodePage(51932)),
        // JIS X 0212 in G0 (ESC $ ( D): EUC-JP's 0x8F plane.
        "ISO 2022 IR 159" => new(term, [0x1B, 0x24, 0x28, 0x44], Target.G0, 3, CodePage(51932)),
        // KS X 1001 in G1 (ESC $ ) C): already 8-bit, EUC-KR.
        "ISO 2022 IR 149" => new(term, [0x1B, 0x24, 0x29, 0x43], Target.G1, 2, CodePage(51949)),
        // GB 2312 in G1 (ESC $ ) A): already 8-bit, EUC-CN.
        "ISO 2022 IR 58" => new(term, [0x1B, 0x24, 0x29, 0x41], Target.G1, 2, CodePage(936)),
        _ => null,
    };

    private static readonly CodeElement JisRomaji = new("ISO 2022 IR 13", [0x1B, 0x28, 0x4A], Target.G0, 1, Encoding.ASCII);

    private CodeElement InitialG0 => _elements.FirstOrDefault(e => e.Target == Target.G0 && e.BytesPerChar == 1) ?? Iso2022Term("")!;

    private CodeElement? InitialG1 => _elements.Length > 0 && _elements[0].Target == Target.G1 ? _elements[0] : null;

    private CodeElement? FindByEscape(ReadOnlySpan<byte> bytes, out int length)
    {
        foreach (var e in _elements.Append(Iso2022Term("")!).Append(JisRomaji))
        {
            if (bytes.StartsWith(e.Escape))
            {
                length = e.Escape.Length;
                return e;
            }
        }
        // An escape we were not told about: pass it through as designation of nothing, but keep going.
        length = bytes.Length >= 3 && bytes[1] == 0x24 && bytes.Length >= 4 && bytes[2] is 0x28 or 0x29 ? 4 : Math.Min(3, bytes.Length);
        return null;
    }

    /// <summary>
    /// Delimiters after which the code elements return to their initial state: CR, LF, FF, TAB for text, backslash
    /// between values, and ^ and = inside person names (PS3.5 §6.1.2.5.3).
    /// </summary>
    private static bool IsResetDelimiter(byte b, DicomVR vr) =>
        b is 0x0D or 0x0A or 0x0C or 0x09 || (vr.IsMultiValued && b == 0x5C) || (vr == DicomVR.PN && b is 0x5E or 0x3D);

    private string DecodeIso2022(ReadOnlySpan<byte> bytes, DicomVR vr)
    {
        var text = new StringBuilder(bytes.Length);
        var g0 = InitialG0;
        var g1 = InitialG1;
        var i = 0;
        while (i < bytes.Length)
        {
            if (bytes[i] == 0x1B)
            {
                var designated = FindByEscape(bytes[i..], out var len);
                i += len;
                if (designated is null) continue;
                if (designated.Target == Target.G0) g0 = designated; else g1 = designated;
                continue;
            }
            // A run under the current designations, up to the next escape or reset delimiter.
            var start = i;
            var g0Multi = g0.BytesPerChar > 1;
            while (i < bytes.Length && bytes[i] != 0x1B && (g0Multi && bytes[i] < 0x80 || !IsResetDelimiter(bytes[i], vr)))
                i++;
            DecodeRun(bytes[start..i], g0, g1, text);
            if (i < bytes.Length && bytes[i] != 0x1B)
            {
                text.Append((char)bytes[i]);
                i++;
                g0 = InitialG0;
                g1 = InitialG1;
            }
        }
        return text.ToString();
    }

    private static void DecodeRun(ReadOnlySpan<byte> run, CodeElement g0, CodeElement? g1, StringBuilder text)
    {
        var i = 0;
        while (i < run.Length)
        {
            var high = run[i] >= 0x80;
            var start = i;
            while (i < run.Length && run[i] >= 0x80 == high) i++;
            var part = run[start..i];
            if (!high)
            {
                if (g0.BytesPerChar == 1)
                    text.Append(Encoding.ASCII.GetString(part));
                else
                {
                    // 7-bit JIS pairs to EUC-JP: set the high bit of each byte; JIS X 0212 adds the 0x8F plane marker.
                    var euc = new List<byte>(part.Length * 3 / 2);
                    for (var k = 0; k + 1 < part.Length; k += 2)
                    {
                        if (g0.BytesPerChar == 3) euc.Add(0x8F);
                        euc.Add((byte)(part[k] | 0x80));
                        euc.Add((byte)(part[k + 1] | 0x80));
                    }
                    text.Append(g0.Encoding.GetString(euc.ToArray()));
                }
            }
            else
            {
                text.Append((g1 ?? g0).Encoding.GetString(part));
            }
        }
    }

    private byte[] EncodeIso2022(string text, DicomVR vr)
    {
        // Each character goes out in the first declared code element that can represent it; escapes are written only
        // when the designation changes, and delimiters restore the initial state as the decoder expects.
        var output = new List<byte>(text.Length * 2);
        var g0 = InitialG0;
        var g1 = InitialG1;
        Span<char> one = stackalloc char[2];
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < 0x80)
            {
                if (g0.BytesPerChar > 1 || g0 == JisRomaji)
                {
                    var initial = InitialG0;
                    output.AddRange(initial.Escape);
                    g0 = initial;
                }
                output.Add((byte)c);
                if (IsResetDelimiter((byte)c, vr)) { g0 = InitialG0; g1 = InitialG1; }
                continue;
            }
            var len = char.IsHighSurrogate(c) && i + 1 < text.Length ? 2 : 1;
            text.AsSpan(i, len).CopyTo(one);
            i += len - 1;
            var chosen = false;
            foreach (var e in _elements)
            {
                if (e.Term is "" or "ISO 2022 IR 6") continue;
                byte[] encoded;
                try
                {
                    var enc = (Encoding)e.Encoding.Clone();
                    enc.EncoderFallback = EncoderFallback.ExceptionFallback;
                    encoded = enc.GetBytes(one[..len].ToArray());
                }
                catch (EncoderFallbackException) { continue; }
                if (e.BytesPerChar == 1 && encoded.Length != 1 || encoded.Length == 0 || encoded[0] < 0x80) continue;
                if (e.Target == Target.G0)
                {
                    if (e.BytesPerChar == 3 && (encoded.Length != 3 || encoded[0] != 0x8F)) continue;
                    if (e.BytesPerChar == 2 && encoded.Length != 2) continue;
                    if (g0 != e) { output.AddRange(e.Escape); g0 = e; }
                    foreach (var b in e.BytesPerChar == 3 ? encoded[1..] : encoded) output.Add((byte)(b & 0x7F));
                }
                else
                {
                    if (g1 != e) { output.AddRange(e.Escape); g1 = e; }
                    output.AddRange(encoded);
                }
                chosen = true;
                break;
            }
            if (!chosen)
                output.Add((byte)'?');
        }
        if (g0 != InitialG0)
            output.AddRange(InitialG0.Escape);
        return output.ToArray();
    }
}
