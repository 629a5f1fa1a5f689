using System.Text.Json;
using System.Text.Json.Nodes;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Requests;

namespace OrthancWeb.Modification;

/// <summary>Anonymization or modification of a patient, study or series as a job (Orthanc's "ResourceModification").</summary>
public sealed class ResourceModificationJob(ModificationService modification, BulkModification bulk, PseudonymKeys keys) : IJobHandler
{
    public const string JobType = "ResourceModification";

    public string Type => JobType;

    public static JsonObject Content(ResourceLevel level, string id, ResourceChangeRequest request) => Job.ContentOf(new ResourceModificationParameters
    {
        Description = request is AnonymizationRequest ? "Anonymization" : "Modification",
        IsAnonymization = request is AnonymizationRequest,
        Level = level,
        ParentResources = [id],
        // Its own type's fields, not only those of the base type.
        Request = JsonSerializer.SerializeToNode(request, request.GetType(), RequestJson.Options)!.AsObject(),
    });

    /// <summary>/tools/bulk-modify and bulk-anonymize: one job of the same type over every resource listed, as Orthanc.</summary>
    public static JsonObject BulkContent(ResourceChangeRequest request, IReadOnlyList<string> resources, ResourceLevel level) => Job.ContentOf(new ResourceModificationParameters
    {
        Description = request is AnonymizationRequest ? "Anonymization" : "Modification",
        IsAnonymization = request is AnonymizationRequest,
        IsBulk = true,
        Level = level,
        ParentResources = resources,
        Request = JsonSerializer.SerializeToNode(request, request.GetType(), RequestJson.Options)!.AsObject(),
    });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<ResourceModificationParameters>();
        if (parameters.IsBulk) return await RunBulkAsync(job, parameters, progress, ct);
        var (level, id) = (parameters.Level, parameters.ParentResources[0]);
        var instances = 0;
        var steps = new ImmediateProgress<(int Done, int Total)>(p => { instances = p.Total; progress.Report(100.0 * p.Done / Math.Max(1, p.Total)); });
        // Keyed by the job: a resumed or retried run gives the same UIDs, so what the interrupted run stored is
        // found "already stored" rather than copied a second time under other UIDs.
        var uids = new OrthancWeb.Dicom.Anonymization.UidMap(await keys.KeyForAsync("job:" + job.Id, ct));
        ModifiedResource? result;
        if (parameters.IsAnonymization)
        {
            var request = parameters.Request.Deserialize<AnonymizationRequest>(RequestJson.Options)!;
            result = await modification.AnonymizeAsync(level, id, request.ToOptions(), request.KeepSource, steps, ct, uids, request.TranscodeTarget());
        }
        else
        {
            var request = parameters.Request.Deserialize<ModificationRequest>(RequestJson.Options)!;
            result = await modification.ModifyAsync(level, id, request.ToOptions(level), request.KeepSource, steps, ct, uids, request.TranscodeTarget());
        }
        if (result is null) throw new InvalidOperationException($"Unknown {level.ToString().ToLowerInvariant()}: {id}");
        return ModificationResults.ToJson(result, parameters.IsAnonymization, instances);
    }

    private async Task<JsonObject> RunBulkAsync(Job job, ResourceModificationParameters parameters, IProgress<double> progress, CancellationToken ct)
    {
        var steps = new ImmediateProgress<(int Done, int Total)>(p => progress.Report(100.0 * p.Done / Math.Max(1, p.Total)));
        var uids = new OrthancWeb.Dicom.Anonymization.UidMap(await keys.KeyForAsync("job:" + job.Id, ct));
        var result = parameters.IsAnonymization
            ? await bulk.AnonymizeAsync(parameters.Request.Deserialize<BulkAnonymizationRequest>(RequestJson.Options)!, uids, steps, ct)
            : await bulk.ModifyAsync(parameters.Request.Deserialize<BulkModificationRequest>(RequestJson.Options)!, uids, steps, ct);
        return result.ToJson();
    }
}

/// <summary>What a ResourceModification job changes (its Content, in Orthanc's names): the request as it was posted.</summary>
public sealed record ResourceModificationParameters
{
    public string Description { get; init; } = "Modification";
    public bool IsAnonymization { get; init; }
    /// <summary>A /tools/bulk-... request: <see cref="Request"/> names its resources itself.</summary>
    public bool IsBulk { get; init; }
    public required ResourceLevel Level { get; init; }
    public required IReadOnlyList<string> ParentResources { get; init; }
    /// <summary>An <see cref="AnonymizationRequest"/> or a <see cref="ModificationRequest"/> (their bulk forms if <see cref="IsBulk"/>), as <see cref="IsAnonymization"/> says.</summary>
    public JsonObject Request { get; init; } = [];
}
