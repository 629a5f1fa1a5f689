using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Jobs;

namespace OrthancWeb.Networking;

/// <summary>A C-MOVE as a job (Orthanc's "DicomMoveScu"): the remote modality sends the resources to the target AE.</summary>
public sealed class ModalityMoveJob(ModalityClient modalities) : IJobHandler
{
    public const string JobType = "DicomMoveScu";

    public string Type => JobType;

    public static JsonObject Content(string modality, ResourceLevel level, IEnumerable<DicomDataset> identifiers, string? targetAet) =>
        Job.ContentOf(new ModalityMoveParameters
        {
            RemoteModality = modality,
            Level = level,
            TargetAet = targetAet,
            Query = [.. identifiers.Select(ModalityRetrieval.ToJson)],
        });

    public Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct) =>
        ModalityRetrieval.RunAsync(modalities, job.ContentAs<ModalityMoveParameters>(), get: false, progress, ct);
}

/// <summary>
/// A C-GET as a job (Orthanc 1.12.6's "DicomGetScu"): the remote modality sends the resources back on our own
/// association (PS3.4 C.4.3), into the one ingest path.
/// </summary>
public sealed class ModalityGetJob(ModalityClient modalities) : IJobHandler
{
    public const string JobType = "DicomGetScu";

    public string Type => JobType;

    public Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct) =>
        ModalityRetrieval.RunAsync(modalities, job.ContentAs<ModalityMoveParameters>(), get: true, progress, ct);
}

/// <summary>What a DicomMoveScu or DicomGetScu job retrieves (its Content, in Orthanc's names): one identifier per resource.</summary>
public sealed record ModalityMoveParameters
{
    public string Description { get; init; } = "Retrieve from modality";
    public required string RemoteModality { get; init; }
    public required ResourceLevel Level { get; init; }
    /// <summary>C-MOVE only: the AE the modality sends to; ours when absent.</summary>
    public string? TargetAet { get; init; }
    public required IReadOnlyList<Dictionary<string, string>> Query { get; init; }
}
