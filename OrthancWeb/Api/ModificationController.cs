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
    public async Task<IActionResult> Anonymize(string collection, string id, CancellationToken ct)
    {
        ResourceLevelExtensions.TryParse(collection, out var level);
        JsonObject body;
        AnonymizationOptions options;
        try
        {
            body = await ReadBodyAsync(ct);
            options = ModificationRequests.Anonymization(body);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return ApiJson.Error(HttpContext, 400, ex.Message);
        }
        if (level == ResourceLevel.Instance)
        {
            var bytes = await modification.AnonymizeInstanceAsync(id, options, ct);
            return bytes is null ? ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}") : File(bytes, "application/dicom");
        }
        var keepSource = ModificationRequests.Bool(body, "KeepSource", true);
        return await RunAsync(body, level, id, anonymize: true,
            (progress, token) => modification.AnonymizeAsync(level, id, options, keepSource, progress, token), ct);
    }

    [HttpPost("{collection:regex(^(patients|studies|series|instances)$)}/{id}/modify")]
    public async Task<IActionResult> Modify(string collection, string id, CancellationToken ct)
    {
        ResourceLevelExtensions.TryParse(collection, out var level);
        JsonObject body;
        ModificationOptions options;
        try
        {
            body = await ReadBodyAsync(ct);
            options = ModificationRequests.Modification(body, level);
            DicomModifier.Validate(options);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return ApiJson.Error(HttpContext, 400, ex.Message);
        }
        if (level == ResourceLevel.Instance)
        {
            var bytes = await modification.ModifyInstanceAsync(id, options, ct);
            return bytes is null ? ApiJson.Error(HttpContext, 404, $"Unknown instance: {id}") : File(bytes, "application/dicom");
        }
        var keepSource = ModificationRequests.Bool(body, "KeepSource", true);
        return await RunAsync(body, level, id, anonymize: false,
            (progress, token) => modification.ModifyAsync(level, id, options, keepSource, progress, token), ct);
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
            var result = await work(new Progress<(int, int)>(), ct);
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
