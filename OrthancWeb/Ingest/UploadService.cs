using System.Buffers.Binary;
using System.ComponentModel.DataAnnotations;
using System.IO.Compression;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom;
using OrthancWeb.Storage;

namespace OrthancWeb.Ingest;

/// <summary>What happened to one uploaded file or ZIP entry.</summary>
public sealed record UploadOutcome(string Name, IngestResult? Result, bool Skipped, string? Reason)
{
    public string Status => Skipped ? "Skipped" : Result!.Status.ToString();
}

/// <summary>One file of a browser upload, as the upload page reports it.</summary>
/// <param name="Name">The file's path in what was dropped or chosen (a ZIP entry: "archive.zip/entry").</param>
/// <param name="Status">Success, AlreadyStored, Invalid, StorageFull or Skipped.</param>
/// <param name="Reason">Why it was skipped or refused.</param>
/// <param name="Id">The instance's public ID once stored.</param>
public sealed record BrowserUploadOutcome(string Name, string Status, string? Reason, string? Id);

/// <summary>
/// Uploads as people make them: single files, folders (a CD with its viewer and autorun files), and ZIP archives,
/// each DICOM file through the one ingest path. Shared by POST /instances and the upload page.
/// </summary>
public sealed class UploadService(IngestService ingest, StorageArea storage, IOptionsMonitor<UploadOptions> options, IAuditTrail audit)
{
    /// <summary>
    /// What a browser sends, one file at a time (a folder's files, a CD's, ZIP archives): a ZIP is stored entry by
    /// entry, anything else as one file with non-DICOM files skipped. Every outcome is in the audit trail.
    /// </summary>
    /// <exception cref="ZipLimitException">A ZIP passes a limit; nothing of it was stored.</exception>
    /// <exception cref="InvalidDataException">A corrupt ZIP archive.</exception>
    public async Task<IReadOnlyList<UploadOutcome>> StoreUploadAsync(string name, Stream content, IngestSource source, CancellationToken ct) =>
        await await ReceiveUploadAsync(name, content, source, ct);

    /// <summary>
    /// <see cref="StoreUploadAsync"/> in two halves, so that a request of many files reads the next while the last is
    /// made durable: this returns once <paramref name="content"/> has been read to its end (a file into its incoming
    /// file; a ZIP stored whole), with the task that finishes it. Nothing is acknowledged before that task ends.
    /// </summary>
    /// <exception cref="ZipLimitException">A ZIP passes a limit; nothing of it was stored.</exception>
    /// <exception cref="InvalidDataException">A corrupt ZIP archive.</exception>
    public async Task<Task<IReadOnlyList<UploadOutcome>>> ReceiveUploadAsync(string name, Stream content, IngestSource source, CancellationToken ct)
    {
        var head = new byte[4];
        var got = 0;
        while (got < head.Length && await content.ReadAsync(head.AsMemory(got), ct) is var n and > 0) got += n;
        var body = new PrefixStream(head.AsMemory(0, got), content);
        if (IsZip(head.AsSpan(0, got)))
        {
            IReadOnlyList<UploadOutcome> entries = [.. (await StoreZipAsync(body, source, ct)).Select(o => o with { Name = name + "/" + o.Name })];
            RecordAll(entries);
            return Task.FromResult(entries);
        }
        var finish = await ReceiveFileAsync(name, body, source, skipNonDicom: true, ct);
        return FinishAsync(finish);

        async Task<IReadOnlyList<UploadOutcome>> FinishAsync(Task<UploadOutcome> file)
        {
            IReadOnlyList<UploadOutcome> outcomes = [await file];
            RecordAll(outcomes);
            return outcomes;
        }
    }

    private void RecordAll(IReadOnlyList<UploadOutcome> outcomes)
    {
        foreach (var o in outcomes)
            if (o.Result is { } result) Record(result, o.Name);
    }

