using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Security;

namespace OrthancWeb.Networking;

/// <summary>
/// A C-FIND run against a modality, kept so its answers can be read, refined and retrieved (Orthanc's /queries):
/// <paramref name="Query"/> is what was asked (as /queries/{id}/query shows it), the answers what came back.
/// </summary>
public sealed record ModalityQuery(string Id, string Modality, ResourceLevel Level, DicomDataset Query, IReadOnlyList<DicomDataset> Answers, bool Truncated = false);

/// <summary>How to retrieve: where to (C-MOVE's target, ours when empty), how (C-MOVE or C-GET; the modality's setting when empty), as a job or not.</summary>
public sealed record RetrieveOptions
{
    public string? TargetAet { get; init; }
    public string? RetrieveMethod { get; init; }
    public bool Asynchronous { get; init; }
    public int Priority { get; init; }
}

/// <summary>A retrieve started: the job running it (asynchronous), or its result (synchronous, Orthanc's job content shape).</summary>
public sealed record RetrieveStarted(Job? Job, JsonObject? Result);

/// <summary>
/// Query/Retrieve from remote modalities, the one application service behind /queries, /modalities/{id}/query|move|get
/// and the Query/Retrieve page: C-FIND results kept (at most QueryRetrieveSize, least recently used dropped, as
/// Orthanc), queries refined from an answer to the level below, and retrieves by C-MOVE or C-GET, as jobs or in line.
/// </summary>
public sealed class QueryRetrieveService(ModalityClient client, JobEngine jobs, IOptionsMonitor<DicomOptions> options, IAuditTrail audit)
{
    private readonly QueryResults _queries = new(() => options.CurrentValue.QueryRetrieveSize);

    /// <summary>Unique keys per level: what identifies an answer for a C-MOVE/C-GET (PS3.4 C.4.2.2.1) and a refined query.</summary>
    private static readonly DicomTag[] UniqueKeys = [DicomTags.PatientID, DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID];

    /// <summary>Return keys asked for at each level even when the caller did not (as Orthanc, so scripts find them in every answer).</summary>
    private static readonly DicomTag[] DefaultKeys =
    [
        DicomTags.PatientID, DicomTags.PatientName, DicomTags.StudyInstanceUID, DicomTags.SeriesInstanceUID, DicomTags.SOPInstanceUID,
        DicomTags.AccessionNumber, DicomTags.StudyDate, DicomTags.Modality,
    ];

    public ModalityOptions Modality(string name) => client.Find(name) ?? throw new UnknownModalityException(name);

    /// <summary>C-FIND at a level; the answers are kept under a new ID.</summary>
    public async Task<ModalityQuery> QueryAsync(string modality, ResourceLevel level, DicomDataset query, CancellationToken ct)
    {
        var m = Modality(modality);
        var identifier = Complete(query, level);
        var found = await client.FindAsync(m, level, identifier, ct);
        var result = new ModalityQuery(Guid.NewGuid().ToString(), modality, level, query, found.Answers, found.Truncated);
        _queries.Add(result);
        return result;
    }

    /// <summary>The query with its level's default return keys added (without changing what the caller gave).</summary>
    private static DicomDataset Complete(DicomDataset query, ResourceLevel level)
    {
        var identifier = new DicomDataset();
        foreach (var item in query) identifier.AddOrUpdate(item);
        foreach (var tag in DefaultKeys)
            if ((MainDicomTags.LevelOf(tag) ?? ResourceLevel.Patient) <= level && !identifier.Contains(tag)) identifier.Add(tag, "");
        return identifier;
    }

    /// <summary>Parses {"PatientName": "DOE*", "0008,0050": ""} (keywords or gggg,eeee) into an identifier; an unknown tag is a 400.</summary>
    public static DicomDataset Identifier(IReadOnlyDictionary<string, string> fields, string field = "Query")
    {
        var ds = new DicomDataset();
        foreach (var (key, value) in fields)
            ds.Add(DicomTag.TryParse(key, out var tag) ? tag : throw new DicomValidationException($"Unknown tag {key} in field: {field}"), value ?? "");
        return ds;
    }

    public ModalityQuery? Get(string id)
    {
        Caller.Demand(Policies.Modify, "read query results");
        return _queries.Get(id);
    }

    /// <summary>A query whose answers (patient data from the modality) are read: recorded as a view of it in the audit trail.</summary>
    public ModalityQuery? Read(string id)
    {
        if (Get(id) is not { } q) return null;
        audit.Record(new AuditEvent(AuditActions.View, AuditOutcome.Success)
        {
            ResourceLevel = "Query",
            ResourceId = q.Id,
            PatientId = FindScp.NonEmpty(q.Query.GetString(DicomTags.PatientID)),
            StudyInstanceUid = FindScp.NonEmpty(q.Query.GetString(DicomTags.StudyInstanceUID)),
            Details = $"{q.Answers.Count} answer(s) of a {q.Level} C-FIND at {q.Modality}",
        });
        return q;
    }

