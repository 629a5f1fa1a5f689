using System.Net;
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
}

/// <summary>
/// The SCP framework: a listener, one task per association, requests dispatched to one provider per service.
/// A malformed peer only ever loses its own association; the listener keeps serving.
/// </summary>
public sealed partial class DicomServer(
    DicomServerOptions options,
    IAssociationPolicy policy,
    ICEchoProvider? echo = null,
    ICStoreProvider? store = null,
    ICFindProvider? find = null,
    ICMoveProvider? move = null,
    ICGetProvider? get = null,
    ILogger? logger = null) : IAsyncDisposable
{
    private readonly ILogger _log = logger ?? NullLogger.Instance;
    private readonly SemaphoreSlim _slots = new(options.MaxAssociations, options.MaxAssociations);
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
        var remote = (client.Client.RemoteEndPoint as IPEndPoint)?.Address.ToString();
        var haveSlot = _slots.Wait(0);
        try
        {
            await using var stream = client.GetStream();
            var association = await DicomAssociation.AcceptAsync(stream,
                rq => !haveSlot ? AssociateReject.TooManyAssociations : policy.Check(rq),
                Negotiate, options.Association, remote, _stop.Token);
            if (association is null) return;
            await using var channel = new DimseChannel(association);
            var context = new DimseContext(association, channel);
            LogAssociation(_log, association.CallingAE, remote, association.CalledAE);
            await foreach (var request in channel.IncomingRequests.ReadAllAsync(_stop.Token))
                await DispatchAsync(context, request);
        }
        catch (DicomNetworkException ex) { LogAssociationEnded(_log, remote, ex.Message); }
        catch (OperationCanceledException) { }
        catch (Exception ex) when (ex is IOException or SocketException) { LogConnectionDropped(_log, remote, ex.Message); }
        catch (Exception ex) { LogAssociationFailed(_log, ex, remote); }
        finally
        {
            if (haveSlot) _slots.Release();
            client.Dispose();
        }
    }

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
        var failedUids = new List<string>();
        try
        {
            if (operations.Count == 0)
            {
                await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Success).WithSubOperations(-1, 0, 0, 0));
                return;
            }
            await using var sender = isMove
                ? await SubOperationSender.ConnectAsync(options.AET, destination!, operations, options.Association, ct)
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
            var final = failed > 0 || warning > 0 ? DimseStatus.SubOperationsCompleteWithFailures : DimseStatus.Success;
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
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.Cancel)
                .WithSubOperations(operations.Count - completed - failed - warning, completed, failed, warning));
        }
        catch (AssociationRejectedException ex)
        {
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.OutOfResourcesSubOperations, errorComment: "Destination refused the association: " + ex.Message)
                .WithSubOperations(0, 0, operations.Count, 0));
        }
        catch (DicomNetworkException ex) when (ex is not DimseFailureException)
        {
            await channel.SendAsync(DimseMessage.ResponseTo(request, DimseStatus.OutOfResourcesSubOperations, errorComment: "Destination unreachable: " + ex.Message)
                .WithSubOperations(0, completed, operations.Count - completed, warning));
        }
        finally { channel.Unregister(request); }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Stop();
        if (_acceptLoop is not null) await _acceptLoop;
    }
}
