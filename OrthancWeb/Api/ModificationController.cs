using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>POST /{level}/{id}/anonymize and /modify with Orthanc's request and response bodies.</summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("")]
public sealed class ModificationController(ModificationService modification, JobEngine jobs) : ControllerBase
{
    [HttpPost("{collection:regex(^(patients|studies|series|instances)$)}/{id}/anonymize")]
    public Task<IActionResult> Anonymize(string collection, string id, CancellationToken ct) =>
        HandleAsync(collection, id, anonymize: true, (body, _) => ModificationRequests.Anonymization(body),
            (options, token) => modification.AnonymizeInstanceAsync(id, options, token),
            (level, options, keepSource, progress, token) => modification.AnonymizeAsync(level, id, options, keepSource, progress, token), ct);

    [HttpPost("{collection:regex(^(patients|studies|series|instances)$)}/{id}/modify")]
    public Task<IActionResult> Modify(string collection, string id, CancellationToken ct) =>
        HandleAsync(collection, id, anonymize: false, (body, level) =>
            {
                var options = ModificationRequests.Modification(body, level);
                DicomModifier.Validate(options);
                return options;
            },
            (options, token) => modification.ModifyInstanceAsync(id, options, token),
            (level, options, keepSource, progress, token) => modification.ModifyAsync(level, id, options, keepSource, progress, token), ct);

    /// <summary>
    /// Both routes: a bad body is a 400 with the reason; an instance answers with its transformed file (not stored);
    /// a patient, study or series becomes a new resource, now or as a job.
    /// </summary>
    private async Task<IActionResult> HandleAsync<TOptions>(string collection, string id, bool anonymize,
        Func<JsonObject, ResourceLevel, TOptions> parse,
        Func<TOptions, CancellationToken, Task<byte[]?>> instance,
        Func<ResourceLevel, TOptions, bool, IProgress<(int Done, int Total)>, CancellationToken, Task<ModifiedResource?>> resource,
        CancellationToken ct)
    {
        ResourceLevelExtensions.TryParse(collection, out var level);
        JsonObject body;
        TOptions options;
        bool keepSource;
        try
        {
            body = await ReadBodyAsync(ct);
            options = parse(body, level);
            keepSource = ModificationRequests.Bool(body, "KeepSource", true);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return ApiJson.Error(HttpContext, 400, ex.Message);
        }
        if (level == ResourceLevel.Instance)
        {
            var bytes = await instance(options, ct);
            return bytes is null ? ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}") : File(bytes, "application/dicom");
        }
        return await RunAsync(body, level, id, anonymize, (progress, token) => resource(level, options, keepSource, progress, token), ct);
    }

    /// <summary>Synchronously (Orthanc's default) or, with "Asynchronous": true, as a job answered with its ID.</summary>
    private async Task<IActionResult> RunAsync(JsonObject body, ResourceLevel level, string id, bool anonymize,
        Func<IProgress<(int Done, int Total)>, CancellationToken, Task<ModifiedResource?>> work, CancellationToken ct)
    {
        if (ModificationRequests.Bool(body, "Asynchronous", false))
        {
            var job = jobs.Submit(ResourceModificationJob.JobType, ResourceModificationJob.Content(level, id, anonymize, body),
                ModificationRequests.Int(body, "Priority", 0), User.Identity?.Name);
            return Ok(new JsonObject { ["ID"] = job.Id, ["Path"] = $"/jobs/{job.Id}" });
        }
        try
        {
            var result = await work(new ImmediateProgress<(int, int)>(_ => { }), ct);
            if (result is null) return ApiJson.Error(HttpContext, 404, $"Unknown {level.ToString().ToLowerInvariant()}: {id}");
            return Ok(ModificationRequests.ToJson(result));
        }
        catch (InvalidOperationException ex)
        {
            return ApiJson.Error(HttpContext, 400, ex.Message);
        }
    }

    private async Task<JsonObject> ReadBodyAsync(CancellationToken ct)
    {
        using var reader = new StreamReader(Request.Body);
        var text = await reader.ReadToEndAsync(ct);
        if (string.IsNullOrWhiteSpace(text)) return [];
        return JsonNode.Parse(text) as JsonObject ?? throw new FormatException("The body must be a JSON object");
    }
}
