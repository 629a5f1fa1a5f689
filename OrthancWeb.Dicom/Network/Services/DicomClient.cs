using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;

namespace OrthancWeb.Dicom.Network.Services;

/// <summary>
/// SCU side: an association builder (presentation contexts, roles, user identity) and request methods that stream
/// responses. One association per instance of this class; dispose releases it.
/// </summary>
public sealed class DicomClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly DimseChannel _channel;

    private DicomClient(TcpClient tcp, DimseChannel channel)
    {
        _tcp = tcp;
        _channel = channel;
    }

    public DicomAssociation Association => _channel.Association;
    public DimseChannel Channel => _channel;

    /// <summary>
    /// Opens a TCP connection (TCP_NODELAY), with <paramref name="tls"/> a TLS session on it (PS3.15 Annex B.1), and
    /// negotiates an association. Every failure to reach the peer is a
    /// <see cref="DicomNetworkException"/>: <see cref="DicomConnectionException"/> (a failed TLS handshake too),
    /// <see cref="DicomTimeoutException"/>, <see cref="AssociationRejectedException"/> or <see cref="AssociationAbortedException"/>.
    /// </summary>
    public static async Task<DicomClient> ConnectAsync(string host, int port, string callingAe, string calledAe,
        IEnumerable<(string AbstractSyntax, IReadOnlyList<string> TransferSyntaxes)> contexts,
        AssociationOptions? options = null, IEnumerable<RoleSelection>? roles = null, UserIdentity? identity = null,
        SslClientAuthenticationOptions? tls = null, CancellationToken ct = default)
    {
        options ??= new AssociationOptions();
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connectTimeout.CancelAfter(options.ArtimTimeout);
            try
            {
                await tcp.ConnectAsync(host, port, connectTimeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new DicomTimeoutException(DicomTimeout.Connect, options.ArtimTimeout);
            }
            catch (SocketException ex)
            {
                throw new DicomConnectionException(host, port, ex);
            }
            Stream stream = tcp.GetStream();
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                try
                {
                    await ssl.AuthenticateAsClientAsync(ForHost(tls, host), connectTimeout.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new DicomTimeoutException(DicomTimeout.Connect, options.ArtimTimeout);
                }
                catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
                {
                    throw new DicomConnectionException(host, port, new IOException("TLS handshake failed: " + ex.Message, ex));
                }
            }
            var request = new AssociationParameters { CallingAE = callingAe, CalledAE = calledAe, UserIdentity = identity };
            // Presentation context IDs are odd, 1 to 255 (PS3.8 §9.3.2.2): 128 contexts at most.
            var id = 1;
            foreach (var (abstractSyntax, syntaxes) in contexts)
            {
                if (id > 255) throw new ArgumentException("at most 128 presentation contexts can be proposed");
                request.PresentationContexts.Add(new PresentationContext((byte)id, abstractSyntax, syntaxes));
                id += 2;
            }
            if (roles is not null) request.RoleSelections.AddRange(roles);
            var association = await DicomAssociation.RequestAsync(stream, request, options, ct);
            return new DicomClient(tcp, new DimseChannel(association));
        }
        catch (DicomNetworkException ex)
        {
            tcp.Dispose();
            ex.CalledAE ??= calledAe;
            throw;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>The caller's TLS options for this peer: a copy (SslStream may keep state in them) naming the host.</summary>
    private static SslClientAuthenticationOptions ForHost(SslClientAuthenticationOptions o, string host) => new()
    {
        TargetHost = string.IsNullOrEmpty(o.TargetHost) ? host : o.TargetHost,
        ClientCertificates = o.ClientCertificates,
        ClientCertificateContext = o.ClientCertificateContext,
        LocalCertificateSelectionCallback = o.LocalCertificateSelectionCallback,
        RemoteCertificateValidationCallback = o.RemoteCertificateValidationCallback,
        EnabledSslProtocols = o.EnabledSslProtocols,
        CertificateRevocationCheckMode = o.CertificateRevocationCheckMode,
        CertificateChainPolicy = o.CertificateChainPolicy,
        CipherSuitesPolicy = o.CipherSuitesPolicy,
        EncryptionPolicy = o.EncryptionPolicy,
        AllowRenegotiation = false,
    };

    /// <summary>Runs one request, naming the peer in its failure (the stack is kept: the same exception goes on).</summary>
    private async Task<T> NamedAsync<T>(Func<Task<T>> request)
    {
        try
        {
            return await request();
        }
        catch (DicomNetworkException ex)
        {
            ex.CalledAE ??= Association.CalledAE;
            throw;
        }
    }

    private PresentationContext ContextFor(string abstractSyntax, string? transferSyntax = null) =>
        Association.AcceptedContexts.FirstOrDefault(c => c.AbstractSyntax == abstractSyntax && (transferSyntax is null || c.AcceptedTransferSyntax == transferSyntax))
        ?? throw new DimseFailureException(DimseStatus.SopClassNotSupported, $"no accepted presentation context for {abstractSyntax} {transferSyntax}");

    public Task<ushort> EchoAsync(CancellationToken ct = default) => NamedAsync(async () =>
    {
        var rq = DimseMessage.EchoRequest(_channel.NextMessageId());
        rq.PresentationContextId = ContextFor(SopClasses.Verification).Id;
        return (await _channel.RequestAsync(rq, ct)).Status;
    });

    /// <summary>
    /// Sends one instance. The data set is sent in a syntax the peer accepted for its SOP class: the stored one if
    /// possible, else re-encoded to an accepted uncompressed syntax, else to an accepted compressed one this toolkit
    /// encodes (as Orthanc does for a peer that takes, say, only JPEG-LS).
    /// </summary>
    public Task<DimseMessage> StoreAsync(string sopClass, string sopInstance, TransferSyntax syntax, ReadOnlyMemory<byte> dataSet,
        string? moveOriginatorAet = null, ushort moveOriginatorId = 0, CancellationToken ct = default) => NamedAsync(() =>
    {
        var (context, data) = Prepare(Association, sopClass, syntax, dataSet);
        var rq = DimseMessage.StoreRequest(_channel.NextMessageId(), sopClass, sopInstance, data, moveOriginatorAet, moveOriginatorId);
        rq.PresentationContextId = context.Id;
        return _channel.RequestAsync(rq, ct);
    });

    /// <summary>
    /// The transfer syntaxes to propose for storing an instance kept in <paramref name="stored"/>: that one, the
    /// uncompressed ones, then the lossless compressed ones this toolkit can encode it into (never a lossy one: a
    /// peer's preference must not silently degrade an image). The peer picks one per context (PS3.8 §9.3.3.2).
    /// </summary>
    public static IReadOnlyList<string> StoreSyntaxes(string stored, IEnumerable<string> uncompressed)
    {
        var syntaxes = new List<string>();
        if (stored.Length > 0) syntaxes.Add(stored);
        syntaxes.AddRange(uncompressed);
        var codecs = Imaging.CodecRegistry.Default;
        if (stored.Length == 0 || codecs.CanRead(TransferSyntax.Lookup(stored)))
            foreach (var ts in new[] { TransferSyntax.JPEGLSLossless, TransferSyntax.JPEG2000Lossless, TransferSyntax.RLELossless })
                if (codecs.CanWrite(ts) && IsEncoderInstalled(ts)) syntaxes.Add(ts.Uid);
        return syntaxes.Distinct().ToList();
    }

    private static bool IsEncoderInstalled(TransferSyntax ts) => ts.Uid switch
    {
        "1.2.840.10008.1.2.4.80" => Imaging.JpegLsCodec.IsAvailable,
        "1.2.840.10008.1.2.4.90" => Imaging.Jpeg2000Codec.IsAvailable,
        _ => true,
    };

    /// <summary>Picks the presentation context for a C-STORE and converts the data set when it must.</summary>
    internal static (PresentationContext Context, ReadOnlyMemory<byte> Data) Prepare(DicomAssociation association, string sopClass, TransferSyntax syntax, ReadOnlyMemory<byte> dataSet)
    {
        var candidates = association.AcceptedContexts.Where(c => c.AbstractSyntax == sopClass).ToList();
        if (candidates.FirstOrDefault(c => c.AcceptedTransferSyntax == syntax.Uid) is { } same)
            return (same, dataSet);
        var codecs = Imaging.CodecRegistry.Default;
        var target = candidates.FirstOrDefault(c => TransferSyntax.Lookup(c.AcceptedTransferSyntax!).IsUncompressed)
            ?? candidates.FirstOrDefault(c => codecs.CanWrite(TransferSyntax.Lookup(c.AcceptedTransferSyntax!)))
            ?? throw new DimseFailureException(DimseStatus.SopClassNotSupported, $"the peer accepted no presentation context for {sopClass}");
        var targetSyntax = TransferSyntax.Lookup(target.AcceptedTransferSyntax!);
        try
        {
            return (target, Imaging.Transcoder.Transcode(dataSet, syntax, targetSyntax));
        }
        catch (Imaging.ImagingException ex)
        {
            throw new DimseFailureException(DimseStatus.SopClassNotSupported, $"the peer does not accept {syntax.Name} for {sopClass}, and transcoding to {targetSyntax.Name} failed: {ex.Message}");
        }
    }

    /// <summary>C-FIND: yields each match, then completes on the final status (a failure throws).</summary>
    public async IAsyncEnumerable<DicomDataset> FindAsync(string sopClass, DicomDataset identifier, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var context = ContextFor(sopClass);
        var ts = TransferSyntax.Lookup(context.AcceptedTransferSyntax!);
        var rq = DimseMessage.QueryRequest(CommandField.CFindRequest, _channel.NextMessageId(), sopClass, DicomWriter.ToBytes(identifier, ts));
        rq.PresentationContextId = context.Id;
        await using var responses = _channel.RequestStreamAsync(rq, ct).GetAsyncEnumerator(ct);
        // Each step awaited apart from the yield, which cannot sit in a try with a catch.
        while (await NamedAsync(async () => await responses.MoveNextAsync()))
        {
            var rsp = responses.Current;
            if (DimseStatus.IsPending(rsp.Status))
            {
                if (rsp.Data is { } d) yield return DicomReader.ReadDataset(d, ts);
                continue;
            }
            if (DimseStatus.IsFailure(rsp.Status))
                throw new DimseFailureException(rsp.Status, rsp.Command.GetString(DicomTags.ErrorComment) ?? $"C-FIND failed with status 0x{rsp.Status:X4}")
                    { CalledAE = Association.CalledAE };
        }
    }

    /// <summary>C-MOVE to a destination AE; returns the final response (status and sub-operation counters).</summary>
    /// <remarks><paramref name="pending"/> sees each pending response, with its sub-operation counters (PS3.4 C.4.2.1.4).</remarks>
    public Task<DimseMessage> MoveAsync(string sopClass, string destinationAet, DicomDataset identifier,
        IProgress<DimseMessage>? pending = null, CancellationToken ct = default) =>
        NamedAsync(() => RetrieveAsync(sopClass, destinationAet, identifier, pending, ct));

    private async Task<DimseMessage> RetrieveAsync(string sopClass, string destinationAet, DicomDataset identifier, IProgress<DimseMessage>? pending, CancellationToken ct)
    {
        var context = ContextFor(sopClass);
        var ts = TransferSyntax.Lookup(context.AcceptedTransferSyntax!);
        var rq = DimseMessage.QueryRequest(CommandField.CMoveRequest, _channel.NextMessageId(), sopClass, DicomWriter.ToBytes(identifier, ts), destinationAet);
        rq.PresentationContextId = context.Id;
        DimseMessage? last = null;
        await foreach (var rsp in _channel.RequestStreamAsync(rq, ct))
        {
            last = rsp;
            if (DimseStatus.IsPending(rsp.Status)) pending?.Report(rsp);
        }
        return last!;
    }

    /// <summary>
    /// C-GET: the instances come back as C-STOREs on this association (PS3.4 C.4.3) and go to <paramref name="onStore"/>;
    /// the association must have been negotiated with the SCP role for their storage SOP classes (PS3.7 D.3.3.4).
    /// <paramref name="pending"/> sees each pending response.
    /// </summary>
    public async Task<DimseMessage> GetAsync(string sopClass, DicomDataset identifier,
        Func<DimseMessage, Task<ushort>> onStore, IProgress<DimseMessage>? pending = null, CancellationToken ct = default)
    {
        var context = ContextFor(sopClass);
        var ts = TransferSyntax.Lookup(context.AcceptedTransferSyntax!);
        var rq = DimseMessage.QueryRequest(CommandField.CGetRequest, _channel.NextMessageId(), sopClass, DicomWriter.ToBytes(identifier, ts));
        rq.PresentationContextId = context.Id;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var stores = Task.Run(async () =>
        {
            await foreach (var incoming in _channel.IncomingRequests.ReadAllAsync(stop.Token))
            {
                var status = incoming.CommandField == CommandField.CStoreRequest ? await onStore(incoming) : DimseStatus.UnrecognizedOperation;
                await _channel.SendAsync(DimseMessage.ResponseTo(incoming, status), stop.Token);
            }
        }, stop.Token);
        DimseMessage? last = null;
        await foreach (var rsp in _channel.RequestStreamAsync(rq, ct))
        {
            last = rsp;
            if (DimseStatus.IsPending(rsp.Status)) pending?.Report(rsp);
        }
        stop.Cancel();
        try { await stores; } catch (OperationCanceledException) { }
        return last!;
    }

    /// <summary>
    /// Request Storage Commitment (N-ACTION, PS3.4 J.3.2) on this association, which must have the Storage Commitment
    /// Push Model context accepted. A failure status throws; the report comes later (<see cref="StorageCommitment"/>).
    /// </summary>
    public Task<ushort> RequestStorageCommitmentAsync(StorageCommitmentRequest request, CancellationToken ct = default) => NamedAsync(async () =>
    {
        var context = ContextFor(SopClasses.StorageCommitmentPushModel);
        var rq = StorageCommitment.ActionRequest(_channel.NextMessageId(), request, context.Id, TransferSyntax.Lookup(context.AcceptedTransferSyntax!));
        var rsp = await _channel.RequestAsync(rq, ct);
        if (!DimseStatus.IsSuccess(rsp.Status))
            throw new DimseFailureException(rsp.Status, rsp.Command.GetString(DicomTags.ErrorComment) ?? $"N-ACTION failed with status 0x{rsp.Status:X4}")
                { CalledAE = Association.CalledAE };
        return rsp.Status;
    });

    /// <summary>Sends a storage commitment report (N-EVENT-REPORT, PS3.4 J.3.3) and returns the peer's status.</summary>
    public Task<ushort> ReportStorageCommitmentAsync(StorageCommitmentReport report, CancellationToken ct = default) =>
        NamedAsync(() => StorageCommitment.SendReportAsync(_channel, report, null, ct));

    public Task ReleaseAsync(CancellationToken ct = default) => _channel.ReleaseAsync(ct);

    public async ValueTask DisposeAsync()
    {
        try { await _channel.ReleaseAsync(); } catch { }
        await _channel.DisposeAsync();
        _tcp.Dispose();
    }
}

/// <summary>Sends the C-STORE sub-operations of a C-MOVE (own association to the destination) or C-GET (same association).</summary>
internal sealed class SubOperationSender : IAsyncDisposable
{
    private readonly DicomClient? _client;
    private readonly DimseChannel? _channel;

    private SubOperationSender(DicomClient? client, DimseChannel? channel)
    {
        _client = client;
        _channel = channel;
    }

    public static SubOperationSender OnSameAssociation(DimseChannel channel) => new(null, channel);

    public static async Task<SubOperationSender> ConnectAsync(string callingAe, MoveDestination destination, IReadOnlyList<StoreSubOperation> operations,
        AssociationOptions options, SslClientAuthenticationOptions? tls, CancellationToken ct)
    {
        if (destination.UseTls && tls is null)
            throw new DicomConnectionException(destination.Host, destination.Port, new InvalidOperationException("the destination needs DICOM TLS and no certificate of ours is configured"));
        // One context per (SOP class, stored syntax), each also offering the uncompressed and encodable lossless syntaxes as fallbacks.
        var contexts = operations.GroupBy(o => (o.SopClassUid, o.Syntax.Uid))
            .Select(g => (g.Key.SopClassUid, DicomClient.StoreSyntaxes(g.Key.Uid, SopClasses.Uncompressed)))
            .Take(128).ToList();
        var client = await DicomClient.ConnectAsync(destination.Host, destination.Port, callingAe, destination.AET, contexts, options,
            tls: destination.UseTls ? tls : null, ct: ct);
        return new SubOperationSender(client, null);
    }

    public async Task<ushort> SendAsync(StoreSubOperation op, string originatorAet, ushort originatorId, CancellationToken ct)
    {
        try
        {
            var data = await op.LoadDataSet(ct);
            if (_client is not null)
                return (await _client.StoreAsync(op.SopClassUid, op.SopInstanceUid, op.Syntax, data, originatorAet, originatorId, ct)).Status;
            var (context, payload) = DicomClient.Prepare(_channel!.Association, op.SopClassUid, op.Syntax, data);
            var rq = DimseMessage.StoreRequest(_channel.NextMessageId(), op.SopClassUid, op.SopInstanceUid, payload, originatorAet, originatorId);
            rq.PresentationContextId = context.Id;
            return (await _channel.RequestAsync(rq, ct)).Status;
        }
        catch (DimseFailureException ex) { return ex.Status; }
        catch (DicomReadException) { return DimseStatus.ProcessingFailure; }
        catch (FileNotFoundException) { return DimseStatus.ProcessingFailure; }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
    }
}
