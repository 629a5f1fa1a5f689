using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// POST /{level}/{id}/anonymize and /modify with Orthanc's request and response bodies. A bad body is a 400 with the
/// reason (from the request types and <see cref="ApiErrorFilter"/>); an instance answers with its transformed file
/// (not stored); a patient, study or series becomes a new resource, now or as a job.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("")]
public sealed class ModificationController(ModificationService modification, JobEngine jobs) : ControllerBase
{
    [HttpPost("{collection:regex(^(patients|studies|series|instances)$)}/{id}/anonymize")]
    public async Task<IActionResult> Anonymize(string collection, string id, [FromBody] AnonymizationRequest request, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var options = request.ToOptions();
        var transcode = request.TranscodeTarget();
        if (level == ResourceLevel.Instance)
            return Instance(id, await modification.AnonymizeInstanceAsync(id, options, ct, transcode));
        return await RunAsync(level, id, request, (progress, token) => modification.AnonymizeAsync(level, id, options, request.KeepSource, progress, token, transcode: transcode), ct);
    }

    [HttpPost("{collection:regex(^(patients|studies|series|instances)$)}/{id}/modify")]
    public async Task<IActionResult> Modify(string collection, string id, [FromBody] ModificationRequest request, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var options = request.ToOptions(level);
        var transcode = request.TranscodeTarget();
        if (level == ResourceLevel.Instance)
            return Instance(id, await modification.ModifyInstanceAsync(id, options, ct, transcode));
        return await RunAsync(level, id, request, (progress, token) => modification.ModifyAsync(level, id, options, request.KeepSource, progress, token, transcode: transcode), ct);
    }

    private IActionResult Instance(string id, byte[]? bytes) =>
        bytes is null ? ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}") : File(bytes, "application/dicom");

    /// <summary>Synchronously (Orthanc's default) or, with "Asynchronous": true, as a job answered with its ID.</summary>
    private async Task<IActionResult> RunAsync(ResourceLevel level, string id, ResourceChangeRequest request,
        Func<IProgress<(int Done, int Total)>, CancellationToken, Task<ModifiedResource?>> work, CancellationToken ct)
    {
        if (request.RunsAsJob)
        {
            var job = jobs.Submit(ResourceModificationJob.JobType, ResourceModificationJob.Content(level, id, request), request.Priority, User.Identity?.Name);
            return Ok(ApiJson.JobSubmitted(job));
        }
        try
        {
            var instances = 0;
            var result = await work(new ImmediateProgress<(int Done, int Total)>(p => instances = p.Total), ct);
            if (result is null) return ApiJson.Error(HttpContext, 404, $"Unknown {level.ToString().ToLowerInvariant()}: {id}");
            return Ok(ModificationResults.ToJson(result, request is AnonymizationRequest, instances));
        }
        catch (InvalidOperationException ex)
        {
            // The service's refusals of a resource as it is (no instance, a copy the index refused): the caller's to fix.
            return ApiJson.Error(HttpContext, 400, ex.Message);
        }
    }
}
