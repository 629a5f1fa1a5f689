using System.Buffers;
using System.IO.Hashing;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Storage;
using OrthancWeb.Security;

namespace OrthancWeb.Ingest;

/// <summary>
/// The one path every instance takes (REST upload, C-STORE, browser upload): receive into a temporary file while
/// checksumming, parse the header, validate the identifiers, move the file into the storage area, then commit the index.
/// The caller is answered only after both are durable.
/// </summary>
public sealed class IngestService(StorageArea storage, IndexWriter writer, IOptionsMonitor<StorageOptions> options, ArrivalMonitor? arrivals = null,
    IngestTranscoder? transcoder = null, IReceivedInstanceFilter? filter = null) : IDisposable
{
    private readonly HashingThread _hasher = new();

    public void Dispose() => _hasher.Dispose();

    private const long MB = 1024 * 1024;

    /// <summary>The header (everything before the pixel data), read within the inflation limits of the settings.</summary>
    private DicomReadOptions HeaderOnly => ReadOptions with { StopBeforeTag = DicomTags.PixelData };

    private DicomReadOptions ReadOptions => new()
    {
        MaxInflatedSize = options.CurrentValue.MaximumInflatedSize * MB,
        MaxInflationRatio = options.CurrentValue.MaximumInflationRatio,
    };

    /// <summary>C-STORE data sets larger than this are spooled to their file as they arrive (DicomSpoolThreshold).</summary>
    public long SpoolThreshold => options.CurrentValue.DicomSpoolThreshold * MB;

    /// <summary>
    /// Null when the storage area's disk has room for <paramref name="bytes"/> more and still keeps the free space
    /// MinimumFreeDiskSpace asks for; otherwise why not, as the caller is told.
    /// </summary>
    internal string? LacksRoom(long bytes)
    {
        var floor = options.CurrentValue.MinimumFreeDiskSpace;
        if (floor == 0) return null; // no floor: a full disk is met by the write itself (ENOSPC)
        long free;
        try { free = storage.AvailableFreeSpace; }
        catch (IOException) { return null; } // cannot tell: the write itself will say
        if (free - bytes >= floor * MB && free >= bytes) return null;
        // Short enough for a C-STORE's Error Comment (an LO, 64 characters).
        return $"Less than MinimumFreeDiskSpace ({floor} MB) would be left free";
    }

    internal const string DiskFullReason = "The disk holding the storage area is full";

    /// <summary>
    /// An incoming file written as its bytes arrive (a REST or browser upload, or a C-STORE data set past the spool
    /// threshold), checksummed on the way; <paramref name="header"/> (a C-STORE's meta group) goes first.
    /// </summary>
    public IngestSpool OpenSpool(ReadOnlySpan<byte> header = default)
    {
        if (LacksRoom(header.Length) is { } reason) return IngestSpool.Refused(reason);
        IncomingFile incoming;
        try { incoming = storage.CreateIncoming(); }
        catch (IOException ex) when (StorageArea.IsOutOfSpace(ex)) { return IngestSpool.Refused(DiskFullReason); }
        var spool = new IngestSpool(this, storage, incoming, options.CurrentValue.StorageCompression);
        spool.Write(header);
        return spool;
    }

    /// <summary>Stores what a spool received (it is disposed here, whatever the outcome).</summary>
    public async Task<IngestResult> StoreSpooledAsync(IngestSpool spool, IngestSource source, CancellationToken cancellationToken = default)
    {
        var started = IngestMetrics.Start();
        var size = spool.Size;
        var result = await StoreSpooledCoreAsync(spool, source, cancellationToken);
        IngestMetrics.Record(source, result.Status, size, started);
        return result;
    }

    private async Task<IngestResult> StoreSpooledCoreAsync(IngestSpool spool, IngestSource source, CancellationToken cancellationToken)
    {
        using (spool)
        {
            try
            {
                spool.Complete();
                if (spool.RefusedReason is { } refused) return new IngestResult(IngestStatus.StorageFull, Reason: refused);
                // Its size was not known when it started: now that its bytes are off the free space, check the floor.
                if (LacksRoom(0) is { } noRoom) return new IngestResult(IngestStatus.StorageFull, Reason: noRoom);
                return await StoreTempFileAsync(spool.Incoming!, spool.Size, spool.Checksum is { } c ? Task.FromResult(c) : null,
                    spool.Head, source, cancellationToken);
            }
            catch (IOException ex) when (StorageArea.IsOutOfSpace(ex))
            {
                return new IngestResult(IngestStatus.StorageFull, Reason: DiskFullReason);
            }
        }
    }

    /// <summary>Stores one DICOM file read from a stream (which may be a 2 GB upload: it is never held in memory).</summary>
    public async Task<IngestResult> StoreAsync(Stream content, IngestSource source, CancellationToken cancellationToken = default) =>
        await StoreSpooledAsync(await ReceiveAsync(content, cancellationToken), source, cancellationToken);

    /// <summary>
    /// The first half of <see cref="StoreAsync(Stream, IngestSource, CancellationToken)"/>: the stream read to its end
    /// into an incoming file (or refused at once when storage is full). Nothing is acknowledged yet: the caller passes
    /// the spool to <see cref="StoreSpooledAsync"/>, and may read its next file meanwhile.
    /// </summary>
    public async Task<IngestSpool> ReceiveAsync(Stream content, CancellationToken cancellationToken = default)
    {
        Caller.Demand(Policies.Modify, "upload instances");
        var spool = OpenSpool();
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 17);
        try
        {
            // Synchronous writes (no FileStream buffer, no thread-pool hop per write); the network read is the
            // only thing worth awaiting. A refused upload is not read further: its answer goes at once.
            int n;
            while (spool.RefusedReason is null && (n = await content.ReadAsync(buffer, cancellationToken)) > 0)
                spool.Write(buffer.AsSpan(0, n));
        }
        catch
        {
            spool.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return spool;
    }

    public Task<IngestResult> StoreAsync(byte[] content, IngestSource source, CancellationToken cancellationToken = default) =>
        StoreAsync(new MemoryStream(content, writable: false), source, cancellationToken);

    /// <summary>
    /// Stores a file that is already in memory as two parts (a C-STORE: our meta group, then the data set as received).
    /// The file is written by the disk (asynchronous direct I/O) and checksummed on another core while its header is
    /// parsed and the index filled, which takes both off the path every single-association sender waits on.
    /// </summary>
    public async Task<IngestResult> StoreAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, IngestSource source, CancellationToken cancellationToken = default)
    {
        var started = IngestMetrics.Start();
        var size = (long)first.Length + second.Length;
        IngestResult result;
        if (LacksRoom(size) is { } noRoom) result = new IngestResult(IngestStatus.StorageFull, Reason: noRoom);
        else
        {
            try
            {
                result = await StoreInMemoryAsync(first, second, size, source, cancellationToken);
            }
            catch (IOException ex) when (StorageArea.IsOutOfSpace(ex))
            {
                // Whatever was written is gone with the incoming file: nothing stored, nothing acknowledged.
                result = new IngestResult(IngestStatus.StorageFull, Reason: DiskFullReason);
            }
        }
        IngestMetrics.Record(source, result.Status, size, started);
        return result;
    }

    private async Task<IngestResult> StoreInMemoryAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, long size, IngestSource source, CancellationToken cancellationToken)
    {
        var incoming = storage.CreateIncoming();
        var temp = incoming.Path;
        Task<string>? checksum = null;
        var headLength = (int)Math.Min(size, HeadSize);
        var head = ArrayPool<byte>.Shared.Rent(headLength);
        AsyncDirectWrites.PendingWrite? pending = null;
        try
        {
            if (options.CurrentValue.StorageCompression)
            {
                // Compression reads the file straight back: through the page cache, at once. Its checksum is taken
                // from the compressed file.
                using var writer = storage.OpenWriter(incoming, direct: false);
                writer.Write(first.Span);
                writer.Write(second.Span);
                writer.Complete();
            }
            else
            {
                pending = storage.StartWrite(incoming, first.Span, second.Span);
                // One task for the index to await: the checksum, then the write done.
                checksum = _hasher.ChecksumAsync(first, second, pending is { InFlight: true } ? pending.Wait : null);
            }
            FinishWrite(incoming.Handle);
            if (pending is not { InFlight: true }) incoming.Handle.Dispose(); // nothing left to wait for: close it now
            var fromFirst = Math.Min(first.Length, headLength);
            first.Span[..fromFirst].CopyTo(head);
            second.Span[..(headLength - fromFirst)].CopyTo(head.AsSpan(fromFirst));
            return await StoreTempFileAsync(incoming, size, checksum, head.AsMemory(0, headLength), source, cancellationToken, pending is null ? null : pending.Wait);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(head);
            // Never leave the write or the checksum running over memory the caller is about to reuse.
            try { if (checksum is not null) await checksum; } catch { }
            pending?.Dispose();
            incoming.Handle.Dispose();
            if (File.Exists(temp)) File.Delete(temp);
            storage.Replenish();
        }
    }

    /// <summary>
    /// On Linux the index writer makes a whole batch durable with one syncfs after its commit; starting the write-back
    /// of whatever went through the page cache lets the disk work while the header is parsed and the index commits.
    /// Elsewhere each file is flushed on its own.
    /// </summary>
    internal static void FinishWrite(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        if (!StorageArea.CanSyncFileSystem) RandomAccess.FlushToDisk(file);
        else StorageArea.StartWriteBack(file);
    }

    /// <summary>Bytes kept in memory from the start of each upload; most headers end well before this.</summary>
    internal const int HeadSize = 256 * 1024;

    /// <summary>The header parsed from the bytes kept in memory, or null when it goes on past them.</summary>
    private static DicomFile? ParseHeader(long size, ReadOnlyMemory<byte> head, DicomReadOptions headerOnly)
    {
        if (head.Length == size)
            return DicomFile.Open(head, headerOnly);
        try
        {
            var fromMemory = DicomFile.Open(head, headerOnly);
            if (fromMemory.StoppedBeforeTag) return fromMemory;
        }
        catch (DicomReadException) { } // the header goes on past the bytes kept: read it from the file
        return null;
    }

    private static DicomFile ReadHeaderFromFile(string temp, Action? waitForFile, DicomReadOptions headerOnly)
    {
        waitForFile?.Invoke();
        return DicomFile.Open(temp, headerOnly);
    }

    /// <param name="checksum">
    /// The checksum of the received bytes, perhaps still being computed (with the file's write); null when the file
    /// was written to be compressed, whose checksum is taken once compressed.
    /// </param>
    /// <param name="waitForFile">Blocks until a write still on its way is done, before the file is read back.</param>
    private async Task<IngestResult> StoreTempFileAsync(IncomingFile incoming, long size, Task<string>? checksum, ReadOnlyMemory<byte> head, IngestSource source, CancellationToken ct, Action? waitForFile = null)
    {
        var temp = incoming.Path;
        DicomFile header;
        try
        {
            var headerOnly = HeaderOnly;
            header = ParseHeader(size, head, headerOnly) ?? ReadHeaderFromFile(temp, waitForFile, headerOnly);
            if (header.TransferSyntax.IsDeflated)
            {
                // The header stops before the pixel data; a bomb may sit after it. Inflate the rest too, keeping
                // nothing, so that no instance is stored that could not be read back within the limits.
                waitForFile?.Invoke();
                DicomReader.CheckInflation(temp, ReadOptions);
            }
        }
        catch (DicomReadException ex)
        {
            return new IngestResult(IngestStatus.Invalid, Reason: "Not a valid DICOM file: " + ex.Message);
        }
        var ds = header.Dataset;
        var ids = new InstanceIdentifiers(
            ds.GetString(DicomTags.PatientID) ?? "",
            ds.GetString(DicomTags.StudyInstanceUID) ?? "",
            ds.GetString(DicomTags.SeriesInstanceUID) ?? "",
            ds.GetString(DicomTags.SOPInstanceUID) ?? "");
        // The three UIDs are type 1 (PS3.3 C.7) and name the instance. PatientID is type 2, and many files from the
        // field lack it: such an instance goes under the empty patient ID, as Orthanc stores it, rather than being lost.
        var missing = new List<string>();
        if (ids.StudyUid.Length == 0) missing.Add("StudyInstanceUID");
        if (ids.SeriesUid.Length == 0) missing.Add("SeriesInstanceUID");
        if (ids.SopUid.Length == 0) missing.Add("SOPInstanceUID");
        if (missing.Count > 0)
            return new IngestResult(IngestStatus.Invalid, Reason: "Missing DICOM identifier(s): " + string.Join(", ", missing));
        if (source.Condition?.Invoke(ds) is { } refused)
            return new IngestResult(IngestStatus.Mismatch, Reason: refused, SopInstanceUid: ids.SopUid, SopClassUid: ds.GetString(DicomTags.SOPClassUID),
                StudyInstanceUid: ids.StudyUid);
        if (filter is { IsActive: true })
        {
            // Orthanc's ReceivedInstanceFilter: a refused instance is never stored, and its file goes with the spool.
            var verdict = await filter.FilterAsync(ds, source, header.TransferSyntax.Uid, header.StoppedBeforeTag, ct);
            if (!verdict.Accepted)
                return new IngestResult(IngestStatus.FilteredOut, ids.InstancePublicId, ids.SeriesPublicId, ids.StudyPublicId, ids.PatientPublicId,
                    null, ids.SopUid, ds.GetString(DicomTags.SOPClassUID), ids.PatientId, ids.StudyUid, ids.SeriesUid)
                { CStoreStatus = verdict.CStoreStatus };
        }

        // IngestTranscoding: the instance goes on as a new file in the configured syntax (or as received, with a warning).
        TranscodedIncoming? transcoded = null;
        if (transcoder?.TargetFor(header) is { } target)
        {
            var compress = checksum is null;
            transcoded = await Task.Run(() => transcoder.Transcode(incoming, size, header, target, waitForFile, ReadOptions, compress), ct);
            if (transcoded is not null)
            {
                (incoming, size, header) = (transcoded.Incoming, transcoded.Size, transcoded.Header);
                ds = header.Dataset;
                checksum = compress ? null : Task.FromResult(transcoded.Checksum!);
            }
        }

        // The rename does not need the checksum, and the index needs it only for its last rows: see AddInstanceAsync.
        StoredFile stored;
        try
        {
            stored = checksum is null
                ? await Task.Run(() => storage.Commit(incoming, size, checksum: "", compress: true), ct)
                : storage.Commit(incoming, size, checksum.IsCompletedSuccessfully ? checksum.Result : "", compress: false);
        }
        finally
        {
            // The transcoded file is ours to remove when it did not make it into place (the received one is the caller's).
            if (transcoded is not null && File.Exists(transcoded.Incoming.Path)) File.Delete(transcoded.Incoming.Path);
        }
        try
        {
            var arrival = new InstanceArrival(source.Origin.ToString(), source.RemoteIp, source.RemoteAet, source.CalledAet, source.Metadata, source.Overwrite)
            {
                ParentMetadata = source.ParentMetadata,
            };
            var outcome = await writer.AddInstanceAsync(header, ids, stored, arrival, checksum);
            if (outcome.Status != StoreStatus.Success)
                storage.Delete(stored.Uuid);
            else
                arrivals?.Record(source, size);
            var status = outcome.Status switch
            {
                StoreStatus.Success => IngestStatus.Success,
                StoreStatus.AlreadyStored => IngestStatus.AlreadyStored,
                StoreStatus.StorageFull => IngestStatus.StorageFull,
                _ => throw new System.Diagnostics.UnreachableException(),
            };
            return new IngestResult(status, ids.InstancePublicId, ids.SeriesPublicId, ids.StudyPublicId, ids.PatientPublicId,
                outcome.Reason, ids.SopUid, ds.GetString(DicomTags.SOPClassUID), ids.PatientId, ids.StudyUid, ids.SeriesUid);
        }
        catch (Exception ex)
        {
            // Nothing acknowledged: leave no orphan behind, unless the index has or may have committed a row pointing
            // at the file (then an orphan it may be, until a start-up check clears it, rather than a row without its file).
            if (ex is not MaybeIndexedException) storage.Delete(stored.Uuid);
            throw;
        }
    }
}

