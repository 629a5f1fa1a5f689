using System.ComponentModel.DataAnnotations;

namespace OrthancWeb.Hosting;

/// <summary>The "OrthancWeb" section of appsettings.json: where the server keeps its data and which ports it opens.</summary>
public sealed class ServerOptions
{
    public const string Section = "OrthancWeb";

    /// <summary>
    /// The encoding of DICOM files that declare none (Orthanc's DefaultEncoding and its names: Latin1, Utf8, Cyrillic...).
    /// REST /tools/default-encoding changes it until the server stops.
    /// </summary>
    [OrthancEncoding]
    public string DefaultEncoding { get; set; } = "Latin1";

    /// <summary>Tags the site declares, in Orthanc's shape: <c>"0009,1001": ["DS", "FullFidelity", 1, 1, "GEMS_IDEN_01"]</c>.</summary>
    [DeclaredTags]
    public Dictionary<string, string[]> Dictionary { get; set; } = [];

    /// <summary>Shown in the UI title bar and in REST /system.</summary>
    [Required]
    public string Name { get; set; } = "OrthancWeb";

    /// <summary>Root folder for the database, the storage area and the certificate. Relative to the config file's folder.</summary>
    [Required]
    public string DataDirectory { get; set; } = "./data";

    /// <summary>
    /// Orthanc's StorageDirectory: where the stored files live, when not under DataDirectory (empty). Several servers on
    /// one PostgreSQL index share one storage folder: each names this same folder. Relative to the config file's folder.
    /// </summary>
    public string StorageDirectory { get; set; } = "";

    /// <summary>
    /// Orthanc's DatabaseServerIdentifier: who this server is among several on one index (its durability watermark, its
    /// partial files in a shared storage folder, the refusal of a second server of the same name). Empty: the host name
    /// and the data folder, unique on a machine since each server has a data folder of its own.
    /// </summary>
    public string DatabaseServerIdentifier { get; set; } = "";

    [Range(1, 65535)]
    public int HttpsPort { get; set; } = 8443;

    /// <summary>Plain HTTP port for REST scripts (Orthanc's 8042); 0 disables it.</summary>
    [Range(0, 65535)]
    public int HttpPort { get; set; } = 8042;

    /// <summary>False binds every port to the loopback interface only (Orthanc's RemoteAccessAllowed).</summary>
    public bool RemoteAccessAllowed { get; set; } = true;

    /// <summary>
    /// Whether the plain HTTP port is opened to other hosts too. Off by default: HTTP carries Basic credentials and
    /// patient data in cleartext, so only scripts on this machine use it; others use HTTPS. Needs RemoteAccessAllowed.
    /// </summary>
    public bool HttpRemoteAccessAllowed { get; set; }

    /// <summary>
    /// Whether HTTPS offers HTTP/2 besides HTTP/1.1. Off by default, as Orthanc serves: over HTTP/2 the browser's
    /// uploads share one connection and one thread of Kestrel's, and a CD's 700 MB took Chromium 14.8 s against 11.0 s
    /// over HTTP/1.1's six connections (benchmarks/upload-benchmark.sh, README).
    /// </summary>
    public bool HttpsHttp2 { get; set; }

    /// <summary>PFX file to serve HTTPS with; empty means a self-signed certificate generated on first start.</summary>
    public string CertificatePath { get; set; } = "";

    public string CertificatePassword { get; set; } = "";
}
