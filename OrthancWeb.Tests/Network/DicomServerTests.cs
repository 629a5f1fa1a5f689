using System.Net.Sockets;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Pdu;
using OrthancWeb.Dicom.Network.Services;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Network;

public sealed class DicomServerTests
{
    private sealed class AcceptNothing : IAssociationPolicy
    {
        public AssociateReject? Check(AssociationParameters request) => null;
        public IReadOnlyCollection<string>? AcceptableTransferSyntaxes(AssociationParameters request, string abstractSyntax) => null;
    }

    /// <summary>
    /// Two instances configured with the same DicomPort by mistake: the second must refuse to start, as Orthanc does,
    /// rather than share the port with the first (SO_REUSEPORT) and silently receive half of the associations.
    /// </summary>
    [Fact]
    public async Task A_second_listener_on_a_busy_port_fails_to_start()
    {
        var port = ServerProcess.FreePort();
        await using var first = new DicomServer(new DicomServerOptions { Port = port }, new AcceptNothing());
        first.Start();
        await using var second = new DicomServer(new DicomServerOptions { Port = port }, new AcceptNothing());
        var error = Assert.Throws<SocketException>(second.Start);
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
    }
}
