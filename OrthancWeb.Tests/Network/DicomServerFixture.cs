using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Network;

/// <summary>
/// A running server with its DICOM port, and the DCMTK peers the interop tests configure as modalities. Every peer
/// here is on the loopback, so the per-address limit is raised for the test of 20 concurrent storescu (unknown AEs),
/// and FINDSCU may C-GET (AllowGet is off unless asked for).
/// </summary>
public sealed class DicomServerFixture : IAsyncLifetime
{
    public const string Aet = "OWEB";
    public const string FindScuAet = "FINDSCU";
    public const string StoreScpAet = "STORESCP";
    private string _folder = "";

    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public int DicomPort { get; private set; }
    public int StoreScpPort { get; private set; }
    public string StoreScpFolder { get; private set; } = "";
    private readonly StorescpPeers _storescp = new();

    public async Task InitializeAsync()
    {
        Peers.Tool("storescp");
        _folder = Directory.CreateTempSubdirectory("ow-dicom-").FullName;
        DicomPort = ServerProcess.FreePort();
        StoreScpPort = ServerProcess.FreePort();
        StoreScpFolder = Path.Combine(_folder, "storescp");
        Directory.CreateDirectory(StoreScpFolder);
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{DicomPort}}, "DicomAet": "{{Aet}}",
            "DicomMaximumAssociationsPerHost": 32,
            "DicomModalities": {
              "scu": { "AET": "{{FindScuAet}}", "Host": "127.0.0.1", "Port": 1, "AllowGet": true },
              "storescp": { "AET": "{{StoreScpAet}}", "Host": "127.0.0.1", "Port": {{StoreScpPort}} },
              "nowhere": { "AET": "NOWHERE", "Host": "127.0.0.1", "Port": {{ServerProcess.FreePort()}} }
            }
            """);
        Rest = Server.CreateRestClient();
        await _storescp.StartAsync(StoreScpAet, StoreScpPort, StoreScpFolder);
    }

    public async Task DisposeAsync()
    {
        await _storescp.DisposeAsync();
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
