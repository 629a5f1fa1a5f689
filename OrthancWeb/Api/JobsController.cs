using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Jobs;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// /jobs, /jobs/{id} and their actions, in Orthanc's shapes; a user sees and acts on their own jobs, administrators on
/// all. With a shared index, the other servers' jobs too (<see cref="JobsView"/>).
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("jobs")]
public sealed class JobsController(JobEngine jobs, JobsView view) : ControllerBase
{
    [HttpGet("")]
    public async Task<IActionResult> List(CancellationToken ct)
    {
        var list = await view.ListAsync(User, ct);
        return Ok(Request.Query.ContainsKey("expand")
            ? new JsonArray(list.Select(j => (JsonNode)jobs.ToJson(j)).ToArray())
            : new JsonArray(list.Select(j => (JsonNode)j.Id).ToArray()));
    }

    [HttpGet("{id}")]
    public async Task<IActionResult> Get(string id, CancellationToken ct) =>
        await view.GetAsync(id, User, ct) is { } found ? Ok(jobs.ToJson(found.Job)) : ApiJson.Error(HttpContext, 404, $"Unknown job: {id}");

    /// <summary>
    /// Orthanc 1.12: a completed job leaves the history (200, an empty text body); an unknown job, someone else's, or
    /// one still pending or running (to be canceled first) is orthanc's 404, code 7 "Inexistent item".
    /// </summary>
    [HttpDelete("{id}")]
    [Authorize(Policy = Policies.Modify)]
    public IActionResult Delete(string id) =>
        jobs.Get(id, User) is not null && jobs.Delete(id)
            ? Content("", "text/plain")
            : ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.InexistentItem, $"No job found with this id, or the job is not completed: {id}"));

    /// <summary>
    /// A job's output by name (Orthanc's /jobs/{id}/{key}): our jobs have one, the archive of an archive or media job
    /// (ExportController's jobs/{id}/archive, the more specific route); any other name is orthanc's 404, code 7.
    /// </summary>
    [HttpGet("{id}/{output}")]
    public IActionResult Output(string id, string output) =>
        ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.InexistentItem, $"Job has no such output: {output}"));

    [HttpPost("{id}/{operation:regex(^(cancel|pause|resume|resubmit)$)}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Act(string id, string operation, CancellationToken ct)
    {
        // Someone else's job is as unknown to a user as a job that never was.
        if (await view.ActAsync(id, operation, User, ct) is not { } acted) return ApiJson.Error(HttpContext, 404, $"Unknown job: {id}");
        var (outcome, job, owner) = acted;
        return outcome switch
        {
            JobRequestOutcome.Left => Ok(new JsonObject()),
            // Only its owner can act on it, and it is not running: 503, as for the index out of reach; try again later.
            JobRequestOutcome.OwnerAway => ApiJson.Error(HttpContext, 503,
                $"Job {id} belongs to server {owner}, which is not running (or this server cannot tell now): only it can {operation} the job"),
            _ => ApiJson.Error(HttpContext, 400, $"Cannot {operation} job {id} in state {job.State}"),
        };
    }
}
