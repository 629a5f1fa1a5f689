using System.Diagnostics;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// DCMTK's dcmqrscp as the remote PACS: a database folder and a configuration of its own under the test's folder, one
/// AE title, and one C-MOVE destination (dcmqrscp moves only to the AEs of its HostTable; C-GET answers on the caller's
/// own association).
/// </summary>
internal static class Dcmqrscp
{
    public static (PeerProcess Process, int Port) Start(string folder, string aet, string destinationAet, int destinationPort)
    {
        var port = ServerProcess.FreePort();
        var db = Path.Combine(folder, "qrdb");
        Directory.CreateDirectory(db);
        var config = Path.Combine(folder, "dcmqrscp.cfg");
        File.WriteAllText(config, $"""
            NetworkTCPPort  = {port}
            MaxPDUSize      = 16384
            MaxAssociations = 16
            HostTable BEGIN
            oweb = ({destinationAet}, 127.0.0.1, {destinationPort})
            HostTable END
            VendorTable BEGIN
            VendorTable END
            AETable BEGIN
            {aet} {db} RW (200, 1024mb) ANY
            AETable END
            """);
        var psi = new ProcessStartInfo(Peers.Tool("dcmqrscp"), ["-c", config, "--disable-host-lookup"]);
        psi.Environment["TCP_NODELAY"] = "1";
        return (PeerProcess.Start(psi), port);
    }
}
