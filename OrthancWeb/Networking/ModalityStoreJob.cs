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

    public static JsonObject Content(string modality, IEnumerable<string> resources, bool storageCommitment = false) =>
        Job.ContentOf(new ModalityStoreParameters { RemoteModality = modality, ParentResources = resources.ToList(), StorageCommitment = storageCommitment });

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
        var result = await modalities.StoreAsync(m, todo, ct, parameters.StorageCommitment ? StorageCommitmentMode.RequestAndWait : StorageCommitmentMode.None);
        var json = new JsonObject
        {
            ["RemoteAet"] = m.AET,
            ["InstancesCount"] = sentBefore + result.InstancesCount,
            ["FailedInstancesCount"] = result.FailedInstancesCount,
            ["FailedInstances"] = new JsonArray(result.FailedInstances.Select(i => (JsonNode)i).ToArray()),
        };
        if (result.Commitment is { } commitment)
        {
            json["StorageCommitmentTransactionUID"] = commitment.Transaction.Uid; // Orthanc's name
            // Apart from the "StorageCommitment" switch of the content, which the job's JSON shows beside it.
            json["StorageCommitmentReport"] = CommitmentJson(commitment);
        }
        progress.Report(100.0 * (result.InstancesCount - result.FailedInstancesCount) / Math.Max(1, result.InstancesCount));
        if (result.FailedInstancesCount > 0)
            throw new JobItemsFailedException($"{result.FailedInstancesCount} of {result.InstancesCount} instances were refused by {m.AET}", json);
        if (result.Commitment is { Error: { } error })
            throw new JobItemsFailedException($"Storage commitment by {m.AET} not obtained: {error}", json);
        if (result.Commitment?.Report is { Failed.Count: > 0 } report)
            throw new JobItemsFailedException($"{report.Failed.Count} of {report.Failed.Count + report.Committed.Count} instances were not committed by {m.AET}", json);
        return json;
    }

    /// <summary>The commitment in the job's content: its status, how many instances were committed, and each failure with its reason (PS3.3 C.14.1.1).</summary>
    public static JsonObject CommitmentJson(StorageCommitmentOutcome outcome)
    {
        var report = outcome.Report;
        return new JsonObject
        {
            ["TransactionUID"] = outcome.Transaction.Uid,
            ["Status"] = outcome.Error is not null ? "Failure" : outcome.Transaction.Status.ToString(),
            ["CommittedInstancesCount"] = report?.Committed.Count ?? 0,
            ["FailedInstancesCount"] = report?.Failed.Count ?? 0,
            ["Failures"] = new JsonArray((report?.Failed ?? []).Select(f => (JsonNode)new JsonObject
            {
                ["SOPInstanceUID"] = f.SopInstanceUid, ["SOPClassUID"] = f.SopClassUid, ["FailureReason"] = f.Reason, ["Description"] = f.Description,
            }).ToArray()),
            ["Error"] = outcome.Error,
        };
    }
}

/// <summary>What a DicomModalityStore job sends, and where (its Content, in Orthanc's names).</summary>
public sealed record ModalityStoreParameters
{
    public string Description { get; init; } = "Send to modality";
    public required string RemoteModality { get; init; }
    public required IReadOnlyList<string> ParentResources { get; init; }
    /// <summary>Ask the modality to commit to the instances sent, and wait for its report (Orthanc's "StorageCommitment").</summary>
    public bool StorageCommitment { get; init; }
}
