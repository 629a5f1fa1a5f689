using System.Diagnostics;
using System.Globalization;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>DCMTK storescp processes started as destinations for a test class, all stopped with it.</summary>
public sealed class StorescpPeers : IAsyncDisposable
{
    private readonly List<PeerProcess> _processes = [];

    /// <summary>
    /// Starts storescp as <paramref name="aet"/> on <paramref name="port"/>, writing what it receives to
    /// <paramref name="folder"/>, and returns once it listens.
    /// </summary>
    public async Task StartAsync(string aet, int port, string folder)
    {
        Directory.CreateDirectory(folder);
        var psi = new ProcessStartInfo(Peers.Tool("storescp"), ["-aet", aet, "-od", folder, "--fork", port.ToString(CultureInfo.InvariantCulture)]);
        psi.Environment["TCP_NODELAY"] = "1"; // as DCMTK reads it: no 40 ms delayed-ACK stalls
        var peer = PeerProcess.Start(psi);
        lock (_processes) _processes.Add(peer);
        await peer.WaitUntilListeningAsync(port);
    }

    public async ValueTask DisposeAsync()
    {
        PeerProcess[] all;
        lock (_processes) all = [.. _processes];
        foreach (var p in all) await p.DisposeAsync();
    }
}
