using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Ingest;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>One file of a browser upload, as the upload page reports it.</summary>
/// <param name="Name">The file's path in what was dropped or chosen (a ZIP entry: "archive.zip/entry").</param>
/// <param name="Status">Success, AlreadyStored, Invalid, StorageFull or Skipped.</param>
/// <param name="Reason">Why it was skipped or refused.</param>
/// <param name="Id">The instance's public ID once stored.</param>
public sealed record BrowserUploadOutcome(string Name, string Status, string? Reason, string? Id);

/// <summary>
/// The upload page's files, sent by the browser straight over HTTP, several at a time (wwwroot/upload.js), rather than
/// through the Blazor circuit, which carried 5 MB/s. Each file takes the one upload path (<see cref="UploadService"/>),
/// so it is durable and indexed before its answer, exactly as POST /instances. A file's own failure (not DICOM,
/// invalid, storage full) is its outcome in a 200 answer, so the page can list it and go on; only a request the
/// server could not handle at all is an error status, which the page retries.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("ui/upload/file")]
public sealed class BrowserUploadController(UploadService uploads) : ControllerBase
{
    [HttpPost]
    [DisableRequestSizeLimit]
    public async Task<ActionResult<IReadOnlyList<BrowserUploadOutcome>>> Upload([FromQuery] string? name, CancellationToken ct)
    {
        name = string.IsNullOrWhiteSpace(name) ? "upload" : name;
        var source = new IngestSource(IngestOrigin.WebUI, HttpContext.Connection.RemoteIpAddress?.ToString());
        // The browser's request is the page's doing: recorded as the UI's, with the signed-in user and address.
        using var actor = AuditActor.Enter((AuditActor.Current ?? new AuditActor(User.Identity?.Name, source.RemoteIp, AuditSources.Ui)) with { Source = AuditSources.Ui });
        try
        {
            var outcomes = await uploads.StoreUploadAsync(name, Request.Body, source, ct);
            return Ok(outcomes.Select(o => new BrowserUploadOutcome(o.Name, o.Status, o.Reason, o.Result?.InstanceId)).ToList());
        }
        catch (ZipLimitException ex)
        {
            return Ok(new[] { new BrowserUploadOutcome(name, nameof(IngestStatus.Invalid), ex.Message, null) });
        }
        catch (InvalidDataException ex)
        {
            return Ok(new[] { new BrowserUploadOutcome(name, nameof(IngestStatus.Invalid), "Corrupt ZIP archive: " + ex.Message, null) });
        }
    }
}
