using System.Buffers;
using System.Buffers.Binary;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Pdu;

namespace OrthancWeb.Dicom.Network.Association;

/// <summary>Limits that protect an association from a slow or hostile peer.</summary>
public sealed record AssociationOptions
{
    /// <summary>ARTIM (PS3.8 §9.1.5): how long to wait for A-ASSOCIATE-RQ after a connection, or for A-RELEASE-RP.</summary>
    public TimeSpan ArtimTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>An established association with no PDU for this long is aborted.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>
    /// Largest P-DATA-TF PDU we accept, announced in our user information as Maximum Length Received (PS3.8 §D.1);
    /// a longer one is a protocol error and aborts the association before its body is read.
    /// </summary>
    public uint MaxPduLength { get; init; } = 256 * 1024;
    /// <summary>Largest assembled data set accepted in memory, where there is no <see cref="Spool"/>.</summary>
    public long MaxMessageLength { get; init; } = 2L * 1024 * 1024 * 1024 - 1;
    /// <summary>
    /// Largest command set (PS3.7 §6.3.1). Real ones are a few hundred bytes; a peer that sends fragment after fragment
    /// of one is aborted instead of being buffered.
    /// </summary>
    public int MaxCommandLength { get; init; } = 64 * 1024;
    /// <summary>Where data sets past the spool's threshold go instead of memory (the C-STORE SCP's files); null keeps them in memory.</summary>
    public IDataSetSpool? Spool { get; init; }
}

