using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Association;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;

namespace OrthancWeb.Dicom.Network.Services;

public sealed record DicomServerOptions
{
    public string AET { get; init; } = "ORTHANCWEB";
    public int Port { get; init; } = 4242;
    public IPAddress Address { get; init; } = IPAddress.Any;
    public int MaxAssociations { get; init; } = 32;
    public AssociationOptions Association { get; init; } = new();

    /// <summary>Associations one address may hold at once, known peers (<see cref="IAssociationPolicy.IsKnownPeer"/>) apart; null: no limit.</summary>
    public int? MaxAssociationsPerHost { get; init; }

    /// <summary>Of <see cref="MaxAssociations"/>, how many only known peers may take: unknown peers cannot fill the server.</summary>
    public int ReservedForKnownPeers { get; init; }

    /// <summary>
    /// A new connection must complete its TLS handshake and send A-ASSOCIATE-RQ within this time, and an accepted
    /// association must then send a whole PDU (its first DIMSE message, or a release) within it again; otherwise it is
    /// closed (aborted), so that idle connections do not hold the server's slots.
    /// </summary>
    public TimeSpan SetupTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>DICOM TLS on the listening port (PS3.15 Annex B.1): every connection must handshake first.</summary>
    public SslServerAuthenticationOptions? Tls { get; init; }

