using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.DicomWeb.Client;
using OrthancWeb.Dicom;
using OrthancWeb.Jobs;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// /dicom-web/servers: the DICOMweb client in the shapes of Orthanc's DICOMweb plugin. Failures to reach or use a
/// remote are answered by <see cref="ApiErrorFilter"/> (a network error, 500, with the remote's status and reason in
/// Details), an unknown server by a 404.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("dicom-web/servers")]
public sealed class DicomWebServersController(DicomWebServerRegistry registry, DicomWebClient client) : ControllerBase
{
    [HttpGet("")]
    public IActionResult List()
    {
        if (!Request.Query.ContainsKey("expand"))
            return Ok(new JsonArray(registry.All.Select(s => (JsonNode)s.Name).ToArray()));
        var o = new JsonObject();
        foreach (var s in registry.All) o[s.Name] = Describe(s);
        return Ok(o);
    }

    /// <summary>The server's settings, without its password (whose presence only is said), as ?expand shows them.</summary>
    private static JsonObject Describe(KnownDicomWebServer s) => new()
    {
        ["Url"] = s.Options.Url,
        ["Username"] = s.Options.Username,
        ["HasPassword"] = s.Options.Password.Length > 0,
        // Header values may be API keys: their names only.
        ["HttpHeaders"] = new JsonArray(s.Options.HttpHeaders.Keys.Select(k => (JsonNode)k).ToArray()),
        ["Timeout"] = s.Options.Timeout,
        ["DefinedIn"] = s.FromConfiguration ? "appsettings.json" : "database",
    };

    /// <summary>What can be done with the server, as Orthanc lists it.</summary>
    [HttpGet("{name}")]
    public IActionResult Operations(string name)
    {
        registry.Get(name);
        return Ok(new JsonArray("get", "qido", "retrieve", "stow"));
    }

    /// <summary>Adds or replaces a server kept in the database: {"Url", "Username", "Password", "HttpHeaders", "Timeout"} or ["url", "user", "password"].</summary>
    [HttpPut("{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Put(string name, [FromBody] DicomWebServerOptions server, CancellationToken ct)
    {
        await registry.SaveAsync(name, server, ct);
        return Ok(new JsonObject());
    }

    [HttpDelete("{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Delete(string name, CancellationToken ct)
    {
        await registry.DeleteAsync(name, ct);
        return Ok(new JsonObject());
    }

    /// <summary>QIDO-RS on the remote; its DICOM JSON answer as it came.</summary>
    [HttpPost("{name}/qido")]
    public async Task<IActionResult> Qido(string name, [FromBody] DicomWebQueryRequest request, CancellationToken ct) =>
        Ok(await client.QidoAsync(name, request.Uri.Length > 0 ? request.Uri : throw new DicomValidationException("\"Uri\" must name the resource to search, e.g. /studies"),
            request.Arguments, ct));

    /// <summary>Any GET under the remote's Url, answered with its content type and body.</summary>
    [HttpPost("{name}/get")]
    public async Task<IActionResult> Get(string name, [FromBody] DicomWebQueryRequest request, CancellationToken ct)
    {
        var (contentType, body) = await client.GetAsync(name, request.Uri.Length > 0 ? request.Uri : throw new DicomValidationException("\"Uri\" is required"),
            request.Arguments, ct);
        return File(body, contentType);
    }

    [HttpPost("{name}/stow")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Stow(string name, [FromBody] DicomWebStowRequest request, [FromServices] JobEngine jobs, CancellationToken ct)
    {
        registry.Get(name);
        if (request.Resources.Count == 0) throw new DicomValidationException("\"Resources\" must name the resources to send");
        if (!request.Synchronous)
        {
            var job = jobs.Submit(DicomWebStowJob.JobType, DicomWebStowJob.Content(name, request.Resources), request.Priority, User.Identity?.Name,
                maxRetries: request.Retries, retryDelaySeconds: request.RetryDelay);
            return Ok(ApiJson.JobSubmitted(job));
        }
        var result = await client.StowAsync(name, request.Resources, null, ct);
        return Ok(new JsonObject
        {
            ["Server"] = name,
            ["InstancesCount"] = result.InstancesCount,
            ["FailedInstancesCount"] = result.FailedInstancesCount,
            ["FailedInstances"] = new JsonArray(result.FailedInstances.Select(i => (JsonNode)i).ToArray()),
            ["Failures"] = new JsonArray(result.Failures.Select(i => (JsonNode)i).ToArray()),
        });
    }

    [HttpPost("{name}/retrieve")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Retrieve(string name, [FromBody] DicomWebRetrieveRequest request, [FromServices] JobEngine jobs, CancellationToken ct)
    {
        registry.Get(name);
        if (request.Resources.Count == 0) throw new DicomValidationException("\"Resources\" must name what to retrieve: [{\"Study\": uid, \"Series\": uid, \"Instance\": uid}]");
        _ = request.Resources.Select(r => r.Path).ToList(); // UIDs checked now, not when the job runs
        if (request.AsJob)
        {
            var job = jobs.Submit(DicomWebRetrieveJob.JobType, DicomWebRetrieveJob.Content(name, request.Resources), request.Priority, User.Identity?.Name,
                maxRetries: request.Retries, retryDelaySeconds: request.RetryDelay);
            return Ok(ApiJson.JobSubmitted(job));
        }
        var answer = new JsonArray();
        foreach (var r in request.Resources)
        {
            var result = await client.RetrieveAsync(name, r, null, ct);
            answer.Add(new JsonObject
            {
                ["Resource"] = r.Path,
                ["ReceivedInstancesCount"] = result.Stored + result.AlreadyStored,
                ["Failures"] = new JsonArray(result.Failures.Select(f => (JsonNode)f).ToArray()),
                ["Studies"] = new JsonArray(result.StudyIds.Select(s => (JsonNode)s).ToArray()),
            });
        }
        return Ok(answer);
    }
}
