using System.Diagnostics;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>DCMTK storescp processes started as destinations for a test class, all stopped with it.</summary>
public sealed class StorescpPeers : IDisposable
{
    private readonly List<Process> _processes = [];

    /// <summary>Starts storescp as <paramref name="aet"/> on <paramref name="port"/>, writing what it receives to <paramref name="folder"/>.</summary>
    public void Start(string aet, int port, string folder)
    {
        Directory.CreateDirectory(folder);
        var psi = new ProcessStartInfo(Peers.Tool("storescp"), ["-aet", aet, "-od", folder, "--fork", port.ToString()])
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        psi.Environment["TCP_NODELAY"] = "1"; // as DCMTK reads it: no 40 ms delayed-ACK stalls
        lock (_processes) _processes.Add(Process.Start(psi)!);
    }

    public void Dispose()
    {
        lock (_processes)
            foreach (var p in _processes.Where(p => !p.HasExited)) p.Kill(true);
    }
}