    /// <summary>Our TLS client options for C-MOVE destinations that are reached over TLS.</summary>
    public SslClientAuthenticationOptions? ClientTls { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>
/// The SCP framework: a listener, one task per association, requests dispatched to one provider per service.
/// A malformed peer only ever loses its own association; the listener keeps serving. Slots are bounded per address
/// and in total, with some kept for known peers, and a connection that stays silent is closed after
/// <see cref="DicomServerOptions.SetupTimeout"/>: idle connections cannot lock real modalities out.
/// </summary>
public sealed partial class DicomServer(
    DicomServerOptions options,
    IAssociationPolicy policy,
    ICEchoProvider? echo = null,
    ICStoreProvider? store = null,
    ICFindProvider? find = null,
    ICMoveProvider? move = null,
    ICGetProvider? get = null,
    ILogger? logger = null,
    IAssociationObserver? observer = null,
    IStorageCommitmentProvider? commitment = null,
    IStorageCommitmentReportProvider? commitmentReports = null) : IAsyncDisposable
{
    private readonly ILogger _log = logger ?? NullLogger.Instance;
    private readonly Slots _slots = new(options);
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private readonly CancellationTokenSource _stop = new();

    public int Port => (_listener?.LocalEndpoint as IPEndPoint)?.Port ?? options.Port;

    public void Start()
    {
        _listener = new TcpListener(options.Address, options.Port);
        AllowRebindOverTimeWait(_listener.Server);
        _listener.Start(backlog: 64);
        _acceptLoop = Task.Run(AcceptLoopAsync);
        LogListening(_log, options.AET, Port);
    }

    /// <summary>
    /// SO_REUSEADDR alone, so that a restart binds its port while the last run's connections sit in TIME_WAIT. .NET's
    /// ReuseAddress option would also set SO_REUSEPORT on Unix, letting a second instance configured with the same port
    /// start and silently take half of the associations; with SO_REUSEADDR alone the second bind fails, as in Orthanc.
    /// Windows needs nothing: it lets a listener rebind over TIME_WAIT by default.
    /// </summary>
    private static void AllowRebindOverTimeWait(Socket socket)
    {
        if (OperatingSystem.IsWindows()) return;
        const int solSocket = 1, soReuseAddr = 2; // <sys/socket.h> on Linux
        int level = OperatingSystem.IsLinux() ? solSocket : 0xffff, name = OperatingSystem.IsLinux() ? soReuseAddr : 0x0004; // BSD/macOS values otherwise
        socket.SetRawSocketOption(level, name, BitConverter.GetBytes(1));
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener!.AcceptTcpClientAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            // Disposed between the loop's check and the accept: the listener is already stopped ("Not listening").
            catch (InvalidOperationException) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException ex) { LogAcceptFailed(_log, ex); continue; }
            // Nagle's algorithm would hold each small response ~40 ms waiting for a delayed ACK.
            client.NoDelay = true;
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        var endpoint = client.Client.RemoteEndPoint is IPEndPoint ep
            ? new IPEndPoint(ep.Address.IsIPv4MappedToIPv6 ? ep.Address.MapToIPv4() : ep.Address, ep.Port) : null;
        var address = endpoint?.Address ?? IPAddress.None;
        var remote = endpoint?.Address.ToString();
        if (_slots.EnterPending(address) is { } full)
        {
            // Refused before a byte is read: a flood of connections costs us a socket each, briefly.
            observer?.OnRefused(endpoint, null, full);
            DicomServerMetrics.Refused();
            LogRefused(_log, remote, full);
            client.Dispose();
            return;
        }
        var pending = true;
        var accepted = false;
        Slots.Kind slot = Slots.Kind.None;
        string? refused = null;
        AssociationParameters? request = null;
        try
        {
            Stream stream = client.GetStream();
            if (options.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                using var handshake = new CancellationTokenSource(options.SetupTimeout, options.TimeProvider);
                using var both = CancellationTokenSource.CreateLinkedTokenSource(handshake.Token, _stop.Token);
                try
                {
                    await ssl.AuthenticateAsServerAsync(CopyOf(tls), both.Token);
                }
                catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException
                    or OperationCanceledException && !_stop.IsCancellationRequested)
                {
                    // A plain DICOM client on the TLS port, an untrusted certificate, or no handshake at all.
                    refused = ex is OperationCanceledException ? "no TLS handshake within the setup timeout" : "TLS handshake failed: " + ex.Message;
                    return;
                }
            }
            var activity = new PduCountingStream(stream);
            DicomAssociation? association;
            try
            {
                association = await DicomAssociation.AcceptAsync(activity, rq =>
                    {
                        request = rq;
                        rq.RemoteEndPoint = endpoint;
                        if (policy.Check(rq) is { } reject)
                        {
                            refused = "refused by the policy: " + reject.Describe();
                            return reject;
                        }
                        (slot, refused) = _slots.Take(address, policy.IsKnownPeer(rq));
                        return slot == Slots.Kind.None ? AssociateReject.TooManyAssociations : null;
                    },
                    Negotiate, options.Association with { ArtimTimeout = options.SetupTimeout }, remote, _stop.Token);
            }
            catch (DicomNetworkException ex)
            {
                refused = ex is DicomTimeoutException ? "no A-ASSOCIATE-RQ within the setup timeout" : "before the association: " + ex.Message;
                throw;
            }
            finally
            {
                _slots.LeavePending(address);
                pending = false;
            }
            if (association is null)
            {
                refused ??= "application context not supported";
                return;
            }
            DicomServerMetrics.Accepted();
            accepted = true;
            await using var channel = new DimseChannel(association);
            var context = new DimseContext(association, channel) { IsTls = options.Tls is not null };
            LogAssociation(_log, association.CallingAE, remote, association.CalledAE);
            // The observer's scope (the audit trail's actor) must be entered here, in this method's own flow.
            using var scope = observer?.OnAccepted(context);
            using var ended = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var watchdog = WatchFirstPduAsync(activity, activity.CompletedPdus, channel, client, remote, ended.Token);
            try
            {
                await foreach (var rq in channel.IncomingRequests.ReadAllAsync(_stop.Token))
                    await DispatchAsync(context, rq);
            }
            finally
            {
                await ended.CancelAsync();
                await watchdog;
            }
        }
        catch (DicomNetworkException ex) { LogAssociationEnded(_log, remote, ex.Message); }
        catch (OperationCanceledException) { }
        catch (Exception ex) when (ex is IOException or SocketException) { LogConnectionDropped(_log, remote, ex.Message); }
        catch (Exception ex) { LogAssociationFailed(_log, ex, remote); }
        finally
        {
            if (pending) _slots.LeavePending(address);
            _slots.Release(address, slot);
            if (accepted) DicomServerMetrics.Ended();
            if (refused is not null)
            {
                DicomServerMetrics.Refused();
                observer?.OnRefused(endpoint, request, refused);
                LogRefused(_log, remote, refused);
            }
            client.Dispose();
        }
    }

