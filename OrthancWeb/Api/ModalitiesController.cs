using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrthancWeb.Jobs;
using OrthancWeb.Networking;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// /modalities and /queries: the DICOM SCU services in Orthanc's shapes. Failures to reach a modality are answered
/// by <see cref="ApiErrorFilter"/> (Orthanc's 500 network error), an unknown modality by a 404.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("")]
public sealed class ModalitiesController(ModalityClient modalities) : ControllerBase
{
    [HttpGet("modalities")]
    public IActionResult List()
    {
        if (!Request.Query.ContainsKey("expand"))
            return Ok(new JsonArray(modalities.Modalities.Keys.Order().Select(k => (JsonNode)k).ToArray()));
        var o = new JsonObject();
        foreach (var (name, m) in modalities.Modalities.OrderBy(m => m.Key)) o[name] = Describe(m);
        return Ok(o);
    }

    private static JsonObject Describe(ModalityOptions m) => new()
    {
        ["AET"] = m.AET, ["Host"] = m.Host, ["Port"] = m.Port, ["Manufacturer"] = m.Manufacturer,
        ["AllowEcho"] = m.AllowEcho, ["AllowFind"] = m.AllowFind, ["AllowFindWorklist"] = m.AllowFindWorklist, ["AllowGet"] = m.AllowGet, ["AllowMove"] = m.AllowMove, ["AllowStore"] = m.AllowStore,
        ["UseDicomTls"] = m.UseDicomTls,
    };