    /// <summary>
    /// An upload in the trail (REST and browser alike): the instance, its patient and study, and the file or ZIP entry
    /// it came from. A skipped non-DICOM file is not patient data and is not recorded.
    /// </summary>
    public void Record(IngestResult result, string? name = null) =>
        audit.Record(new AuditEvent(AuditActions.Upload, result.Status is IngestStatus.Success or IngestStatus.AlreadyStored ? AuditOutcome.Success
            : result.Status == IngestStatus.StorageFull ? AuditOutcome.SeriousFailure : AuditOutcome.MinorFailure)
        {
            ResourceLevel = "Instance", ResourceId = result.InstanceId, PatientId = result.DicomPatientId, StudyInstanceUid = result.StudyInstanceUid,
            Details = $"{result.Status}{(name is null ? "" : " (" + name + ")")}{(result.Reason is null ? "" : ": " + result.Reason)}",
        });

    /// <summary>True when the first bytes say ZIP (local file header "PK\x03\x04").</summary>
    public static bool IsZip(ReadOnlySpan<byte> head) => head.Length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;

    /// <summary>One DICOM file. Not DICOM at all (no "DICM" at byte 128) is skipped, not an error, as on a CD.</summary>
    public async Task<UploadOutcome> StoreFileAsync(string name, Stream content, IngestSource source, bool skipNonDicom, CancellationToken ct) =>
        await await ReceiveFileAsync(name, content, source, skipNonDicom, ct);

