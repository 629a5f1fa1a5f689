using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Services;

namespace OrthancWeb.Networking;

/// <summary>The DICOM listener as a hosted service of the app.</summary>
public sealed class DicomHost(
    IOptions<DicomOptions> options, DicomPolicy policy, EchoScp echo, StoreScp store, FindScp find, RetrieveScp retrieve,
    StorageCommitmentScp commitment, StorageCommitmentReports commitmentReports, DicomTls tls, DicomAudit audit, TimeProvider time, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private DicomServer? _server;

    public int? Port => _server?.Port;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        // Certificate files are read now: a wrong path stops the start with its name, not each association later.
        if (tls.IsConfigured) tls.EnsureLoaded();
        if (!o.DicomServerEnabled) return Task.CompletedTask;
        _server = new DicomServer(new DicomServerOptions
            {
                AET = o.DicomAet,
                Port = o.DicomPort,
                MaxAssociations = o.DicomMaximumAssociations,
                MaxAssociationsPerHost = o.DicomMaximumAssociationsPerHost,
                ReservedForKnownPeers = o.DicomReservedAssociationsForModalities,
                SetupTimeout = TimeSpan.FromSeconds(o.DicomAssociationSetupTimeout),
                Association = new AssociationOptions
                {
                    IdleTimeout = TimeSpan.FromSeconds(o.DicomAssociationTimeout),
                    // Connecting to a C-MOVE destination waits as long as our other SCU work (DicomScuTimeout).
                    ArtimTimeout = TimeSpan.FromSeconds(o.DicomScuTimeout),
                    Spool = store,
                },
                Tls = tls.ServerOptions(),
                ClientTls = tls.ClientOptions(),
                TimeProvider = time,
            },
            policy, echo, store, find, retrieve, retrieve, loggers.CreateLogger("OrthancWeb.Dicom.Server"), audit,
            commitment, commitmentReports);
        try { _server.Start(); }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            // As Orthanc: an instance whose DICOM port is taken does not start half-working.
            throw new InvalidOperationException(
                $"DicomPort {o.DicomPort} is already in use (another instance of OrthancWeb or another DICOM server?)", ex);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null) await _server.DisposeAsync();
        _server = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
