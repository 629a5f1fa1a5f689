using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Annotations;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// /{level}/{id}/metadata, /attachments and /labels, and /tools/labels: Orthanc's routes, with its revisions (ETag on
/// reads, If-Match on writes, required for changes when CheckRevisions is on) and its statuses as 1.10.1 answers them.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("{collection:regex(^(patients|studies|series|instances)$)}/{id}")]
public sealed class AnnotationsController(MetadataService metadata, AttachmentService attachments, LabelService labels, AnnotationCatalog catalog, IAuditTrail audit) : ControllerBase
{
    private ObjectResult UnknownResource(ResourceLevel level, string id) =>
        ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.UnknownResource, $"Unknown {level.ToString().ToLowerInvariant()}: {id}"));

    private ObjectResult InexistentItem(string what) => ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.InexistentItem, what));

    /// <summary>The If-Match of the request: absent (null), or its revision; false when it is not Orthanc's "revision-md5".</summary>
    private bool TryIfMatch(out Revision? revision, out IActionResult? refusal)
    {
        (revision, refusal) = (null, null);
        var header = Request.Headers.IfMatch.ToString();
        if (header.Length == 0) return true;
        if (Revision.TryParse(header, out var parsed)) { revision = parsed; return true; }
        refusal = ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange,
            $"The \"if-match\" HTTP header should contain the ETag (revision followed by MD5 hash), but found: {header}"));
        return false;
    }

    /// <summary>A write's outcome as Orthanc answers it (the success body is the caller's).</summary>
    private IActionResult Answer(AnnotationWrite outcome, ResourceLevel level, string id, string name, Func<IActionResult> success)
    {
        switch (outcome.Status)
        {
            case AnnotationWriteStatus.Done:
                if (outcome.Revision is { } revision) Response.Headers.ETag = revision.ETag;
                return success();
            case AnnotationWriteStatus.UnknownResource: return UnknownResource(level, id);
            case AnnotationWriteStatus.Missing: return UnknownResourceItem(name);
            case AnnotationWriteStatus.RevisionMissing:
                return ApiJson.Error(HttpContext, new ApiError(409, OrthancErrorCode.Revision, "HTTP header \"If-Match\" is missing, as \"CheckRevisions\" is \"true\""));
            default:
                return ApiJson.Error(HttpContext, new ApiError(409, OrthancErrorCode.Revision, $"{name} was changed since the revision named in If-Match"));
        }
    }

    private ObjectResult UnknownResourceItem(string name) => ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.UnknownResource, $"No {name} on this resource"));

    // ---- Metadata ------------------------------------------------------------------------------------------------

    /// <summary>The names of the metadata; ?expand with their values, ?numeric keyed by Orthanc's numbers.</summary>
    [HttpGet("metadata")]
    public async Task<IActionResult> ListMetadata(string collection, string id, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var items = await metadata.ListAsync(id, level, ct);
        if (items is null) return UnknownResource(level, id);
        var numeric = Request.Query.ContainsKey("numeric");
        string Key(MetadataItem i) => numeric && i.Number >= 0 ? i.Number.ToString(CultureInfo.InvariantCulture) : i.Name;
        if (!Request.Query.ContainsKey("expand"))
            return Ok(new JsonArray(items.Select(i => (JsonNode)Key(i)).ToArray()));
        var o = new JsonObject();
        foreach (var i in items) o[Key(i)] = i.Value;
        return Ok(o);
    }

    [HttpGet("metadata/{name}")]
    public async Task<IActionResult> GetMetadata(string collection, string id, string name, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var key = catalog.Metadata(name);
        var items = await metadata.ListAsync(id, level, ct);
        // A name of neither Orthanc nor the configuration may still be one this server records itself (DicomWebServer).
        var item = items?.FirstOrDefault(i => key is null ? i.Name == name : i.Number == key.Number);
        if (key is null && item is null) return InexistentItem($"Unknown metadata: {name}");
        if (items is null) return UnknownResource(level, id);
        // Orthanc answers a known metadata that the resource lacks with a bare 404.
        if (item is null) return StatusCode(404);
        Response.Headers.ETag = item.Etag.ETag;
        return Content(item.Value, "text/plain");
    }

    [HttpPut("metadata/{name}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> PutMetadata(string collection, string id, string name, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (catalog.Metadata(name) is not { } key) return InexistentItem($"Unknown metadata: {name}");
        if (!key.IsUser) return StatusCode(403); // Orthanc's own metadata: a bare 403, as 1.10.1
        if (!TryIfMatch(out var ifMatch, out var refusal)) return refusal!;
        using var reader = new StreamReader(Request.Body);
        var value = await reader.ReadToEndAsync(ct);
        var outcome = await metadata.SetAsync(id, level, key, value, ifMatch, ct);
        return Answer(outcome, level, id, key.DisplayName, () => Content("", "text/plain"));
    }

    [HttpDelete("metadata/{name}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> DeleteMetadata(string collection, string id, string name, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (catalog.Metadata(name) is not { } key) return InexistentItem($"Unknown metadata: {name}");
        if (!key.IsUser) return StatusCode(403);
        if (!TryIfMatch(out var ifMatch, out var refusal)) return refusal!;
        var outcome = await metadata.DeleteAsync(id, level, key, ifMatch, ct);
        return Answer(outcome, level, id, key.DisplayName, () => Content("", "text/plain"));
    }

    // ---- Attachments ---------------------------------------------------------------------------------------------

    /// <summary>The names of the attachments; ?full maps each to its content type number.</summary>
    [HttpGet("attachments")]
    public async Task<IActionResult> ListAttachments(string collection, string id, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var types = await attachments.ListAsync(id, level, ct);
        if (types is null) return UnknownResource(level, id);
        if (!Request.Query.ContainsKey("full"))
            return Ok(new JsonArray(types.Select(t => (JsonNode)catalog.ContentTypeName(t)).ToArray()));
        var o = new JsonObject();
        foreach (var t in types) o[catalog.ContentTypeName(t)] = t;
        return Ok(o);
    }

    private static readonly string[] Fields =
        ["compress", "compressed-data", "compressed-md5", "compressed-size", "data", "info", "is-compressed", "md5", "size", "uncompress", "verify-md5", "uuid"];

    [HttpGet("attachments/{name}")]
    public Task<IActionResult> GetAttachment(string collection, string id, string name, CancellationToken ct) =>
        WithAttachmentAsync(collection, id, name, a => Ok(new JsonArray(Fields.Select(f => (JsonNode)f).ToArray())), ct);

    [HttpGet("attachments/{name}/{field}")]
    public Task<IActionResult> GetAttachmentField(string collection, string id, string name, string field, CancellationToken ct) =>
        WithAttachmentAsync(collection, id, name, a =>
        {
            var text = (string value) => Content(value, "text/plain");
            if (field is "data" or "compressed-data")
                audit.Record(new AuditEvent(AuditActions.Download, AuditOutcome.Success)
                {
                    ResourceLevel = ResourceLevelExtensions.Parse(collection).ToString(), ResourceId = id, Details = $"attachment {name} {field}",
                });
            return field switch
            {
                "info" => Ok(new JsonObject
                {
                    ["CompressedMD5"] = a.CompressedMd5, ["CompressedSize"] = a.CompressedSize, ["ContentType"] = a.ContentType,
                    ["UncompressedMD5"] = a.Md5, ["UncompressedSize"] = a.UncompressedSize, ["Uuid"] = a.Uuid,
                }),
                "size" => text(a.UncompressedSize.ToString(CultureInfo.InvariantCulture)),
                "compressed-size" => text(a.CompressedSize.ToString(CultureInfo.InvariantCulture)),
                "md5" => text(a.Md5),
                "compressed-md5" => text(a.CompressedMd5),
                "is-compressed" => text(a.Compressed ? "1" : "0"),
                "uuid" => text(a.Uuid),
                "data" => DataOf(a),
                "compressed-data" => File(attachments.OpenStored(a), "application/octet-stream", enableRangeProcessing: true),
                _ => ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.UnknownResource, $"Unknown attachment field {field}")),
            };
        }, ct);

    /// <summary>The data, served with HTTP Range (RFC 9110 14) from the file when it is stored uncompressed, else inflated first.</summary>
    private FileStreamResult DataOf(AttachmentRecord a)
    {
        Response.Headers.ContentDisposition = $"filename=\"{a.Uuid}\"";
        var mime = catalog.MimeType(a.ContentType);
        if (!a.Compressed) return File(attachments.OpenData(a), mime, enableRangeProcessing: true);
        var inflated = new MemoryStream();
        using (var data = attachments.OpenData(a)) data.CopyTo(inflated);
        inflated.Position = 0;
        return File(inflated, mime, enableRangeProcessing: true);
    }

    private async Task<IActionResult> WithAttachmentAsync(string collection, string id, string name, Func<AttachmentRecord, IActionResult> answer, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (catalog.ContentType(name) is not { } key) return InexistentItem($"Unknown attachment: {name}");
        var (found, a) = await attachments.GetAsync(id, level, key.Number, ct);
        if (!found) return UnknownResource(level, id);
        if (a is null) return UnknownResourceItem(name);
        Response.Headers.ETag = a.Etag.ETag;
        return answer(a);
    }

    [HttpPut("attachments/{name}")]
    [Authorize(Policy = Policies.Modify)]
    [DisableRequestSizeLimit]
    public async Task<IActionResult> PutAttachment(string collection, string id, string name, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (catalog.ContentType(name) is not { } key) return InexistentItem($"Unknown attachment: {name}");
        if (!key.IsUser) return StatusCode(403);
        if (!TryIfMatch(out var ifMatch, out var refusal)) return refusal!;
        var outcome = await attachments.SetAsync(id, level, key, Request.Body, ifMatch, ct);
        return Answer(outcome, level, id, key.DisplayName, () => Ok(new JsonObject()));
    }

    [HttpDelete("attachments/{name}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> DeleteAttachment(string collection, string id, string name, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (catalog.ContentType(name) is not { } key) return InexistentItem($"Unknown attachment: {name}");
        if (!key.IsUser) return StatusCode(403);
        if (!TryIfMatch(out var ifMatch, out var refusal)) return refusal!;
        var outcome = await attachments.DeleteAsync(id, level, key, ifMatch, ct);
        return Answer(outcome, level, id, key.DisplayName, () => Content("", "text/plain"));
    }

    [HttpPost("attachments/{name}/{operation:regex(^(compress|uncompress)$)}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Compress(string collection, string id, string name, string operation, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (catalog.ContentType(name) is not { } key) return InexistentItem($"Unknown attachment: {name}");
        var outcome = await attachments.SetCompressionAsync(id, level, key, operation == "compress", ct);
        // Orthanc answers {} without an ETag here.
        return Answer(outcome with { Revision = null }, level, id, key.DisplayName, () => Ok(new JsonObject()));
    }

    [HttpPost("attachments/{name}/verify-md5")]
    public async Task<IActionResult> VerifyMd5(string collection, string id, string name, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        if (catalog.ContentType(name) is not { } key) return InexistentItem($"Unknown attachment: {name}");
        var (found, a) = await attachments.GetAsync(id, level, key.Number, ct);
        if (!found) return UnknownResource(level, id);
        if (a is null) return UnknownResourceItem(name);
        return await attachments.VerifyMd5Async(a, ct)
            ? Ok(new JsonObject())
            : ApiJson.Error(HttpContext, new ApiError(500, OrthancErrorCode.CorruptedFile, $"The MD5 of the attachment {name} does not match its data"));
    }

    // ---- Labels --------------------------------------------------------------------------------------------------

    [HttpGet("labels")]
    public async Task<IActionResult> ListLabels(string collection, string id, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var list = await labels.ListAsync(id, level, ct);
        return list is null ? UnknownResource(level, id) : Ok(new JsonArray(list.Select(l => (JsonNode)l).ToArray()));
    }

    [HttpPut("labels/{label}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> PutLabel(string collection, string id, string label, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        return await labels.AddAsync(id, level, label, ct) ? Content("", "text/plain") : UnknownResource(level, id);
    }

    [HttpDelete("labels/{label}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> DeleteLabel(string collection, string id, string label, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        return await labels.RemoveAsync(id, level, label, ct) ? Content("", "text/plain") : UnknownResource(level, id);
    }
}

/// <summary>/tools/labels: every label in use.</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
public sealed class LabelsToolController(LabelService labels) : ControllerBase
{
    [HttpGet("tools/labels")]
    public async Task<IActionResult> All(CancellationToken ct) => Ok(new JsonArray((await labels.AllAsync(ct)).Select(l => (JsonNode)l).ToArray()));
}
