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

    public static JsonObject Content(string modality, IEnumerable<string> resources) => new()
    {
        ["Description"] = "Send to modality",
        ["RemoteModality"] = modality,
        ["ParentResources"] = new JsonArray(resources.Select(r => (JsonNode)r).ToArray()),
    };

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var name = job.Content["RemoteModality"]!.GetValue<string>();
        var m = modalities.Find(name) ?? throw new UnknownModalityException(name);
        var all = job.Content["ParentResources"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
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
