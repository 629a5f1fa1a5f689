using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Annotations;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// Orthanc's /tools/bulk-... routes (1.9.4): one request for many resources of any level. Unknown IDs are skipped by
/// bulk-delete and bulk-content and refused (404) by bulk-modify and bulk-anonymize, as Orthanc 1.10.1 does.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("tools")]
public sealed class BulkController(IndexQueries queries, IndexWriter writer, MetadataService metadata, BulkModification bulk, JobEngine jobs, IAuditTrail audit) : ControllerBase
{
    /// <summary>Deletes each resource found (its empty parents with it); answers an empty 200, as Orthanc.</summary>
    [HttpPost("bulk-delete")]
    public async Task<IActionResult> Delete([FromBody] BulkDeleteRequest request, CancellationToken ct)
    {
        foreach (var id in request.ResourceIds())
            if (await queries.GetAsync(id, null, ct) is { } resource)
                await writer.DeleteAsync(id, resource.Level, ct);
        return Content("", "text/plain");
    }

    /// <summary>
    /// The resources as GET /{level}/{id} shows them, with a "Metadata" object. Without a Level, in the order asked
    /// (repeats included); with one, the related resources of that level, each once, in the order of their IDs.
    /// </summary>
    [HttpPost("bulk-content")]
    [Authorize(Policy = Policies.View)]
    public async Task<IActionResult> Content([FromBody] BulkContentRequest request, CancellationToken ct)
    {
        var ids = request.ResourceIds();
        var format = request.Full ? TagFormat.Full : request.ShortForm ? TagFormat.TagNumbers : TagFormat.Simplify;
        IEnumerable<(string Id, ResourceLevel? Level)> wanted = ids.Select(id => (id, (ResourceLevel?)null));
        if (request.Level is { } levelName)
        {
            var level = BulkRequests.ParseLevel(levelName);
            var related = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var id in ids)
                if (await queries.GetAsync(id, null, ct) is { } r)
                    related.UnionWith(await queries.RelativesAsync(id, r.Level, level, ct) ?? []);
            wanted = related.Select(id => (id, (ResourceLevel?)level));
        }
        var answer = new JsonArray();
        foreach (var (id, level) in wanted)
        {
            if (await queries.GetAsync(id, level, ct) is not { } resource) continue;
            var json = ApiJson.Resource(resource, format);
            if (request.Metadata)
            {
                var items = new JsonObject();
                foreach (var item in await metadata.ListAsync(id, resource.Level, ct) ?? []) items[item.Name] = item.Value;
                json["Metadata"] = items;
            }
            answer.Add(json);
        }
        audit.Record(new AuditEvent(AuditActions.View, AuditOutcome.Success)
        {
            Details = string.Create(CultureInfo.InvariantCulture, $"POST /tools/bulk-content: {answer.Count} resources"),
        });
        return Ok(answer);
    }

    [HttpPost("bulk-modify")]
    public async Task<IActionResult> Modify([FromBody] BulkModificationRequest request, CancellationToken ct)
    {
        var level = request.ModificationLevel();
        BulkModification.OptionsOf(request);
        if (!request.RunsAsJob) return Ok((await bulk.ModifyAsync(request, new UidMap(), null, ct)).ToJson());
        await bulk.InstancesOfAsync(request, ct);
        return Submitted(jobs.Submit(ResourceModificationJob.JobType, ResourceModificationJob.BulkContent(request, request.ResourceIds(), level), request.Priority, User.Identity?.Name));
    }

    [HttpPost("bulk-anonymize")]
    public async Task<IActionResult> Anonymize([FromBody] BulkAnonymizationRequest request, CancellationToken ct)
    {
        request.ToOptions();
        if (!request.RunsAsJob) return Ok((await bulk.AnonymizeAsync(request, new UidMap(), null, ct)).ToJson());
        await bulk.InstancesOfAsync(request, ct);
        return Submitted(jobs.Submit(ResourceModificationJob.JobType, ResourceModificationJob.BulkContent(request, request.ResourceIds(), ResourceLevel.Patient), request.Priority, User.Identity?.Name));
    }

    private OkObjectResult Submitted(Job job) => Ok(ApiJson.JobSubmitted(job));
}
