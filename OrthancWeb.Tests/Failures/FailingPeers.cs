using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Failures;

/// <summary>How a peer fails a request, each a real listener on this machine.</summary>
public enum PeerFailure
{
    /// <summary>Nothing listens on the port: the connection is refused.</summary>
    Down,
    /// <summary>DCMTK storescp --refuse: every association is rejected (A-ASSOCIATE-RJ).</summary>
    Rejects,
    /// <summary>Accepts the TCP connection and never says a word: the ARTIM timer runs out.</summary>
    Silent,
    /// <summary>Answers the association request with an A-ABORT (source service user).</summary>
    Aborts,
    /// <summary>DCMTK storescp --abort-after: accepts, answers C-ECHO, and aborts on the first C-STORE-RQ.</summary>
    AbortsOnStore,
}

/// <summary>
/// Peers that fail in the ways a modality fails, started for a test class and stopped with it. Each is listening
/// before its port is handed out (checked in /proc/net/tcp, not waited for).
/// </summary>
public sealed class FailingPeers : IAsyncDisposable
{
    private readonly List<Process> _processes = [];
    private readonly List<TcpListener> _listeners = [];
    private readonly List<Socket> _held = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-failing-peers-").FullName;

    /// <summary>A port where <paramref name="failure"/> happens, and the AE title to call there.</summary>
    public async Task<(string Aet, int Port)> StartAsync(PeerFailure failure)
    {
        var port = ServerProcess.FreePort();
        switch (failure)
        {
            case PeerFailure.Down:
                return ("DOWN", port);
            case PeerFailure.Rejects:
                StartStorescp(port, "--refuse");
                await WaitForListenerAsync(port);
                return ("REFUSER", port);
            case PeerFailure.AbortsOnStore:
                StartStorescp(port, "--abort-after", "-od", _folder);
                await WaitForListenerAsync(port);
                return ("ABORTER", port);
            default:
                var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                lock (_listeners) _listeners.Add(listener);
                _ = Task.Run(() => ServeAsync(listener, abort: failure == PeerFailure.Aborts));
                return (failure == PeerFailure.Aborts ? "ABORTS" : "SILENT", port);
        }
    }

    /// <summary>Where the storescp peers write what they receive.</summary>
    public string ReceivedFolder => _folder;

    /// <summary>A storescp that accepts everything: the peer that works, after the ones that did not.</summary>
    public async Task<(string Aet, int Port)> StartWorkingAsync()
    {
        var port = ServerProcess.FreePort();
        StartStorescp(port, "-od", _folder);
        await WaitForListenerAsync(port);
        return ("WORKING", port);
    }

    private void StartStorescp(int port, params string[] options)
    {
        var psi = new ProcessStartInfo(Peers.Tool("storescp"), [.. options, "-aet", "PEER", port.ToString(CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        lock (_processes) _processes.Add(Process.Start(psi)!);
    }

    private async Task ServeAsync(TcpListener listener, bool abort)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            if (!abort)
            {
                lock (_held) _held.Add(socket); // held open, unanswered, until the test class ends
                continue;
            }
            try
            {
                // Read the whole A-ASSOCIATE-RQ, answer A-ABORT: source 0 (service user), reason 0 (PS3.8 §9.3.8), and
                // close once the requestor has (closing on unread bytes would reset the connection, losing the answer).
                await using var stream = new NetworkStream(socket, ownsSocket: false);
                var header = new byte[6];
                await stream.ReadExactlyAsync(header, _stop.Token);
                await stream.ReadExactlyAsync(new byte[System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2))], _stop.Token);
                await stream.WriteAsync(new byte[] { 0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0 }, _stop.Token);
                socket.Shutdown(SocketShutdown.Send);
                while (await stream.ReadAsync(new byte[256], _stop.Token) > 0) { }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException) { }
            finally { socket.Dispose(); }
        }
    }

    /// <summary>Until the kernel shows a socket listening on the port (state 0A in /proc/net/tcp or tcp6).</summary>
    private static async Task WaitForListenerAsync(int port)
    {
        var hex = port.ToString("X4", CultureInfo.InvariantCulture);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
            {
                if (!File.Exists(table)) continue;
                foreach (var line in File.ReadLines(table).Skip(1))
                {
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length > 3 && fields[1].EndsWith(":" + hex, StringComparison.Ordinal) && fields[3] == "0A") return;
                }
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"nothing listens on port {port} after 20 s");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        lock (_listeners) foreach (var l in _listeners) l.Stop();
        lock (_held) foreach (var s in _held) s.Dispose();
        lock (_processes) foreach (var p in _processes.Where(p => !p.HasExited)) p.Kill(true);
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