    /// <summary>
    /// An accepted association must send a whole PDU (at most our maximum PDU length, 256 KB) within the setup timeout:
    /// one that idles holds a slot for nothing. Aborted otherwise (A-ABORT, then the socket closed).
    /// </summary>
    private async Task WatchFirstPduAsync(PduCountingStream activity, long seenAtAccept, DimseChannel channel, TcpClient client, string? remote, CancellationToken ended)
    {
        try
        {
            await Task.Delay(options.SetupTimeout, options.TimeProvider, ended);
            if (activity.CompletedPdus != seenAtAccept || channel.Completion.IsCompleted) return;
            LogIdleAborted(_log, remote, options.SetupTimeout.TotalSeconds);
            await channel.AbortAsync();
        }
        catch (OperationCanceledException) { return; }
        catch (ObjectDisposedException) { }
        // Closing the socket ends the reader that waits on it, and with it the association.
        client.Dispose();
    }

    /// <summary>A copy per connection: SslStream may keep state in the options it is given.</summary>
    private static SslServerAuthenticationOptions CopyOf(SslServerAuthenticationOptions o) => new()
    {
        ServerCertificate = o.ServerCertificate,
        ServerCertificateContext = o.ServerCertificateContext,
        ServerCertificateSelectionCallback = o.ServerCertificateSelectionCallback,
        ClientCertificateRequired = o.ClientCertificateRequired,
        RemoteCertificateValidationCallback = o.RemoteCertificateValidationCallback,
        EnabledSslProtocols = o.EnabledSslProtocols,
        CertificateRevocationCheckMode = o.CertificateRevocationCheckMode,
        CertificateChainPolicy = o.CertificateChainPolicy,
        CipherSuitesPolicy = o.CipherSuitesPolicy,
        EncryptionPolicy = o.EncryptionPolicy,
        AllowRenegotiation = false,
    };

