using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Export;
using OrthancWeb.Jobs;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>ZIP downloads: /{level}/{id}/archive and /media, /tools/create-archive and /create-media, /jobs/{id}/archive.</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("")]
public sealed class ExportController(ArchiveService archives, JobEngine jobs, ArchiveJob archiveJobs, IAuditTrail audit) : ControllerBase
{
    [HttpGet("{collection:regex(^(patients|studies|series|instances)$)}/{id}/{kind:regex(^(archive|media)$)}")]
    public async Task Download(string collection, string id, string kind, [FromQuery] string? filename, [FromQuery] string? transcode, CancellationToken ct)
    {
        await DownloadAsync(id, kind, filename, new ArchiveRequest { Transcode = transcode }.TranscodeTarget(), ct);
    }

    /// <summary>Orthanc's POST form of the same download: {"Transcode": "uid"} (Orthanc 1.9), or as a job with "Asynchronous".</summary>
    [HttpPost("{collection:regex(^(patients|studies|series|instances)$)}/{id}/{kind:regex(^(archive|media)$)}")]
    public async Task DownloadWithOptions(string collection, string id, string kind, [FromBody] ArchiveRequest request, CancellationToken ct)
    {
        var transcode = request.TranscodeTarget();
        if (request.Asynchronous)
        {
            var job = jobs.Submit(ArchiveJob.JobType, ArchiveJob.Content([id], kind == "media", transcode?.Uid), request.Priority, User.Identity?.Name);
            await new OkObjectResult(ApiJson.JobSubmitted(job)).ExecuteResultAsync(ControllerContext);
            return;
        }
        await DownloadAsync(id, kind, null, transcode, ct);
    }

    private async Task DownloadAsync(string id, string kind, string? filename, TransferSyntax? transcode, CancellationToken ct)
    {
        var media = kind == "media";
        var plan = await archives.PlanAsync([id], media, ct);
        if (plan is null)
        {
            await ApiJson.Error(HttpContext, 404, $"Unknown resource: {id}").ExecuteResultAsync(ControllerContext);
            return;
        }
        await StreamAsync(plan, media, filename ?? id + ".zip", ct, transcode);
    }

    /// <summary>Several resources in one ZIP: {"Resources": [...]} or a JSON array; "Asynchronous": true makes it a job.</summary>
    [HttpPost("tools/{kind:regex(^(create-archive|create-media)$)}")]
    public async Task CreateArchive(string kind, [FromBody] ArchiveRequest request, CancellationToken ct)
    {
        var media = kind == "create-media";
        var ids = request.Resources;
        var transcode = request.TranscodeTarget();
        if (ids.Count == 0) throw new DicomValidationException("\"Resources\" must list the resources to export");
        if (request.Asynchronous)
        {
            var job = jobs.Submit(ArchiveJob.JobType, ArchiveJob.Content(ids, media, transcode?.Uid), request.Priority, User.Identity?.Name);
            await new OkObjectResult(ApiJson.JobSubmitted(job)).ExecuteResultAsync(ControllerContext);
            return;
        }
        var plan = await archives.PlanAsync(ids, media, ct);
        if (plan is null)
        {
            await ApiJson.Error(HttpContext, 404, "Unknown resource in \"Resources\"").ExecuteResultAsync(ControllerContext);
            return;
        }
        await StreamAsync(plan, media, "archive.zip", ct, transcode);
    }

    /// <summary>The archive a job built: its owner's (or an administrator's) to download, until it expires.</summary>
    [HttpGet("jobs/{id}/archive")]
    public async Task<IActionResult> JobArchive(string id, CancellationToken ct)
    {
        // An unknown job and a job without an archive are one answer in orthanc 1.10.1: 404, "inexistent item" (code 7).
        if (jobs.Get(id, User) is not { Type: ArchiveJob.JobType } job)
            return ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.InexistentItem, "Job has no such output: archive"));
        if (job.State == JobState.Success && archiveJobs.IsExpired(job))
            return ApiJson.Error(HttpContext, 410, $"The archive of job {id} has expired (JobArchiveLifetime)");
        if (job.State != JobState.Success || !System.IO.File.Exists(archiveJobs.OutputPath(id)))
            return ApiJson.Error(HttpContext, 409, $"The archive of job {id} is not ready (state {job.State})");
        // The studies it holds, for the trail: resolved again (cheap, from the index) since the job keeps only its resources.
        var parameters = job.ContentAs<ArchiveParameters>();
        var plan = await archives.PlanAsync(parameters.ParentResources, parameters.IsMedia, ct);
        Record(AuditActions.Download, plan, AuditOutcome.Success, $"archive of job {id}", id);
        return PhysicalFile(archiveJobs.OutputPath(id), "application/zip", id + ".zip");
    }

    private async Task StreamAsync(ArchivePlan plan, bool media, string filename, CancellationToken ct, TransferSyntax? transcode = null)
    {
        Response.ContentType = "application/zip";
        Response.Headers.ContentDisposition = new System.Net.Mime.ContentDisposition { FileName = filename, DispositionType = "attachment" }.ToString();
        HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        // A DICOMDIR file-set is an export to media (PS3.15 A.5.3.6); a ZIP a download.
        var action = media ? AuditActions.Export : AuditActions.Download;
        try { await archives.WriteAsync(Response.Body, plan, media, progress: null, ct, transcode); }
        catch (Exception ex)
        {
            Record(action, plan, AuditOutcome.SeriousFailure, "interrupted: " + ex.Message, null);
            throw;
        }
        Record(action, plan, AuditOutcome.Success, media ? "DICOMDIR file-set" : "ZIP archive", null);
    }

    /// <summary>One audit entry per study of the archive (PatientID and StudyInstanceUID), or one if it holds none.</summary>
    private void Record(string action, ArchivePlan? plan, AuditOutcome outcome, string details, string? jobId)
    {
        var studies = plan?.Studies is { Count: > 0 } s ? s : [new ArchivedStudy("", "", 0)];
        foreach (var study in studies)
            audit.Record(new AuditEvent(action, outcome)
            {
                PatientId = study.PatientId.Length > 0 ? study.PatientId : null,
                StudyInstanceUid = study.StudyInstanceUid.Length > 0 ? study.StudyInstanceUid : null,
                ResourceLevel = jobId is null ? "Study" : "Job",
                ResourceId = jobId,
                Details = $"{details}; {study.Instances} instance(s)",
            });
    }
}
