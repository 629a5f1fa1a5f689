using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom;
using OrthancWeb.Jobs;
using OrthancWeb.OrthancPeers;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// /peers: Orthanc peers in Orthanc 1.10's shapes. A peer that cannot be reached is Orthanc's 500 network error
/// (<see cref="ApiErrorFilter"/>), an unknown one a 404 "No peer with symbolic name".
/// </summary>
[ApiController]
[Authorize(Policy = Policies.View)]
[Route("peers")]
public sealed class PeersController(PeerRegistry registry, OrthancPeerClient client) : ControllerBase
{
    /// <summary>The names; with ?expand, each peer's public configuration (no password) by name.</summary>
    [HttpGet("")]
    public IActionResult List()
    {
        if (!Request.Query.ContainsKey("expand"))
            return Ok(new JsonArray(registry.All.Select(p => (JsonNode)p.Name).ToArray()));
        var o = new JsonObject();
        foreach (var p in registry.All) o[p.Name] = p.Options.Public();
        return Ok(o);
    }

    /// <summary>The operations on a peer (Orthanc's listing of the peer's URI).</summary>
    [HttpGet("{name}")]
    public IActionResult Operations(string name)
    {
        registry.Get(name);
        return Ok(new JsonArray("configuration", "store", "store-straight", "system"));
    }

    [HttpGet("{name}/configuration")]
    public IActionResult Configuration(string name) => Ok(registry.Get(name).Public());

    /// <summary>The peer's own GET /system, as it answered: the way to test that it can be reached.</summary>
    [HttpGet("{name}/system")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> PeerSystem(string name, CancellationToken ct) =>
        Content(await client.SystemAsync(name, ct), "application/json");

    /// <summary>Adds or replaces a peer kept in the database: {"Url", "Username", "Password", "HttpHeaders", ...} or ["url", "user", "password"].</summary>
    [HttpPut("{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Put(string name, [FromBody] OrthancPeerOptions peer, CancellationToken ct)
    {
        await registry.SaveAsync(name, peer, ct);
        return Ok(new JsonObject());
    }

    /// <summary>Deletes a peer added at run time; an unknown name is Orthanc's 404 "Accessing an inexistent item".</summary>
    [HttpDelete("{name}")]
    [Authorize(Policy = Policies.Administer)]
    public async Task<IActionResult> Delete(string name, CancellationToken ct) =>
        await registry.DeleteAsync(name, ct) ? Ok(new JsonObject())
            : ApiJson.Error(HttpContext, new ApiError(404, OrthancErrorCode.InexistentItem, $"Unknown Orthanc peer: {name}"));

    /// <summary>
    /// Sends resources: within the request (the answer is the job's content, as Orthanc's synchronous jobs), or as an
    /// OrthancPeerStore job with "Asynchronous": true (answered {"ID", "Path"}).
    /// </summary>
    [HttpPost("{name}/store")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Store(string name, [FromBody] PeerStoreRequest request, [FromServices] JobEngine jobs, CancellationToken ct)
    {
        var peer = registry.Get(name);
        if (request.Resources.FirstOrDefault(id => !PublicIds.IsWellFormed(id)) is { } bad)
            throw new System.Text.Json.JsonException($"This string is not a valid Orthanc identifier: {bad}");
        var how = new PeerSendOptions(request.Compress, request.Transcode is { Length: > 0 } t ? t : null, request.Permissive);
        if (how.Transcode is { } uid) Dicom.Imaging.Transcoder.ParseTarget(uid); // an unknown syntax is the request's error, not the job's
        // Unknown resources are refused before anything starts (Orthanc's 404).
        var instances = await client.InstancesAsync(request.Resources, ct);
        var content = PeerStoreJob.Content(name, peer, request.Resources, how);
        if (request.AsJob)
        {
            var job = jobs.Submit(PeerStoreJob.JobType, content, request.Priority, User.Identity?.Name);
            return Ok(ApiJson.JobSubmitted(job));
        }
        var result = await client.StoreAsync(name, instances, how, null, ct);
        foreach (var (k, v) in PeerStoreJob.Result(result)) content[k] = v?.DeepClone();
        content.Remove(nameof(PeerStoreParameters.PeerName));
        return Ok(content);
    }

    /// <summary>POST /peers/{name}/store-straight: the DICOM file of the body goes to the peer without being stored here; the peer's answer is ours.</summary>
    [HttpPost("{name}/store-straight")]
    [Authorize(Policy = Policies.Modify)]
    [DisableRequestSizeLimit]
    public async Task<IActionResult> StoreStraight(string name, CancellationToken ct)
    {
        registry.Get(name);
        if (Request.ContentLength == 0) throw new DicomValidationException("Empty body: expected a DICOM file");
        return Ok(await client.StoreStraightAsync(name, Request.Body, Request.ContentLength, ct));
    }
}
