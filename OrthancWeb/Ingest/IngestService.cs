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
public sealed class IngestService(StorageArea storage, IndexWriter writer, IOptionsMonitor<StorageOptions> options) : IDisposable
{
    private readonly HashingThread _hasher = new();

    public void Dispose() => _hasher.Dispose();

    private static readonly DicomReadOptions HeaderOnly = new() { StopBeforeTag = DicomTags.PixelData };

    /// <summary>Stores one DICOM file read from a stream (which may be a 2 GB upload: it is never held in memory).</summary>
    public async Task<IngestResult> StoreAsync(Stream content, IngestSource source, CancellationToken cancellationToken = default)
    {
        Caller.Demand(Policies.Modify, "upload instances");
        var incoming = storage.CreateIncoming();
        var temp = incoming.Path;
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 17);
        var head = ArrayPool<byte>.Shared.Rent(HeadSize);
        try
        {
            var headLength = 0;
            long size = 0;
            string? checksum = null;
            var compress = options.CurrentValue.StorageCompression;
            // A compressed file's checksum is taken from what is written to disk, not from what was received.
            var hash = compress ? null : new XxHash128();
            using (var file = incoming.Handle)
            using (var writer = storage.OpenWriter(incoming, direct: !compress))
            {
                // Synchronous writes (no FileStream buffer, no thread-pool hop per write); the network read is the
                // only thing worth awaiting.
                int n;
                while ((n = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    hash?.Append(buffer.AsSpan(0, n));
                    // Keep the first bytes: the header is parsed from memory rather than read back from disk.
                    var keep = Math.Min(n, HeadSize - headLength);
                    if (keep > 0) { Buffer.BlockCopy(buffer, 0, head, headLength, keep); headLength += keep; }
                    writer.Write(buffer.AsSpan(0, n));
                }
                writer.Complete();
                size = writer.Length;
                FinishWrite(file);
                if (hash is not null) checksum = FileChecksum.Hex(hash);
            }
            return await StoreTempFileAsync(incoming, size, checksum is null ? null : Task.FromResult(checksum), head.AsMemory(0, headLength), source, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(head);
            if (File.Exists(temp)) File.Delete(temp);
            storage.Replenish();
        }
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
        var incoming = storage.CreateIncoming();
        var temp = incoming.Path;
        Task<string>? checksum = null;
        var size = (long)first.Length + second.Length;
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
    private static void FinishWrite(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        if (!StorageArea.CanSyncFileSystem) RandomAccess.FlushToDisk(file);
        else StorageArea.StartWriteBack(file);
    }

    /// <summary>Bytes kept in memory from the start of each upload; most headers end well before this.</summary>
    private const int HeadSize = 256 * 1024;

    /// <summary>The header parsed from the bytes kept in memory, or null when it goes on past them.</summary>
    private static DicomFile? ParseHeader(long size, ReadOnlyMemory<byte> head)
    {
        if (head.Length == size)
            return DicomFile.Open(head, HeaderOnly);
        try
        {
            var fromMemory = DicomFile.Open(head, HeaderOnly);
            if (fromMemory.StoppedBeforeTag) return fromMemory;
        }
        catch (DicomReadException) { } // the header goes on past the bytes kept: read it from the file
        return null;
    }

    private static DicomFile ReadHeaderFromFile(string temp, Action? waitForFile)
    {
        waitForFile?.Invoke();
        return DicomFile.Open(temp, HeaderOnly);
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
            header = ParseHeader(size, head) ?? ReadHeaderFromFile(temp, waitForFile);
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
        // PatientID may be empty (type 2) but must be present; the three UIDs are type 1 (PS3.3 C.7).
        var missing = new List<string>();
        if (!ds.Contains(DicomTags.PatientID)) missing.Add("PatientID");
        if (ids.StudyUid.Length == 0) missing.Add("StudyInstanceUID");
        if (ids.SeriesUid.Length == 0) missing.Add("SeriesInstanceUID");
        if (ids.SopUid.Length == 0) missing.Add("SOPInstanceUID");
        if (missing.Count > 0)
            return new IngestResult(IngestStatus.Invalid, Reason: "Missing DICOM identifier(s): " + string.Join(", ", missing));

        // The rename does not need the checksum, and the index needs it only for its last rows: see AddInstanceAsync.
        var stored = checksum is null
            ? await Task.Run(() => storage.Commit(incoming, size, checksum: "", compress: true), ct)
            : storage.Commit(incoming, size, checksum.IsCompletedSuccessfully ? checksum.Result : "", compress: false);
        try
        {
            var arrival = new InstanceArrival(source.Origin.ToString(), source.RemoteIp, source.RemoteAet, source.CalledAet, source.Metadata, source.Overwrite);
            var outcome = await writer.AddInstanceAsync(header, ids, stored, arrival, checksum);
            if (outcome.Status != StoreStatus.Success)
                storage.Delete(stored.Uuid);
            var status = outcome.Status switch
            {
                StoreStatus.Success => IngestStatus.Success,
                StoreStatus.AlreadyStored => IngestStatus.AlreadyStored,
                StoreStatus.StorageFull => IngestStatus.StorageFull,
                _ => throw new System.Diagnostics.UnreachableException(),
            };
            return new IngestResult(status, ids.InstancePublicId, ids.SeriesPublicId, ids.StudyPublicId, ids.PatientPublicId,
                outcome.Reason, ids.SopUid, ds.GetString(DicomTags.SOPClassUID));
        }
        catch
        {
            storage.Delete(stored.Uuid); // nothing acknowledged: leave no orphan behind
            throw;
        }
    }
}
