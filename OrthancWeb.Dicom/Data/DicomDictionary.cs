using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;

namespace OrthancWeb.Dicom.Data;

/// <summary>
/// The data dictionary: every public element of PS3.6 and the PS3.7 command group (generated, see
/// generate_dictionary.py) and private elements by private creator. Immutable once built.
/// </summary>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix",
    Justification = "The DICOM Data Dictionary is the standard's own name for this registry (PS3.6); it is not a collection type.")]
public static partial class DicomDictionary
{
    // Built on first use in a nested type: static fields of partial classes in several files have no defined order.
    private static class Index
    {
        public static readonly FrozenDictionary<uint, DicomDictionaryEntry> ByTag =
            PublicEntries.Where(e => e.Mask == 0xFFFFFFFF).ToFrozenDictionary(e => e.Tag.Value);

        public static readonly DicomDictionaryEntry[] Repeating = PublicEntries.Where(e => e.Mask != 0xFFFFFFFF).ToArray();

        public static readonly FrozenDictionary<string, DicomDictionaryEntry> ByKeyword =
            PublicEntries.Where(e => e.Keyword.Length > 0).DistinctBy(e => e.Keyword).ToFrozenDictionary(e => e.Keyword, StringComparer.Ordinal);
    }

    private static readonly Lazy<FrozenDictionary<string, DicomDictionaryEntry>> Private = new(LoadPrivate);

    public static IReadOnlyList<DicomDictionaryEntry> Entries => PublicEntries;

    /// <summary>
    /// Entries an administrator declared (Orthanc's "Dictionary" option): they come before the built-in ones, for
    /// public tags (a VR for a tag the standard does not list yet) and private ones alike. Set once at start-up.
    /// </summary>
    private static volatile FrozenDictionary<string, DicomDictionaryEntry> s_user = FrozenDictionary<string, DicomDictionaryEntry>.Empty;

    /// <summary>Declares entries of the site's own; replaces earlier declarations. Private entries need their creator.</summary>
    public static void Declare(IEnumerable<DicomUserEntry> entries)
    {
        var result = new Dictionary<string, DicomDictionaryEntry>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (e.Tag.IsPrivate && string.IsNullOrWhiteSpace(e.PrivateCreator))
                throw new ArgumentException($"The private tag {e.Tag} needs its private creator", nameof(entries));
            var key = e.Tag.IsPrivate ? PrivateKey(e.PrivateCreator!.Trim(), e.Tag.Group, (byte)e.Tag.Element) : $"{e.Tag.Value:x8}";
            result[key] = new DicomDictionaryEntry(e.Tag.Value, 0xFFFFFFFF, e.VR.Code, e.VM, e.Keyword, e.Keyword, false) { PrivateCreator = e.PrivateCreator };
        }
        s_user = result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The public entry for a tag, handling repeating groups (50xx, 60xx, 7Fxx) and group lengths.</summary>
    public static DicomDictionaryEntry? Find(DicomTag tag)
    {
        if (s_user.Count > 0 && !tag.IsPrivate && s_user.TryGetValue($"{tag.Value:x8}", out var declared))
            return declared;
        if (Index.ByTag.TryGetValue(tag.Value, out var entry))
            return entry;
        if (tag.IsPrivate)
            return null;
        foreach (var r in Index.Repeating)
        {
            if ((tag.Value & r.Mask) == r.Tag.Value)
                return r;
        }
        return tag.Element == 0 ? GenericGroupLength : null;
    }

    /// <summary>A private entry by creator ("SIEMENS CSA HEADER") and the element's tag.</summary>
    public static DicomDictionaryEntry? FindPrivate(string creator, DicomTag tag)
    {
        var key = PrivateKey(creator.Trim(), tag.Group, (byte)tag.Element);
        if (s_user.Count > 0 && s_user.TryGetValue(key, out var declared))
            return declared;
        if (Private.Value.TryGetValue(key, out var e))
            return e;
        // Rows for repeating private groups are stored with their "xx" spelled out.
        return Private.Value.GetValueOrDefault(PrivateKey(creator.Trim(), (ushort)(tag.Group & 0xFF00), (byte)tag.Element, true));
    }

    public static bool TryGetByKeyword(string keyword, out DicomDictionaryEntry entry) =>
        Index.ByKeyword.TryGetValue(keyword, out entry!);

    /// <summary>(gggg,0000): group lengths exist for every group though PS3.6 lists few (PS3.5 §7.2).</summary>
    private static readonly DicomDictionaryEntry GenericGroupLength = new(0, 0xFFFF0000 | 0xFFFF, "UL", "1", "Group Length", "GenericGroupLength", true);

    private static string PrivateKey(string creator, ushort group, byte element, bool wildGroup = false) =>
        wildGroup ? $"{creator}\t{group >> 8:x2}xx\t{element:x2}" : $"{creator}\t{group:x4}\t{element:x2}";

    private static FrozenDictionary<string, DicomDictionaryEntry> LoadPrivate()
    {
        var result = new Dictionary<string, DicomDictionaryEntry>(StringComparer.Ordinal);
        using var stream = typeof(DicomDictionary).Assembly.GetManifestResourceStream("OrthancWeb.Dicom.PrivateDictionary.txt")
            ?? throw new InvalidOperationException("The private dictionary resource is missing from the assembly");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
                continue;
            var f = line.Split('\t');
            if (f.Length < 6)
                continue;
            var vr = f[3].Length == 2 && DicomVR.FromCode(f[3]) is not null ? f[3] : "UN";
            var group = f[1].Contains('x') ? f[1] : f[1];
            var groupValue = Convert.ToUInt16(group.Replace('x', '0'), 16);
            var element = Convert.ToByte(f[2].Replace('x', '0'), 16);
            // The keyword (DCMTK's, the one Orthanc shows) when known: it names the tag in Orthanc's JSON shapes.
            var keyword = f.Length > 6 ? f[6] : "";
            var entry = new DicomDictionaryEntry(((uint)groupValue << 16) | element, 0xFFFFFFFF, vr, f[4], f[5], keyword, false) { PrivateCreator = f[0] };
            result.TryAdd($"{f[0]}\t{group}\t{f[2]}", entry);
        }
        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
