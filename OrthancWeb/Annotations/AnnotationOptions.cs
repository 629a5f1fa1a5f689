using System.Globalization;
using OrthancWeb.Hosting;

namespace OrthancWeb.Annotations;

/// <summary>
/// User metadata, custom attachments and revisions, under "OrthancWeb" with Orthanc's names: "UserMetadata"
/// (name to index, 1024-65535), "UserContentType" (name to index, or [index, MIME type]) and "CheckRevisions".
/// </summary>
public sealed class AnnotationOptions
{
    /// <summary>PUT and DELETE of metadata and attachments that exist must name the revision they change (If-Match), as Orthanc's CheckRevisions.</summary>
    public bool CheckRevisions { get; set; }

    public Dictionary<string, int> UserMetadata { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, UserContentType> UserContentType { get; } = new(StringComparer.Ordinal);

    /// <summary>Orthanc's range of user-defined metadata and content types (MetadataType_StartUser..EndUser).</summary>
    public const int FirstUserIndex = 1024, LastUserIndex = 65535;

    /// <summary>
    /// Reads the section by hand: a content type is a number or an array [number, MIME type], which the binder
    /// cannot map to one shape.
    /// </summary>
    public void Load(IConfiguration configuration)
    {
        var section = configuration.GetSection(ServerOptions.Section);
        CheckRevisions = section.GetValue(nameof(CheckRevisions), false);
        foreach (var child in section.GetSection(nameof(UserMetadata)).GetChildren())
            UserMetadata[child.Key] = int.TryParse(child.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1;
        foreach (var child in section.GetSection(nameof(UserContentType)).GetChildren())
        {
            var text = child.Value ?? child.GetSection("0").Value;
            var mime = child.Value is null ? child.GetSection("1").Value : null;
            var index = int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1;
            UserContentType[child.Key] = new UserContentType(index, string.IsNullOrWhiteSpace(mime) ? "application/octet-stream" : mime);
        }
    }

    /// <summary>What is wrong with the configuration, to refuse it at start-up; empty when it is fine.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        void Check(string kind, string name, int index, bool reserved)
        {
            if (index is < FirstUserIndex or > LastUserIndex)
                problems.Add($"{kind} \"{name}\": the index must be a number from {FirstUserIndex} to {LastUserIndex}");
            if (reserved || name.Length == 0 || int.TryParse(name, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                problems.Add($"{kind} \"{name}\": the name is a number, empty or one of Orthanc's own");
        }
        foreach (var (name, index) in UserMetadata) Check("UserMetadata", name, index, SystemMetadata.ByName.ContainsKey(name));
        foreach (var (name, type) in UserContentType) Check("UserContentType", name, type.Index, SystemContentTypes.ByName.ContainsKey(name));
        foreach (var g in UserMetadata.GroupBy(m => m.Value).Where(g => g.Count() > 1))
            problems.Add($"UserMetadata: {string.Join(", ", g.Select(m => m.Key))} share the index {g.Key}");
        foreach (var g in UserContentType.GroupBy(m => m.Value.Index).Where(g => g.Count() > 1))
            problems.Add($"UserContentType: {string.Join(", ", g.Select(m => m.Key))} share the index {g.Key}");
        return problems;
    }
}

/// <summary>A user-defined attachment type: its index and the MIME type its data is served as.</summary>
public sealed record UserContentType(int Index, string MimeType);
