using System.Text.Json.Nodes;
using OrthancWeb.Jobs;

namespace OrthancWeb.DicomWeb.Client;

/// <summary>
/// STOW-RS of our resources to a DICOMweb server as a job (Orthanc's DICOMweb plugin calls it "DicomWebStowClient").
/// Instances the remote refused make the job fail (or wait for its retry) and are remembered: the next attempt sends
/// only those, as the DICOM send job does.
/// </summary>
public sealed class DicomWebStowJob(DicomWebClient client) : IJobHandler
{
    public const string JobType = "DicomWebStowClient";

    public string Type => JobType;

    public static JsonObject Content(string server, IEnumerable<string> resources) =>
        Job.ContentOf(new DicomWebStowParameters { Server = server, Resources = resources.ToList() });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<DicomWebStowParameters>();
        var todo = job.Result?["FailedInstances"] is JsonArray { Count: > 0 } failedBefore
            ? failedBefore.Select(n => n!.GetValue<string>()).ToList()
            : parameters.Resources;
        var sentBefore = job.Result?["InstancesCount"]?.GetValue<int>() - job.Result?["FailedInstancesCount"]?.GetValue<int>() ?? 0;
        var result = await client.StowAsync(parameters.Server, todo, progress, ct);
        var json = new JsonObject
        {
            ["Server"] = parameters.Server,
            ["InstancesCount"] = sentBefore + result.InstancesCount,
            ["FailedInstancesCount"] = result.FailedInstancesCount,
            ["FailedInstances"] = new JsonArray(result.FailedInstances.Select(i => (JsonNode)i).ToArray()),
        };
        if (result.FailedInstancesCount > 0)
            throw new JobItemsFailedException($"{result.FailedInstancesCount} of {result.InstancesCount} instances were refused by DICOMweb server {parameters.Server}: " +
                string.Join("; ", result.Failures.Take(3)), json);
        return json;
    }
}

/// <summary>What a DicomWebStowClient job sends, and where (its Content).</summary>
public sealed record DicomWebStowParameters
{
    public string Description { get; init; } = "Send to DICOMweb server";
    public required string Server { get; init; }
    public required IReadOnlyList<string> Resources { get; init; }
}

/// <summary>
/// WADO-RS retrieval of studies, series or instances from a DICOMweb server into our store, as a job. Resources
/// already brought in whole are skipped by a retry; one that failed part-way is asked for again (its instances that
/// arrived are "already stored" then, not stored twice).
/// </summary>
public sealed class DicomWebRetrieveJob(DicomWebClient client) : IJobHandler
{
    public const string JobType = "DicomWebRetrieveClient";

    public string Type => JobType;

    public static JsonObject Content(string server, IEnumerable<DicomWebResource> resources) =>
        Job.ContentOf(new DicomWebRetrieveParameters { Server = server, Resources = resources.ToList() });

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<DicomWebRetrieveParameters>();
        var result = job.Result?.DeepClone().AsObject() ?? [];
        var done = (result["Retrieved"] as JsonArray)?.Select(n => n!.GetValue<int>()).ToHashSet() ?? [];
        var studies = (result["Studies"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToHashSet() ?? [];
        var received = result["ReceivedInstancesCount"]?.GetValue<int>() ?? 0;
        var failures = new List<string>();
        for (var i = 0; i < parameters.Resources.Count; i++)
        {
            if (done.Contains(i)) continue;
            var r = await client.RetrieveAsync(parameters.Server, parameters.Resources[i], null, ct);
            received += r.Stored + r.AlreadyStored;
            studies.UnionWith(r.StudyIds);
            if (r.Failures.Count == 0) done.Add(i);
            else failures.AddRange(r.Failures.Select(f => $"{parameters.Resources[i].Path}: {f}"));
            progress.Report(100.0 * (i + 1) / parameters.Resources.Count);
            result["Retrieved"] = new JsonArray(done.Order().Select(d => (JsonNode)d).ToArray());
            result["Studies"] = new JsonArray(studies.Select(s => (JsonNode)s).ToArray());
            result["ReceivedInstancesCount"] = received;
        }
        result["Server"] = parameters.Server;
        result["Retrieved"] = new JsonArray(done.Order().Select(d => (JsonNode)d).ToArray());
        result["Studies"] = new JsonArray(studies.Select(s => (JsonNode)s).ToArray());
        result["ReceivedInstancesCount"] = received;
        if (failures.Count > 0)
            throw new JobItemsFailedException($"{failures.Count} part(s) from DICOMweb server {parameters.Server} were not stored: {string.Join("; ", failures.Take(3))}", result);
        return result;
    }
}

/// <summary>What a DicomWebRetrieveClient job brings in, and from where (its Content).</summary>
public sealed record DicomWebRetrieveParameters
{
    public string Description { get; init; } = "Retrieve from DICOMweb server";
    public required string Server { get; init; }
    public required IReadOnlyList<DicomWebResource> Resources { get; init; }
}