/// <summary>
/// An incoming file written as its bytes arrive: a REST or browser upload, or a C-STORE data set too large for memory
/// (then it is the association's <see cref="OrthancWeb.Dicom.Network.Dimse.IDataSetSink"/>: its fragments go straight
/// to the file the instance will be stored as). The first bytes are kept for the header parse and the bytes are
/// checksummed on the way. A disk that fills up, or the free-space floor reached, turns it into a refused spool: what
/// follows is thrown away, the file is deleted, and the sender is answered Out of Resources instead of being cut off.
/// Disposing it deletes whatever was not stored.
/// </summary>
public sealed class IngestSpool : OrthancWeb.Dicom.Network.Dimse.IDataSetSink
{
    private readonly IngestService? _owner;
    private readonly StorageArea? _storage;
    private DirectFileWriter? _writer;
    private XxHash128? _hash;
    private byte[]? _head;
    private int _headLength;
    private long _nextRoomCheck = RoomCheckInterval;
    private bool _completed;

    /// <summary>Bytes between two checks of the free-space floor while a large file arrives.</summary>
    private const long RoomCheckInterval = 16L * 1024 * 1024;

    internal IngestSpool(IngestService owner, StorageArea storage, IncomingFile incoming, bool compress)
    {
        _owner = owner;
        _storage = storage;
        Incoming = incoming;
        // A compressed file's checksum is taken from what is written to disk, not from what was received.
        _hash = compress ? null : new XxHash128();
        _head = ArrayPool<byte>.Shared.Rent(IngestService.HeadSize);
        // Direct (past the page cache) unless the file is to be compressed, which reads it straight back.
        _writer = storage.OpenWriter(incoming, direct: !compress);
    }

