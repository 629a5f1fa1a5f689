using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Networking;

/// <summary>
/// Issue 15, point 8: idle connections with no login must not lock real modalities out. The attackers connect from
/// other loopback addresses (all of 127/8 is the loopback on Linux), the known modality from 127.0.0.1, its Host.
/// </summary>
public sealed class AssociationSlotsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Aet = "OWSLOTS";
    private const int SetupTimeoutSeconds = 2;
    private string _folder = "";
    private ServerProcess _server = null!;
    private int _port;
    private readonly List<Socket> _sockets = [];

    public async Task InitializeAsync()
    {
        Peers.Tool("echoscu");
        _folder = Directory.CreateTempSubdirectory("ow-slots-").FullName;
        _port = ServerProcess.FreePort();
        // Defaults otherwise: 32 associations, 8 per address, 4 kept for known modalities.
        _server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{_port}}, "DicomAet": "{{Aet}}", "DicomAssociationSetupTimeout": {{SetupTimeoutSeconds}},
            "DicomModalities": { "known": { "AET": "KNOWN", "Host": "127.0.0.1", "Port": 1 } }
            """);
    }

    public async Task DisposeAsync()
    {
        foreach (var s in _sockets) s.Dispose();
        await _server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    private async Task<Socket> ConnectFromAsync(string from)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(s);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(IPAddress.Loopback, _port);
        return s;
    }

    /// <summary>An A-ASSOCIATE-RQ for verification; the type of the PDU that answers it (2 accept, 3 reject).</summary>
    private async Task<(Socket Socket, int Answer)> AssociateFromAsync(string from, string callingAe)
    {
        var s = await ConnectFromAsync(from);
        var rq = new AssociationParameters { CallingAE = callingAe, CalledAE = Aet };
        rq.PresentationContexts.Add(new PresentationContext(1, SopClasses.Verification, [TransferSyntax.ImplicitVRLittleEndian.Uid]));
        await s.SendAsync(PduCodec.EncodeAssociate(rq, accept: false));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var header = new byte[6];
        var read = 0;
        while (read < 6)
        {
            var n = await s.ReceiveAsync(header.AsMemory(read), SocketFlags.None, deadline.Token);
            if (n == 0) return (s, 0);
            read += n;
        }
        return (s, header[0]);
    }

    /// <summary>Waits until the server has closed the socket (end of stream or reset), failing past the deadline.</summary>
    private static async Task WaitClosedByServerAsync(Socket s, TimeSpan deadline, string what)
    {
        using var cts = new CancellationTokenSource(deadline);
        var buffer = new byte[4096];
        try
        {
            while (await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0) { } // the A-ABORT, then the end
        }
        catch (SocketException) { } // reset: closed too
        catch (OperationCanceledException)
        {
            Assert.Fail($"{what} was still open {deadline.TotalSeconds:0} s later");
        }
    }

    private Peers.Result Echo(string aet) => Peers.Run("echoscu", "-aet", aet, "-aec", Aet, "127.0.0.1", _port.ToString(CultureInfo.InvariantCulture));

    [Fact]
    public async Task Idle_connections_from_unknown_peers_do_not_lock_out_a_known_modality_and_are_closed_after_the_setup_timeout()
    {
        // 32 connections that never send their association request...
        var silent = new List<Socket>();
        for (var i = 0; i < 32; i++) silent.Add(await ConnectFromAsync("127.0.0.6"));

        // ...and unknown AEs that associate and then say nothing: 8 per address at most, 28 in all (4 kept for modalities).
        var accepted = new List<Socket>();
        var answers = new List<int>();
        for (var i = 0; i < 9; i++)
        {
            var (s, answer) = await AssociateFromAsync("127.0.0.2", "INTRUDER");
            answers.Add(answer);
            if (answer == 2) accepted.Add(s);
        }
        Assert.Equal([2, 2, 2, 2, 2, 2, 2, 2, 3], answers); // the ninth from one address: A-ASSOCIATE-RJ
        foreach (var from in new[] { "127.0.0.3", "127.0.0.4", "127.0.0.5" })
            for (var i = 0; i < 8; i++)
            {
                var (s, answer) = await AssociateFromAsync(from, "INTRUDER");
                if (answer == 2) accepted.Add(s);
            }
        Assert.Equal(28, accepted.Count);
        var (_, twentyNinth) = await AssociateFromAsync("127.0.0.7", "INTRUDER");
        Assert.Equal(3, twentyNinth);

        // The modality, from its Host, still gets in: echo and store.
        var echo = Echo("KNOWN");
        Assert.True(echo.ExitCode == 0, echo.Stderr + echo.Stdout);
        var store = Peers.Run("storescu", "-aet", "KNOWN", "-aec", Aet, "127.0.0.1", _port.ToString(CultureInfo.InvariantCulture), Sample("CT_small.dcm"));
        Assert.True(store.ExitCode == 0, store.Stderr + store.Stdout);

        // Every idle one is closed by the server once the setup timeout has passed.
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(SetupTimeoutSeconds + 20);
        await Task.WhenAll(silent.Select(s => WaitClosedByServerAsync(s, deadline, "a connection with no A-ASSOCIATE-RQ"))
            .Concat(accepted.Select(s => WaitClosedByServerAsync(s, deadline, "an association with no DIMSE message"))));
        output.WriteLine($"all 60 idle connections closed {clock.Elapsed.TotalSeconds:0.0} s after the modality's echo");

        // Their slots are free again. The server frees a slot just after it closes the connection, so the client may
        // see the close a moment before the slot is free: asked again until accepted, within a few seconds.
        var freeBy = Stopwatch.StartNew();
        int again;
        while (true)
        {
            var (socket, answer) = await AssociateFromAsync("127.0.0.2", "INTRUDER");
            socket.Dispose();
            again = answer;
            if (again == 2 || freeBy.Elapsed > TimeSpan.FromSeconds(5)) break;
        }
        Assert.Equal(2, again);
    }

    [Fact]
    public async Task A_known_modality_is_not_held_to_the_per_address_limit()
    {
        var held = new List<Socket>();
        for (var i = 0; i < 12; i++)
        {
            var (s, answer) = await AssociateFromAsync("127.0.0.1", "KNOWN");
            Assert.Equal(2, answer);
            held.Add(s);
        }
        var (_, stranger) = await AssociateFromAsync("127.0.0.1", "STRANGER");
        Assert.Equal(2, stranger); // an unknown AE from the same address has its own 8
        Assert.True(Echo("KNOWN").ExitCode == 0);
    }
}
