using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Jobs;
using OrthancWeb.Networking;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// /modalities: the DICOM SCU services in Orthanc's shapes. Failures to reach a modality are answered
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
        ["AllowStorageCommitment"] = m.AllowStorageCommitment, ["UseDicomTls"] = m.UseDicomTls,
        ["LocalAet"] = m.LocalAet ?? "", ["Timeout"] = m.Timeout, ["RetrieveMethod"] = m.RetrieveMethod, ["AllowTranscoding"] = m.AllowTranscoding,
        ["PreferredTransferSyntax"] = m.PreferredTransferSyntax ?? "",
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
            var job = jobs.Submit(ModalityStoreJob.JobType, ModalityStoreJob.Content(name, request.Resources, request.StorageCommitment), request.Priority, User.Identity?.Name,
                maxRetries: request.Retries, retryDelaySeconds: request.RetryDelay);
            return Ok(ApiJson.JobSubmitted(job));
        }
        var result = await modalities.StoreAsync(m, request.Resources, ct, request.StorageCommitment ? StorageCommitmentMode.Request : StorageCommitmentMode.None);
        var answer = new JsonObject
        {
            ["Description"] = "REST API",
            ["LocalAet"] = dicom.CurrentValue.DicomAet,
            ["RemoteAet"] = m.AET,
            ["ParentResources"] = new JsonArray(request.Resources.Select(i => (JsonNode)i).ToArray()),
            ["InstancesCount"] = result.InstancesCount,
            ["FailedInstancesCount"] = result.FailedInstancesCount,
        };
        if (result.Commitment is { } commitment)
        {
            // As Orthanc: the transaction to follow at /storage-commitment/{id}; a refused request is the request's failure.
            if (commitment.Error is { } error) throw new DimseFailureException(DimseStatus.ProcessingFailure, "Storage commitment not obtained: " + error) { CalledAE = m.AET };
            answer["StorageCommitmentTransactionUID"] = commitment.Transaction.Uid;
        }
        return Ok(answer);
    }

    /// <summary>
    /// Storage commitment SCU (Orthanc 1.6): {"DicomInstances": [...], "Resources": [...]} asks the modality to commit
    /// to those instances and answers {"ID", "Path"} of the transaction, whose report GET /storage-commitment/{id} shows.
    /// </summary>
    [HttpPost("modalities/{name}/storage-commitment")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> StorageCommitment(string name, [FromBody] StorageCommitmentRequestBody request, CancellationToken ct)
    {
        var m = Modality(name);
        var references = new List<SopReference>();
        foreach (var node in request.DicomInstances)
        {
            // {"SOPClassUID": ..., "SOPInstanceUID": ...} or Orthanc's shorthand ["class", "instance"].
            var (sopClass, sopInstance) = node switch
            {
                JsonObject o => (o["SOPClassUID"]?.GetValue<string>(), o["SOPInstanceUID"]?.GetValue<string>()),
                JsonArray { Count: 2 } a => (a[0]?.GetValue<string>(), a[1]?.GetValue<string>()),
                _ => (null, null),
            };
            if (string.IsNullOrWhiteSpace(sopClass) || string.IsNullOrWhiteSpace(sopInstance))
                throw new DicomValidationException("Each of \"DicomInstances\" must be {\"SOPClassUID\": ..., \"SOPInstanceUID\": ...} or [class, instance]");
            references.Add(new SopReference(sopClass.Trim(), sopInstance.Trim()));
        }
        references.AddRange(await modalities.ReferencesAsync(request.Resources, ct));
        var tx = await modalities.RequestStorageCommitmentAsync(m, references, ct);
        return Ok(new JsonObject { ["ID"] = tx.Uid, ["Path"] = "/storage-commitment/" + tx.Uid });
    }

    /// <summary>A storage commitment transaction of ours: {"RemoteAET", "Status": Pending|Success|Failure, "Success", "Failures"} (Orthanc's shape).</summary>
    [HttpGet("storage-commitment/{id}")]
    public IActionResult StorageCommitmentReport(string id, [FromServices] StorageCommitmentReports reports) =>
        Ok((reports.Get(id) ?? throw new KeyNotFoundException($"Unknown storage commitment transaction: {id}")).ToJson());

    /// <summary>
    /// Orthanc's POST /storage-commitment/{id}/remove: once the modality committed to every instance (Status Success),
    /// our copies are deleted (the point of asking, PS3.4 J.3: the modality keeps responsibility for them).
    /// </summary>
    [HttpPost("storage-commitment/{id}/remove")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> RemoveCommitted(string id, [FromServices] StorageCommitmentReports reports,
        [FromServices] Index.IndexQueries queries, [FromServices] Index.IndexWriter writer, CancellationToken ct)
    {
        var tx = reports.Get(id) ?? throw new KeyNotFoundException($"Unknown storage commitment transaction: {id}");
        if (tx.Status != StorageCommitmentStatus.Success)
            throw new DicomValidationException($"Storage commitment {id} is {tx.Status}: instances are removed only once every one is committed");
        foreach (var committed in tx.Report!.Committed)
            foreach (var instance in await queries.FindAsync(new Index.FindRequest(Index.ResourceLevel.Instance,
                [new Index.FindConstraint(Dicom.Data.DicomTags.SOPInstanceUID, committed.SopInstanceUid)]), ct))
                await writer.DeleteAsync(instance, Index.ResourceLevel.Instance, ct);
        return Ok(new JsonObject());
    }

    /// <summary>C-FIND: {"Level": "Study", "Query": {"PatientName": "DOE*"}} answers {"ID": ..., "Path": "/queries/..."}.</summary>
    [HttpPost("modalities/{name}/query")]
    [Authorize(Policy = Policies.Modify)]
    public async Task<IActionResult> Query(string name, [FromBody] ModalityQueryRequest request, [FromServices] QueryRetrieveService qr, CancellationToken ct)
    {
        var q = await qr.QueryAsync(name, request.Level, QueryRetrieveService.Identifier(request.Query), ct);
        return Ok(new JsonObject { ["ID"] = q.Id, ["Path"] = "/queries/" + q.Id });
    }

    /// <summary>C-MOVE: {"Level": "Study", "Resources": [{"StudyInstanceUID": "..."}], "TargetAet": "..."}.</summary>
    [HttpPost("modalities/{name}/move")]
    [Authorize(Policy = Policies.Modify)]
    public Task<IActionResult> Move(string name, [FromBody] ModalityMoveRequest request, [FromServices] QueryRetrieveService qr, CancellationToken ct) =>
        RetrieveAsync(name, request, RetrieveMethods.Move, qr, ct);

    /// <summary>C-GET (Orthanc 1.12.6's route, absent from 1.10): {"Level": "Study", "Resources": [...]}; the resources come back here.</summary>
    [HttpPost("modalities/{name}/get")]
    [Authorize(Policy = Policies.Modify)]
    public Task<IActionResult> Get(string name, [FromBody] ModalityMoveRequest request, [FromServices] QueryRetrieveService qr, CancellationToken ct) =>
        RetrieveAsync(name, request, RetrieveMethods.Get, qr, ct);

    private async Task<IActionResult> RetrieveAsync(string name, ModalityMoveRequest request, string method, QueryRetrieveService qr, CancellationToken ct)
    {
        var identifiers = request.Resources.Select(r => QueryRetrieveService.Identifier(r, "Resources")).ToList();
        var how = new RetrieveOptions { TargetAet = request.TargetAet, RetrieveMethod = method, Asynchronous = request.AsJob, Priority = request.Priority };
        return QueriesController.Started(await qr.RetrieveAsync(name, request.Level, identifiers, how, User.Identity?.Name, ct));
    }
}
