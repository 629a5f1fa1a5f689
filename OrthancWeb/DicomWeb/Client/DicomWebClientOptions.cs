using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OrthancWeb.Requests;

namespace OrthancWeb.DicomWeb.Client;

/// <summary>
/// The DICOMweb client's settings, under "OrthancWeb" beside DicomModalities: the remote servers we know
/// (Orthanc's DicomWeb.Servers, flattened as our DicomModalities are) and what a remote may make us hold.
/// </summary>
public sealed class DicomWebClientOptions : IValidatableObject
{
    /// <summary>The remote DICOMweb servers, by a name of our choosing.</summary>
    public Dictionary<string, DicomWebServerOptions> DicomWebServers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>MB a JSON answer (QIDO-RS, STOW-RS response, /get) may take; a remote sending more is cut off.</summary>
    [Range(1, 1024)]
    public int DicomWebClientMaximumJsonSize { get; set; } = 64;

    /// <summary>MB one part of a WADO-RS answer (one instance) may take; it is spooled to disk, never held in memory.</summary>
    [Range(1, 65536)]
    public int DicomWebClientMaximumPartSize { get; set; } = 4096;

    /// <summary>Instances in one STOW-RS request; a send of more is split, so a remote never has to take one huge body.</summary>
    [Range(1, 10000)]
    public int DicomWebClientStowBatchSize { get; set; } = 100;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (name, server) in DicomWebServers)
            if (server.Problem() is { } problem)
                yield return new ValidationResult($"DicomWebServers:{name}: {problem}", [nameof(DicomWebServers)]);
    }
}

/// <summary>
/// One remote DICOMweb server, with the names of Orthanc's DICOMweb plugin: its base URL (the one QIDO's /studies
/// hangs under), HTTP Basic credentials, extra headers sent with every request, and a timeout per request.
/// ["url", "user", "password"] also reads, as in Orthanc.
/// </summary>
public sealed class DicomWebServerOptions : IShorthandBody<DicomWebServerOptions>
{
    public string Url { get; set; } = "";
    public string Username { get; set; } = "";
    public string Password { get; set; } = "";
    public Dictionary<string, string> HttpHeaders { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Seconds one HTTP request may take, its answer read to the end included (Orthanc's HttpTimeout is per request too).</summary>
    public int Timeout { get; set; } = 60;

    [JsonIgnore]
    public Uri BaseUri => new(Url.EndsWith('/') ? Url : Url + "/", UriKind.Absolute);

    /// <summary>Why this entry cannot be used, or null.</summary>
    public string? Problem()
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return "Url must be an absolute http:// or https:// URL";
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0) return "Url must have no query or fragment";
        if (uri.UserInfo.Length > 0) return "put the credentials in Username and Password, not in Url";
        if (Password.Length > 0 && Username.Length == 0) return "a Password needs its Username";
        if (Username.Contains(':')) return "Username cannot contain ':' (HTTP Basic, RFC 7617)";
        if (Timeout is < 1 or > 86400) return "Timeout must be 1 to 86400 seconds";
        foreach (var (header, value) in HttpHeaders)
        {
            if (header.Length == 0 || header.Any(c => c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".Contains(c)))
                return $"HttpHeaders: \"{header}\" is not a header name";
            if (value.Any(c => c is '\r' or '\n')) return $"HttpHeaders: the value of {header} has a line break";
            if (header.Equals("Authorization", StringComparison.OrdinalIgnoreCase) && Username.Length > 0)
                return "HttpHeaders sets Authorization while Username is set: choose one";
        }
        return null;
    }

    public static JsonObject? Expand(JsonNode shorthand) => shorthand is JsonArray { Count: >= 1 } a
        ? new JsonObject { [nameof(Url)] = a[0]?.DeepClone(), [nameof(Username)] = a.Count > 1 ? a[1]?.DeepClone() : "", [nameof(Password)] = a.Count > 2 ? a[2]?.DeepClone() : "" }
        : null;
}
