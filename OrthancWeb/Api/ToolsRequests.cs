using OrthancWeb.Index;
using OrthancWeb.Modification;

namespace OrthancWeb.Api;

/// <summary>POST /tools/find: {"Level": "Study", "Query": {"PatientName": "DOE*"}, "Expand": true, "Limit": 10, "Since": 0, "CaseSensitive": false}.</summary>
public sealed record ToolsFindRequest
{
    public required ResourceLevel Level { get; init; }
    /// <summary>Keyword or gggg,eeee to the value to match (wildcards * and ?, ranges for dates).</summary>
    public required Dictionary<string, string> Query { get; init; }
    /// <summary>Answer the resources in full rather than their IDs.</summary>
    public bool Expand { get; init; }
    public int? Limit { get; init; }
    public int Since { get; init; }
    /// <summary>Off unless asked for: orthanc 1.10.1's /tools/find matches "mr" with MR when the body says nothing.</summary>
    public bool CaseSensitive { get; init; }
    /// <summary>Expanded answers with main tags keyed "gggg,eeee" (Short) or with name, type and value (Full), as Orthanc 1.10.</summary>
    public bool Full { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("Short")]
    public bool ShortForm { get; init; }
    /// <summary>Orthanc 1.12: only resources with these labels, as <see cref="LabelsConstraint"/> says (All, Any or None).</summary>
    public List<string> Labels { get; init; } = [];
    public string LabelsConstraint { get; init; } = "All";
    /// <summary>Orthanc 1.11: with Expand, each answer carries "RequestedTags", these tags' values (see <see cref="RequestedTagsReader"/>).</summary>
    public List<string> RequestedTags { get; init; } = [];
    /// <summary>Orthanc 1.12.5: [{"Type": "DicomTag" or "Metadata", "Key": a tag or a metadata name, "Direction": "ASC" or "DESC"}].</summary>
    public List<ToolsFindOrder> OrderBy { get; init; } = [];
    /// <summary>
    /// Orthanc 1.12.5: the parts of each answer, as <see cref="FindResponseContent"/> builds them ("MainDicomTags",
    /// "Metadata", "Children", "Parent", "Labels", "Status", "IsStable", "IsProtected", "Attachments"); when present
    /// the answers are objects whatever Expand says, and an empty list answers the IDs.
    /// </summary>
    public List<string>? ResponseContent { get; init; }
}

/// <summary>One key of /tools/find's OrderBy.</summary>
public sealed record ToolsFindOrder
{
    public string Type { get; init; } = "";
    public string Key { get; init; } = "";
    public string Direction { get; init; } = "ASC";
}

/// <summary>POST /tools/bulk-delete.</summary>
public sealed record BulkDeleteRequest : IBulkRequest
{
    public IReadOnlyList<string>? Resources { get; init; }
}

/// <summary>
/// POST /tools/bulk-content: the resources as GET /{level}/{id} shows them, or, with a Level, the resources of that level
/// above or below them; with their metadata unless "Metadata" is false.
/// </summary>
public sealed record BulkContentRequest : IBulkRequest
{
    public IReadOnlyList<string>? Resources { get; init; }
    public string? Level { get; init; }
    public bool Metadata { get; init; } = true;
    public bool Full { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("Short")]
    public bool ShortForm { get; init; }
}
