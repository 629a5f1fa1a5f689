using System.Text.Json.Nodes;
using OrthancWeb.Requests;

namespace OrthancWeb.DicomWeb.Client;

/// <summary>POST /dicom-web/servers/{name}/qido and /get: {"Uri": "/studies", "Arguments": {"PatientID": "12*"}}.</summary>
public sealed record DicomWebQueryRequest
{
    public string Uri { get; init; } = "";
    /// <summary>Query parameters (PS3.18 8.3.4: attribute keyword or tag, limit, offset, includefield, fuzzymatching).</summary>
    public Dictionary<string, string> Arguments { get; init; } = [];
}

/// <summary>
/// POST /dicom-web/servers/{name}/stow: {"Resources": [our public IDs], "Synchronous": false} (a bare ID or an array
/// of them also reads). A job unless "Synchronous" is true; "Retries" and "RetryDelay" as for /modalities/{name}/store.
/// </summary>
public sealed record DicomWebStowRequest : IShorthandBody<DicomWebStowRequest>
{
    public IReadOnlyList<string> Resources { get; init; } = [];
    public bool Synchronous { get; init; }
    public int Priority { get; init; }
    public int Retries { get; init; }
    public int RetryDelay { get; init; } = 10;

    public static JsonObject? Expand(JsonNode shorthand) =>
        RequestBody.Strings(shorthand) is { } ids ? new JsonObject { [nameof(Resources)] = ids } : null;
}

/// <summary>POST /dicom-web/servers/{name}/retrieve: {"Resources": [{"Study": uid, "Series": uid, "Instance": uid}]}; a job unless "Synchronous".</summary>
public sealed record DicomWebRetrieveRequest
{
    public IReadOnlyList<DicomWebResource> Resources { get; init; } = [];
    public bool Synchronous { get; init; }
    public int Priority { get; init; }
    public int Retries { get; init; }
    public int RetryDelay { get; init; } = 10;
}
