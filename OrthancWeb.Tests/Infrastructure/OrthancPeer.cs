using System.Diagnostics;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// Debian's orthanc 1.10.1, run by hand in a temporary folder with a JSON configuration of its own (never as a service),
/// on free ports, optionally with its DICOMweb plugin: the reference server and a real peer.
/// </summary>
public sealed class OrthancPeer : IAsyncDisposable
{
    public const string Executable = "/usr/sbin/Orthanc";
    public const string DicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

    private readonly PeerProcess _process;
    private readonly string _folder;

    private readonly (string User, string Password)? _credentials;

    private OrthancPeer(PeerProcess process, string folder, int httpPort, int dicomPort, string aet, (string User, string Password)? credentials = null)
    {
        _credentials = credentials;
        _process = process;
        _folder = folder;
        HttpPort = httpPort;
        DicomPort = dicomPort;
        Aet = aet;
    }

    public int HttpPort { get; }
    public int DicomPort { get; }
    public string Aet { get; }
    public string Url => $"http://127.0.0.1:{HttpPort}";
    public string Log => _process.Output;

    /// <summary>
    /// Starts orthanc; <paramref name="extraJson"/> is spliced into its configuration's top level (for example
    /// <c>"DicomModalities": {...}</c> or <c>"DicomWeb": {...}</c>, which then replaces the default below).
    /// </summary>
    /// <remarks><paramref name="credentials"/> turns HTTP Basic on for every request (its one user); this helper's own client uses them.</remarks>
    public static async Task<OrthancPeer> StartAsync(bool dicomWeb = false, string extraJson = "", string aet = "ORTHANC", (string User, string Password)? credentials = null)
    {
        if (!File.Exists(Executable)) throw new InvalidOperationException("Debian's orthanc is required by this test: apt-get install -y orthanc");
        if (dicomWeb && !File.Exists(DicomWebPlugin)) throw new InvalidOperationException("orthanc's DICOMweb plugin is required by this test: apt-get install -y orthanc-dicomweb");
        var folder = Directory.CreateTempSubdirectory("ow-orthanc-").FullName;
        var (http, dicom) = (ServerProcess.FreePort(), ServerProcess.FreePort());
        var plugins = dicomWeb ? $"\"{DicomWebPlugin}\"" : "";
        var dicomWebSection = dicomWeb && !extraJson.Contains("\"DicomWeb\"", StringComparison.Ordinal)
            ? """, "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": true, "WadoRoot": "/wado" }""" : "";
        var extra = extraJson.Length > 0 ? ", " + extraJson : "";
        var config = Path.Combine(folder, "orthanc.json");
        File.WriteAllText(config, $$"""
            {
              "Name": "peer", "StorageDirectory": "{{folder}}/storage", "IndexDirectory": "{{folder}}/index",
              "HttpPort": {{http}}, "DicomPort": {{dicom}}, "DicomAet": "{{aet}}", "RemoteAccessAllowed": false,
              "AuthenticationEnabled": {{(credentials is null ? "false" : "true")}}, "RegisteredUsers": { {{(credentials is { } c ? $"\"{c.User}\": \"{c.Password}\"" : "")}} }, "Plugins": [ {{plugins}} ], "HttpsVerifyPeers": false,
              "StableAge": 1 {{dicomWebSection}} {{extra}}
            }
            """);
        var psi = new ProcessStartInfo(Executable) { WorkingDirectory = folder };
        psi.ArgumentList.Add(config);
        // DCMTK and Orthanc read TCP_NODELAY from the environment; without it each DIMSE round trip waits ~40 ms.
        psi.Environment["TCP_NODELAY"] = "1";
        var peer = new OrthancPeer(PeerProcess.Start(psi), folder, http, dicom, aet, credentials);
        try
        {
            await peer.WaitUntilAnsweringAsync(TimeSpan.FromSeconds(60));
            return peer;
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilAnsweringAsync(TimeSpan timeout)
    {
        using var client = CreateClient();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException("orthanc exited at start-up:\n" + await _process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            try
            {
                if ((await client.GetAsync("/system")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            if (deadline.Elapsed > timeout) throw new TimeoutException($"orthanc did not answer /system within {timeout.TotalSeconds:0} s:\n{Log}");
            await Task.Delay(50);
        }
    }

    public HttpClient CreateClient()
    {
        var client = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromMinutes(5) };
        if (_credentials is { } c)
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{c.User}:{c.Password}")));
        return client;
    }

    public async Task<JsonNode> GetJsonAsync(string url)
    {
        using var client = CreateClient();
        var response = await client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"orthanc GET {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync(); // SIGKILL if still running, then its output read to the end
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
