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

    public static JsonObject Content(string modality, ResourceLevel level, IEnumerable<DicomDataset> identifiers, string? targetAet) => new()
    {
        ["Description"] = "Retrieve from modality",
        ["RemoteModality"] = modality,
        ["Level"] = level.ToString(),
        ["TargetAet"] = targetAet,
        ["Query"] = new JsonArray(identifiers.Select(ds =>
        {
            var o = new JsonObject();
            foreach (var item in ds) o[item.Tag.ToOrthancKey()] = ds.GetString(item.Tag);
            return (JsonNode)o;
        }).ToArray()),
    };

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var name = job.Content["RemoteModality"]!.GetValue<string>();
        var m = modalities.Find(name) ?? throw new UnknownModalityException(name);
        ResourceLevelExtensions.TryParse(job.Content["Level"]!.GetValue<string>(), out var level);
        var identifiers = job.Content["Query"]!.AsArray().Select(q =>
        {
            var ds = new DicomDataset();
            foreach (var (key, value) in q!.AsObject()) ds.Add(DicomTag.Parse(key), value?.GetValue<string>() ?? "");
            return ds;
        }).ToList();
        var last = await modalities.MoveAsync(m, level, identifiers, job.Content["TargetAet"]?.GetValue<string>(), ct);
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
