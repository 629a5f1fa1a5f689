using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;
using OrthancWeb.Jobs;
using OrthancWeb.Requests;
using OrthancWeb.Security;

namespace OrthancWeb.Export;

/// <summary>
/// A large archive built in the background (Orthanc's "Archive" and "Media" jobs): written next to the job's own file
/// in the data folder, downloaded by its owner (or an administrator) from GET /jobs/{id}/archive, deleted with the job
/// or once <see cref="ExportOptions.JobArchiveLifetime"/> has passed (<see cref="ArchiveExpiry"/>).
/// </summary>
public sealed class ArchiveJob(ArchiveService archives, DataPaths paths, IOptionsMonitor<ExportOptions> options, TimeProvider time, IAuditTrail audit) : IJobHandler
{
    public const string JobType = "Archive";

    public string Type => JobType;

    /// <summary>An archive only reads what a viewer may already download.</summary>
    public string Policy => Policies.View;

    public static JsonObject Content(IEnumerable<string> resources, bool media, string? transcode = null) => Job.ContentOf(new ArchiveParameters
    {
        Description = media ? "DICOMDIR media" : "ZIP archive",
        IsMedia = media,
        ParentResources = resources.ToList(),
        Transcode = transcode,
    });

    public string OutputPath(string jobId) => Path.Combine(paths.Root, "jobs", jobId + ".zip");

    /// <summary>When a finished archive stops being downloadable; null while it runs, or when archives do not expire.</summary>
    public DateTime? ExpiresAt(Job job) =>
        options.CurrentValue.JobArchiveLifetime is > 0 and var minutes && job.CompletionTime is { } done ? done.AddMinutes(minutes) : null;

    public bool IsExpired(Job job) => ExpiresAt(job) is { } end && time.GetUtcNow().UtcDateTime >= end;

    public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
    {
        var parameters = job.ContentAs<ArchiveParameters>();
        var media = parameters.IsMedia;
        var plan = await archives.PlanAsync(parameters.ParentResources, media, ct) ?? throw new InvalidOperationException("A resource of the archive no longer exists");
        var path = OutputPath(job.Id);
        var temp = path + ".part";
        await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            await archives.WriteAsync(file, plan, media, progress, ct,
                parameters.Transcode is { } uid ? Dicom.Imaging.Transcoder.ParseTarget(uid) : null);
        File.Move(temp, path, overwrite: true);
        // One entry per study (PS3.15 A.5.3: each patient's data is its own participant), on behalf of the job's owner.
        using (AuditActor.Enter(new AuditActor(job.User, null, AuditSources.Server)))
            foreach (var study in plan.Studies)
                audit.Record(new AuditEvent(AuditActions.Archive, AuditOutcome.Success)
                {
                    PatientId = study.PatientId, StudyInstanceUid = study.StudyInstanceUid, ResourceLevel = "Job", ResourceId = job.Id,
                    Details = $"{study.Instances} instance(s) in {(media ? "a DICOMDIR file-set" : "a ZIP archive")}",
                });
        return new JsonObject
        {
            ["InstancesCount"] = plan.Entries.Count,
            ["UncompressedSizeMB"] = plan.TotalSize / (1024 * 1024),
            ["ArchiveSize"] = new FileInfo(path).Length,
        };
    }
}

/// <summary>What an Archive job puts in its ZIP (its Content, in Orthanc's names).</summary>
public sealed record ArchiveParameters
{
    public string Description { get; init; } = "ZIP archive";
    /// <summary>A DICOMDIR file-set rather than a plain ZIP.</summary>
    public bool IsMedia { get; init; }
    public required IReadOnlyList<string> ParentResources { get; init; }
    /// <summary>The transfer syntax every file is written in (Orthanc's "Transcode"); null keeps each as stored.</summary>
    public string? Transcode { get; init; }
}

/// <summary>POST /tools/create-archive and /create-media: {"Resources": [...], "Asynchronous": true}, or a JSON array of IDs.</summary>
public sealed record ArchiveRequest : IShorthandBody<ArchiveRequest>
{
    public IReadOnlyList<string> Resources { get; init; } = [];
    /// <summary>Build it as a job, downloaded from GET /jobs/{id}/archive when done.</summary>
    public bool Asynchronous { get; init; }
    public int Priority { get; init; }
    /// <summary>A transfer syntax UID every file is written in (Orthanc 1.9's "Transcode").</summary>
    public string? Transcode { get; init; }

    /// <summary>The syntax <see cref="Transcode"/> names, or a 400 naming what is wrong with it.</summary>
    public Dicom.IO.TransferSyntax? TranscodeTarget()
    {
        if (Transcode is null) return null;
        try
        {
            return Dicom.Imaging.Transcoder.ParseTarget(Transcode);
        }
        catch (Dicom.Imaging.ImagingException ex)
        {
            throw new Dicom.DicomValidationException($"Transcode: {ex.Message}", ex);
        }
    }

    public static JsonObject? Expand(JsonNode shorthand) =>
        shorthand is JsonArray ids ? new JsonObject { [nameof(Resources)] = ids.DeepClone() } : null;
}
