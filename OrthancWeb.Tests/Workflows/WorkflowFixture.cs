using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Workflows;

/// <summary>
/// A server with two destinations: "dest", a storescp that is up, and "late", a storescp port that nothing listens
/// on until a test starts one (a destination that is down, then comes back), and "never", which stays down.
/// </summary>
public sealed class WorkflowFixture : IAsyncLifetime
{
    private string _folder = "";
    private readonly StorescpPeers _peers = new();

    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public string DestFolder { get; private set; } = "";
    public int LatePort { get; private set; }
    public int DestPort { get; private set; }
    public string LateFolder { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Peers.Tool("storescp");
        Peers.Tool("dciodvfy");
        _folder = Directory.CreateTempSubdirectory("ow-workflow-").FullName;
        var destPort = DestPort = ServerProcess.FreePort();
        LatePort = ServerProcess.FreePort();
        DestFolder = Path.Combine(_folder, "dest");
        LateFolder = Path.Combine(_folder, "late");
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{ServerProcess.FreePort()}}, "DicomAet": "OWEB",
            "DicomModalities": {
              "dest": { "AET": "DEST", "Host": "127.0.0.1", "Port": {{destPort}} },
              "late": { "AET": "LATE", "Host": "127.0.0.1", "Port": {{LatePort}} },
              "never": { "AET": "NEVER", "Host": "127.0.0.1", "Port": {{ServerProcess.FreePort()}} }
            }
            """);
        Rest = Server.CreateRestClient();
        await StartStorescpAsync("DEST", destPort, DestFolder);
    }

    public Task StartStorescpAsync(string aet, int port, string folder) => _peers.StartAsync(aet, port, folder);

    public async Task DisposeAsync()
    {
        await _peers.DisposeAsync();
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
