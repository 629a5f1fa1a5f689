using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OrthancWeb.Annotations;

/// <summary>
/// Orthanc's revision of a metadata or attachment, as its ETag carries it: the revision number, a dash, and the MD5 of
/// the value (of the uncompressed data for an attachment), quoted. A PUT or DELETE names it in If-Match (RFC 9110
/// 13.1.1) to change only the version it read.
/// </summary>
public readonly record struct Revision(long Number, string Md5)
{
    public string ETag => string.Create(CultureInfo.InvariantCulture, $"\"{Number}-{Md5}\"");

    /// <summary>Orthanc's MD5 of a value: an identity for the ETag, not a protection (hence IncrementalHash, not the flagged MD5 type).</summary>
    public static string Md5Of(string value)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(Encoding.UTF8.GetBytes(value));
        return Convert.ToHexStringLower(md5.GetHashAndReset());
    }

    /// <summary>An If-Match value, quoted or not (Orthanc takes both); false when it is not "number-md5".</summary>
    public static bool TryParse(string text, out Revision revision)
    {
        revision = default;
        var value = text.Trim();
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
        var dash = value.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || !long.TryParse(value.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var number)) return false;
        revision = new Revision(number, value[(dash + 1)..]);
        return true;
    }

    public bool Matches(long number, string md5) => Number == number && string.Equals(Md5, md5, StringComparison.OrdinalIgnoreCase);
}

/// <summary>What a write of a metadata, attachment or label came to.</summary>
public enum AnnotationWriteStatus
{
    Done,
    /// <summary>No such patient, study, series or instance.</summary>
    UnknownResource,
    /// <summary>Nothing of that name on the resource.</summary>
    Missing,
    /// <summary>CheckRevisions is on and the request named no revision (HTTP 409, as Orthanc).</summary>
    RevisionMissing,
    /// <summary>The revision named is not the current one: another writer changed it (HTTP 409).</summary>
    RevisionMismatch,
}

/// <summary>The outcome of a write, with the new revision when it made one.</summary>
public readonly record struct AnnotationWrite(AnnotationWriteStatus Status, Revision? Revision = null);