    [LoggerMessage(LogLevel.Warning, "DICOM connection from {Host} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string? host, string reason);

    [LoggerMessage(LogLevel.Information, "Association from {Host} aborted: no PDU within {Seconds} s of its acceptance")]
    private static partial void LogIdleAborted(ILogger logger, string? host, double seconds);

    [LoggerMessage(LogLevel.Information, "DICOM server {AET} listening on port {Port}")]
    private static partial void LogListening(ILogger logger, string aet, int port);

    [LoggerMessage(LogLevel.Warning, "accept failed")]
    private static partial void LogAcceptFailed(ILogger logger, SocketException exception);

    [LoggerMessage(LogLevel.Debug, "Association from {Calling} ({Host}) to {Called}")]
    private static partial void LogAssociation(ILogger logger, string calling, string? host, string called);

    [LoggerMessage(LogLevel.Information, "Association from {Host} ended: {Reason}")]
    private static partial void LogAssociationEnded(ILogger logger, string? host, string reason);

    [LoggerMessage(LogLevel.Information, "Connection from {Host} dropped: {Reason}")]
    private static partial void LogConnectionDropped(ILogger logger, string? host, string reason);

    [LoggerMessage(LogLevel.Error, "Association from {Host} failed")]
    private static partial void LogAssociationFailed(ILogger logger, Exception exception, string? host);

    private AssociationParameters Negotiate(AssociationParameters request)
    {
        var accept = new AssociationParameters { CalledAE = request.CalledAE, CallingAE = request.CallingAE };
        foreach (var pc in request.PresentationContexts)
        {
            var answer = new PresentationContext(pc.Id, pc.AbstractSyntax, pc.TransferSyntaxes);
            var acceptable = policy.AcceptableTransferSyntaxes(request, pc.AbstractSyntax);
            if (acceptable is null)
                answer.Result = PresentationContextResult.AbstractSyntaxNotSupported;
            else if (pc.TransferSyntaxes.FirstOrDefault(acceptable.Contains) is { } chosen)
            {
                // The proposer's order wins: a modality that prefers a compressed syntax keeps it (stored as received).
                answer.Result = PresentationContextResult.Acceptance;
                answer.AcceptedTransferSyntax = chosen;
            }
            else
                answer.Result = PresentationContextResult.TransferSyntaxesNotSupported;
            accept.PresentationContexts.Add(answer);
        }
        // C-GET: the SCU must be allowed to act as SCP of the storage classes it asks for (PS3.7 §D.3.3.4).
        foreach (var role in request.RoleSelections)
            accept.RoleSelections.Add(new RoleSelection(role.SopClassUid, role.ScuRole, role.ScpRole));
        if (request.UserIdentity is { PositiveResponseRequested: true })
            accept.UserIdentityServerResponse = [];
        return accept;
    }

    private async Task DispatchAsync(DimseContext context, DimseMessage request)
    {
        var channel = context.Channel;
        try
        {
            switch (request.CommandField)
            {
                case CommandField.CEchoRequest when echo is not null:
                    await channel.SendAsync(DimseMessage.ResponseTo(request, await echo.OnEchoAsync(context, _stop.Token)));
                    break;
                case CommandField.CStoreRequest when store is not null:
                    var (status, comment) = await store.OnStoreAsync(context, request, _stop.Token);
                    await channel.SendAsync(DimseMessage.ResponseTo(request, status, errorComment: comment));
                    break;
                case CommandField.CFindRequest when find is not null:
                    await FindAsync(context, request);
                    break;
                case CommandField.CMoveRequest when move is not null:
                    await RetrieveAsync(context, request, isMove: true);
                    break;
                case CommandField.CGetRequest when get is not null:
                    await RetrieveAsync(context, request, isMove: false);
                    break;
                case CommandField.NActionRequest when commitment is not null:
                    await StorageCommitmentAsync(context, request);
                    break;
                case CommandField.NEventReportRequest when commitmentReports is not null:
                    var reportStatus = await commitmentReports.OnReportAsync(context, StorageCommitment.ReadReport(request), _stop.Token);
                    await channel.SendAsync(DimseMessage.ResponseTo(request, reportStatus));
                    break;
                default:
                    await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.UnrecognizedOperation, errorComment: $"{request.CommandField} is not supported"));
                    break;
            }
        }
        catch (DimseFailureException ex)
        {
            await channel.SendAsync(DimseMessage.ResponseTo(request, ex.Status, errorComment: ex.ErrorComment));
        }
        catch (DicomReadException ex)
        {
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.CannotUnderstand, errorComment: "Cannot understand: " + ex.Reason));
        }
    }

    /// <summary>
    /// N-ACTION of the Storage Commitment Push Model (PS3.4 J.3.2): checked, answered, then handed on for the report,
    /// which the provider sends once the requester has its N-ACTION-RSP (PS3.4 J.3.3).
    /// </summary>
    private async Task StorageCommitmentAsync(DimseContext context, DimseMessage request)
    {
        if (request.AffectedSopClassUid != SopClasses.StorageCommitmentPushModel)
            throw new DimseFailureException(DimseStatus.NoSuchSopClass, $"N-ACTION is served for Storage Commitment only, not {request.AffectedSopClassUid}");
        if (request.SopInstanceUid != SopClasses.StorageCommitmentPushModelInstance)
            throw new DimseFailureException(DimseStatus.NoSuchObjectInstance, $"the Storage Commitment SOP instance is {SopClasses.StorageCommitmentPushModelInstance}");
        if (request.ActionTypeId != StorageCommitment.RequestStorageCommitmentAction)
            throw new DimseFailureException(DimseStatus.NoSuchActionType, $"Action Type ID {request.ActionTypeId} is not Request Storage Commitment (1)");
        var data = request.DecodeData() ?? throw new DimseFailureException(DimseStatus.MissingAttribute, "N-ACTION without Action Information");
        var parsed = StorageCommitmentRequest.FromDataset(data);
        var status = await commitment!.OnRequestAsync(context, parsed, _stop.Token);
        await context.Channel.SendAsync(DimseMessage.ResponseTo(request, status));
        if (DimseStatus.IsSuccess(status))
            await commitment.OnRequestAnsweredAsync(context, parsed, request.PresentationContextId, _stop.Token);
    }

    private async Task FindAsync(DimseContext context, DimseMessage request)
    {
        var channel = context.Channel;
        var identifier = request.DecodeData() ?? throw new DimseFailureException(DimseStatus.CannotUnderstand, "C-FIND without identifier");
        var ts = request.DataSyntax;
        var ct = channel.RegisterCancellable(request, _stop.Token);
        try
        {
            await foreach (var match in find!.OnFindAsync(context, request.AffectedSopClassUid, identifier, ct).WithCancellation(ct))
            {
                // Pending with optional keys all supported: FF00 (PS3.4 Table C.4-1).
                await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Pending, DicomWriter.ToBytes(match, ts)));
            }
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Success));
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Cancel));
        }
        finally { channel.Unregister(request); }
    }

    private async Task RetrieveAsync(DimseContext context, DimseMessage request, bool isMove)
    {
        var channel = context.Channel;
        var identifier = request.DecodeData() ?? throw new DimseFailureException(DimseStatus.CannotUnderstand, "no identifier");
        MoveDestination? destination = null;
        if (isMove)
        {
            var aet = request.Command.GetString(DicomTags.MoveDestination) ?? "";
            destination = await move!.ResolveDestinationAsync(context, aet, _stop.Token)
                ?? throw new DimseFailureException(DimseStatus.MoveDestinationUnknown, $"Unknown move destination '{aet}'");
        }
        var operations = isMove
            ? await move!.ResolveAsync(context, request.AffectedSopClassUid, identifier, _stop.Token)
            : await get!.ResolveAsync(context, request.AffectedSopClassUid, identifier, _stop.Token);
        var ct = channel.RegisterCancellable(request, _stop.Token);
        int completed = 0, failed = 0, warning = 0;
        var final = DimseStatus.Success;
        string? error = null;
        var failedUids = new List<string>();
        try
        {
            if (operations.Count == 0)
            {
                await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Success).WithSubOperations(-1, 0, 0, 0));
                return;
            }
            await using var sender = isMove
                ? await SubOperationSender.ConnectAsync(options.AET, destination!, operations, options.Association, destination!.UseTls ? options.ClientTls : null, ct)
                : SubOperationSender.OnSameAssociation(channel);
            var remaining = operations.Count;
            foreach (var op in operations)
            {
                ct.ThrowIfCancellationRequested();
                var status = await sender.SendAsync(op, context.CallingAE, request.MessageId, ct);
                remaining--;
                if (DimseStatus.IsSuccess(status)) completed++;
                else if (DimseStatus.IsWarning(status)) warning++;
                else { failed++; failedUids.Add(op.SopInstanceUid); }
                if (remaining > 0)
                    await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Pending).WithSubOperations(remaining, completed, failed, warning));
            }
            final = failed > 0 || warning > 0 ? DimseStatus.SubOperationsCompleteWithFailures : DimseStatus.Success;
            ReadOnlyMemory<byte>? failedList = null;
            if (failed > 0)
            {
                var ds = new DicomDataset().Add(DicomTags.FailedSOPInstanceUIDList, DicomVR.UI, failedUids.ToArray());
                failedList = DicomWriter.ToBytes(ds, request.DataSyntax);
            }
            await channel.SendAsync(DimseMessage.ResponseTo(request, final, failedList).WithSubOperations(0, completed, failed, warning));
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            (final, error) = (DimseStatus.Cancel, "cancelled by the requester");
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Cancel)
                .WithSubOperations(operations.Count - completed - failed - warning, completed, failed, warning));
        }
        catch (AssociationRejectedException ex)
        {
            (final, error, failed) = (DimseStatus.OutOfResourcesSubOperations, "Destination refused the association: " + ex.Message, operations.Count);
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.OutOfResourcesSubOperations, errorComment: error)
                .WithSubOperations(0, 0, operations.Count, 0));
        }
        catch (DicomNetworkException ex) when (ex is not DimseFailureException)
        {
            (final, error, failed) = (DimseStatus.OutOfResourcesSubOperations, "Destination unreachable: " + ex.Message, operations.Count - completed);
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.OutOfResourcesSubOperations, errorComment: error)
                .WithSubOperations(0, completed, operations.Count - completed, warning));
        }
        finally
        {
            channel.Unregister(request);
            // Also when the association itself failed mid-way: what was delivered is still worth recording.
            var outcome = new RetrieveOutcome(request.AffectedSopClassUid, identifier, operations.Count, final, completed, failed, warning, destination?.AET, error);
            await (isMove ? move!.OnRetrieveCompletedAsync(context, outcome) : get!.OnRetrieveCompletedAsync(context, outcome));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Stop();
        if (_acceptLoop is not null) await _acceptLoop;
    }
}