    /// <summary><see cref="StoreFileAsync"/> in two halves: the file read into its incoming file, then the task that
    /// stores it (durable and indexed when it ends).</summary>
    private async Task<Task<UploadOutcome>> ReceiveFileAsync(string name, Stream content, IngestSource source, bool skipNonDicom, CancellationToken ct)
    {
        // A DICOMDIR indexes the files of a CD; the files themselves are what is stored (PS3.10 §9.2).
        if (Path.GetFileName(name.Replace('\\', '/')).Equals("DICOMDIR", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(new UploadOutcome(name, null, true, "DICOMDIR"));
        var head = new byte[132];
        var got = 0;
        while (got < head.Length && await content.ReadAsync(head.AsMemory(got), ct) is var n and > 0) got += n;
        var isPart10 = got == 132 && head[128] == 'D' && head[129] == 'I' && head[130] == 'C' && head[131] == 'M';
        if (skipNonDicom && !isPart10 && !name.EndsWith(".dcm", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(new UploadOutcome(name, null, true, "not a DICOM file"));
        var spool = await ingest.ReceiveAsync(new PrefixStream(head.AsMemory(0, got), content), ct);
        return FinishAsync(spool);

        async Task<UploadOutcome> FinishAsync(IngestSpool received)
        {
            var result = await ingest.StoreSpooledAsync(received, source, ct);
            if (result.Status == IngestStatus.Invalid && skipNonDicom && !isPart10)
                return new UploadOutcome(name, null, true, "not a DICOM file");
            return new UploadOutcome(name, result, false, result.Reason);
        }
    }

    /// <summary>
    /// Every file of a ZIP archive, spooled to disk first (ZIP needs random access; nothing stays in memory). The
    /// archive is checked against <see cref="UploadOptions"/> from its central directory before anything is stored, so
    /// a refused ZIP leaves nothing behind; while reading, no entry may inflate past its declared size (a declared
    /// size can lie), so the checked totals hold for the bytes actually written.
    /// </summary>
    /// <exception cref="ZipLimitException">The archive passes a limit; nothing of it was stored.</exception>
    public async Task<IReadOnlyList<UploadOutcome>> StoreZipAsync(Stream content, IngestSource source, CancellationToken ct)
    {
        var limits = options.CurrentValue;
        var spool = storage.NewTempPath();
        try
        {
            await using (var f = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, true))
                await content.CopyToAsync(f, ct);
            var outcomes = new List<UploadOutcome>();
            await using var file = new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            // Counted in the central directory itself first: ZipArchive materializes every entry of it in memory.
            CheckEntryCount(file, limits);
            file.Position = 0;
            using var zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
            CheckDeclaredSizes(zip.Entries, file.Length, limits);
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;
                try
                {
                    await using var s = new BoundedStream(entry.Open(), entry.Length, entry.FullName);
                    outcomes.Add(await StoreFileAsync(entry.FullName, s, source, skipNonDicom: false, ct));
                }
                catch (InvalidDataException ex)
                {
                    outcomes.Add(new UploadOutcome(entry.FullName, new IngestResult(IngestStatus.Invalid, Reason: "Corrupt ZIP entry: " + ex.Message), false, "Corrupt ZIP entry: " + ex.Message));
                }
            }
            return outcomes;
        }
        finally { File.Delete(spool); }
    }

    private const long MB = 1024 * 1024;

    /// <summary>
    /// The number of entries, walked in the central directory (APPNOTE 4.3.12, 4.3.16; ZIP64 4.3.14-15) without
    /// keeping any, and its size bounded too: a few MB of ZIP can declare millions of entries.
    /// </summary>
    private static void CheckEntryCount(FileStream file, UploadOptions limits)
    {
        if (ZipDirectory.Locate(file) is not { } directory) return; // not a ZIP after all: ZipArchive says why
        // 46 bytes of fixed fields per entry, plus its name (most under 256 bytes) and extra fields.
        var maxDirectory = (long)limits.ZipMaximumEntries * 1024;
        if (directory.Size > maxDirectory)
            throw new ZipLimitException($"ZIP refused: its central directory ({directory.Size / 1024} KB) is larger than {limits.ZipMaximumEntries} entries need");
        file.Position = directory.Offset;
        var header = new byte[46];
        long count = 0, read = 0;
        while (read + 46 <= directory.Size)
        {
            file.ReadExactly(header);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != 0x02014b50) break; // the end (or damage: ZipArchive's to report)
            if (++count > limits.ZipMaximumEntries)
                throw new ZipLimitException($"ZIP refused: more than {limits.ZipMaximumEntries} entries (ZipMaximumEntries)");
            var rest = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(28)) + BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(30)) + BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(32));
            file.Seek(rest, SeekOrigin.Current);
            read += 46 + rest;
        }
    }

    /// <summary>Sizes as the central directory declares them: each entry, its inflation ratio, and the total.</summary>
    private static void CheckDeclaredSizes(IReadOnlyCollection<ZipArchiveEntry> entries, long zipLength, UploadOptions limits)
    {
        long total = 0;
        foreach (var e in entries)
        {
            if (e.Length > limits.ZipMaximumEntrySize * MB)
                throw new ZipLimitException($"ZIP refused: entry {e.FullName} inflates to {e.Length / MB} MB, more than {limits.ZipMaximumEntrySize} MB (ZipMaximumEntrySize)");
            // Small entries may compress very well (an empty or zero-filled file); the ratio matters past a megabyte.
            if (e.Length > MB && e.Length > (double)limits.ZipMaximumRatio * Math.Max(1, e.CompressedLength))
                throw new ZipLimitException($"ZIP refused: entry {e.FullName} inflates {e.Length / Math.Max(1, e.CompressedLength)} times ({e.CompressedLength} to {e.Length} bytes), more than {limits.ZipMaximumRatio} (ZipMaximumRatio)");
            total += e.Length;
            if (total > limits.ZipMaximumTotalSize * MB)
                throw new ZipLimitException($"ZIP refused: its files inflate to more than {limits.ZipMaximumTotalSize} MB (ZipMaximumTotalSize)");
        }
        // Many entries of a megabyte each inflate as much as one large one.
        if (total > MB && total > (double)limits.ZipMaximumRatio * Math.Max(1, zipLength))
            throw new ZipLimitException($"ZIP refused: its {zipLength} bytes inflate to {total / MB} MB, more than {limits.ZipMaximumRatio} times (ZipMaximumRatio)");
    }

    /// <summary>
    /// A request body sent with Content-Encoding: gzip (RFC 9110 §8.4; Orthanc peers with "Compress": true), inflated
    /// as it is read and refused past ZipMaximumEntrySize, as one ZIP entry would be.
    /// </summary>
    public Stream InflateGzip(Stream body) =>
        new BoundedStream(new GZipStream(body, CompressionMode.Decompress), options.CurrentValue.ZipMaximumEntrySize * MB, "gzip-encoded body");

    /// <summary>An entry's inflated bytes, refused past the size its central directory declared.</summary>
    private sealed class BoundedStream(Stream inner, long declared, string name) : Stream
    {
        private long _read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, (int)Math.Min(count, declared - _read + 1)));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            // One byte past the declared size is enough to know it lies; never more is inflated.
            Count(await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, declared - _read + 1)], cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int n)
        {
            _read += n;
            if (_read > declared) throw new InvalidDataException($"entry {name} inflates past the {declared} bytes its ZIP declares");
            return n;
        }

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
}