    public IReadOnlyCollection<string> Ids
    {
        get
        {
            Caller.Demand(Policies.Modify, "read query results");
            return _queries.Ids;
        }
    }

    public bool Delete(string id)
    {
        Caller.Demand(Policies.Modify, "delete query results");
        return _queries.Remove(id);
    }

    /// <summary>The levels an answer can be refined to (Orthanc's query-studies, query-series, query-instances).</summary>
    public static IReadOnlyList<ResourceLevel> ChildLevels(ResourceLevel level) =>
        [.. new[] { ResourceLevel.Study, ResourceLevel.Series, ResourceLevel.Instance }.Where(l => l > level)];

    /// <summary>
    /// A C-FIND below one answer: its unique keys (the study's UID for its series, ...) and <paramref name="query"/>'s
    /// own keys, kept as a new query.
    /// </summary>
    public async Task<ModalityQuery> QueryChildrenAsync(string id, int index, ResourceLevel childLevel, DicomDataset query, CancellationToken ct)
    {
        var parent = Get(id) ?? throw new UnknownQueryException(id);
        if (index < 0 || index >= parent.Answers.Count) throw new UnknownQueryException($"{id}/answers/{index}");
        if (!ChildLevels(parent.Level).Contains(childLevel))
            throw new DicomValidationException($"An answer at level {parent.Level} cannot be refined to level {childLevel}");
        var keys = Keys(parent.Answers[index], parent.Level);
        // Study Root below the patient (as Orthanc): the patient's ID is a key only when the parent is a patient.
        foreach (var item in query) keys.AddOrUpdate(item);
        return await QueryAsync(parent.Modality, childLevel, keys, ct);
    }

    /// <summary>The unique keys of an answer down to its level: what a C-MOVE or C-GET needs (PS3.4 C.4.2.2.1).</summary>
    public static DicomDataset Keys(DicomDataset answer, ResourceLevel level)
    {
        var ds = new DicomDataset();
        // Study Root: above the study level only a patient-level answer carries the patient's ID as its key.
        for (var i = level == ResourceLevel.Patient ? 0 : 1; i <= (int)level; i++)
            if (answer.GetString(UniqueKeys[i]) is { Length: > 0 } v) ds.Add(UniqueKeys[i], v);
        return ds;
    }

    /// <summary>Retrieves every answer of a query, or one (<paramref name="index"/>).</summary>
    public Task<RetrieveStarted> RetrieveAnswersAsync(string id, int? index, RetrieveOptions how, string? user, CancellationToken ct)
    {
        var q = Get(id) ?? throw new UnknownQueryException(id);
        if (index is { } i && (i < 0 || i >= q.Answers.Count)) throw new UnknownQueryException($"{id}/answers/{i}");
        var answers = index is { } n ? [q.Answers[n]] : q.Answers;
        return RetrieveAsync(q.Modality, q.Level, [.. answers.Select(a => Keys(a, q.Level))], how, user, ct);
    }

    /// <summary>C-GET or C-MOVE: the method asked for, else the modality's RetrieveMethod, else DicomDefaultRetrieveMethod.</summary>
    public bool UsesGet(ModalityOptions m, string? method) =>
        method is { Length: > 0 } asked
            ? RetrieveMethods.IsMethod(asked) ? string.Equals(asked, RetrieveMethods.Get, StringComparison.OrdinalIgnoreCase)
                : throw new DicomValidationException($"RetrieveMethod must be {RetrieveMethods.Move} or {RetrieveMethods.Get}, not '{asked}'")
            : RetrieveMethods.UsesGet(m, options.CurrentValue);

    /// <summary>Retrieves resources by their identifiers: as a job (DicomMoveScu or DicomGetScu) or within the call.</summary>
    public async Task<RetrieveStarted> RetrieveAsync(string modality, ResourceLevel level, IReadOnlyList<DicomDataset> identifiers, RetrieveOptions how, string? user,
        CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "retrieve from modalities");
        var m = Modality(modality);
        if (identifiers.Count == 0) throw new DicomValidationException("Nothing to retrieve");
        var get = UsesGet(m, how.RetrieveMethod);
        if (get && !string.IsNullOrEmpty(how.TargetAet) && !string.Equals(how.TargetAet, client.LocalAetFor(m), StringComparison.OrdinalIgnoreCase))
            throw new DicomValidationException("A C-GET brings the resources here: TargetAet is for C-MOVE only");
        var parameters = new ModalityMoveParameters
        {
            Description = get ? "Retrieve from modality (C-GET)" : "Retrieve from modality (C-MOVE)",
            RemoteModality = modality,
            Level = level,
            TargetAet = get ? null : how.TargetAet is { Length: > 0 } t ? t : null,
            Query = [.. identifiers.Select(ModalityRetrieval.ToJson)],
        };
        if (how.Asynchronous)
        {
            var job = jobs.Submit(get ? ModalityGetJob.JobType : ModalityMoveJob.JobType, Job.ContentOf(parameters), how.Priority, user);
            return new RetrieveStarted(job, null);
        }
        try
        {
            return new RetrieveStarted(null, await ModalityRetrieval.RunAsync(client, parameters with { Description = "REST API" }, get, null, ct));
        }
        catch (JobItemsFailedException ex)
        {
            // In line, a failed retrieve is the modality's DIMSE failure (ApiErrorFilter's network error), its status kept.
            var status = Convert.ToUInt16(ex.Result["Status"]!.GetValue<string>()[2..], 16);
            throw new DimseFailureException(status, ex.Message) { CalledAE = m.AET };
        }
    }
}