/// <summary>
/// The server's association slots: connections awaiting their A-ASSOCIATE-RQ (bounded per address and in total, each
/// for at most the setup timeout), then associations, where unknown peers are held to a per-address limit and may not
/// take the slots kept for known ones.
/// </summary>
internal sealed class Slots(DicomServerOptions options)
{
    public enum Kind { None, Known, Unknown }

    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, int> _pendingByHost = [];
    private readonly Dictionary<IPAddress, int> _unknownByHost = [];
    private int _pending, _established, _unknown;

    private int MaxPendingPerHost => options.MaxAssociations;
    private int MaxPending => 4 * options.MaxAssociations;

    /// <summary>Null when the new connection may wait for its association request; else why not.</summary>
    public string? EnterPending(IPAddress address)
    {
        lock (_gate)
        {
            var mine = _pendingByHost.GetValueOrDefault(address);
            if (mine >= MaxPendingPerHost) return $"{mine} connections from this address are already awaiting their association";
            if (_pending >= MaxPending) return $"{_pending} connections are already awaiting their association";
            _pendingByHost[address] = mine + 1;
            _pending++;
            return null;
        }
    }

    public void LeavePending(IPAddress address)
    {
        lock (_gate)
        {
            _pending--;
            Decrement(_pendingByHost, address);
        }
    }

