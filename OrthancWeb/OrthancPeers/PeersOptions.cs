using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;
using OrthancWeb.Requests;

namespace OrthancWeb.OrthancPeers;

/// <summary>
/// The Orthanc peers we send to over HTTP(S) (Orthanc's OrthancPeers, HttpsVerifyPeers, HttpsCACertificates and
/// HttpTimeout), under "OrthancWeb" beside DicomModalities.
/// </summary>
public sealed class PeersOptions
{
    /// <summary>The peers, by a name of our choosing: {"Url", "Username", ...} or Orthanc's ["url", "user", "password"].</summary>
    public Dictionary<string, OrthancPeerOptions> OrthancPeers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Check the certificate of an HTTPS peer (chain and host name); Orthanc's name and default.</summary>
    public bool HttpsVerifyPeers { get; set; } = true;

    /// <summary>
    /// PEM bundle of the certificates an HTTPS peer's must chain to, in place of the system's (Orthanc's name): a CA, or
    /// a peer's own self-signed certificate to trust that peer. Empty: the system's trust store.
    /// </summary>
    public string HttpsCACertificates { get; set; } = "";

    /// <summary>Seconds one HTTP request to a peer may take, when the peer sets no Timeout of its own (Orthanc's name and default).</summary>
    [Range(1, 86400)]
    public int HttpTimeout { get; set; } = 60;
}

/// <summary>
/// One Orthanc peer (Orthanc's WebServiceParameters): the root URL of its REST API, HTTP Basic credentials, headers
/// sent with every request, a client certificate for HTTPS, and a timeout per request (0: HttpTimeout).
/// </summary>
public sealed class OrthancPeerOptions : IShorthandBody<OrthancPeerOptions>
{
    public string Url { get; set; } = "";
    public string Username { get; set; } = "";
    public string Password { get; set; } = "";
    public Dictionary<string, string> HttpHeaders { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Our client certificate towards this peer (PEM), for a peer that asks for one; relative to the configuration's folder.</summary>
    public string CertificateFile { get; set; } = "";
    /// <summary>The PEM private key of CertificateFile.</summary>
    public string CertificateKeyFile { get; set; } = "";
    /// <summary>The password of an encrypted CertificateKeyFile.</summary>
    public string CertificateKeyPassword { get; set; } = "";

    /// <summary>A PKCS#11 token holds the key (Orthanc's option); not supported here, so true is refused.</summary>
    public bool Pkcs11 { get; set; }

    /// <summary>Seconds one request to this peer may take; 0: HttpTimeout.</summary>
    public int Timeout { get; set; }

    /// <summary>The URL as Orthanc keeps it: with a final slash, so that "instances" and "system" hang under it.</summary>
    [JsonIgnore]
    public Uri BaseUri => new(Url.EndsWith('/') ? Url : Url + "/", UriKind.Absolute);

    /// <summary>Anything beyond Orthanc's short form [url, user, password] (its job JSON then shows the object form).</summary>
    [JsonIgnore]
    public bool IsAdvanced => HttpHeaders.Count > 0 || CertificateFile.Length > 0 || Pkcs11 || Timeout != 0;

    /// <summary>Why this entry cannot be used, or null: at start-up and on PUT /peers/{name}, one rule set.</summary>
    public string? Problem()
    {
        if (Url.Length == 0) return "Empty URL";
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return "Url must be an absolute http:// or https:// URL";
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0) return "Url must have no query or fragment";
        if (uri.UserInfo.Length > 0) return "put the credentials in Username and Password, not in Url";
        if (Password.Length > 0 && Username.Length == 0) return "a Password needs its Username";
        if (Username.Contains(':')) return "Username cannot contain ':' (HTTP Basic, RFC 7617)";
        if (Timeout is < 0 or > 86400) return "Timeout must be 0 (HttpTimeout) to 86400 seconds";
        if (Pkcs11) return "Pkcs11 is not supported: give CertificateFile and CertificateKeyFile";
        if (CertificateFile.Length > 0 != CertificateKeyFile.Length > 0) return "CertificateFile and CertificateKeyFile go together";
        if (CertificateFile.Length > 0 && uri.Scheme != Uri.UriSchemeHttps) return "a client certificate needs an https:// Url";
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

    /// <summary>Orthanc's short form, ["url"], ["url", "user", "password"].</summary>
    public static JsonObject? Expand(JsonNode shorthand) => shorthand is JsonArray { Count: >= 1 and <= 3 } a
        ? new JsonObject { [nameof(Url)] = a[0]?.DeepClone(), [nameof(Username)] = a.Count > 1 ? a[1]?.DeepClone() : "", [nameof(Password)] = a.Count > 2 ? a[2]?.DeepClone() : "" }
        : null;

    /// <summary>
    /// What GET /peers?expand and /peers/{name}/configuration show (Orthanc 1.10's FormatPublic): the header names
    /// without their values, and a password only as null, never its value.
    /// </summary>
    public JsonObject Public()
    {
        var o = new JsonObject
        {
            [nameof(HttpHeaders)] = new JsonArray(HttpHeaders.Keys.Order(StringComparer.Ordinal).Select(h => (JsonNode)h).ToArray()),
            [nameof(Pkcs11)] = Pkcs11,
            [nameof(Timeout)] = Timeout,
            [nameof(Url)] = BaseUri.ToString(),
        };
        if (Username.Length > 0)
        {
            o[nameof(Username)] = Username;
            o[nameof(Password)] = null;
        }
        if (CertificateFile.Length > 0)
        {
            o[nameof(CertificateFile)] = CertificateFile;
            o[nameof(CertificateKeyFile)] = CertificateKeyFile;
            o[nameof(CertificateKeyPassword)] = null;
        }
        return o;
    }

    /// <summary>
    /// The peer as a job's content shows it (Orthanc 1.10's "Peer"): [url] or [url, user, ""] when only those are set,
    /// else the object with the headers' values; never the password.
    /// </summary>
    public JsonNode ForJob()
    {
        if (!IsAdvanced)
            return Username.Length == 0 ? new JsonArray(BaseUri.ToString()) : new JsonArray(BaseUri.ToString(), Username, "");
        var o = new JsonObject
        {
            [nameof(HttpHeaders)] = new JsonObject(HttpHeaders.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => KeyValuePair.Create(h.Key, (JsonNode?)h.Value))),
            [nameof(Pkcs11)] = Pkcs11,
            [nameof(Timeout)] = Timeout,
            [nameof(Url)] = BaseUri.ToString(),
        };
        if (Username.Length > 0) o[nameof(Username)] = Username;
        if (CertificateFile.Length > 0)
        {
            o[nameof(CertificateFile)] = CertificateFile;
            o[nameof(CertificateKeyFile)] = CertificateKeyFile;
        }
        return o;
    }
}

