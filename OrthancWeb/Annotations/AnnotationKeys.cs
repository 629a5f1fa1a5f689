using System.Globalization;
using Microsoft.Extensions.Options;

namespace OrthancWeb.Annotations;

/// <summary>
/// The metadata Orthanc itself sets (its MetadataType enumeration, numbers below 1024). The index stores them by name,
/// as it always has; they cannot be written through the REST API.
/// </summary>
public static class SystemMetadata
{
    public static readonly IReadOnlyDictionary<string, int> ByName = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["IndexInSeries"] = 1, ["ReceptionDate"] = 2, ["RemoteAET"] = 3, ["ModifiedFrom"] = 4, ["AnonymizedFrom"] = 5,
        ["LastUpdate"] = 6, ["Origin"] = 7, ["TransferSyntax"] = 8, ["SopClassUid"] = 9, ["RemoteIP"] = 10, ["CalledAET"] = 11,
        ["HttpUsername"] = 12, ["PixelDataOffset"] = 13, ["MainDicomTagsSignature"] = 14, ["MainDicomSequences"] = 15,
    };

    public static readonly IReadOnlyDictionary<int, string> ByNumber = ByName.ToDictionary(p => p.Value, p => p.Key);
}

/// <summary>Orthanc's own attachment types (FileContentType below 1024).</summary>
public static class SystemContentTypes
{
    public static readonly IReadOnlyDictionary<string, int> ByName = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["dicom"] = 1, ["dicom-as-json"] = 2, ["dicom-until-pixel-data"] = 3,
    };

    public static readonly IReadOnlyDictionary<int, string> ByNumber = ByName.ToDictionary(p => p.Value, p => p.Key);
}

/// <summary>
/// A metadata or attachment name of a request, resolved as Orthanc does: a configured or system name, or a number.
/// <see cref="IsUser"/> ones (1024-65535) may be written; the others are Orthanc's and read-only.
/// </summary>
/// <param name="StoredName">The index's key: the system name, or the number (so that renaming one in the configuration keeps its values).</param>
public sealed record AnnotationKey(int Number, string StoredName, string DisplayName, bool IsUser);

/// <summary>Resolves names and numbers of metadata and attachments against the configuration.</summary>
public sealed class AnnotationCatalog(IOptions<AnnotationOptions> options)
{
    private AnnotationOptions Options => options.Value;

    public bool CheckRevisions => Options.CheckRevisions;

    /// <summary>A metadata name or number; null when it is neither (Orthanc: 404 "Accessing an inexistent item").</summary>
    public AnnotationKey? Metadata(string name)
    {
        if (SystemMetadata.ByName.TryGetValue(name, out var system)) return new(system, name, name, false);
        if (Options.UserMetadata.TryGetValue(name, out var user)) return new(user, Stored(user), name, true);
        if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return null;
        if (n is >= AnnotationOptions.FirstUserIndex and <= AnnotationOptions.LastUserIndex) return new(n, Stored(n), MetadataName(n), true);
        var known = SystemMetadata.ByNumber.GetValueOrDefault(n);
        return new(n, known ?? name, known ?? name, false);
    }

    /// <summary>The name a stored metadata key is shown by: a configured name for a number, else the key itself.</summary>
    public string MetadataName(string storedName) =>
        int.TryParse(storedName, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? MetadataName(n) : storedName;

    private string MetadataName(int number) =>
        Options.UserMetadata.FirstOrDefault(p => p.Value == number).Key ?? Stored(number);

    /// <summary>The number Orthanc knows a stored metadata key by (for ?numeric).</summary>
    /// <remarks>-1 for a metadata of this server's own (DicomWebServer, recorded by the DICOMweb client), which has no number.</remarks>
    public static int MetadataNumber(string storedName) =>
        SystemMetadata.ByName.TryGetValue(storedName, out var n) ? n
        : int.TryParse(storedName, NumberStyles.None, CultureInfo.InvariantCulture, out n) ? n : -1;

    /// <summary>An attachment name or number; null when it is neither.</summary>
    public AnnotationKey? ContentType(string name)
    {
        if (SystemContentTypes.ByName.TryGetValue(name, out var system)) return new(system, name, name, false);
        if (Options.UserContentType.TryGetValue(name, out var user)) return new(user.Index, Stored(user.Index), name, true);
        if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return null;
        if (n is >= AnnotationOptions.FirstUserIndex and <= AnnotationOptions.LastUserIndex) return new(n, Stored(n), ContentTypeName(n), true);
        var known = SystemContentTypes.ByNumber.GetValueOrDefault(n);
        return new(n, known ?? name, known ?? name, false);
    }

    public string ContentTypeName(int number) =>
        SystemContentTypes.ByNumber.GetValueOrDefault(number) ?? Options.UserContentType.FirstOrDefault(p => p.Value.Index == number).Key ?? Stored(number);

    /// <summary>The MIME type an attachment's data is served as.</summary>
    public string MimeType(int number) =>
        number == 1 ? "application/dicom" : Options.UserContentType.Values.FirstOrDefault(t => t.Index == number)?.MimeType ?? "application/octet-stream";

    private static string Stored(int number) => number.ToString(CultureInfo.InvariantCulture);
}
