using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using OrthancWeb.Dicom.Network.Association;

namespace OrthancWeb.Dicom.Network.Dimse;

/// <summary>
/// DIMSE over one association, in both directions at once: a reader task routes responses to the requests that
/// await them, C-CANCEL to the operation it cancels, and requests from the peer (C-STOREs of a C-GET, or everything
/// on an SCP) to <see cref="IncomingRequests"/>. Message IDs are ours to allocate for our requests.
/// </summary>
public sealed class DimseChannel : IAsyncDisposable
{
    private readonly DicomAssociation _association;
    /// <summary>
    /// Bounded: a peer that sends requests faster than they are handled (ignoring the asynchronous operations window of
    /// 1 it was given, PS3.7 §D.3.3.3) makes the reader wait, so TCP holds it back, instead of queueing its data sets in
    /// memory without end.
    /// </summary>
    private readonly Channel<DimseMessage> _incoming = Channel.CreateBounded<DimseMessage>(new BoundedChannelOptions(2)
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly ConcurrentDictionary<ushort, Channel<DimseMessage>> _awaiting = new();
    private readonly ConcurrentDictionary<ushort, CancellationTokenSource> _cancellable = new();
    private readonly Task _reader;
    private int _nextMessageId;
    private readonly CancellationTokenSource _stopReading = new();

    public DimseChannel(DicomAssociation association)
    {
        _association = association;
        _reader = Task.Run(ReadLoopAsync);
    }

    public DicomAssociation Association => _association;

    /// <summary>Requests from the peer, in arrival order; completes when the peer releases or aborts.</summary>
    public ChannelReader<DimseMessage> IncomingRequests => _incoming.Reader;

    /// <summary>Set when the peer released the association (as opposed to aborting it).</summary>
    public bool Released { get; private set; }

    public ushort NextMessageId() => (ushort)(Interlocked.Increment(ref _nextMessageId) & 0xFFFF);

    private async Task ReadLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (await _association.ReceiveAsync(CancellationToken.None) is { } message)
            {
                if (!message.IsRequest)
                {
                    if (_awaiting.TryGetValue(message.MessageIdBeingRespondedTo, out var waiter))
                        await waiter.Writer.WriteAsync(message);
                    continue;
                }
                if (message.CommandField == CommandField.CCancelRequest)
                {
                    if (_cancellable.TryGetValue(message.MessageIdBeingRespondedTo, out var cts)) cts.Cancel();
                    continue;
                }
                try { await _incoming.Writer.WriteAsync(message, _stopReading.Token); }
                catch (OperationCanceledException)
                {
                    message.SpooledData?.Dispose(); // nobody will handle it now: its spooled bytes go
                    throw;
                }
            }
            Released = true;
        }
        catch (Exception ex)
        {
            error = ex;
        }
        _incoming.Writer.TryComplete(error);
        foreach (var waiter in _awaiting.Values) waiter.Writer.TryComplete(error ?? new AssociationAbortedException("association released while waiting for a response"));
    }

    /// <summary>A token cancelled when the peer sends C-CANCEL for this request (PS3.7 §9.3.2.3).</summary>
    public CancellationToken RegisterCancellable(DimseMessage request, CancellationToken outer)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _cancellable[request.MessageId] = cts;
        return cts.Token;
    }

    public void Unregister(DimseMessage request)
    {
        if (_cancellable.TryRemove(request.MessageId, out var cts)) cts.Dispose();
    }

    public Task SendAsync(DimseMessage message, CancellationToken ct = default) => _association.SendAsync(message, ct);

    /// <summary>Sends a request and returns its one final response (C-ECHO, C-STORE).</summary>
    public async Task<DimseMessage> RequestAsync(DimseMessage request, CancellationToken ct = default)
    {
        await foreach (var response in RequestStreamAsync(request, ct))
            if (!DimseStatus.IsPending(response.Status)) return response;
        throw new AssociationAbortedException("no final response");
    }

    /// <summary>Sends a request and yields its responses, pending ones first, up to and including the final one.</summary>
    public async IAsyncEnumerable<DimseMessage> RequestStreamAsync(DimseMessage request, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var id = request.MessageId;
        var responses = Channel.CreateUnbounded<DimseMessage>();
        if (!_awaiting.TryAdd(id, responses)) throw new InvalidOperationException($"message ID {id} already awaits a response");
        try
        {
            await _association.SendAsync(request, ct);
            var cancelled = false;
            while (true)
            {
                DimseMessage response;
                try
                {
                    response = await responses.Reader.ReadAsync(ct);
                }
                catch (OperationCanceledException) when (!cancelled)
                {
                    // Ask the peer to stop, then keep reading until its final response (PS3.7 §9.1.5).
                    cancelled = true;
                    await _association.SendAsync(new DimseMessage(DimseMessage.CancelRequest(id).Command, request.PresentationContextId), CancellationToken.None);
                    response = await responses.Reader.ReadAsync(CancellationToken.None);
                }
                catch (ChannelClosedException ex)
                {
                    throw ex.InnerException as Exception ?? new AssociationAbortedException("association ended while waiting for a response");
                }
                yield return response;
                if (!DimseStatus.IsPending(response.Status)) yield break;
            }
        }
        finally { _awaiting.TryRemove(id, out _); }
    }

    /// <summary>A-RELEASE-RQ; the reader sees the A-RELEASE-RP. No answer within ARTIM: A-ABORT.</summary>
    public async Task ReleaseAsync(CancellationToken ct = default)
    {
        await _association.SendReleaseRequestAsync();
        var finished = await Task.WhenAny(_reader, Task.Delay(_association.ArtimTimeout, ct));
        if (finished != _reader) await _association.AbortAsync();
    }

    public Task AbortAsync() => _association.AbortAsync();

    /// <summary>Waits until the peer releases or aborts (used by the SCP after its last answer).</summary>
    public Task Completion => _reader;

    public async ValueTask DisposeAsync()
    {
        // The reader may be waiting for room in the bounded queue that nobody reads any more.
        await _stopReading.CancelAsync();
        await _association.DisposeAsync();
        try { await _reader; } catch { }
        while (_incoming.Reader.TryRead(out var unhandled)) unhandled.SpooledData?.Dispose();
        _stopReading.Dispose();
    }
}