    /// <summary>A slot for an association, or None and the reason.</summary>
    public (Kind Slot, string? Reason) Take(IPAddress address, bool known)
    {
        lock (_gate)
        {
            if (_established >= options.MaxAssociations) return (Kind.None, $"all {options.MaxAssociations} associations are in use");
            if (known)
            {
                _established++;
                return (Kind.Known, null);
            }
            var forUnknown = options.MaxAssociations - options.ReservedForKnownPeers;
            if (_unknown >= forUnknown)
                return (Kind.None, $"the {forUnknown} associations open to unknown peers are in use (the rest are kept for known modalities)");
            var mine = _unknownByHost.GetValueOrDefault(address);
            if (options.MaxAssociationsPerHost is { } perHost && mine >= perHost)
                return (Kind.None, $"this address already holds {mine} associations (the limit per address)");
            _unknownByHost[address] = mine + 1;
            _unknown++;
            _established++;
            return (Kind.Unknown, null);
        }
    }

    public void Release(IPAddress address, Kind slot)
    {
        if (slot == Kind.None) return;
        lock (_gate)
        {
            _established--;
            if (slot != Kind.Unknown) return;
            _unknown--;
            Decrement(_unknownByHost, address);
        }
    }

    private static void Decrement(Dictionary<IPAddress, int> counts, IPAddress address)
    {
        var n = counts.GetValueOrDefault(address) - 1;
        if (n <= 0) counts.Remove(address);
        else counts[address] = n;
    }
}

/// <summary>
/// The stream an association reads, counting the PDUs that arrive whole (from their 6-byte headers, PS3.8 §9.3.1),
/// so the server can tell an association that sends nothing from one that is busy. Writes pass through.
/// </summary>
internal sealed class PduCountingStream(Stream inner) : Stream
{
    private readonly byte[] _header = new byte[6];
    private int _headerFilled;
    private long _bodyLeft;
    private long _completed;

    public long CompletedPdus => Interlocked.Read(ref _completed);

    private void Count(ReadOnlySpan<byte> read)
    {
        while (read.Length > 0)
        {
            if (_headerFilled < 6)
            {
                var n = Math.Min(6 - _headerFilled, read.Length);
                read[..n].CopyTo(_header.AsSpan(_headerFilled));
                _headerFilled += n;
                read = read[n..];
                if (_headerFilled < 6) return;
                _bodyLeft = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(2));
            }
            var take = (int)Math.Min(_bodyLeft, read.Length);
            _bodyLeft -= take;
            read = read[take..];
            if (_bodyLeft == 0)
            {
                _headerFilled = 0;
                Interlocked.Increment(ref _completed);
            }
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        Count(buffer.Span[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = inner.Read(buffer, offset, count);
        Count(buffer.AsSpan(offset, n));
        return n;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override void Flush() => inner.Flush();
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }
}
