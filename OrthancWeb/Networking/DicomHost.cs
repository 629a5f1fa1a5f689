using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Services;

namespace OrthancWeb.Networking;

/// <summary>The DICOM listener as a hosted service of the app.</summary>
public sealed class DicomHost(
    IOptions<DicomOptions> options, DicomPolicy policy, EchoScp echo, StoreScp store, FindScp find, RetrieveScp retrieve,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private DicomServer? _server;

    public int? Port => _server?.Port;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.DicomServerEnabled) return Task.CompletedTask;
        _server = new DicomServer(new DicomServerOptions
            {
                AET = o.DicomAet,
                Port = o.DicomPort,
                MaxAssociations = o.DicomMaximumAssociations,
                Association = new AssociationOptions { IdleTimeout = TimeSpan.FromSeconds(o.DicomAssociationTimeout), Spool = store },
            },
            policy, echo, store, find, retrieve, retrieve, loggers.CreateLogger("OrthancWeb.Dicom.Server"));
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
