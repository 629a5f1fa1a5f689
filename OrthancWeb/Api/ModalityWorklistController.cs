using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Networking;
using OrthancWeb.Security;
using OrthancWeb.Worklists;

namespace OrthancWeb.Api;

/// <summary>
/// POST /modalities/{id}/find-worklist, Orthanc's worklist C-FIND SCU: the body is the query itself
/// (<c>{"PatientName": "DOE*", "ScheduledProcedureStepSequence": [{"Modality": "CT"}]}</c>), or, as Orthanc 1.9.5 takes
/// it, <c>{"Query": {...}, "Short": true}</c> or <c>"Full": true</c>. The answer is a JSON array of the matching items,
/// in Orthanc's human shape (keywords) unless Short (tags) or Full (name, type and value) is asked for.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("")]
public sealed class ModalityWorklistController(ModalityClient modalities) : ControllerBase
{
    [HttpPost("modalities/{name}/find-worklist")]
    public async Task<IActionResult> FindWorklist(string name, CancellationToken ct)
    {
        var m = modalities.Find(name) ?? throw new UnknownModalityException(name);
        using var reader = new StreamReader(Request.Body);
        JsonNode? body;
        try { body = JsonNode.Parse(await reader.ReadToEndAsync(ct), documentOptions: new JsonDocumentOptions { MaxDepth = DicomJsonModel.MaximumJsonDepth }); }
        catch (JsonException ex) { throw new WorklistValidationException("Must provide a JSON object: " + ex.Message); }
        if (body is not JsonObject o) throw new WorklistValidationException("Must provide a JSON object");
        var query = o["Query"] is { } q
            ? q as JsonObject ?? throw new WorklistValidationException("\"Query\" must be a JSON object")
            : o;
        var shape = new OrthancJson();
        Func<Dicom.Data.DicomDataset, JsonObject> format =
            query != o && Flag(o, "Short") ? shape.ToShort
            : query != o && Flag(o, "Full") ? shape.ToFull
            : shape.ToSimplified;
        var found = await modalities.FindWorklistAsync(m, WorklistDataSets.QueryFromJson(query), ct);
        return Ok(new JsonArray(found.Answers.Select(a => (JsonNode)format(a)).ToArray()));
    }

    private static bool Flag(JsonObject o, string key) => o[key] switch
    {
        null => false,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw new WorklistValidationException($"\"{key}\" must be a Boolean"),
    };
}
