using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Export;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>POST /instances/{id}/export (a stored file written to a path of the server) and Orthanc's export log, /exports.</summary>
[ApiController]
[Route("")]
public sealed class FileExportController(InstanceFileExport export) : ControllerBase
{
    /// <summary>
    /// The body is the path. As orthanc 1.10.1: off (RestApiWriteToFileSystemEnabled false) a 403 with an empty body
    /// whatever the instance; else 404 for an unknown instance, 500 "Cannot write to file" (code 14) when the file
    /// cannot be written, and <c>{}</c> once written.
    /// </summary>
    [HttpPost("instances/{id}/export")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Export(string id, CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body, Encoding.UTF8);
        var path = await reader.ReadToEndAsync(ct);
        switch (await export.WriteAsync(id, path, ct))
        {
            case FileExportOutcome.Disabled:
                Response.StatusCode = StatusCodes.Status403Forbidden;
                return new EmptyResult();
            case FileExportOutcome.UnknownInstance:
                return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
            default:
                return Ok(new JsonObject());
        }
    }

    /// <summary>
    /// Orthanc's log of resources sent to modalities and peers. Orthanc 1.10.1 keeps it only with LogExportedResources,
    /// false by default, and then answers it empty: so does this server, which keeps no such log (sends are jobs, and
    /// the audit trail records each one with who asked).
    /// </summary>
    [HttpGet("exports")]
    [Authorize(Policy = Policies.View)]
    public IActionResult List() => Ok(new JsonObject { ["Done"] = true, ["Exports"] = new JsonArray(), ["Last"] = 0 });

    /// <summary>Clears the export log: nothing to clear (see <see cref="List"/>), answered as orthanc answers, 200 and an empty body.</summary>
    [HttpDelete("exports")]
    [Authorize(Policy = Policies.Modify)]
    public IActionResult Clear() => Content("", "text/plain");
}
