using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Networking;
using OrthancWeb.Security;
using OrthancWeb.Storage;

namespace OrthancWeb.Api;

/// <summary>/tools/find, /tools/lookup, /changes, /statistics, /system.</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("")]
public sealed class ToolsController(IndexQueries queries, RequestedTagsReader requestedTags, ChangeLogClearing changeLog, IOptions<ServerOptions> server, IOptionsMonitor<StorageOptions> store, IOptionsMonitor<DicomOptions> dicom,
    Annotations.AnnotationCatalog catalog, InstanceFiles files) : ControllerBase
{
    /// <summary>Orthanc's find (see <see cref="ToolsFindRequest"/>); a query the index cannot answer is a 400.</summary>
    [HttpPost("tools/find")]
    public async Task<IActionResult> Find([FromBody] ToolsFindRequest request, CancellationToken ct)
    {
        // Orthanc's own refusal: 400, "Parameter out of range".
        if (request.Since < 0 || request.Limit < 0)
            return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange, "Fields \"Since\" and \"Limit\" should be positive integers"));
        var constraints = request.Query.Select(q => new FindConstraint(
            DicomTag.TryParse(q.Key, out var tag) ? tag : throw new DicomValidationException($"Unknown tag in query: {q.Key}"), q.Value)).ToList();
        if (request.Labels.FirstOrDefault(l => !Annotations.LabelName.IsValid(l)) is { } invalid)
            throw new Annotations.InvalidLabelException(invalid);
        if (!Enum.TryParse<LabelsConstraint>(request.LabelsConstraint, ignoreCase: false, out var labelsConstraint) || !Enum.IsDefined(labelsConstraint))
            return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange, $"LabelsConstraint must be All, Any or None, not {request.LabelsConstraint}"));
        var order = new List<FindOrder>();
        foreach (var key in request.OrderBy)
        {
            var descending = key.Direction switch
            {
                "ASC" => false,
                "DESC" => true,
                _ => (bool?)null,
            };
            FindOrder? parsed = key.Type switch
            {
                "DicomTag" when DicomTag.TryParse(key.Key, out var tag) && descending is { } d => new FindOrder(tag, null, d),
                "Metadata" when catalog.Metadata(key.Key) is { } metadata && descending is { } d => new FindOrder(null, metadata.StoredName, d),
                _ => null,
            };
            if (parsed is null)
                return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange,
                    $"OrderBy: {{\"Type\": \"{key.Type}\", \"Key\": \"{key.Key}\", \"Direction\": \"{key.Direction}\"}} is not a DicomTag or Metadata key with ASC or DESC"));
            order.Add(parsed);
        }
        var content = ResponseContent.None;
        if (request.ResponseContent is { } names && !FindResponseContent.TryParse(names, out content, out var unknown))
            return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.ParameterOutOfRange,
                $"Unrecognized value for \"ResponseContent\": {unknown} (one of MainDicomTags, Metadata, Children, Parent, Labels, Status, IsStable, IsProtected, Attachments)"));
        var ids = await queries.FindAsync(new FindRequest(request.Level, constraints, request.CaseSensitive, request.Limit, request.Since,
            Labels: request.Labels, LabelsConstraint: labelsConstraint, OrderBy: order), ct);
        // ResponseContent, when given, decides the shape (Orthanc: an empty list leaves only the IDs).
        if (request.ResponseContent is null ? !request.Expand : content == ResponseContent.None)
            return Ok(new JsonArray(ids.Select(i => (JsonNode)i).ToArray()));
        var format = request.Full ? TagFormat.Full : request.ShortForm ? TagFormat.TagNumbers : TagFormat.Simplify;
        var requested = RequestedTagsReader.Parse(request.RequestedTags);
        if (request.ResponseContent is not null)
            return Ok(await PartsAsync(ids, request.Level, content, format, requested, ct));
        var list = new JsonArray();
        foreach (var id in ids)
        {
            if (await queries.GetAsync(id, request.Level, ct) is not { } r) continue;
            var resource = ApiJson.Resource(r, format);
            if (requested.Count > 0)
                resource["RequestedTags"] = ApiJson.RequestedTags(await requestedTags.ReadAsync(id, request.Level, requested, ct), format);
            list.Add(resource);
        }
        return Ok(list);
    }

    /// <summary>The answers of a find with ResponseContent: only the parts asked for are read from the index.</summary>
    private async Task<JsonArray> PartsAsync(IReadOnlyList<string> ids, ResourceLevel level, ResponseContent content, TagFormat format,
        IReadOnlyList<DicomTag> requested, CancellationToken ct)
    {
        var parts = FindResponseContent.PartsFor(content);
        var list = new JsonArray();
        foreach (var id in ids)
        {
            if (await queries.GetAsync(id, level, parts, ct) is not { } r) continue;
            var attachments = r.Attachments is { } stored ? await WithMd5sAsync(stored, ct) : null;
            var resource = FindResponseContent.ToJson(r, content, format, catalog, attachments);
            // Orthanc adds RequestedTags to every expanded answer, ResponseContent or not (ResourceFinder's visitor).
            if (requested.Count > 0)
                resource["RequestedTags"] = ApiJson.RequestedTags(await requestedTags.ReadAsync(id, level, requested, ct), format);
            list.Add(resource);
        }
        return list;
    }

    /// <summary>The DICOM file's MD5s are computed on first request (the ingest path records a faster checksum), then kept.</summary>
    private async Task<IReadOnlyList<ResourceAttachment>> WithMd5sAsync(IReadOnlyList<ResourceAttachment> attachments, CancellationToken ct)
    {
        var known = new List<ResourceAttachment>(attachments.Count);
        foreach (var a in attachments)
        {
            if (a.File.UncompressedMd5.Length > 0 && a.File.CompressedMd5.Length > 0) { known.Add(a); continue; }
            var (md5, compressedMd5) = await files.Md5Async(a.File, ct);
            known.Add(a with { File = a.File with { UncompressedMd5 = md5, CompressedMd5 = compressedMd5 } });
        }
        return known;
    }

    /// <summary>Which resources carry a DICOM identifier (the body is the identifier as plain text).</summary>
    [HttpPost("tools/lookup")]
    public async Task<IActionResult> Lookup(CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body);
        var identifier = (await reader.ReadToEndAsync(ct)).Trim();
        // An empty body names nothing (orthanc: []), not the resources whose accession number is empty.
        var found = identifier.Length == 0 ? [] : await queries.LookupAsync(identifier, ct);
        return Ok(new JsonArray(found.Select(f => (JsonNode)new JsonObject
        {
            ["ID"] = f.PublicId,
            ["Path"] = $"/{f.Level.ToCollection()}/{f.PublicId}",
            ["Type"] = f.Level.ToOrthancType(),
        }).ToArray()));
    }

    [HttpGet("changes")]
    public async Task<IActionResult> Changes([FromQuery] long since = 0, [FromQuery] int limit = 100, CancellationToken ct = default)
    {
        JsonObject Change(ChangeInfo c) => new()
        {
            ["ChangeType"] = c.ChangeType,
            ["Date"] = OrthancTime.Format(c.Date),
            ["ID"] = c.PublicId,
            ["Path"] = $"/{c.Level.ToCollection()}/{c.PublicId}",
            ["ResourceType"] = c.Level.ToOrthancType(),
            ["Seq"] = c.Seq,
        };
        if (Request.Query.ContainsKey("last"))
        {
            var last = await queries.LastChangeAsync(ct);
            return Ok(new JsonObject
            {
                ["Changes"] = last is null ? new JsonArray() : new JsonArray(Change(last)),
                ["Done"] = true,
                ["Last"] = last?.Seq ?? await queries.LastSeqAsync(ct),
            });
        }
        limit = Math.Clamp(limit, 1, 10_000);
        var (changes, lastSeq, done) = await queries.ChangesAsync(since, limit, ct);
        return Ok(new JsonObject
        {
            ["Changes"] = new JsonArray(changes.Select(c => (JsonNode)Change(c)).ToArray()),
            ["Done"] = done,
            ["Last"] = lastSeq,
        });
    }

    /// <summary>Orthanc empties its change log; ours keeps what an internal follower has not yet read (see <see cref="ChangeLogClearing"/>).</summary>
    [HttpDelete("changes")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> ClearChanges(CancellationToken ct)
    {
        await changeLog.ClearAsync(ct);
        return Content("", "text/plain");
    }

    [HttpGet("statistics")]
    public async Task<IActionResult> Statistics(CancellationToken ct)
    {
        var s = await queries.StatisticsAsync(ct);
        return Ok(new JsonObject
        {
            ["CountPatients"] = s.CountPatients,
            ["CountStudies"] = s.CountStudies,
            ["CountSeries"] = s.CountSeries,
            ["CountInstances"] = s.CountInstances,
            ["TotalDiskSize"] = s.TotalDiskSize.ToString(CultureInfo.InvariantCulture),
            ["TotalDiskSizeMB"] = s.TotalDiskSize / (1024 * 1024),
            ["TotalUncompressedSize"] = s.TotalUncompressedSize.ToString(CultureInfo.InvariantCulture),
            ["TotalUncompressedSizeMB"] = s.TotalUncompressedSize / (1024 * 1024),
            // What compression saves, in percent of the uncompressed size.
            ["CompressionSavingPercent"] = s.TotalUncompressedSize == 0 ? 0 : Math.Round(100.0 * (s.TotalUncompressedSize - s.TotalDiskSize) / s.TotalUncompressedSize, 1),
        });
    }

    /// <summary>The tools this server has: the names under /tools, read from its own routes so the list cannot drift.</summary>
    [HttpGet("tools")]
    public IActionResult ToolNames([FromServices] EndpointDataSource endpoints) => Ok(new JsonArray(endpoints.Endpoints
        .OfType<RouteEndpoint>()
        .Select(e => e.RoutePattern.RawText?.TrimStart('/') ?? "")
        .Where(t => t.StartsWith("tools/", StringComparison.Ordinal) && t.Length > "tools/".Length)
        .SelectMany(t => t["tools/".Length..] is var name && name.Contains("regex(", StringComparison.Ordinal)
            ? ToolAlternatives(name) : [name])
        .Where(n => !n.Contains('{', StringComparison.Ordinal) && !n.Contains('/', StringComparison.Ordinal))
        .Distinct().Order(StringComparer.Ordinal).Select(n => (JsonNode)n).ToArray()));

    /// <summary>"{kind:regex(^(a|b)$)}" stands for the tools a and b.</summary>
    private static string[] ToolAlternatives(string segment)
    {
        var open = segment.IndexOf("^(", StringComparison.Ordinal);
        var close = segment.IndexOf(")$", StringComparison.Ordinal);
        return open < 0 || close < open ? [] : segment[(open + 2)..close].Split('|');
    }

    /// <summary>The server's time, UTC, in DICOM's compact form (Orthanc's /tools/now).</summary>
    [HttpGet("tools/now")]
    public IActionResult Now([FromServices] TimeProvider time) => Content(time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture), "text/plain");

    /// <summary>The same in the server's time zone.</summary>
    [HttpGet("tools/now-local")]
    public IActionResult NowLocal([FromServices] TimeProvider time) => Content(time.GetLocalNow().ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture), "text/plain");

    /// <summary>A new UID for a resource of the level asked (patient, study, series or instance).</summary>
    [HttpGet("tools/generate-uid")]
    public IActionResult GenerateUid([FromQuery] string? level) =>
        level is not null && ResourceLevelExtensions.TryParse(level, out var parsed)
            // A patient has no UID: orthanc gives a UUID, as its anonymization does for PatientID.
            ? Content(parsed == ResourceLevel.Patient ? Guid.NewGuid().ToString() : OrthancWeb.Dicom.Anonymization.UidMap.NewUid(), "text/plain")
            : ApiJson.Error(HttpContext, 400, "generate-uid needs ?level=patient, study, series or instance");

    /// <summary>No Orthanc plugins run in this server: its capabilities are built in.</summary>
    [HttpGet("plugins")]
    public IActionResult Plugins() => Ok(new JsonArray());

    /// <summary>The encoding of files that declare none (text/plain, Orthanc's names).</summary>
    [HttpGet("tools/default-encoding")]
    public IActionResult DefaultEncoding() => Content(OrthancEncodings.Current, "text/plain");

    /// <summary>Changes it until the server stops, as Orthanc does (the configuration file keeps its own).</summary>
    [HttpPut("tools/default-encoding")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> SetDefaultEncoding(CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body);
        var name = (await reader.ReadToEndAsync(ct)).Trim();
        return OrthancEncodings.TryApply(name) ? Content("", "text/plain")
            : ApiJson.Error(HttpContext, 400, $"Unknown encoding '{name}': one of {string.Join(", ", OrthancEncodings.Names)}");
    }

    [HttpGet("system")]
    public async Task<IActionResult> SystemInfo([FromServices] Annotations.AnnotationCatalog annotations,
        [FromServices] Monitoring.ThirdPartyVersions thirdParty, [FromServices] ClusterMembership membership, CancellationToken ct)
    {
        var versions = new JsonObject();
        foreach (var (library, version) in await thirdParty.GetAsync(ct)) versions[library] = version;
        var o = store.CurrentValue;
        return Ok(new JsonObject
        {
            ["Name"] = server.Value.Name,
            // Scripts compare Version and ApiVersion to decide which routes to use: the Orthanc release whose REST API
            // ours answers like (Debian's, which the differential tests compare us with); our own name and version
            // are in fields of their own.
            ["Version"] = OrthancCompatibility.Version,
            ["ApiVersion"] = OrthancCompatibility.ApiVersion,
            ["DatabaseVersion"] = OrthancCompatibility.DatabaseVersion,
            ["Product"] = "OrthancWeb",
            ["ProductVersion"] = typeof(ToolsController).Assembly.GetName().Version?.ToString(3) ?? "1.0.0",
            ["DicomAet"] = dicom.CurrentValue.DicomAet,
            ["DicomPort"] = dicom.CurrentValue.DicomPort,
            ["HttpPort"] = server.Value.HttpPort,
            ["HttpsPort"] = server.Value.HttpsPort,
            ["IsHttpServerSecure"] = Request.IsHttps,
            ["StorageCompression"] = o.StorageCompression,
            ["OverwriteInstances"] = o.OverwriteInstances,
            ["MaximumStorageSize"] = o.MaximumStorageSize,
            ["MaximumPatientCount"] = o.MaximumPatientCount,
            ["PluginsEnabled"] = false,
            ["DatabaseBackendPlugin"] = null,
            ["StorageAreaPlugin"] = null,
            ["CheckRevisions"] = annotations.CheckRevisions,
            // Orthanc 1.11's name for who this server is among several on one database; whether it leads is ours.
            ["DatabaseServerIdentifier"] = membership.Identity.Identifier,
            ["IndexLeader"] = membership.IsLeader,
            // Orthanc 1.13: the libraries the server runs on, name to version (see ThirdPartyVersions).
            ["ThirdPartyVersions"] = versions,
        });
    }
}