/// <summary>
/// Reads OrthancPeers in both of Orthanc's shapes: the configuration binder fills the object form, and an entry
/// written as ["url", "user", "password"] (keys 0, 1, 2 once flattened) is read here.
/// </summary>
internal sealed class PeersShorthandConfiguration(IConfiguration configuration) : IPostConfigureOptions<PeersOptions>
{
    public void PostConfigure(string? name, PeersOptions options)
    {
        foreach (var entry in configuration.GetSection(ServerOptions.Section).GetSection(nameof(PeersOptions.OrthancPeers)).GetChildren())
        {
            var items = entry.GetChildren().ToList();
            if (items.Count == 0 || !items.All(i => int.TryParse(i.Key, out _))) continue;
            var at = items.ToDictionary(i => int.Parse(i.Key, System.Globalization.CultureInfo.InvariantCulture), i => i.Value ?? "");
            options.OrthancPeers[entry.Key] = new OrthancPeerOptions
            {
                Url = at.GetValueOrDefault(0, ""), Username = at.GetValueOrDefault(1, ""), Password = at.GetValueOrDefault(2, ""),
            };
        }
    }
}

/// <summary>Start-up checks: every peer by the rules of PUT /peers/{name}, and the files named exist.</summary>
internal sealed class PeersOptionsValidation(DataPaths paths) : IValidateOptions<PeersOptions>
{
    public ValidateOptionsResult Validate(string? name, PeersOptions options)
    {
        var errors = new List<string>();
        foreach (var (peer, o) in options.OrthancPeers)
        {
            if (o.Problem() is { } problem) errors.Add($"OrthancPeers:{peer}: {problem}");
            foreach (var file in new[] { o.CertificateFile, o.CertificateKeyFile }.Where(f => f.Length > 0))
                if (!File.Exists(Path.GetFullPath(file, paths.ConfigurationFolder))) errors.Add($"OrthancPeers:{peer}: no file {file}");
        }
        if (options.HttpsCACertificates.Length > 0 && !File.Exists(Path.GetFullPath(options.HttpsCACertificates, paths.ConfigurationFolder)))
            errors.Add($"HttpsCACertificates: no file {options.HttpsCACertificates}");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
