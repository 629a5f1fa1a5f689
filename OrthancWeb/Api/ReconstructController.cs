using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// POST /{level}/{id}/reconstruct and /tools/reconstruct: the index's rows read again from the stored files (see
/// <see cref="IndexReconstruction"/>). As orthanc 1.10.1 answers: 200 with an empty body once done, any request body
/// ignored (orthanc 1.11's "ReconstructFiles" is not one of 1.10's options), 404 for an unknown resource.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("")]
public sealed class ReconstructController(IndexReconstruction reconstruction, IAuditTrail audit) : ControllerBase
{
    [HttpPost("{collection:regex(^(patients|studies|series|instances)$)}/{id}/reconstruct")]
    public async Task<IActionResult> Reconstruct(string collection, string id, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (!await reconstruction.ReconstructAsync(id, level, ct))
            return ApiJson.Error(HttpContext, 404, $"Unknown {level.ToString().ToLowerInvariant()}: {id}");
        audit.Record(new AuditEvent(AuditActions.Modify, AuditOutcome.Success) { ResourceLevel = level.ToString(), ResourceId = id, Details = "reconstructed from its files" });
        return Content("", "text/plain");
    }

    [HttpPost("tools/reconstruct")]
    public async Task<IActionResult> ReconstructAll(CancellationToken ct)
    {
        await reconstruction.ReconstructAllAsync(ct);
        audit.Record(new AuditEvent(AuditActions.Modify, AuditOutcome.Success) { Details = "every study reconstructed from its files" });
        return Content("", "text/plain");
    }
}
