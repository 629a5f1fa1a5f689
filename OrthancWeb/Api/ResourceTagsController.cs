using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Explorer;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// The tags of every instance below a patient, study or series (instances-tags) and the tags they all share with one
/// value (shared-tags), in Orthanc's full, simplified (?simplify) or short (?short) shapes. Read from the stored files,
/// one header at a time: memory stays that of one instance whatever the count. And the attributes of a level's module
/// (module, module-patient), read from the instance orthanc would read them from.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("")]
public sealed class ResourceTagsController(IndexQueries queries, InstanceFiles files, IAuditTrail audit) : ControllerBase
{
    private const string Levels = "{collection:regex(^(patients|studies|series)$)}";

    [HttpGet(Levels + "/{id}/instances-tags")]
    public async Task<IActionResult> InstancesTags(string collection, string id, CancellationToken ct)
    {
        if (ReadIgnoreLength() is { } badTag) return badTag;
        var instances = await InstancesAsync(collection, id, "instances-tags", ct);
        if (instances is null) return UnknownResource(collection, id);
        Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(Response.Body);
        json.WriteStartObject();
        foreach (var (instance, file) in instances)
        {
            json.WritePropertyName(instance);
            Shape(files.Read(file)).WriteTo(json);
            await json.FlushAsync(ct);
        }
        json.WriteEndObject();
        return new EmptyResult();
    }

    [HttpGet(Levels + "/{id}/shared-tags")]
    public async Task<IActionResult> SharedTags(string collection, string id, CancellationToken ct)
    {
        var instances = await InstancesAsync(collection, id, "shared-tags", ct);
        if (instances is null) return UnknownResource(collection, id);
        // The first instance's elements, minus every one another instance lacks or holds with other bytes; sequences
        // and binary values are left out, as Orthanc compares only the values it summarizes. A value too long to show
        // (over 256 characters) is left out too, and ?ignore-length does not bring it back: orthanc 1.10.1 does so.
        DicomDataset? shared = null;
        foreach (var (_, file) in instances)
        {
            var ds = files.Read(file).Dataset;
            if (shared is null)
            {
                shared = new DicomDataset(ds.OfType<DicomElement>().Where(e => IsSummarized(e) && !IsTooLong(ds, e)));
                continue;
            }
            shared.RemoveAll(item => ds[item.Tag] is not DicomElement other || !other.Buffer.Memory.Span.SequenceEqual(((DicomElement)item).Buffer.Memory.Span));
        }
        Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(Response.Body);
        Shape(shared ?? []).WriteTo(json);
        return new EmptyResult();
    }

    /// <summary>
    /// The attributes of the resource's own module (<see cref="LevelModules"/>) as one of its instances holds them; those
    /// the file lacks are absent, those it holds empty are empty strings (as orthanc answers).
    /// </summary>
    [HttpGet("{collection:regex(^(patients|studies|series|instances)$)}/{id}/module")]
    public Task<IActionResult> Module(string collection, string id, CancellationToken ct) =>
        ModuleAsync(collection, id, ResourceLevelExtensions.Parse(collection), ct);

    /// <summary>
    /// A study's patient module, read from the study's own files (a patient's studies may disagree). Orthanc 1.10.1 has
    /// this route for studies only: on a series or an instance it is an unknown route there, and here (404).
    /// </summary>
    [HttpGet("{collection:regex(^studies$)}/{id}/module-patient")]
    public Task<IActionResult> ModulePatient(string collection, string id, CancellationToken ct) =>
        ModuleAsync(collection, id, ResourceLevel.Patient, ct);

