using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Explorer;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Security;
using OrthancWeb.Storage;

namespace OrthancWeb.Api;

/// <summary>Uploading instances and reading them back: file, tags, header, content, attachments.</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("instances")]
public sealed class InstancesController(IngestService ingest, UploadService uploads, InstanceFiles files, StorageArea storage, IAuditTrail audit) : ControllerBase
{
    /// <summary>
    /// A raw DICOM file, or a ZIP of DICOM files (one answer per entry). The body is streamed to disk as it arrives,
    /// so a 2 GB upload never sits in memory.
    /// </summary>
    [HttpPost]
    [Authorize(Policy = Policies.Modify)]
    [DisableRequestSizeLimit]
    [RequestFormLimits(MultipartBodyLengthLimit = long.MaxValue)]
    public async Task<IActionResult> Upload(CancellationToken ct)
    {
        // A Lua script's RestApiPost('/instances', ...) is recorded with Origin "Lua" (its scripts test it to avoid loops);
        // HttpUsername as Orthanc records it: the authenticated user, empty without one.
        var origin = HttpContext.Features.Get<RequestOriginFeature>()?.Origin ?? IngestOrigin.RestApi;
        var source = new IngestSource(origin, HttpContext.Connection.RemoteIpAddress?.ToString())
        {
            Username = User.Identity?.Name,
            Metadata = [("HttpUsername", User.Identity?.IsAuthenticated == true ? User.Identity.Name ?? "" : "")],
        };
        // Orthanc peers sending with "Compress": true gzip the body (Content-Encoding: gzip).
        var encoding = Request.Headers.ContentEncoding.ToString().Trim();
        var input = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase) ? uploads.InflateGzip(Request.Body)
            : encoding.Length == 0 || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase) ? Request.Body
            : null;
        if (input is null) return ApiJson.Error(HttpContext, 415, $"Content-Encoding {encoding} is not supported: gzip or none");
        await using var inflated = input == Request.Body ? null : input;
        var head = new byte[4];
        var got = 0;
        while (got < 4 && await input.ReadAsync(head.AsMemory(got), ct) is var n and > 0) got += n;
        if (got == 0) return ApiJson.Error(HttpContext, 400, "Empty body: expected a DICOM file or a ZIP of DICOM files");
        var body = new PrefixStream(head.AsMemory(0, got), input);

        if (UploadService.IsZip(head.AsSpan(0, got)))
            return await UploadZipAsync(body, source, ct);

        var result = await ingest.StoreAsync(body, source, ct);
        RecordUpload(result);
        return Answer(result);
    }

    private ObjectResult Answer(IngestResult result) => result.Status switch
    {
        // A filtered-out instance is a 200 with Status "FilteredOut" in Orthanc 1.10, not an error.
        IngestStatus.Success or IngestStatus.AlreadyStored or IngestStatus.FilteredOut => Ok(ApiJson.Ingest(result)),
        IngestStatus.StorageFull => ApiJson.Error(HttpContext, 507, result.Reason ?? "Storage full"),
        // Orthanc's code for a body it cannot parse (it answers a file without its UIDs 404 "Inexistent tag": we keep
        // 400, the fault is the request's).
        IngestStatus.Invalid => ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.BadFileFormat, result.Reason ?? "Invalid DICOM file")),
        _ => ApiJson.Error(HttpContext, 400, result.Reason ?? "Invalid DICOM file"),
    };

    private async Task<IActionResult> UploadZipAsync(Stream body, IngestSource source, CancellationToken ct)
    {
        IReadOnlyList<UploadOutcome> outcomes;
        try { outcomes = await uploads.StoreZipAsync(body, source, ct); }
        catch (InvalidDataException ex) { return ApiJson.Error(HttpContext, 400, "Corrupt ZIP archive: " + ex.Message); }
        var answers = new JsonArray();
        foreach (var o in outcomes) RecordUpload(o.Result ?? new IngestResult(IngestStatus.Invalid, Reason: o.Reason), o.Name);
        foreach (var o in outcomes)
        {
            var answer = ApiJson.Ingest(o.Result ?? new IngestResult(IngestStatus.Invalid, Reason: o.Reason));
            answer["Entry"] = o.Name;
            answers.Add(answer);
        }
        return Ok(answers);
    }

    private void RecordUpload(IngestResult result, string? entry = null) => uploads.Record(result, entry is null ? null : "ZIP entry " + entry);

    /// <summary>A read of an instance's data in the trail, with the patient and study of the data set the action read.</summary>
    private void RecordRead(string action, string id, DicomDataset? dataset, string what) =>
        audit.Record(ResourceAudit.For(action, ResourceLevel.Instance, id, dataset, details: what));

    /// <summary>The stored file, or with ?transcode=UID the file re-encoded in that transfer syntax (Orthanc 1.12.2's option).</summary>
    [HttpGet("{id}/file")]
    public async Task<IActionResult> File(string id, [FromQuery] string? transcode, CancellationToken ct)
    {
        var target = transcode is null ? null : Transcoder.ParseTarget(transcode);
        var file = await files.FindAsync(id, ct);
        if (file is null) return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
        if (target is not null)
        {
            var stored = DicomFile.Open((await files.ReadAllAsync(file, ct)).AsMemory());
            RecordRead(AuditActions.Download, id, stored.Dataset, $"file, transcoded to {target.Uid}");
            return File(Transcoder.TranscodeFile(stored, target).ToBytes(), "application/dicom", id + ".dcm");
        }
        // The header (stops before the pixel data; the page cache then serves the download) names the patient.
        RecordRead(AuditActions.Download, id, files.Read(file).Dataset, "file");
        return File(files.Open(file), "application/dicom", id + ".dcm");
    }

    [HttpGet("{id}/tags")]
    public async Task<IActionResult> Tags(string id, CancellationToken ct)
    {
        var file = await files.FindAsync(id, ct);
        if (file is null) return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
        var read = files.Read(file);
        RecordRead(AuditActions.View, id, read.Dataset, "tags");
        if (ResourceTagsController.ParseIgnoreLength(HttpContext, out var shown) is { } badTag) return badTag;
        var json = new OrthancJson { LongValuesShown = shown };
        return Ok(Request.Query.ContainsKey("simplify") ? json.ToSimplified(read) : Request.Query.ContainsKey("short") ? json.ToShort(read) : json.ToFull(read));
    }

    [HttpGet("{id}/simplified-tags")]
    public async Task<IActionResult> SimplifiedTags(string id, CancellationToken ct)
    {
        var file = await files.FindAsync(id, ct);
        if (file is null) return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
        var read = files.Read(file);
        RecordRead(AuditActions.View, id, read.Dataset, "simplified tags");
        return Ok(new OrthancJson().ToSimplified(read));
    }

    [HttpGet("{id}/header")]
    public async Task<IActionResult> Header(string id, CancellationToken ct)
    {
        var file = await files.FindAsync(id, ct);
        if (file is null) return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
        var meta = files.Read(file).FileMetaInfo;
        var json = new OrthancJson();
        return Ok(Request.Query.ContainsKey("simplify") ? json.ToSimplified(meta) : json.ToFull(meta));
    }

    /// <summary>
    /// /content walks the data set: a path of "gggg-eeee" tags and item indexes. A leaf answers its value as text,
    /// a sequence its item indexes, a data set or item its tags.
    /// </summary>
    [HttpGet("{id}/content/{**path}")]
    public async Task<IActionResult> Content(string id, string? path, CancellationToken ct)
    {
        var file = await files.FindAsync(id, ct);
        if (file is null) return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
        DicomDataset current = files.Read(file, includePixelData: false).Dataset;
        RecordRead(AuditActions.View, id, current, "content " + path);
        var parts = (path ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            if (!DicomTag.TryParse(parts[i].Replace('-', ','), out var tag) || current[tag] is not { } item)
                return ApiJson.Error(HttpContext, 404, $"No element {parts[i]} at this level");
            if (item is DicomSequence seq)
            {
                if (i + 1 == parts.Length)
                    return Ok(new JsonArray(Enumerable.Range(0, seq.Items.Count).Select(n => (JsonNode)n.ToString(CultureInfo.InvariantCulture)).ToArray()));
                if (!int.TryParse(parts[++i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) || index < 0 || index >= seq.Items.Count)
                    return ApiJson.Error(HttpContext, 404, $"No item {parts[i]} in {tag}");
                current = seq.Items[index];
                continue;
            }
            if (i + 1 != parts.Length) return ApiJson.Error(HttpContext, 404, $"{tag} is not a sequence");
            if (item is DicomElement e && e.VR.Kind == VRKind.Bytes)
                return File(e.Buffer.Memory.ToArray(), "application/octet-stream");
            return Content(current.GetString(tag) ?? "", "text/plain");
        }
        return Ok(new JsonArray(current.Select(x => (JsonNode)$"{x.Tag.Group:x4}-{x.Tag.Element:x4}").ToArray()));
    }

    [HttpGet("{id}/attachments/dicom/{field}")]
    public async Task<IActionResult> Attachment(string id, string field, CancellationToken ct)
    {
        var file = await files.FindAsync(id, ct);
        if (file is null) return ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}");
        if (field is "data" or "compressed-data") RecordRead(AuditActions.Download, id, files.Read(file).Dataset, "attachment " + field);
        return field switch
        {
            "size" => Content(file.UncompressedSize.ToString(CultureInfo.InvariantCulture), "text/plain"),
            "compressed-size" => Content(file.CompressedSize.ToString(CultureInfo.InvariantCulture), "text/plain"),
            "md5" => await Md5Async(file, compressed: false, ct),
            "compressed-md5" => await Md5Async(file, compressed: true, ct),
            "is-compressed" => Content(file.Compressed ? "1" : "0", "text/plain"),
            "uuid" => Content(file.Uuid, "text/plain"),
            "info" => await InfoAsync(file, ct),
            "data" => File(files.Open(file), "application/dicom"),
            "compressed-data" => File(storage.OpenRead(file.Uuid, false), "application/octet-stream"),
            _ => ApiJson.Error(HttpContext, 404, $"Unknown attachment field {field}"),
        };
    }

    /// <summary>Orthanc's attachment info of the DICOM file (content type 1).</summary>
    private async Task<IActionResult> InfoAsync(AttachmentInfo file, CancellationToken ct)
    {
        var (md5, compressedMd5) = await files.Md5Async(file, ct); // a damaged file: StoredFileDamagedException, a 500
        return Ok(new JsonObject
        {
            ["CompressedMD5"] = compressedMd5, ["CompressedSize"] = file.CompressedSize, ["ContentType"] = Index.Attachment.DicomContentType,
            ["UncompressedMD5"] = md5, ["UncompressedSize"] = file.UncompressedSize, ["Uuid"] = file.Uuid,
        });
    }

    private async Task<IActionResult> Md5Async(AttachmentInfo file, bool compressed, CancellationToken ct)
    {
        try
        {
            var (md5, compressedMd5) = await files.Md5Async(file, ct);
            return Content(compressed ? compressedMd5 : md5, "text/plain");
        }
        catch (StoredFileDamagedException ex)
        {
            return ApiJson.Error(HttpContext, 500, ex.Message);
        }
    }
}
