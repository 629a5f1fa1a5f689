using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Jobs;
using OrthancWeb.Networking;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>/modalities and /queries: the DICOM SCU services in Orthanc's shapes.</summary>
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
        ["AllowEcho"] = m.AllowEcho, ["AllowFind"] = m.AllowFind, ["AllowGet"] = m.AllowGet, ["AllowMove"] = m.AllowMove, ["AllowStore"] = m.AllowStore,
    };

    /// <summary>Adds or replaces a modality kept in the database: {"AET", "Host", "Port", ...} or Orthanc's ["AET", "host", port].</summary>
    [HttpPut("modalities/{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Put(string name, [FromServices] ModalityRegistry registry, CancellationToken ct)
    {
        ModalityOptions m;
        try
        {
            var body = await JsonNode.ParseAsync(Request.Body, cancellationToken: ct);
            m = body switch
            {
                JsonArray a when a.Count >= 3 => new ModalityOptions { AET = a[0]!.GetValue<string>(), Host = a[1]!.GetValue<string>(), Port = a[2]!.GetValueKind() == JsonValueKind.String ? int.Parse(a[2]!.GetValue<string>()) : a[2]!.GetValue<int>() },
                JsonObject o => o.Deserialize<ModalityOptions>(new JsonSerializerOptions { PropertyNameCaseInsensitive = true }) ?? throw new FormatException("empty body"),
                _ => throw new FormatException("The body must be {\"AET\", \"Host\", \"Port\"} or [\"AET\", \"host\", port]"),
            };
            await registry.SaveAsync(name, m, ct);
        }
        catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException or InvalidOperationException or DicomValidationException)
        {
            return ApiJson.Error(HttpContext, 400, ex.Message);
        }
        return Ok(new JsonObject());
    }

    [HttpDelete("modalities/{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Delete(string name, [FromServices] ModalityRegistry registry, CancellationToken ct)
    {
        return await registry.DeleteAsync(name, ct) ? Ok(new JsonObject()) : throw new UnknownModalityException(name);
    }

    [HttpGet("modalities/{name}/configuration")]
    public IActionResult Configuration(string name) =>
        modalities.Find(name) is { } m ? Ok(Describe(m)) : ApiJson.Error(HttpContext, 404, $"Unknown modality: {name}");

    /// <summary>C-ECHO; 200 with {} on success, as Orthanc. A modality that cannot be reached is a 500 (see <see cref="ApiError"/>).</summary>
    [HttpPost("modalities/{name}/echo")]
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

    /// <summary>C-STORE of resources: a public ID, a JSON array of them, or {"Resources": [...]}.</summary>
    [HttpPost("modalities/{name}/store")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Store(string name, CancellationToken ct)
    {
        var m = Modality(name);
        using var reader = new StreamReader(Request.Body);
        var text = (await reader.ReadToEndAsync(ct)).Trim();
        List<string> ids;
        try
        {
            ids = text.StartsWith('[') ? JsonNode.Parse(text)!.AsArray().Select(n => n!.GetValue<string>()).ToList()
                : text.StartsWith('{') ? (JsonNode.Parse(text)!["Resources"] as JsonArray ?? []).Select(n => n!.GetValue<string>()).ToList()
                : [text];
        }
        catch (JsonException ex) { return ApiJson.Error(HttpContext, 400, "Bad body: " + ex.Message); }
        if (text.StartsWith('{') && JsonNode.Parse(text) is JsonObject options && options["Asynchronous"]?.GetValue<bool>() == true)
        {
            // As a job, with retries when the destination is down: "Retries" attempts, "RetryDelay" seconds apart.
            var job = HttpContext.RequestServices.GetRequiredService<JobEngine>().Submit(ModalityStoreJob.JobType, ModalityStoreJob.Content(name, ids),
                options["Priority"]?.GetValue<int>() ?? 0, User.Identity?.Name,
                maxRetries: options["Retries"]?.GetValue<int>() ?? 0, retryDelaySeconds: options["RetryDelay"]?.GetValue<int>() ?? 10);
            return Ok(new JsonObject { ["ID"] = job.Id, ["Path"] = $"/jobs/{job.Id}" });
        }
        var result = await modalities.StoreAsync(m, ids, ct);
        return Ok(new JsonObject
        {
            ["Description"] = "REST API",
            ["LocalAet"] = HttpContext.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<DicomOptions>>().Value.DicomAet,
            ["RemoteAet"] = m.AET,
            ["ParentResources"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()),
            ["InstancesCount"] = result.InstancesCount,
            ["FailedInstancesCount"] = result.FailedInstancesCount,
        });
    }

    /// <summary>C-FIND: {"Level": "Study", "Query": {"PatientName": "DOE*"}} answers {"ID": ..., "Path": "/queries/..."}.</summary>
    [HttpPost("modalities/{name}/query")]
    public async Task<IActionResult> Query(string name, CancellationToken ct)
    {
        var m = Modality(name);
        if (await ReadObject() is not { } body) return ApiJson.Error(HttpContext, 400, "The body must be a JSON object");
        if (!ResourceLevelExtensions.TryParse(body["Level"]?.GetValue<string>() ?? "", out var level))
            return ApiJson.Error(HttpContext, 400, "Level must be Patient, Study, Series or Instance");
        var query = new DicomDataset();
        foreach (var (key, value) in body["Query"] as JsonObject ?? [])
        {
            if (!DicomTag.TryParse(key, out var tag)) return ApiJson.Error(HttpContext, 400, $"Unknown tag {key}");
            query.Add(tag, value?.GetValue<string>() ?? "");
        }
        // Return keys a script expects even when it did not ask for them (Orthanc adds the level's identifiers).
        foreach (var tag in new[] { DicomTags.PatientID, DicomTags.PatientName, DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID, DicomTags.AccessionNumber, DicomTags.StudyDate, DicomTags.Modality })
        {
            var tagLevel = MainDicomTags.LevelOf(tag) ?? ResourceLevel.Patient;
            if (tagLevel <= level && !query.Contains(tag)) query.Add(tag, "");
        }
        var q = await modalities.QueryAsync(name, m, level, query, ct);
        return Ok(new JsonObject { ["ID"] = q.Id, ["Path"] = "/queries/" + q.Id });
    }

    [HttpGet("queries")]
    public IActionResult Queries() => Ok(new JsonArray(modalities.QueryIds.Select(i => (JsonNode)i).ToArray()));

    [HttpGet("queries/{id}/answers")]
    public IActionResult Answers(string id)
    {
        if (modalities.GetQuery(id) is not { } q) return ApiJson.Error(HttpContext, 404, $"Unknown query: {id}");
        if (Request.Query.ContainsKey("expand"))
            return Ok(new JsonArray(q.Answers.Select(a => (JsonNode)(Request.Query.ContainsKey("simplify") ? new OrthancJson().ToSimplified(a) : new OrthancJson().ToFull(a))).ToArray()));
        return Ok(new JsonArray(Enumerable.Range(0, q.Answers.Count).Select(i => (JsonNode)i.ToString()).ToArray()));
    }

    [HttpGet("queries/{id}/answers/{index:int}/content")]
    public IActionResult Answer(string id, int index)
    {
        if (modalities.GetQuery(id) is not { } q || index < 0 || index >= q.Answers.Count) return ApiJson.Error(HttpContext, 404, "Unknown query answer");
        return Ok(Request.Query.ContainsKey("simplify") ? new OrthancJson().ToSimplified(q.Answers[index]) : new OrthancJson().ToFull(q.Answers[index]));
    }

    /// <summary>C-MOVE every answer of a query to a target AE (the body, or ours when empty).</summary>
    [HttpPost("queries/{id}/retrieve")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Retrieve(string id, CancellationToken ct)
    {
        if (modalities.GetQuery(id) is not { } q || modalities.Find(q.Modality) is not { } m) return ApiJson.Error(HttpContext, 404, $"Unknown query: {id}");
        using var reader = new StreamReader(Request.Body);
        var body = (await reader.ReadToEndAsync(ct)).Trim();
        var options = body.StartsWith('{') ? JsonNode.Parse(body) as JsonObject : null;
        string? target = body.Length == 0 ? null : options is not null ? options["TargetAet"]?.GetValue<string>() : body;
        var identifiers = q.Answers.Select(a => Identifier(a, q.Level)).ToList();
        return await MoveAsync(q.Modality, m, q.Level, identifiers, target, options?["Asynchronous"]?.GetValue<bool>() == true, ct);
    }

    /// <summary>{"Level": "Study", "Resources": [{"StudyInstanceUID": "..."}], "TargetAet": "..."}</summary>
    [HttpPost("modalities/{name}/move")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Move(string name, CancellationToken ct)
    {
        var m = Modality(name);
        if (await ReadObject() is not { } body || !ResourceLevelExtensions.TryParse(body["Level"]?.GetValue<string>() ?? "", out var level))
            return ApiJson.Error(HttpContext, 400, "The body must have a Level and Resources");
        var identifiers = new List<DicomDataset>();
        foreach (var r in body["Resources"] as JsonArray ?? [])
        {
            var ds = new DicomDataset();
            foreach (var (key, value) in r as JsonObject ?? [])
                if (DicomTag.TryParse(key, out var tag)) ds.Add(tag, value?.GetValue<string>() ?? "");
            identifiers.Add(ds);
        }
        return await MoveAsync(name, m, level, identifiers, body["TargetAet"]?.GetValue<string>(), body["Asynchronous"]?.GetValue<bool>() == true, ct);
    }

    private async Task<IActionResult> MoveAsync(string name, ModalityOptions m, ResourceLevel level, List<DicomDataset> identifiers, string? target, bool asynchronous, CancellationToken ct)
    {
        if (identifiers.Count == 0) return ApiJson.Error(HttpContext, 400, "Nothing to retrieve");
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

    private async Task<JsonObject?> ReadObject()
    {
        try { return await JsonNode.ParseAsync(Request.Body) as JsonObject; }
        catch (JsonException) { return null; }
    }
}
