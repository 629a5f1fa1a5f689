using System.Net;
using System.Net.Sockets;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Infrastructure;

/// <summary>
/// A TCP forwarder to a local port that a test can cut: the connections through it are reset and new ones refused
/// until it is restored, as when one machine's network to its database goes while the others keep theirs.
/// </summary>
public sealed class TcpCut : IDisposable
{
    private readonly IPEndPoint _target;
    private readonly List<Socket> _open = [];
    private TcpListener? _listener;
    private CancellationTokenSource _cts = new();

    public TcpCut(int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        Port = ServerProcess.FreePort();
        Restore();
    }

    /// <summary>The port to connect to instead of the target's.</summary>
    public int Port { get; }

    /// <summary>Accepts and forwards connections again (on the same port).</summary>
    public void Restore()
    {
        _cts = new CancellationTokenSource();
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        _listener = listener;
        _ = AcceptAsync(listener, _cts.Token);
    }

    /// <summary>Resets every connection through it (RST, as a dead link looks once it is noticed) and refuses new ones.</summary>
    public void Cut()
    {
        _cts.Cancel();
        _listener?.Stop();
        _listener = null;
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Dispose();
            }
            _open.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptSocketAsync(ct); }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            _ = ForwardAsync(client, ct);
        }
    }

    private async Task ForwardAsync(Socket client, CancellationToken ct)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lock (_open) _open.AddRange([client, server]);
        try
        {
            await server.ConnectAsync(_target, ct);
            await using var a = new NetworkStream(client, ownsSocket: false);
            await using var b = new NetworkStream(server, ownsSocket: false);
            await Task.WhenAny(a.CopyToAsync(b, ct), b.CopyToAsync(a, ct));
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException) { }
        finally
        {
            lock (_open) { _open.Remove(client); _open.Remove(server); }
            client.Dispose();
            server.Dispose();
        }
    }

    public void Dispose() => Cut();
}
