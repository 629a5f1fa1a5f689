using System.Text.Json.Nodes;
using OrthancWeb.Index;
using OrthancWeb.Jobs;

namespace OrthancWeb.Modification;

/// <summary>Anonymization or modification of a patient, study or series as a job (Orthanc's "ResourceModification").</summary>
public sealed class ResourceModificationJob(ModificationService modification, PseudonymKeys keys) : IJobHandler
{
    public const string JobType = "ResourceModification";

    public string Type => JobType;

    public static JsonObject Content(ResourceLevel level, string id, bool anonymize, JsonObject request) => new()
    {
        ["Description"] = anonymize ? "Anonymization" : "Modification",
        ["IsAnonymization"] = anonymize,
        ["Level"] = level.ToString(),
        ["ParentResources"] = new JsonArray(id),
        ["Request"] = request.DeepClone(),
    };

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var c = job.Content;
        ResourceLevelExtensions.TryParse(c["Level"]!.GetValue<string>(), out var level);
        var id = c["ParentResources"]![0]!.GetValue<string>();
        var request = c["Request"]!.AsObject();
        var keepSource = ModificationRequests.Bool(request, "KeepSource", true);
        var steps = new ImmediateProgress<(int Done, int Total)>(p => progress.Report(100.0 * p.Done / Math.Max(1, p.Total)));
        // Keyed by the job: a resumed or retried run gives the same UIDs, so what the interrupted run stored is
        // found "already stored" rather than copied a second time under other UIDs.
        var uids = new OrthancWeb.Dicom.Anonymization.UidMap(await keys.KeyForAsync("job:" + job.Id, ct));
        var result = c["IsAnonymization"]!.GetValue<bool>()
            ? await modification.AnonymizeAsync(level, id, ModificationRequests.Anonymization(request), keepSource, steps, ct, uids)
            : await modification.ModifyAsync(level, id, ModificationRequests.Modification(request, level), keepSource, steps, ct, uids);
        if (result is null) throw new InvalidOperationException($"Unknown {level.ToString().ToLowerInvariant()}: {id}");
        return ModificationRequests.ToJson(result);
    }
}