    /// <summary>
    /// Adds or replaces a modality kept in the database: {"AET", "Host", "Port", ...} or Orthanc's ["AET", "host", port].
    /// The registry validates it, with the reasons in one message.
    /// </summary>
    [HttpPut("modalities/{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Put(string name, [FromBody] ModalityOptions modality, [FromServices] ModalityRegistry registry, CancellationToken ct)
    {
        await registry.SaveAsync(name, modality, ct);
        return Ok(new JsonObject());
    }

    [HttpDelete("modalities/{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Delete(string name, [FromServices] ModalityRegistry registry, CancellationToken ct) =>
        await registry.DeleteAsync(name, ct) ? Ok(new JsonObject()) : throw new UnknownModalityException(name);

    [HttpGet("modalities/{name}/configuration")]
    public IActionResult Configuration(string name) => Ok(Describe(Modality(name)));

    /// <summary>C-ECHO; 200 with {} on success, as Orthanc. Reaching out from the server needs the Modify role.</summary>
    [HttpPost("modalities/{name}/echo")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Echo(string name, CancellationToken ct)
    {
        var m = Modality(name);
        var status = await modalities.EchoAsync(m, ct);
        return status == DimseStatus.Success ? Ok(new JsonObject())
            : throw new DimseFailureException(status, $"C-ECHO answered 0x{status:X4}") { CalledAE = m.AET };
    }

    /// <summary>A configured modality, or a 404 (Orthanc's "Accessing an inexistent item").</summary>
    private ModalityOptions Modality(string name) =>
        modalities.Find(name) ?? throw new UnknownModalityException(name);

    /// <summary>C-STORE of resources: a public ID, a JSON array of them, or {"Resources": [...]}; "Asynchronous" makes it a job.</summary>
    [HttpPost("modalities/{name}/store")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Store(string name, [FromBody] ModalityStoreRequest request, [FromServices] JobEngine jobs,
        [FromServices] IOptionsMonitor<DicomOptions> dicom, CancellationToken ct)
    {
        var m = Modality(name);
        if (request.Resources.Count == 0) throw new DicomValidationException("\"Resources\" must name the resources to send");
        if (request.Asynchronous)
        {
            // As a job, with retries when the destination is down: "Retries" attempts, "RetryDelay" seconds apart.
            var job = jobs.Submit(ModalityStoreJob.JobType, ModalityStoreJob.Content(name, request.Resources), request.Priority, User.Identity?.Name,
                maxRetries: request.Retries, retryDelaySeconds: request.RetryDelay);
            return Ok(new JsonObject { ["ID"] = job.Id, ["Path"] = $"/jobs/{job.Id}" });
        }
        var result = await modalities.StoreAsync(m, request.Resources, ct);
        return Ok(new JsonObject
        {
            ["Description"] = "REST API",
            ["LocalAet"] = dicom.CurrentValue.DicomAet,
            ["RemoteAet"] = m.AET,
            ["ParentResources"] = new JsonArray(request.Resources.Select(i => (JsonNode)i).ToArray()),
            ["InstancesCount"] = result.InstancesCount,
            ["FailedInstancesCount"] = result.FailedInstancesCount,
        });
    }

    /// <summary>C-FIND: {"Level": "Study", "Query": {"PatientName": "DOE*"}} answers {"ID": ..., "Path": "/queries/..."}.</summary>
    [HttpPost("modalities/{name}/query")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Query(string name, [FromBody] ModalityQueryRequest request, CancellationToken ct)
    {
        var m = Modality(name);
        var query = new DicomDataset();
        foreach (var (key, value) in request.Query)
            query.Add(DicomTag.TryParse(key, out var tag) ? tag : throw new DicomValidationException($"Unknown tag {key} in field: Query"), value);
        // Return keys a script expects even when it did not ask for them (Orthanc adds the level's identifiers).
        foreach (var tag in new[] { DicomTags.PatientID, DicomTags.PatientName, DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID, DicomTags.AccessionNumber, DicomTags.StudyDate, DicomTags.Modality })
        {
            var tagLevel = MainDicomTags.LevelOf(tag) ?? ResourceLevel.Patient;
            if (tagLevel <= request.Level && !query.Contains(tag)) query.Add(tag, "");
        }
        var q = await modalities.QueryAsync(name, m, request.Level, query, ct);
        return Ok(new JsonObject { ["ID"] = q.Id, ["Path"] = "/queries/" + q.Id });
    }

    /// <summary>The query results (Modify, as the queries that made them): at most QueryRetrieveSize, least recently used dropped first.</summary>
    [HttpGet("queries")]
    [Authorize(Policy = Policies.Modify)]
    public IActionResult Queries() => Ok(new JsonArray(modalities.QueryIds.Select(i => (JsonNode)i).ToArray()));

    [HttpGet("queries/{id}/answers")]
    [Authorize(Policy = Policies.Modify)]
    public IActionResult Answers(string id)
    {
        if (modalities.GetQuery(id) is not { } q) return ApiJson.Error(HttpContext, 404, $"Unknown query: {id}");
        if (Request.Query.ContainsKey("expand"))
            return Ok(new JsonArray(q.Answers.Select(a => (JsonNode)(Request.Query.ContainsKey("simplify") ? new OrthancJson().ToSimplified(a) : new OrthancJson().ToFull(a))).ToArray()));
        return Ok(new JsonArray(Enumerable.Range(0, q.Answers.Count).Select(i => (JsonNode)i.ToString(CultureInfo.InvariantCulture)).ToArray()));
    }

    [HttpGet("queries/{id}/answers/{index:int}/content")]
    [Authorize(Policy = Policies.Modify)]
    public IActionResult Answer(string id, int index)
    {
        if (modalities.GetQuery(id) is not { } q || index < 0 || index >= q.Answers.Count) return ApiJson.Error(HttpContext, 404, "Unknown query answer");
        return Ok(Request.Query.ContainsKey("simplify") ? new OrthancJson().ToSimplified(q.Answers[index]) : new OrthancJson().ToFull(q.Answers[index]));
    }

    /// <summary>C-MOVE every answer of a query to a target AE: {"TargetAet": ...} or the AE title alone; ours when empty.</summary>
    [HttpPost("queries/{id}/retrieve")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Retrieve(string id, [FromBody] QueryRetrieveRequest request, CancellationToken ct)
    {
        if (modalities.GetQuery(id) is not { } q || modalities.Find(q.Modality) is not { } m) return ApiJson.Error(HttpContext, 404, $"Unknown query: {id}");
        var identifiers = q.Answers.Select(a => Identifier(a, q.Level)).ToList();
        return await MoveAsync(q.Modality, m, q.Level, identifiers, request.TargetAet, request.Asynchronous, ct);
    }

    /// <summary>{"Level": "Study", "Resources": [{"StudyInstanceUID": "..."}], "TargetAet": "..."}</summary>
    [HttpPost("modalities/{name}/move")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Move(string name, [FromBody] ModalityMoveRequest request, CancellationToken ct)
    {
        var m = Modality(name);
        var identifiers = new List<DicomDataset>();
        foreach (var r in request.Resources)
        {
            var ds = new DicomDataset();
            foreach (var (key, value) in r)
                if (DicomTag.TryParse(key, out var tag)) ds.Add(tag, value);
            identifiers.Add(ds);
        }
        return await MoveAsync(name, m, request.Level, identifiers, request.TargetAet, request.Asynchronous, ct);
    }

    private async Task<IActionResult> MoveAsync(string name, ModalityOptions m, ResourceLevel level, List<DicomDataset> identifiers, string? target, bool asynchronous, CancellationToken ct)
    {
        if (identifiers.Count == 0) throw new DicomValidationException("Nothing to retrieve");
        if (asynchronous)
        {
            var job = HttpContext.RequestServices.GetRequiredService<JobEngine>().Submit(ModalityMoveJob.JobType,
                ModalityMoveJob.Content(name, level, identifiers, target), user: User.Identity?.Name);
            return Ok(new JsonObject { ["ID"] = job.Id, ["Path"] = $"/jobs/{job.Id}" });
        }
        var last = await modalities.MoveAsync(m, level, identifiers, target, ct);
        if (DimseStatus.IsFailure(last.Status))
            throw new DimseFailureException(last.Status, $"C-MOVE failed with status 0x{last.Status:X4}: {last.Command.GetString(DicomTags.ErrorComment)}") { CalledAE = m.AET };
        return Ok(new JsonObject
        {
            ["Description"] = "REST API",
            ["RemoteAet"] = m.AET,
            ["Status"] = $"0x{last.Status:X4}",
            ["CompletedSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfCompletedSuboperations, 0, 0),
            ["FailedSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfFailedSuboperations, 0, 0),
            ["WarningSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfWarningSuboperations, 0, 0),
        });
    }

    /// <summary>The unique keys of an answer down to its level: what a C-MOVE needs (PS3.4 §C.4.2.2.1).</summary>
    private static DicomDataset Identifier(DicomDataset answer, ResourceLevel level)
    {
        var ds = new DicomDataset();
        var keys = new[] { DicomTags.PatientID, DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID };
        for (var i = 0; i <= (int)level; i++)
            if (answer.GetString(keys[i]) is { Length: > 0 } v) ds.Add(keys[i], v);
        return ds;
    }
}