/// <summary>
/// One established association (PS3.8 §7.1): exchanges DIMSE messages as P-DATA-TF PDUs, fragmenting to the peer's
/// maximum PDU length, and handles A-RELEASE and A-ABORT in both directions. Async end to end.
/// </summary>
public sealed class DicomAssociation : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly AssociationOptions _options;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Dictionary<byte, PresentationContext> _contexts;
    private bool _closed;

    private DicomAssociation(Stream stream, AssociationParameters request, AssociationParameters accept, AssociationOptions options, bool isRequestor)
    {
        _stream = stream;
        Request = request;
        Accept = accept;
        _options = options;
        IsRequestor = isRequestor;
        // The first of two contexts with one ID wins: a duplicate from a confused peer is not worth a failure here.
        _contexts = [];
        foreach (var pc in accept.PresentationContexts) _contexts.TryAdd(pc.Id, pc);
        // Abstract syntaxes come from the request; the accept carries only results and syntaxes.
        foreach (var pc in request.PresentationContexts)
            if (_contexts.TryGetValue(pc.Id, out var acc) && acc.AbstractSyntax.Length == 0)
                _contexts[pc.Id] = new PresentationContext(pc.Id, pc.AbstractSyntax, pc.TransferSyntaxes) { Result = acc.Result, AcceptedTransferSyntax = acc.AcceptedTransferSyntax };
    }

    public AssociationParameters Request { get; }
    public AssociationParameters Accept { get; }
    public bool IsRequestor { get; }
    public string CallingAE => Request.CallingAE;
    public string CalledAE => Request.CalledAE;
    public string? RemoteHost { get; init; }
    public UserIdentity? UserIdentity => Request.UserIdentity;

    public IEnumerable<PresentationContext> AcceptedContexts => _contexts.Values.Where(c => c.IsAccepted);

    public PresentationContext? FindContext(string abstractSyntax, string? transferSyntax = null) =>
        AcceptedContexts.FirstOrDefault(c => c.AbstractSyntax == abstractSyntax && (transferSyntax is null || c.AcceptedTransferSyntax == transferSyntax))
        ?? (transferSyntax is null ? null : null);

    public PresentationContext? Context(byte id) => _contexts.GetValueOrDefault(id);

    /// <summary>The peer's maximum PDU length, i.e. the largest PDU we may send.</summary>
    private uint PeerMaxPdu => IsRequestor ? Accept.MaxPduLength : Request.MaxPduLength;

    // ---- establishment ----

    /// <summary>SCP side: wait (ARTIM) for A-ASSOCIATE-RQ, ask the policy, answer AC or RJ.</summary>
    public static async Task<DicomAssociation?> AcceptAsync(Stream stream, Func<AssociationParameters, AssociateReject?> decide,
        Func<AssociationParameters, AssociationParameters> negotiate, AssociationOptions options, string? remoteHost, CancellationToken ct)
    {
        using var artim = CancellationTokenSource.CreateLinkedTokenSource(ct);
        artim.CancelAfter(options.ArtimTimeout);
        PduType type;
        byte[] body;
        try
        {
            // Anything but an A-ASSOCIATE-RQ in state Sta2 is answered by A-ABORT at once (PS3.8 §9.2, AA-1),
            // without waiting for a body that may never come.
            (type, body) = await ReadPduAsync(stream, 64 * 1024, artim.Token, expected: PduType.AssociateRequest);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new DicomTimeoutException(DicomTimeout.Artim, options.ArtimTimeout);
        }
        catch (AssociationAbortedException)
        {
            try { await stream.WriteAsync(PduCodec.EncodeAbort(2, 2), ct); } catch (IOException) { }
            throw;
        }
        AssociationParameters request;
        try { request = PduCodec.DecodeAssociate(body, accept: false); }
        catch (PduException ex)
        {
            // A malformed A-ASSOCIATE-RQ: A-ABORT, invalid PDU parameter value (PS3.8 §9.2, AA-8).
            try { await stream.WriteAsync(PduCodec.EncodeAbort(2, (byte)AbortReason.InvalidPduParameterValue), ct); } catch (IOException) { }
            throw new AssociationAbortedException("malformed A-ASSOCIATE-RQ: " + ex.Message, ex, AbortSource.ServiceProvider, AbortReason.InvalidPduParameterValue);
        }
        if (request.ApplicationContext != AssociationParameters.DicomApplicationContext)
        {
            await stream.WriteAsync(PduCodec.EncodeReject(AssociateReject.ApplicationContextNotSupported), ct);
            return null;
        }
        if (decide(request) is { } reject)
        {
            await stream.WriteAsync(PduCodec.EncodeReject(reject), ct);
            return null;
        }
        var accept = negotiate(request);
        accept.MaxPduLength = options.MaxPduLength;
        // Asynchronous operations are not supported: answer 1/1 when asked (PS3.7 §D.3.3.3).
        if (request.AsyncOperations is not null) accept.AsyncOperations = (1, 1);
        await stream.WriteAsync(PduCodec.EncodeAssociate(accept, accept: true), ct);
        return new DicomAssociation(stream, request, accept, options, isRequestor: false) { RemoteHost = remoteHost };
    }

    /// <summary>
    /// SCU side: send A-ASSOCIATE-RQ and wait (ARTIM) for AC, RJ or abort. Throws
    /// <see cref="AssociationRejectedException"/>, <see cref="AssociationAbortedException"/> or a timeout.
    /// </summary>
    public static async Task<DicomAssociation> RequestAsync(Stream stream, AssociationParameters request, AssociationOptions options, CancellationToken ct)
    {
        request.MaxPduLength = options.MaxPduLength;
        using var artim = CancellationTokenSource.CreateLinkedTokenSource(ct);
        artim.CancelAfter(options.ArtimTimeout);
        PduType type;
        byte[] body;
        try
        {
            await stream.WriteAsync(PduCodec.EncodeAssociate(request, accept: false), artim.Token);
            (type, body) = await ReadPduAsync(stream, 64 * 1024, artim.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new DicomTimeoutException(DicomTimeout.Artim, options.ArtimTimeout);
        }
        catch (IOException ex)
        {
            throw new AssociationAbortedException("connection lost: " + ex.Message, ex);
        }
        return type switch
        {
            PduType.AssociateAccept => new DicomAssociation(stream, request, PduCodec.DecodeAssociate(body, accept: true), options, isRequestor: true),
            PduType.AssociateReject => throw new AssociationRejectedException(PduCodec.DecodeReject(body)),
            PduType.Abort => throw AssociationAbortedException.FromPeer(body),
            _ => throw new AssociationAbortedException($"the peer answered the association request with {type}", reason: AbortReason.UnexpectedPdu),
        };
    }

    // ---- PDUs ----

    /// <summary>Reads one PDU; a length past <paramref name="maxLength"/> is refused before anything is allocated.</summary>
    private static async Task<(PduType Type, byte[] Body)> ReadPduAsync(Stream stream, long maxLength, CancellationToken ct, PduType? expected = null)
    {
        var header = new byte[6];
        await ReadExactlyAsync(stream, header, ct);
        var type = (PduType)header[0];
        if (header[0] is < 1 or > 7) throw new AssociationAbortedException($"unknown PDU type 0x{header[0]:X2}", reason: AbortReason.UnrecognizedPdu);
        if (expected is { } e && type != e) throw new AssociationAbortedException($"expected {e}, received {type}", reason: AbortReason.UnexpectedPdu);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2));
        if (length > maxLength) throw new AssociationAbortedException($"{type} PDU of {length} bytes exceeds the limit of {maxLength}", reason: AbortReason.InvalidPduParameterValue);
        // Every byte is about to be overwritten by the read: no need for the runtime to zero up to 256 KB first.
        var body = GC.AllocateUninitializedArray<byte>((int)length);
        await ReadExactlyAsync(stream, body, ct);
        return (type, body);
    }

    private static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, ct);
        }
        catch (EndOfStreamException ex) { throw new AssociationAbortedException("the peer closed the connection", ex); }
        catch (IOException ex) { throw new AssociationAbortedException("connection lost: " + ex.Message, ex); }
    }

    // ---- messages ----

    /// <summary>
    /// The next DIMSE message, or null when the peer released the association (we answer A-RELEASE-RP).
    /// Throws <see cref="AssociationAbortedException"/> on A-ABORT, timeout, or a protocol violation.
    /// </summary>
    public async Task<DimseMessage?> ReceiveAsync(CancellationToken ct)
    {
        var assembly = new MessageAssembly();
        try
        {
            var message = await ReceiveMessageAsync(assembly, ct);
            assembly.Sink = null; // handed on with the message: its handler owns it now
            return message;
        }
        finally
        {
            // Aborted, timed out or broken half way: a spooled data set's bytes are thrown away.
            assembly.Sink?.Dispose();
        }
    }

    /// <summary>The state of one message being reassembled from its PDVs.</summary>
    private sealed class MessageAssembly
    {
        public readonly ArrayBufferWriter<byte> Command = new(1024);
        public DimseMessage? Message;
        public DataSetBuffer? Data;
        public IDataSetSink? Sink;
        public long DataLength;
        public byte ContextId;
    }

    /// <summary>A-ABORT (PS3.8 §9.2, AA-8 for a PDU that breaks the rules), then the exception that says why.</summary>
    private async Task<AssociationAbortedException> ProtocolErrorAsync(string why, AbortReason reason = AbortReason.InvalidPduParameterValue, Exception? inner = null)
    {
        await AbortAsync(AbortSource.ServiceProvider, reason);
        return new AssociationAbortedException(why, inner, AbortSource.ServiceProvider, reason);
    }

    private async Task<DimseMessage?> ReceiveMessageAsync(MessageAssembly m, CancellationToken ct)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (true)
        {
            idle.CancelAfter(_options.IdleTimeout);
            PduType type;
            byte[] body;
            try
            {
                // Our Maximum Length Received bounds the P-DATA-TF PDUs we read (PS3.8 §D.1); the other PDUs of an
                // established association are a few bytes long.
                (type, body) = await ReadPduAsync(_stream, _options.MaxPduLength == 0 ? 16 * 1024 * 1024 : _options.MaxPduLength, idle.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await AbortAsync();
                throw new DicomTimeoutException(DicomTimeout.Dimse, _options.IdleTimeout);
            }
            catch (AssociationAbortedException ex)
            {
                await AbortAsync(AbortSource.ServiceProvider, ex.AbortReason);
                throw;
            }
            switch (type)
            {
                case PduType.PData:
                    List<PresentationDataValue> pdvs;
                    try { pdvs = PduCodec.DecodePData(body); }
                    catch (PduException ex) { throw await ProtocolErrorAsync(ex.Message, inner: ex); }
                    foreach (var pdv in pdvs)
                    {
                        if (await AddFragmentAsync(m, pdv) is { } message) return message;
                    }
                    break;
                case PduType.ReleaseRequest:
                    await SendRawAsync(PduCodec.ReleaseResponse());
                    _closed = true;
                    return null;
                case PduType.ReleaseResponse when _releaseRequested:
                    _closed = true;
                    return null;
                case PduType.Abort:
                    _closed = true;
                    throw AssociationAbortedException.FromPeer(body);
                default:
                    throw await ProtocolErrorAsync($"unexpected {type} PDU on an established association", AbortReason.UnexpectedPdu);
            }
        }
    }

    /// <summary>Adds one PDV to the message being assembled; returns the message once its last fragment is in.</summary>
    private async Task<DimseMessage?> AddFragmentAsync(MessageAssembly m, PresentationDataValue pdv)
    {
        if (!_contexts.TryGetValue(pdv.ContextId, out var pc) || !pc.IsAccepted)
            throw await ProtocolErrorAsync($"PDV on presentation context {pdv.ContextId}, which was not accepted");
        if (pdv.IsCommand)
        {
            if (m.Message is not null)
                throw await ProtocolErrorAsync("command fragment while the previous command's data set was expected");
            if (m.Command.WrittenCount > 0 && pdv.ContextId != m.ContextId)
                throw await ProtocolErrorAsync("command fragments on different presentation contexts");
            m.ContextId = pdv.ContextId;
            if (m.Command.WrittenCount + pdv.Data.Length > _options.MaxCommandLength)
                throw await ProtocolErrorAsync($"command set larger than {_options.MaxCommandLength} bytes");
            m.Command.Write(pdv.Data.Span);
            if (!pdv.IsLast) return null;
            Data.DicomDataset commandSet;
            try { commandSet = DicomReader.ReadDataset(m.Command.WrittenMemory, TransferSyntax.ImplicitVRLittleEndian); }
            catch (Data.DicomReadException ex) { throw await ProtocolErrorAsync("unreadable command set: " + ex.Reason, inner: ex); }
            var message = new DimseMessage(commandSet, m.ContextId);
            if (!message.HasDataSet) return message;
            message.DataSyntax = TransferSyntax.Lookup(pc.AcceptedTransferSyntax!);
            m.Message = message;
            m.Data = new DataSetBuffer();
            return null;
        }
        if (m.Message is not { } pending)
            throw await ProtocolErrorAsync("data set fragment before its command");
        if (pdv.ContextId != m.ContextId)
            throw await ProtocolErrorAsync("data set fragment on another presentation context than its command");
        m.DataLength += pdv.Data.Length;
        if (m.Sink is null && _options.Spool is { } spool && m.DataLength > spool.Threshold)
        {
            // Too large for memory: what came so far, and everything after, goes to the spool.
            m.Sink = spool.Open(this, pending)
                ?? throw await ProtocolErrorAsync($"{pending.CommandField} data set larger than {spool.Threshold} bytes");
            m.Sink.Write(m.Data!.Memory.Span);
            m.Data = null;
        }
        if (m.Sink is { } sink)
            sink.Write(pdv.Data.Span);
        else
        {
            if (m.DataLength > _options.MaxMessageLength)
                throw await ProtocolErrorAsync($"data set larger than the limit of {_options.MaxMessageLength} bytes");
            m.Data!.Append(pdv.Data.Span, pdv.IsLast);
        }
        if (!pdv.IsLast) return null;
        if (m.Sink is { } done)
        {
            done.Complete();
            pending.SpooledData = done;
        }
        else
            pending.Data = m.Data!.Memory;
        return pending;
    }

    /// <summary>
    /// A data set arriving in fragments. Grown in place of ArrayBufferWriter, which starts small, doubles one copy at a
    /// time and zeroes every new array: for a 512 KB C-STORE that was 2 MB zeroed and 1 MB copied per instance.
    /// </summary>
    private sealed class DataSetBuffer
    {
        private byte[] _array = [];

        public int Length { get; private set; }

        public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, Length);

        public void Append(ReadOnlySpan<byte> fragment, bool last)
        {
            if (Length + fragment.Length > _array.Length)
            {
                // Exactly the size of the data set once its last fragment is here; otherwise room for as much again.
                var size = last ? Length + fragment.Length : (int)Math.Clamp(2L * (Length + fragment.Length), 64 * 1024, Array.MaxLength);
                var bigger = GC.AllocateUninitializedArray<byte>(size);
                _array.AsSpan(0, Length).CopyTo(bigger);
                _array = bigger;
            }
            fragment.CopyTo(_array.AsSpan(Length));
            Length += fragment.Length;
        }
    }

    /// <summary>Sends a message: command then data set, each cut into PDVs that fit the peer's maximum PDU.</summary>
    public async Task SendAsync(DimseMessage message, CancellationToken ct = default)
    {
        if (message.PresentationContextId == 0)
            throw new InvalidOperationException("the message has no presentation context");
        var command = message.EncodeCommand();
        // In long arithmetic: a peer announcing a maximum under 12 bytes, or past 2 GB, must not make the fragment size
        // wrap around (the fuzzer found both). Fragments stay within [1 KB, 1 MB] whatever it announced.
        var max = PeerMaxPdu == 0 ? 1 << 20 : (int)Math.Clamp((long)PeerMaxPdu - 12, 1024, 1 << 20);
        await _sendLock.WaitAsync(ct);
        var buffer = ArrayPool<byte>.Shared.Rent(SendBufferSize);
        try
        {
            var filled = await AppendFragmentsAsync(buffer, 0, message.PresentationContextId, command, isCommand: true, max, ct);
            if (message.Data is { } data)
                filled = await AppendFragmentsAsync(buffer, filled, message.PresentationContextId, data, isCommand: false, max, ct);
            if (filled > 0) await _stream.WriteAsync(buffer.AsMemory(0, filled), ct);
            await _stream.FlushAsync(ct);
        }
        catch (IOException ex)
        {
            // The transport broke under us: the upper layer's A-P-ABORT (PS3.8 §9.2, AA-4).
            _closed = true;
            throw new AssociationAbortedException("connection lost: " + ex.Message, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _sendLock.Release();
        }
    }

    /// <summary>
    /// PDUs are gathered in one buffer and written together: written piece by piece (a 12-byte header, then its
    /// payload), a C-FIND answer of 20 matches took some 80 send calls, each its own TCP segment under TCP_NODELAY.
    /// </summary>
    private const int SendBufferSize = 64 * 1024;

    /// <summary>Appends the P-DATA-TF PDUs of one payload to the buffer, writing it out whenever it fills; returns the bytes left in it.</summary>
    private async Task<int> AppendFragmentsAsync(byte[] buffer, int filled, byte contextId, ReadOnlyMemory<byte> payload, bool isCommand, int maxFragment, CancellationToken ct)
    {
        var offset = 0;
        do
        {
            var n = Math.Min(maxFragment, payload.Length - offset);
            var last = offset + n == payload.Length;
            if (filled + 12 + n > buffer.Length && filled > 0)
            {
                await _stream.WriteAsync(buffer.AsMemory(0, filled), ct);
                filled = 0;
            }
            // PS3.8 §9.3.5: P-DATA-TF header, then one PDV item (length, context ID, message control header).
            var header = buffer.AsSpan(filled, 12);
            header[0] = (byte)PduType.PData;
            header[1] = 0;
            BinaryPrimitives.WriteUInt32BigEndian(header[2..], (uint)(n + 6));
            BinaryPrimitives.WriteUInt32BigEndian(header[6..], (uint)(n + 2));
            header[10] = contextId;
            header[11] = (byte)((isCommand ? 1 : 0) | (last ? 2 : 0));
            filled += 12;
            if (filled + n <= buffer.Length)
            {
                payload.Span.Slice(offset, n).CopyTo(buffer.AsSpan(filled));
                filled += n;
            }
            else
            {
                // A fragment bigger than the buffer (a large PDU of a data set) goes out straight after its header.
                await _stream.WriteAsync(buffer.AsMemory(0, filled), ct);
                await _stream.WriteAsync(payload.Slice(offset, n), ct);
                filled = 0;
            }
            offset += n;
        } while (offset < payload.Length);
        return filled;
    }

    private async Task SendRawAsync(byte[] pdu)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _stream.WriteAsync(pdu);
            await _stream.FlushAsync();
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        finally { _sendLock.Release(); }
    }

    private bool _releaseRequested;

    /// <summary>
    /// Sends A-RELEASE-RQ only; the A-RELEASE-RP is then read by whoever reads this association (a
    /// <see cref="DimseChannel"/>'s reader), where <see cref="ReceiveAsync"/> returns null.
    /// </summary>
    public async Task SendReleaseRequestAsync()
    {
        if (_closed || _releaseRequested) return;
        _releaseRequested = true;
        await SendRawAsync(PduCodec.ReleaseRequest());
    }

    public TimeSpan ArtimTimeout => _options.ArtimTimeout;

    /// <summary>A-RELEASE-RQ, then wait (ARTIM) for A-RELEASE-RP; aborts if the peer does not answer.</summary>
    public async Task ReleaseAsync(CancellationToken ct = default)
    {
        if (_closed) return;
        _closed = true;
        await SendRawAsync(PduCodec.ReleaseRequest());
        using var artim = CancellationTokenSource.CreateLinkedTokenSource(ct);
        artim.CancelAfter(_options.ArtimTimeout);
        try
        {
            while (true)
            {
                var (type, _) = await ReadPduAsync(_stream, (long)_options.MaxPduLength + 1024, artim.Token);
                if (type is PduType.ReleaseResponse or PduType.Abort) return;
                if (type == PduType.ReleaseRequest) { await SendRawAsync(PduCodec.ReleaseResponse()); return; } // release collision
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or AssociationAbortedException)
        {
            await SendRawAsync(PduCodec.EncodeAbort());
        }
    }

    public Task AbortAsync() => AbortAsync(AbortSource.ServiceUser, AbortReason.NotSpecified);

    /// <summary>A-ABORT with its source and reason (PS3.8 Table 9-26); the reason is significant only from the provider.</summary>
    public async Task AbortAsync(AbortSource source, AbortReason reason)
    {
        if (_closed) return;
        _closed = true;
        await SendRawAsync(PduCodec.EncodeAbort((byte)source, source == AbortSource.ServiceProvider ? (byte)reason : (byte)0));
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _sendLock.Dispose();
    }
}
