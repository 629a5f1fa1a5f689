using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>One line of a dump: an element, an item, a delimiter or a fragment, at a nesting depth.</summary>
public sealed record DumpRecord(int Depth, uint Tag, string VR, string Value, string Length)
{
    public override string ToString() => $"{new string(' ', Depth * 2)}({Tag >> 16:x4},{Tag & 0xFFFF:x4}) {VR} [{(Value.Length > 60 ? Value[..60] + "…" : Value)}] #{Length}";
}

/// <summary>
/// Runs DCMTK's dcmdump and turns its listing into records, and lists our own data set the same way, so the two
/// readers can be compared element by element. Values are compared as raw bytes (Latin-1), so this checks the
/// parser, not character set conversion (which has its own test against pydicom).
/// </summary>
public static partial class DcmdumpListing
{
    [GeneratedRegex(@"^(?s)(?<indent> *)\((?<g>[0-9a-f]{4}),(?<e>[0-9a-f]{4})\) (?<vr>[A-Za-z?]{2}) (?<value>.*?)\s*#\s*(?<len>\d+|u/l),\s*\d+\s+.+$")]
    private static partial Regex Line();

    public static List<DumpRecord> FromDcmdump(string path)
    {
        var result = Peers.Run("dcmdump", "-q", "+L", "-Un", "+E", path);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"dcmdump failed on {path}: {result.Stderr}");
        return Parse(result.Stdout);
    }

    public static List<DumpRecord> Parse(string listing)
    {
        var records = new List<DumpRecord>();
        // Text values may hold CR/LF and spill over several lines: glue continuation lines back to their element.
        var lines = new List<string>();
        foreach (var raw in listing.Split('\n'))
        {
            if (lines.Count > 0 && !raw.TrimStart().StartsWith('(') && !raw.StartsWith('#') && raw.Length > 0)
                lines[^1] += "\n" + raw;
            else
                lines.Add(raw);
        }
        foreach (var raw in lines)
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var m = Line().Match(line);
            if (!m.Success) continue;
            var value = m.Groups["value"].Value;
            var vr = m.Groups["vr"].Value;
            // DCMTK lists the delimiters it would add when re-encoding with undefined lengths; they are not in the file.
            if (value.Contains("for re-encod", StringComparison.Ordinal)) continue;
            if (vr == "??") vr = "UN";
            if (value == "(no value available)" || vr is "SQ" or "na" or "pi" || value.StartsWith("(PixelSequence", StringComparison.Ordinal)) value = "";
            else if (value.StartsWith('[') && value.EndsWith(']')) value = value[1..^1];
            records.Add(new DumpRecord(m.Groups["indent"].Length / 2,
                uint.Parse(m.Groups["g"].Value + m.Groups["e"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), vr, value, m.Groups["len"].Value));
        }
        return records;
    }

    public static List<DumpRecord> FromOurs(DicomFile file)
    {
        var list = new List<DumpRecord>();
        Add(list, file.FileMetaInfo, 0, TransferSyntax.ExplicitVRLittleEndian);
        Add(list, file.Dataset, 0, file.TransferSyntax);
        return list;
    }

    private static void Add(List<DumpRecord> list, DicomDataset ds, int depth, TransferSyntax ts)
    {
        foreach (var item in ds)
        {
            switch (item)
            {
                case DicomSequence s:
                    list.Add(new DumpRecord(depth, item.Tag.Value, s.VR.Code, "", s.UndefinedLength ? "u/l" : DicomWriterProbe.Length(s, ts).ToString(CultureInfo.InvariantCulture)));
                    foreach (var child in s.Items)
                    {
                        list.Add(new DumpRecord(depth + 1, DicomTag.Item.Value, "na", "", child.UndefinedLength ? "u/l" : DicomWriterProbe.ItemLength(child, s, ts).ToString(CultureInfo.InvariantCulture)));
                        Add(list, child, depth + 2, s.VR == DicomVR.UN && ts.IsExplicitVR ? TransferSyntax.ImplicitVRLittleEndian : ts);
                        if (child.UndefinedLength) list.Add(new DumpRecord(depth + 1, DicomTag.ItemDelimitationItem.Value, "na", "", "0"));
                    }
                    if (s.UndefinedLength) list.Add(new DumpRecord(depth, DicomTag.SequenceDelimitationItem.Value, "na", "", "0"));
                    break;
                case DicomFragmentSequence f:
                    list.Add(new DumpRecord(depth, item.Tag.Value, f.VR.Code, "", "u/l"));
                    list.Add(new DumpRecord(depth + 1, DicomTag.Item.Value, "pi", "", f.OffsetTable.Length.ToString(CultureInfo.InvariantCulture)));
                    foreach (var frag in f.Fragments)
                        list.Add(new DumpRecord(depth + 1, DicomTag.Item.Value, "pi", "", frag.Length.ToString(CultureInfo.InvariantCulture)));
                    list.Add(new DumpRecord(depth, DicomTag.SequenceDelimitationItem.Value, "na", "", "0"));
                    break;
                case DicomElement e:
                    list.Add(new DumpRecord(depth, item.Tag.Value, e.VR.Code, RawText(e), e.Length.ToString(CultureInfo.InvariantCulture)));
                    break;
            }
        }
    }

    private static string RawText(DicomElement e)
    {
        var vr = e.VR;
        if (vr.IsString || vr == DicomVR.UR)
            return Encoding.Latin1.GetString(e.Buffer.Memory.Span);
        if (vr.Kind is VRKind.Binary or VRKind.AttributeTag)
            return new DicomDataset([e]).GetString(e.Tag) ?? "";
        return "";
    }

    public static bool IsBinary(string vr) => vr is "OB" or "OW" or "OF" or "OD" or "OL" or "OV" or "UN" or "ox" or "pi" or "na";

    /// <summary>The same value as far as both tools print it: text as raw bytes, numbers numerically.</summary>
    public static bool SameValue(string vr, string theirs, string ours)
    {
        if (IsBinary(vr)) return true;
        static string Norm(string s) => s.Replace("\r", "").Replace("\n", "").TrimEnd(' ', '\0').Trim();
        if (vr is "US" or "SS" or "UL" or "SL" or "FL" or "FD" or "UV" or "SV" or "xs" or "lt")
        {
            var a = theirs.Split('\\', StringSplitOptions.RemoveEmptyEntries);
            var b = ours.Split('\\', StringSplitOptions.RemoveEmptyEntries);
            if (a.Length != b.Length) return false;
            for (var i = 0; i < a.Length; i++)
            {
                if (!double.TryParse(a[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ||
                    !double.TryParse(b[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
                    return a[i] == b[i];
                if (!(x == y || Math.Abs(x - y) <= 1e-6 * Math.Max(Math.Abs(x), Math.Abs(y))) && !(double.IsNaN(x) && double.IsNaN(y))) return false;
            }
            return true;
        }
        if (vr == "AT") return string.Equals(Norm(theirs), Norm(ours), StringComparison.OrdinalIgnoreCase);
        var t = Norm(theirs).Split('\\').Select(v => v.Trim(' ', '\0'));
        var o = Norm(ours).Split('\\').Select(v => v.Trim(' ', '\0'));
        return t.SequenceEqual(o);
    }
}

/// <summary>Encoded lengths as our writer computes them, for comparing with the lengths dcmdump reports.</summary>
internal static class DicomWriterProbe
{
    public static long Length(DicomSequence s, TransferSyntax ts)
    {
        long total = 0;
        foreach (var i in s.Items) total += 8 + ItemLength(i, s, ts) + (i.UndefinedLength ? 8 : 0);
        return total;
    }

    public static long ItemLength(DicomDataset item, DicomSequence s, TransferSyntax ts)
    {
        var syntax = s.VR == DicomVR.UN && ts.IsExplicitVR ? TransferSyntax.ImplicitVRLittleEndian : ts;
        long total = 0;
        foreach (var e in item) total += DicomWriter.EncodedLengthForTests(e, syntax);
        return total;
    }
}
