using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Requests;

namespace OrthancWeb.Modification;

/// <summary>The resources a /tools/bulk-... request names, at any level.</summary>
public interface IBulkRequest
{
    IReadOnlyList<string>? Resources { get; }
}

public static class BulkRequests
{
    public static IReadOnlyList<string> ResourceIds(this IBulkRequest request) => request.Resources ?? throw RequestFields.Missing(nameof(IBulkRequest.Resources));

    /// <summary>"Patient", "study", "Series"... as Orthanc reads a level; anything else is out of range (400).</summary>
    public static ResourceLevel ParseLevel(string text) =>
        ResourceLevelExtensions.TryParse(text, out var level) ? level : throw new ParameterOutOfRangeException($"Not a resource level: {text}");
}

/// <summary>POST /tools/bulk-modify: /modify applied to every instance of every resource listed, as one operation.</summary>
public sealed record BulkModificationRequest : ModificationRequest, IBulkRequest
{
    public IReadOnlyList<string>? Resources { get; init; }

    /// <summary>The level the instances are modified at; when absent, the highest identifier replaced says (Orthanc 1.9.7).</summary>
    public string? Level { get; init; }

    public ResourceLevel ModificationLevel()
    {
        if (Level is not null) return BulkRequests.ParseLevel(Level);
        var replaced = Replace.Keys.Select(k => DicomTag.TryParse(k, out var tag) ? tag : default).ToHashSet();
        return replaced.Contains(DicomTags.PatientID) ? ResourceLevel.Patient
            : replaced.Contains(DicomTags.StudyInstanceUID) ? ResourceLevel.Study
            : replaced.Contains(DicomTags.SeriesInstanceUID) ? ResourceLevel.Series
            : ResourceLevel.Instance;
    }
}

/// <summary>POST /tools/bulk-anonymize: every instance of every resource listed, anonymized as one operation (one new patient per patient).</summary>
public sealed record BulkAnonymizationRequest : AnonymizationRequest, IBulkRequest
{
    public IReadOnlyList<string>? Resources { get; init; }
}

/// <summary>What a bulk modification or anonymization made: Orthanc's answer, synchronous or as the job's content.</summary>
public sealed record BulkModificationResult(bool IsAnonymization, int InstancesCount, int FailedInstancesCount, IReadOnlyList<(ResourceLevel Level, string Id)> Resources)
{
    public JsonObject ToJson() => new()
    {
        ["Description"] = "REST API",
        [nameof(FailedInstancesCount)] = FailedInstancesCount,
        [nameof(InstancesCount)] = InstancesCount,
        [nameof(IsAnonymization)] = IsAnonymization,
        [nameof(Resources)] = new JsonArray(Resources.Select(r => (JsonNode)new JsonObject
        {
            ["ID"] = r.Id, ["Path"] = $"/{r.Level.ToCollection()}/{r.Id}", ["Type"] = r.Level.ToOrthancType(),
        }).ToArray()),
    };
}