    private async Task<IActionResult> ModuleAsync(string collection, string id, ResourceLevel module, CancellationToken ct)
    {
        if (ReadIgnoreLength() is { } badTag) return badTag;
        var level = ResourceLevelExtensions.Parse(collection);
        var resource = await queries.GetAsync(id, level, ct);
        if (resource is null || await queries.NewestDescendantInstanceAsync(id, level, ct) is not { } instance
            || await files.FindAsync(instance, ct) is not { } file) return UnknownResource(collection, id);
        audit.Record(ResourceAudit.For(AuditActions.View, resource, details: $"{module.ToString().ToLowerInvariant()} module"));
        var tags = LevelModules.For(module);
        return Ok(Shape(files.Read(file).Dataset.Extract(tags.Contains)));
    }

    /// <summary>
    /// ?ignore-length=PatientComments,0010-4000: tags whose long values are shown whole, by keyword or number (a
    /// comma separates tags, so not "gggg,eeee"). A tag it cannot name is orthanc's 500 "Unknown DICOM tag" (code 27).
    /// </summary>
    private ObjectResult? ReadIgnoreLength()
    {
        if (ParseIgnoreLength(HttpContext, out var tags) is { } bad) return bad;
        _longValuesShown = tags;
        return null;
    }

    /// <summary>The tags ?ignore-length names, or orthanc's error for one it cannot name (shared with /instances/{id}/tags).</summary>
    internal static ObjectResult? ParseIgnoreLength(HttpContext http, out IReadOnlySet<DicomTag> shown)
    {
        var tags = new HashSet<DicomTag>();
        shown = tags;
        if (!http.Request.Query.TryGetValue("ignore-length", out var values)) return null;
        foreach (var name in values.ToString().Split(','))
        {
            if (!DicomTag.TryParse(name, out var tag))
                return ApiJson.Error(http, new ApiError(500, OrthancErrorCode.UnknownDicomTag, $"ignore-length: \"{name}\" names no DICOM tag"));
            tags.Add(tag);
        }
        return null;
    }

    private IReadOnlySet<DicomTag> _longValuesShown = new HashSet<DicomTag>();

    private ObjectResult UnknownResource(string collection, string id) =>
        ApiJson.Error(HttpContext, 404, $"Unknown {ResourceLevelExtensions.Parse(collection).ToString().ToLowerInvariant()}: {id}");

    /// <summary>Orthanc's limit on the characters of a value it shows (longer ones are "TooLong").</summary>
    private static readonly int ShownLength = new OrthancJson().MaximumStringLength;

    private static bool IsTooLong(DicomDataset ds, DicomElement e) => e.Length > ShownLength && (ds.GetString(e.Tag)?.Length ?? 0) > ShownLength;

    private static bool IsSummarized(DicomElement e) => e.Tag != DicomTags.PixelData && e.VR.Code is not ("OB" or "OW" or "OF" or "OD" or "OL" or "OV" or "UN");

    private JsonObject Shape(OrthancWeb.Dicom.IO.DicomFile file)
    {
        var shape = new OrthancJson { LongValuesShown = _longValuesShown };
        return Request.Query.ContainsKey("simplify") ? shape.ToSimplified(file) : Request.Query.ContainsKey("short") ? shape.ToShort(file) : shape.ToFull(file);
    }

    private JsonObject Shape(DicomDataset ds)
    {
        var shape = new OrthancJson { LongValuesShown = _longValuesShown };
        return Request.Query.ContainsKey("simplify") ? shape.ToSimplified(ds) : Request.Query.ContainsKey("short") ? shape.ToShort(ds) : shape.ToFull(ds);
    }

    /// <summary>The instances' files, the read audited once; null for an unknown resource.</summary>
    private async Task<IReadOnlyList<(string InstanceId, AttachmentInfo File)>?> InstancesAsync(string collection, string id, string what, CancellationToken ct)
    {
        var resource = await queries.GetAsync(id, ResourceLevelExtensions.Parse(collection), ct);
        if (resource is null) return null;
        var instances = await queries.InstanceFilesAsync(id, ct);
        audit.Record(ResourceAudit.For(AuditActions.View, resource, details: $"{what}: {instances.Count} instance(s)"));
        return instances;
    }
}
