using System.Text.Json.Nodes;
using OrthancWeb.Jobs;

namespace OrthancWeb.Networking;

/// <summary>
/// C-STORE of resources to a configured modality as a job (Orthanc's "DicomModalityStore"). When some instances fail,
/// the job fails (or waits for its next retry) and remembers them: the next attempt sends only those.
/// </summary>
public sealed class ModalityStoreJob(ModalityClient modalities) : IJobHandler
{
    public const string JobType = "DicomModalityStore";

    public string Type => JobType;

    public static JsonObject Content(string modality, IEnumerable<string> resources) =>
        Job.ContentOf(new ModalityStoreParameters { RemoteModality = modality, ParentResources = resources.ToList() });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<ModalityStoreParameters>();
        var m = modalities.Find(parameters.RemoteModality) ?? throw new UnknownModalityException(parameters.RemoteModality);
        var all = parameters.ParentResources;
        // A previous attempt that failed part-way names what is left to send.
        var todo = job.Result?["FailedInstances"] is JsonArray failedBefore && failedBefore.Count > 0
            ? failedBefore.Select(n => n!.GetValue<string>()).ToList()
            : all;
        var sentBefore = job.Result?["InstancesCount"]?.GetValue<int>() - job.Result?["FailedInstancesCount"]?.GetValue<int>() ?? 0;
        var result = await modalities.StoreAsync(m, todo, ct);
        var json = new JsonObject
        {
            ["RemoteAet"] = m.AET,
            ["InstancesCount"] = sentBefore + result.InstancesCount,
            ["FailedInstancesCount"] = result.FailedInstancesCount,
            ["FailedInstances"] = new JsonArray(result.FailedInstances.Select(i => (JsonNode)i).ToArray()),
        };
        progress.Report(100.0 * (result.InstancesCount - result.FailedInstancesCount) / Math.Max(1, result.InstancesCount));
        if (result.FailedInstancesCount > 0)
            throw new JobItemsFailedException($"{result.FailedInstancesCount} of {result.InstancesCount} instances were refused by {m.AET}", json);
        return json;
    }
}

/// <summary>What a DicomModalityStore job sends, and where (its Content, in Orthanc's names).</summary>
public sealed record ModalityStoreParameters
{
    public string Description { get; init; } = "Send to modality";
    public required string RemoteModality { get; init; }
    public required IReadOnlyList<string> ParentResources { get; init; }
}
