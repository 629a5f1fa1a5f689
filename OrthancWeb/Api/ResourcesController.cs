using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Explorer;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>/patients, /studies, /series, /instances: listing, details, relatives, deletion (Orthanc's routes).</summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("")]
public sealed class ResourcesController(IndexQueries queries, IndexWriter writer, RequestedTagsReader requestedTags, IAuditTrail audit) : ControllerBase
{
    /// <summary>List the public IDs of a level, or with ?expand the resources themselves; ?since and ?limit page.</summary>
    [HttpGet("{collection:regex(^(patients|studies|series|instances)$)}")]
    public async Task<IActionResult> List(string collection, [FromQuery] int since = 0, [FromQuery] int? limit = null, CancellationToken ct = default)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var ids = await queries.ListAsync(level, since, limit, ct);
        if (!Request.Query.ContainsKey("expand"))
            return Ok(new JsonArray(ids.Select(i => (JsonNode)i).ToArray()));
        var list = new JsonArray();
        foreach (var id in ids)
            if (await queries.GetAsync(id, level, ct) is { } r) list.Add(await WithRequestedTagsAsync(r, ct));
        // Expanded, a list carries the patients' names and IDs: recorded as a query (the IDs alone are not patient data).
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success)
        {
            ResourceLevel = level.ToString(), Details = string.Create(CultureInfo.InvariantCulture, $"GET /{collection}?expand: {list.Count} listed"),
        });
        return Ok(list);
    }

    [HttpGet("{collection:regex(^(patients|studies|series|instances)$)}/{id}")]
    public async Task<IActionResult> Get(string collection, string id, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var r = await queries.GetAsync(id, level, ct);
        if (r is null) return ApiJson.Error(HttpContext, 404, $"Unknown {level.ToString().ToLowerInvariant()}: {id}");
        // The study's tags name its patient; a series or instance is named by its own ID (no extra query on this path).
        audit.Record(ResourceAudit.For(AuditActions.View, r));
        return Ok(await WithRequestedTagsAsync(r, ct));
    }

    /// <summary>
    /// A resource as Orthanc shows it, with Orthanc 1.11's "RequestedTags" when the query string asks for tags
    /// (?requestedTags=, or ?requested-tags= as Orthanc 1.12.5 also spells it: keywords or "gggg,eeee" separated by ';').
    /// </summary>
    private async Task<JsonObject> WithRequestedTagsAsync(ResourceInfo r, CancellationToken ct)
    {
        var resource = ApiJson.Resource(r);
        var requested = RequestedTagsReader.Parse(Request.Query["requestedTags"].Concat(Request.Query["requested-tags"]).OfType<string>());
        if (requested.Count > 0)
            resource["RequestedTags"] = ApiJson.RequestedTags(await requestedTags.ReadAsync(r.PublicId, r.Level, requested, ct), TagFormat.Simplify);
        return resource;
    }

    /// <summary>/studies/{id}/instances, /instances/{id}/patient, ...: resources of another level related to this one.</summary>
    [HttpGet("{collection:regex(^(patients|studies|series|instances)$)}/{id}/{relation:regex(^(patient|study|series|patients|studies|instances)$)}")]
    public async Task<IActionResult> Relatives(string collection, string id, string relation, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var target = ResourceLevelExtensions.Parse(relation);
        var ids = await queries.RelativesAsync(id, level, target, ct);
        if (ids is null) return ApiJson.Error(HttpContext, 404, $"Unknown {level.ToString().ToLowerInvariant()}: {id}");
        var singular = target < level; // parents are a single object in Orthanc (/instances/{id}/study)
        var list = new JsonArray();
        foreach (var rid in ids)
            if (await queries.GetAsync(rid, target, ct) is { } r) list.Add(await WithRequestedTagsAsync(r, ct));
        audit.Record(new AuditEvent(AuditActions.View, AuditOutcome.Success)
        {
            ResourceLevel = level.ToString(), ResourceId = id, Details = string.Create(CultureInfo.InvariantCulture, $"its {relation}: {list.Count}"),
        });
        return singular && list.Count == 1 ? Ok(list[0]!.DeepClone()) : Ok(list);
    }

    [HttpDelete("{collection:regex(^(patients|studies|series|instances)$)}/{id}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Delete(string collection, string id, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var (found, ancestor, ancestorLevel) = await writer.DeleteAsync(id, level, ct);
        if (!found) return ApiJson.Error(HttpContext, 404, $"Unknown {level.ToString().ToLowerInvariant()}: {id}");
        var body = new JsonObject
        {
            ["RemainingAncestor"] = ancestor is null ? null : new JsonObject
            {
                ["ID"] = ancestor,
                ["Path"] = $"/{ancestorLevel!.Value.ToCollection()}/{ancestor}",
                ["Type"] = ancestorLevel!.Value.ToOrthancType(),
            },
        };
        return Ok(body);
    }

    /// <summary>Counts of the resources below this one and the disk space its instances take (Orthanc's shape: sizes as strings).</summary>
    [HttpGet("{collection:regex(^(patients|studies|series|instances)$)}/{id}/statistics")]
    public async Task<IActionResult> Statistics(string collection, string id, CancellationToken ct)
    {
        var level = ResourceLevelExtensions.Parse(collection);
        var s = await queries.ResourceStatisticsAsync(id, level, ct);
        if (s is null) return ApiJson.Error(HttpContext, 404, $"Unknown {level.ToString().ToLowerInvariant()}: {id}");
        var body = new JsonObject();
        if (level == ResourceLevel.Patient) body["CountStudies"] = s.CountStudies;
        if (level <= ResourceLevel.Study) body["CountSeries"] = s.CountSeries;
        body["CountInstances"] = s.CountInstances;
        body["DiskSize"] = s.DiskSize.ToString(CultureInfo.InvariantCulture);
        body["DiskSizeMB"] = s.DiskSize / (1024 * 1024);
        body["UncompressedSize"] = s.UncompressedSize.ToString(CultureInfo.InvariantCulture);
        body["UncompressedSizeMB"] = s.UncompressedSize / (1024 * 1024);
        body["DicomDiskSize"] = s.DicomDiskSize.ToString(CultureInfo.InvariantCulture);
        body["DicomDiskSizeMB"] = s.DicomDiskSize / (1024 * 1024);
        body["DicomUncompressedSize"] = s.DicomUncompressedSize.ToString(CultureInfo.InvariantCulture);
        body["DicomUncompressedSizeMB"] = s.DicomUncompressedSize / (1024 * 1024);
        return Ok(body);
    }

    /// <summary>
    /// Orthanc's deprecated ordered-slices (still in 1.10.1): the series' instances in slice order (<see cref="SliceOrdering"/>),
    /// each frame's URI, and [instance, first frame, frame count] triples.
    /// </summary>
    [HttpGet("series/{id}/ordered-slices")]
    public async Task<IActionResult> OrderedSlices(string id, CancellationToken ct)
    {
        var ids = await queries.RelativesAsync(id, ResourceLevel.Series, ResourceLevel.Instance, ct);
        if (ids is null) return ApiJson.Error(HttpContext, 404, $"Unknown series: {id}");
        var sources = new List<SliceSource>(ids.Count);
        foreach (var instance in ids)
            if (await queries.GetAsync(instance, ResourceLevel.Instance, ct) is { } r)
                sources.Add(new SliceSource(r.PublicId, r.MainDicomTags,
                    r.Metadata.TryGetValue("IndexInSeries", out var index) && int.TryParse(index, CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue));
        var ordered = SliceOrdering.Order(sources);
        var (dicom, slices, slicesShort) = (new JsonArray(), new JsonArray(), new JsonArray());
        foreach (var (instance, frames) in ordered.Instances)
        {
            dicom.Add($"/instances/{instance}/file");
            for (var frame = 0; frame < frames; frame++) slices.Add($"/instances/{instance}/frames/{frame}");
            slicesShort.Add(new JsonArray(instance, 0, frames));
        }
        return Ok(new JsonObject { ["Dicom"] = dicom, ["Slices"] = slices, ["SlicesShort"] = slicesShort, ["Type"] = ordered.IsVolume ? "Volume" : "Sequence" });
    }

    [HttpGet("patients/{id}/protected")]
    public async Task<IActionResult> GetProtected(string id, CancellationToken ct)
    {
        var r = await queries.GetAsync(id, ResourceLevel.Patient, ct);
        return r is null ? ApiJson.Error(HttpContext, 404, $"Unknown patient: {id}") : Content(r.IsProtected ? "1" : "0", "text/plain");
    }

    [HttpPut("patients/{id}/protected")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> PutProtected(string id, CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body);
        var text = (await reader.ReadToEndAsync(ct)).Trim();
        if (text is not ("0" or "1" or "true" or "false"))
            return ApiJson.Error(HttpContext, new ApiError(400, OrthancErrorCode.BadFileFormat, "The body must be 0 or 1"));
        return await writer.SetProtectedAsync(id, text is "1" or "true", ct) ? Content("", "text/plain") : ApiJson.Error(HttpContext, 404, $"Unknown patient: {id}");
    }

    [HttpDelete("patients/{id}/protected")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> DeleteProtected(string id, CancellationToken ct) =>
        await writer.SetProtectedAsync(id, false, ct) ? Content("", "text/plain") : ApiJson.Error(HttpContext, 404, $"Unknown patient: {id}");
}
