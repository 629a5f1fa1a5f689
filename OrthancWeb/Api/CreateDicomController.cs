using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Ingest;
using OrthancWeb.Modification;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>POST /tools/create-dicom: a new instance from tags, a PDF or a picture, answered as an upload is.</summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("")]
public sealed class CreateDicomController(DicomCreation creation, UploadService uploads) : ControllerBase
{
    [HttpPost("tools/create-dicom")]
    [RequestSizeLimit(512L * 1024 * 1024)]
    public async Task<IActionResult> Create([FromBody] JsonObject body, CancellationToken ct)
    {
        var result = await creation.CreateAsync(CreateDicomRequest.From(body), new IngestSource(IngestOrigin.RestApi, HttpContext.Connection.RemoteIpAddress?.ToString()), ct);
        uploads.Record(result, "created by /tools/create-dicom");
        return result.Status switch
        {
            IngestStatus.Success or IngestStatus.AlreadyStored => Ok(ApiJson.Ingest(result)),
            IngestStatus.StorageFull => ApiJson.Error(HttpContext, 507, result.Reason ?? "Storage full"),
            _ => ApiJson.Error(HttpContext, 400, result.Reason ?? "Invalid DICOM data set"),
        };
    }
}
