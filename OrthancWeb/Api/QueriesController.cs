using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Index;
using OrthancWeb.Networking;
using OrthancWeb.Security;

namespace OrthancWeb.Api;

/// <summary>
/// /queries: the C-FIND results kept by <see cref="QueryRetrieveService"/>, in Orthanc 1.10.1's shapes (checked against
/// it): listing, answers, refinement to the level below, retrieve by C-MOVE or C-GET. Everything needs the Modify role,
/// as the queries that made them. An unknown query or answer is a 404.
/// </summary>
[ApiController]
[Authorize(Policy = Policies.Modify)]
[Route("queries")]
public sealed class QueriesController(QueryRetrieveService qr) : ControllerBase
{
    private bool Simplify => Request.Query.ContainsKey("simplify");

    private JsonObject Shape(DicomDataset ds) => Simplify ? new OrthancJson().ToSimplified(ds) : new OrthancJson().ToFull(ds);

    private ModalityQuery Query(string id) => qr.Get(id) ?? throw new UnknownQueryException(id);

    /// <summary>A query whose answers or keys are shown: the access goes to the audit trail.</summary>
    private ModalityQuery Read(string id) => qr.Read(id) ?? throw new UnknownQueryException(id);

    private static DicomDataset Answer(ModalityQuery q, int index) =>
        index >= 0 && index < q.Answers.Count ? q.Answers[index] : throw new UnknownQueryException($"{q.Id}/answers/{index}");

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)v)]);

    [HttpGet("")]
    public IActionResult Queries() => Ok(Strings(qr.Ids));

    [HttpGet("{id}")]
    public IActionResult Children(string id)
    {
        Query(id);
        return Ok(Strings(["answers", "level", "modality", "query", "retrieve"]));
    }

    /// <summary>Drops a query (Orthanc answers 200 even for an unknown ID; we say 404).</summary>
    [HttpDelete("{id}")]
    public IActionResult Delete(string id) => qr.Delete(id) ? Ok(new JsonObject()) : throw new UnknownQueryException(id);

    [HttpGet("{id}/answers")]
    public IActionResult Answers(string id)
    {
        var q = Request.Query.ContainsKey("expand") ? Read(id) : Query(id);
        return Request.Query.ContainsKey("expand")
            ? Ok(new JsonArray([.. q.Answers.Select(a => (JsonNode)Shape(a))]))
            : Ok(Strings(Enumerable.Range(0, q.Answers.Count).Select(i => i.ToString(CultureInfo.InvariantCulture))));
    }

    /// <summary>What can be done with one answer: its content, its retrieve, and the refinements below its level.</summary>
    [HttpGet("{id}/answers/{index:int}")]
    public IActionResult Answer(string id, int index)
    {
        var q = Query(id);
        Answer(q, index);
        return Ok(Strings(AnswerActions.Concat(QueryRetrieveService.ChildLevels(q.Level).Select(ChildRoute))));
    }

    private static readonly string[] AnswerActions = ["content", "retrieve"];

    private static string ChildRoute(ResourceLevel level) => level switch
    {
        ResourceLevel.Study => "query-studies",
        ResourceLevel.Series => "query-series",
        _ => "query-instances",
    };

    [HttpGet("{id}/answers/{index:int}/content")]
    public IActionResult Content(string id, int index) => Ok(Shape(Answer(Read(id), index)));

    /// <summary>C-FIND below one answer: {"Query": {...}} answers a new query's {"ID", "Path"}.</summary>
    [HttpPost("{id}/answers/{index:int}/query-studies")]
    public Task<IActionResult> QueryStudies(string id, int index, [FromBody] QueryChildrenRequest request, CancellationToken ct) =>
        ChildrenAsync(id, index, ResourceLevel.Study, request, ct);

    [HttpPost("{id}/answers/{index:int}/query-series")]
    public Task<IActionResult> QuerySeries(string id, int index, [FromBody] QueryChildrenRequest request, CancellationToken ct) =>
        ChildrenAsync(id, index, ResourceLevel.Series, request, ct);

    [HttpPost("{id}/answers/{index:int}/query-instances")]
    public Task<IActionResult> QueryInstances(string id, int index, [FromBody] QueryChildrenRequest request, CancellationToken ct) =>
        ChildrenAsync(id, index, ResourceLevel.Instance, request, ct);

    private async Task<IActionResult> ChildrenAsync(string id, int index, ResourceLevel level, QueryChildrenRequest request, CancellationToken ct)
    {
        var parent = Query(id);
        Answer(parent, index);
        // Orthanc answers 404 for a refinement its answer's level does not list (query-studies of a study).
        if (!QueryRetrieveService.ChildLevels(parent.Level).Contains(level)) throw new UnknownQueryException($"{id}/answers/{index}/{ChildRoute(level)}");
        var q = await qr.QueryChildrenAsync(id, index, level, QueryRetrieveService.Identifier(request.Query), ct);
        return Ok(new JsonObject { ["ID"] = q.Id, ["Path"] = "/queries/" + q.Id });
    }

    [HttpPost("{id}/answers/{index:int}/retrieve")]
    public async Task<IActionResult> RetrieveAnswer(string id, int index, [FromBody] QueryRetrieveRequest request, CancellationToken ct) =>
        Started(await qr.RetrieveAnswersAsync(id, index, How(request), User.Identity?.Name, ct));

    /// <summary>Retrieves every answer: the body is the target AE alone, or {"TargetAet", "Synchronous", "Asynchronous", "RetrieveMethod"}.</summary>
    [HttpPost("{id}/retrieve")]
    public async Task<IActionResult> Retrieve(string id, [FromBody] QueryRetrieveRequest request, CancellationToken ct) =>
        Started(await qr.RetrieveAnswersAsync(id, null, How(request), User.Identity?.Name, ct));

    private static RetrieveOptions How(QueryRetrieveRequest r) =>
        new() { TargetAet = r.TargetAet, RetrieveMethod = r.RetrieveMethod, Asynchronous = r.AsJob, Priority = r.Priority };

    /// <summary>Orthanc's answer to a job it ran: {"ID", "Path"} when submitted, the job's content when run within the request.</summary>
    internal static IActionResult Started(RetrieveStarted started) =>
        new OkObjectResult(started.Job is { } job ? ApiJson.JobSubmitted(job) : started.Result);

    /// <summary>Plain text, as Orthanc: "Study", "Series", ...</summary>
    [HttpGet("{id}/level")]
    public IActionResult Level(string id) => Content(Query(id).Level.ToString(), "text/plain");

    [HttpGet("{id}/modality")]
    public IActionResult Modality(string id) => Content(Query(id).Modality, "text/plain");

    /// <summary>What was asked (without the return keys added for the peer), as Orthanc.</summary>
    [HttpGet("{id}/query")]
    public IActionResult QueryOf(string id) => Ok(Shape(Read(id).Query));
}
