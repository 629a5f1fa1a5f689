using System.Text.Json;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Anonymization;

namespace OrthancWeb.Modification;

/// <summary>
/// POST /studies/{id}/merge (Orthanc Book, "Merging"): studies, series or instances to move into the study of the URL.
/// By default the originals are deleted once moved.
/// </summary>
public sealed record MergeStudyRequest : JobRequest
{
    public IReadOnlyList<string>? Resources { get; init; }
    public bool KeepSource { get; init; }

    /// <summary>The resources to move; a body without them is refused as Orthanc does (400, "Bad file format").</summary>
    public IReadOnlyList<string> ResourceIds() => Resources ?? throw RequestFields.Missing(nameof(Resources));
}

/// <summary>
/// POST /studies/{id}/split (Orthanc Book, "Splitting"): series and/or instances of the study to move into a new
/// study, whose patient and study attributes may be changed on the way (only those: <see cref="StudyModules"/>).
/// </summary>
public sealed record SplitStudyRequest : JobRequest
{
    public IReadOnlyList<string> Series { get; init; } = [];
    public IReadOnlyList<string> Instances { get; init; } = [];
    public Dictionary<string, string> Replace { get; init; } = [];
    public IReadOnlyList<string> Remove { get; init; } = [];
    public bool KeepSource { get; init; }

    /// <summary>
    /// The change every moved instance undergoes: new study, series and SOP instance UIDs (mapped once for the whole
    /// split, so the series stay series of one new study), then the asked replacements and removals.
    /// </summary>
    public ModificationOptions ToOptions()
    {
        if (Series.Count == 0 && Instances.Count == 0)
            throw new OrthancWeb.Dicom.DicomValidationException("Both the \"Series\" and the \"Instances\" fields are missing");
        var replace = Replace.ToDictionary(r => ResourceChangeRequest.Tag(r.Key, nameof(Replace)), r => r.Value);
        var remove = Remove.Select(k => ResourceChangeRequest.Tag(k, nameof(Remove))).ToHashSet();
        foreach (var tag in replace.Keys.Concat(remove)) StudyModules.DemandSplittable(tag);
        return new ModificationOptions { Level = ModificationLevel.Study, Replace = replace, Remove = remove, Force = true };
    }
}

/// <summary>Orthanc's answer to a merge or a split, synchronous or as the job's content.</summary>
public sealed record StudyReorganizationResult(string TargetStudy, int InstancesCount, int FailedInstancesCount, string? TargetStudyUid = null)
{
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["Description"] = "REST API",
            [nameof(FailedInstancesCount)] = FailedInstancesCount,
            [nameof(InstancesCount)] = InstancesCount,
            [nameof(TargetStudy)] = TargetStudy,
        };
        // Only a split makes a study whose UID the caller does not know yet.
        if (TargetStudyUid is not null) o["TargetStudyUID"] = TargetStudyUid;
        return o;
    }
}

/// <summary>Missing fields, refused in the words Orthanc uses.</summary>
public static class RequestFields
{
    public static JsonException Missing(string field) => new("List of strings expected", "$." + field, null, null);
}
