using System.Text.Json.Nodes;
using OrthancWeb.Index;
using OrthancWeb.Requests;

namespace OrthancWeb.Networking;

/// <summary>
/// POST /modalities/{name}/store: {"Resources": [...], "Asynchronous": true, "Retries": 5, "RetryDelay": 30}, or
/// Orthanc's shorter forms, a bare ID or a JSON array of IDs.
/// </summary>
public sealed record ModalityStoreRequest : IShorthandBody<ModalityStoreRequest>
{
    /// <summary>Public IDs of patients, studies, series or instances.</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];
    /// <summary>Send as a job (answered with its ID) instead of within the request.</summary>
    public bool Asynchronous { get; init; }
    public int Priority { get; init; }
    /// <summary>Attempts after the first when the destination is down (jobs only).</summary>
    public int Retries { get; init; }
    /// <summary>Seconds between attempts (jobs only).</summary>
    public int RetryDelay { get; init; } = 10;
    /// <summary>
    /// Then ask the modality to commit to the instances it received (Storage Commitment, PS3.4 J.3): a job waits for
    /// the report; within the request (as Orthanc) the answer names the transaction, GET /storage-commitment/{id}.
    /// </summary>
    public bool StorageCommitment { get; init; }

    public static JsonObject? Expand(JsonNode shorthand) =>
        RequestBody.Strings(shorthand) is { } ids ? new JsonObject { [nameof(Resources)] = ids } : null;
}

/// <summary>
/// POST /modalities/{name}/storage-commitment (Orthanc 1.6): {"DicomInstances": [{"SOPClassUID", "SOPInstanceUID"}
/// or ["class", "instance"], ...]} and/or {"Resources": [public IDs]}.
/// </summary>
public sealed record StorageCommitmentRequestBody
{
    public IReadOnlyList<JsonNode> DicomInstances { get; init; } = [];
    public IReadOnlyList<string> Resources { get; init; } = [];
}

/// <summary>POST /modalities/{name}/query: {"Level": "Study", "Query": {"PatientName": "DOE*"}}.</summary>
public sealed record ModalityQueryRequest
{
    public required ResourceLevel Level { get; init; }
    /// <summary>Keyword or gggg,eeee to the value to match (C-FIND matching, PS3.4 §C.2.2.2).</summary>
    public Dictionary<string, string> Query { get; init; } = [];
}

/// <summary>
/// POST /modalities/{name}/move and /get: {"Level": "Study", "Resources": [{"StudyInstanceUID": "..."}], "TargetAet": "..."}
/// (TargetAet for C-MOVE only). Within the request unless "Asynchronous": true or "Synchronous": false (a job).
/// </summary>
public sealed record ModalityMoveRequest
{
    public required ResourceLevel Level { get; init; }
    /// <summary>One identifier per resource: its unique keys down to the level.</summary>
    public IReadOnlyList<Dictionary<string, string>> Resources { get; init; } = [];
    /// <summary>The AE to send to; ours when absent.</summary>
    public string? TargetAet { get; init; }
    public bool Asynchronous { get; init; }
    public bool Synchronous { get; init; } = true;
    public int Priority { get; init; }

    public bool AsJob => Asynchronous || !Synchronous;
}

/// <summary>POST /queries/{id}/answers/{n}/query-series (and -studies, -instances): {"Query": {"SeriesDescription": "*"}}.</summary>
public sealed record QueryChildrenRequest
{
    public Dictionary<string, string> Query { get; init; } = [];
}

/// <summary>
/// POST /queries/{id}/retrieve and /answers/{n}/retrieve: {"TargetAet": "...", "Synchronous": false, "RetrieveMethod": "C-GET"},
/// or the target AE title alone (Orthanc 1.10's shapes; RetrieveMethod is Orthanc 1.12.6's).
/// </summary>
public sealed record QueryRetrieveRequest : IShorthandBody<QueryRetrieveRequest>
{
    public string? TargetAet { get; init; }
    public bool Asynchronous { get; init; }
    public bool Synchronous { get; init; } = true;
    public int Priority { get; init; }
    /// <summary>C-MOVE or C-GET; the modality's RetrieveMethod when absent.</summary>
    public string? RetrieveMethod { get; init; }

    public bool AsJob => Asynchronous || !Synchronous;

    public static JsonObject? Expand(JsonNode shorthand) =>
        shorthand is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String ? new JsonObject { [nameof(TargetAet)] = v.GetValue<string>() } : null;
}
