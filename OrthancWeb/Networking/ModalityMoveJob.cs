using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Dimse;
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
            Query = identifiers.Select(ds => ds.ToDictionary(item => item.Tag.ToOrthancKey(), item => ds.GetString(item.Tag) ?? "")).ToList(),
        });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<ModalityMoveParameters>();
        var m = modalities.Find(parameters.RemoteModality) ?? throw new UnknownModalityException(parameters.RemoteModality);
        var identifiers = parameters.Query.Select(q =>
        {
            var ds = new DicomDataset();
            foreach (var (key, value) in q) ds.Add(DicomTag.Parse(key), value ?? ""); // null in jobs saved before typed parameters
            return ds;
        }).ToList();
        var last = await modalities.MoveAsync(m, parameters.Level, identifiers, parameters.TargetAet, ct);
        var result = new JsonObject
        {
            ["RemoteAet"] = m.AET,
            ["Status"] = $"0x{last.Status:X4}",
            ["CompletedSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfCompletedSuboperations, 0, 0),
            ["FailedSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfFailedSuboperations, 0, 0),
            ["WarningSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfWarningSuboperations, 0, 0),
        };
        if (DimseStatus.IsFailure(last.Status))
            throw new JobItemsFailedException($"C-MOVE failed with status 0x{last.Status:X4}: {last.Command.GetString(DicomTags.ErrorComment)}", result);
        return result;
    }
}

/// <summary>What a DicomMoveScu job retrieves (its Content, in Orthanc's names): one identifier per resource.</summary>
public sealed record ModalityMoveParameters
{
    public string Description { get; init; } = "Retrieve from modality";
    public required string RemoteModality { get; init; }
    public required ResourceLevel Level { get; init; }
    public string? TargetAet { get; init; }
    public required IReadOnlyList<Dictionary<string, string>> Query { get; init; }
}