    private IngestSpool(string reason) => RefusedReason = reason;

    internal static IngestSpool Refused(string reason) => new(reason);

    internal IncomingFile? Incoming { get; }

    /// <summary>Why the bytes are being thrown away (no room), or null.</summary>
    public string? RefusedReason { get; private set; }

    public long Size { get; private set; }

    /// <summary>The checksum of the bytes received, once complete; null when the file is to be compressed.</summary>
    internal string? Checksum { get; private set; }

    internal ReadOnlyMemory<byte> Head => _head.AsMemory(0, _headLength);

    public void Write(ReadOnlySpan<byte> fragment)
    {
        if (RefusedReason is not null || fragment.IsEmpty) return;
        try
        {
            _hash?.Append(fragment);
            var keep = Math.Min(fragment.Length, IngestService.HeadSize - _headLength);
            if (keep > 0) { fragment[..keep].CopyTo(_head.AsSpan(_headLength)); _headLength += keep; }
            _writer!.Write(fragment);
            Size += fragment.Length;
            if (Size >= _nextRoomCheck)
            {
                _nextRoomCheck = Size + RoomCheckInterval;
                // The bytes written so far are already off the free space: check what is left against the floor.
                if (_owner!.LacksRoom(0) is { } reason) Refuse(reason);
            }
        }
        catch (IOException ex) when (StorageArea.IsOutOfSpace(ex))
        {
            Refuse(IngestService.DiskFullReason);
        }
    }

    public void Complete()
    {
        if (_completed || RefusedReason is not null) return;
        _completed = true;
        try
        {
            _writer!.Complete();
            _writer.Dispose();
            _writer = null;
            IngestService.FinishWrite(Incoming!.Handle);
            Incoming.Handle.Dispose();
            if (_hash is not null) Checksum = FileChecksum.Hex(_hash);
        }
        catch (IOException ex) when (StorageArea.IsOutOfSpace(ex))
        {
            Refuse(IngestService.DiskFullReason);
        }
    }

    /// <summary>No room: the file goes now, to give its space back at once; what still arrives is thrown away.</summary>
    private void Refuse(string reason)
    {
        RefusedReason = reason;
        Release();
    }

    private void Release()
    {
        _writer?.Dispose();
        _writer = null;
        if (Incoming is not null)
        {
            Incoming.Handle.Dispose();
            try { File.Delete(Incoming.Path); } catch (IOException) { }
        }
        if (_head is not null) ArrayPool<byte>.Shared.Return(_head);
        _head = null;
        _headLength = 0;
    }

    public void Dispose()
    {
        Release();
        _storage?.Replenish();
    }
}
