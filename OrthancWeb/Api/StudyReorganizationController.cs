using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// POST /studies/{id}/merge and /split with Orthanc's bodies and answers: synchronously (the job's result) or, with
/// "Asynchronous": true or "Synchronous": false, as a MergeStudy / SplitStudy job answered with its ID. The request is
/// checked first either way, so a job is never submitted for resources that are unknown or in the wrong place.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("studies/{id}")]
public sealed class StudyReorganizationController(StudyReorganization studies, JobEngine jobs) : ControllerBase
{
    [HttpPost("merge")]
    public async Task<IActionResult> Merge(string id, [FromBody] MergeStudyRequest request, CancellationToken ct)
    {
        if (!request.RunsAsJob) return Ok((await studies.MergeAsync(id, request, new UidMap(), null, ct)).ToJson());
        await studies.CheckMergeAsync(id, request, ct);
        return Submitted(jobs.Submit(MergeStudyJob.JobType, MergeStudyJob.Content(id, request), request.Priority, User.Identity?.Name));
    }

    [HttpPost("split")]
    public async Task<IActionResult> Split(string id, [FromBody] SplitStudyRequest request, CancellationToken ct)
    {
        if (!request.RunsAsJob) return Ok((await studies.SplitAsync(id, request, new UidMap(), null, ct)).ToJson());
        await studies.CheckSplitAsync(id, request, ct);
        return Submitted(jobs.Submit(SplitStudyJob.JobType, SplitStudyJob.Content(id, request), request.Priority, User.Identity?.Name));
    }

    private OkObjectResult Submitted(Job job) => Ok(ApiJson.JobSubmitted(job));
}
