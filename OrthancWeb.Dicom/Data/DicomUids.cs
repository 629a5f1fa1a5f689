using System.Collections.Frozen;

namespace OrthancWeb.Dicom.Data;

/// <summary>A registered UID of PS3.6 Annex A: transfer syntaxes, SOP classes, and the rest.</summary>
public sealed record DicomUidEntry(string Uid, string Name, string Type, string Keyword, bool IsRetired)
{
    public bool IsTransferSyntax => Type == "Transfer Syntax";
    public bool IsSopClass => Type == "SOP Class";
    /// <summary>Storage SOP classes, the ones a C-STORE SCP accepts (PS3.4 Annex B).</summary>
    public bool IsStorageSopClass => IsSopClass && (Name.Contains("Storage", StringComparison.Ordinal) || Name.Contains("Image Storage", StringComparison.Ordinal))
        && !Name.Contains("Commitment", StringComparison.Ordinal) && !Name.Contains("Storage Management", StringComparison.Ordinal);
}

/// <summary>Well-known UIDs by value and keyword (generated from PS3.6 Annex A, see generate_dictionary.py).</summary>
public static partial class DicomUids
{
    private static class Index
    {
        public static readonly FrozenDictionary<string, DicomUidEntry> ByUid = Entries.ToFrozenDictionary(e => e.Uid, StringComparer.Ordinal);
        public static readonly FrozenDictionary<string, DicomUidEntry> ByKeyword =
            Entries.Where(e => e.Keyword.Length > 0).DistinctBy(e => e.Keyword).ToFrozenDictionary(e => e.Keyword, StringComparer.Ordinal);
    }

    public static IReadOnlyList<DicomUidEntry> All => Entries;

    public static DicomUidEntry? Find(string uid) => Index.ByUid.GetValueOrDefault(uid.TrimEnd('\0', ' '));

    public static DicomUidEntry? FindByKeyword(string keyword) => Index.ByKeyword.GetValueOrDefault(keyword);

    /// <summary>OrthancWeb's implementation class UID and version name, written in every file meta group (PS3.7 §D.3.3.2); a UUID-derived UID (PS3.5 §B.2).</summary>
    public const string ImplementationClassUid = "2.25.79226881965646983969629813317250397670";
    public const string ImplementationVersionName = "ORTHANCWEB_010";
}
