using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Security;
using OrthancWeb.Worklists;

namespace OrthancWeb.Api;

/// <summary>
/// /worklists, in the shape of Orthanc's worklists plugin (1.12.10): POST /worklists/create {"Tags": {...}} answers
/// {"ID", "Path"}; GET /worklists and /worklists/{id}; PUT and DELETE /worklists/{id}. A DICOM JSON data set is taken
/// too. Reading needs View, writing Modify; a body that cannot be an item is a 400 with the reason.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("worklists")]
public sealed class WorklistsController(WorklistStore store) : ControllerBase
{
    private static readonly OrthancJson Simplified = new();

    [HttpGet("")]
    public async Task<IActionResult> List([FromQuery] string? date, [FromQuery] string? modality, [FromQuery(Name = "station")] string? station,
        CancellationToken ct)
    {
        var items = await store.ListAsync(new WorklistFilter(date, modality, station), ct);
        return Ok(new JsonArray(items.Select(i => (JsonNode)Describe(i)).ToArray()));
    }

    [HttpGet("{id}")]
    public async Task<IActionResult> Get(string id, CancellationToken ct) =>
        await store.GetAsync(id, ct) is { } item ? Ok(Describe(item)) : NotFound(id);

    [HttpPost("create")]
    [HttpPost("")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Create(CancellationToken ct)
    {
        var id = await store.CreateAsync(WorklistDataSets.FromJson(await BodyAsync(ct)), ct);
        return Ok(new JsonObject { ["ID"] = id, ["Path"] = "/worklists/" + id });
    }

    [HttpPut("{id}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Put(string id, CancellationToken ct) =>
        await store.UpdateAsync(id, WorklistDataSets.FromJson(await BodyAsync(ct)), ct)
            ? Ok(new JsonObject { ["ID"] = id, ["Path"] = "/worklists/" + id })
            : NotFound(id);

    [HttpDelete("{id}")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Delete(string id, CancellationToken ct) =>
        await store.DeleteAsync(id, ct) ? Ok(new JsonObject()) : NotFound(id);

    private ObjectResult NotFound(string id) => ApiJson.Error(HttpContext, 404, $"Unknown worklist: {id}");

    private async Task<JsonNode?> BodyAsync(CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body);
        var text = await reader.ReadToEndAsync(ct);
        try { return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = DicomJsonModel.MaximumJsonDepth }); }
        catch (JsonException ex) { throw new WorklistValidationException("The body is not JSON: " + ex.Message); }
    }

    /// <summary>An item: its ID, its tags in Orthanc's simplified shape (as the plugin's "Tags"), and whether it was performed.</summary>
    private static JsonObject Describe(WorklistEntry i) => new()
    {
        ["ID"] = i.Id,
        ["Tags"] = Simplified.ToSimplified(i.DataSet),
        ["Performed"] = i.Performed is { } p ? p.ToString("yyyyMMdd'T'HHmmss", System.Globalization.CultureInfo.InvariantCulture) : null,
    };
}