/// <summary>No query (or answer) of that ID is kept: never made, or dropped past QueryRetrieveSize (HTTP 404).</summary>
public sealed class UnknownQueryException(string id) : KeyNotFoundException($"Unknown query: {id}");

/// <summary>Runs a retrieve for the jobs and the synchronous REST calls alike, and shapes its result as Orthanc's job content.</summary>
internal static class ModalityRetrieval
{
    public static Dictionary<string, string> ToJson(DicomDataset ds) =>
        ds.ToDictionary(item => item.Tag.ToOrthancKey(), item => ds.GetString(item.Tag) ?? "");

    public static DicomDataset FromJson(Dictionary<string, string> q)
    {
        var ds = new DicomDataset();
        foreach (var (key, value) in q) ds.Add(DicomTag.Parse(key), value ?? ""); // null in jobs saved before typed parameters
        return ds;
    }

    public static async Task<JsonObject> RunAsync(ModalityClient client, ModalityMoveParameters parameters, bool get, IProgress<double>? progress, CancellationToken ct)
    {
        var m = client.Find(parameters.RemoteModality) ?? throw new UnknownModalityException(parameters.RemoteModality);
        var identifiers = parameters.Query.Select(FromJson).ToList();
        var report = progress is null ? null : new ImmediateProgress<RetrieveProgress>(p => progress.Report(p.Percent));
        var last = get
            ? await client.GetAsync(m, parameters.Level, identifiers, report, ct)
            : await client.MoveAsync(m, parameters.Level, identifiers, parameters.TargetAet, report, ct);
        var result = new JsonObject
        {
            ["Description"] = parameters.Description,
            ["LocalAet"] = client.LocalAetFor(m),
            ["RemoteAet"] = m.AET,
            ["RetrieveMethod"] = get ? RetrieveMethods.Get : RetrieveMethods.Move,
            ["Query"] = new JsonArray([.. parameters.Query.Select(q => (JsonNode)new JsonObject(q.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))))]),
            ["Status"] = $"0x{last.Status:X4}",
            ["CompletedSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfCompletedSuboperations, 0, 0),
            ["FailedSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfFailedSuboperations, 0, 0),
            ["WarningSubOperations"] = last.Command.GetValueOrDefault<int>(DicomTags.NumberOfWarningSuboperations, 0, 0),
        };
        if (!get) result["TargetAet"] = parameters.TargetAet ?? client.LocalAetFor(m);
        if (DimseStatus.IsFailure(last.Status))
            throw new JobItemsFailedException($"{(get ? "C-GET" : "C-MOVE")} failed with status 0x{last.Status:X4}: {last.Command.GetString(DicomTags.ErrorComment)}", result);
        return result;
    }
}

/// <summary>
/// The C-FIND results /queries serves, at most QueryRetrieveSize of them: adding one past the limit drops the least
/// recently used (created or read), as Orthanc does. They would otherwise stay in memory until the server stops.
/// </summary>
internal sealed class QueryResults(Func<int> capacity)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<ModalityQuery>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<ModalityQuery> _recency = new(); // most recently used first

    public void Add(ModalityQuery query)
    {
        lock (_gate)
        {
            _byId[query.Id] = _recency.AddFirst(query);
            while (_byId.Count > Math.Max(1, capacity()) && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _byId.Remove(oldest.Value.Id);
            }
        }
    }

    public bool Remove(string id)
    {
        lock (_gate)
        {
            if (!_byId.Remove(id, out var node)) return false;
            _recency.Remove(node);
            return true;
        }
    }

    public ModalityQuery? Get(string id)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var node)) return null;
            _recency.Remove(node);
            _recency.AddFirst(node);
            return node.Value;
        }
    }

    public IReadOnlyCollection<string> Ids
    {
        get { lock (_gate) return _recency.Select(q => q.Id).ToList(); }
    }
}