/// <summary>Where a ZIP's central directory is (APPNOTE 4.3.16 end record; 4.3.14-15 for ZIP64).</summary>
internal readonly record struct ZipDirectory(long Offset, long Size)
{
    public static ZipDirectory? Locate(FileStream file)
    {
        var length = file.Length;
        var tail = (int)Math.Min(length, 22 + 65535);
        if (tail < 22) return null;
        var buffer = new byte[tail];
        file.Position = length - tail;
        file.ReadExactly(buffer);
        for (var i = tail - 22; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i)) != 0x06054b50) continue;
            long size = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i + 12));
            long offset = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i + 16));
            if ((offset == 0xFFFFFFFF || size == 0xFFFFFFFF) && i >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i - 20)) == 0x07064b50)
            {
                var record = (long)BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(i - 20 + 8));
                if (record < 0 || record + 56 > length) return null;
                var zip64 = new byte[56];
                file.Position = record;
                file.ReadExactly(zip64);
                if (BinaryPrimitives.ReadUInt32LittleEndian(zip64) != 0x06064b50) return null;
                size = (long)BinaryPrimitives.ReadUInt64LittleEndian(zip64.AsSpan(40));
                offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(zip64.AsSpan(48));
            }
            return offset >= 0 && size >= 0 && offset + size <= length ? new ZipDirectory(offset, size) : null;
        }
        return null;
    }
}

/// <summary>A ZIP upload past a limit of <see cref="UploadOptions"/> (HTTP 400 with the reason); nothing of it was stored.</summary>
public sealed class ZipLimitException(string message) : DicomValidationException(message);

/// <summary>Bounds of a ZIP upload (root section of appsettings.json): a ZIP bomb is refused before anything is stored.</summary>
public sealed class UploadOptions
{
    /// <summary>Files in one ZIP.</summary>
    [Range(1, 10_000_000)]
    public int ZipMaximumEntries { get; set; } = 100_000;

    /// <summary>MB one entry may inflate to.</summary>
    [Range(1, 1 << 30)]
    public long ZipMaximumEntrySize { get; set; } = 4096;

    /// <summary>MB all entries together may inflate to.</summary>
    [Range(1, 1 << 30)]
    public long ZipMaximumTotalSize { get; set; } = 32768;

    /// <summary>How many times an entry (past 1 MB) may be larger inflated than compressed. DICOM images deflate 2-10x; bombs 1000x.</summary>
    [Range(1, 1_000_000)]
    public int ZipMaximumRatio { get; set; } = 100;
}

/// <summary>A few bytes already read (to sniff the format), then the rest of the stream.</summary>
public sealed class PrefixStream(ReadOnlyMemory<byte> prefix, Stream rest) : Stream
{
    private ReadOnlyMemory<byte> _prefix = prefix;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_prefix.IsEmpty)
        {
            var n = Math.Min(buffer.Length, _prefix.Length);
            _prefix[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return n;
        }
        return await rest.ReadAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}
