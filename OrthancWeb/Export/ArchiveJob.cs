using System.Text.Json.Nodes;
using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.Export;

/// <summary>
/// A large archive built in the background (Orthanc's "Archive" and "Media" jobs): written next to the job's own file
/// in the data folder, downloaded from GET /jobs/{id}/archive, deleted with the job.
/// </summary>
public sealed class ArchiveJob(ArchiveService archives, DataPaths paths) : IJobHandler
{
    public const string JobType = "Archive";

    public string Type => JobType;

    public static JsonObject Content(IEnumerable<string> resources, bool media) => new()
    {
        ["Description"] = media ? "DICOMDIR media" : "ZIP archive",
        ["IsMedia"] = media,
        ["ParentResources"] = new JsonArray(resources.Select(r => (JsonNode)r).ToArray()),
    };

    public string OutputPath(string jobId) => Path.Combine(paths.Root, "jobs", jobId + ".zip");

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var media = job.Content["IsMedia"]?.GetValue<bool>() == true;
        var resources = job.Content["ParentResources"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        var plan = await archives.PlanAsync(resources, media, ct) ?? throw new InvalidOperationException("A resource of the archive no longer exists");
        var path = OutputPath(job.Id);
        var temp = path + ".part";
        await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            await archives.WriteAsync(file, plan, media, progress, ct);
        File.Move(temp, path, overwrite: true);
        return new JsonObject
        {
            ["InstancesCount"] = plan.Entries.Count,
            ["UncompressedSizeMB"] = plan.TotalSize / (1024 * 1024),
            ["ArchiveSize"] = new FileInfo(path).Length,
        };
    }
}
