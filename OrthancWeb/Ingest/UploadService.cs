using System.IO.Compression;
using OrthancWeb.Storage;

namespace OrthancWeb.Ingest;

/// <summary>What happened to one uploaded file or ZIP entry.</summary>
public sealed record UploadOutcome(string Name, IngestResult? Result, bool Skipped, string? Reason)
{
    public string Status => Skipped ? "Skipped" : Result!.Status.ToString();
}

/// <summary>
/// Uploads as people make them: single files, folders (a CD with its viewer and autorun files), and ZIP archives,
/// each DICOM file through the one ingest path. Shared by POST /instances and the upload page.
/// </summary>
public sealed class UploadService(IngestService ingest, StorageArea storage)
{
    /// <summary>True when the first bytes say ZIP (local file header "PK\x03\x04").</summary>
    public static bool IsZip(ReadOnlySpan<byte> head) => head.Length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;

    /// <summary>One DICOM file. Not DICOM at all (no "DICM" at byte 128) is skipped, not an error, as on a CD.</summary>
    public async Task<UploadOutcome> StoreFileAsync(string name, Stream content, IngestSource source, bool skipNonDicom, CancellationToken ct)
    {
        // A DICOMDIR indexes the files of a CD; the files themselves are what is stored (PS3.10 §9.2).
        if (Path.GetFileName(name.Replace('\\', '/')).Equals("DICOMDIR", StringComparison.OrdinalIgnoreCase))
            return new UploadOutcome(name, null, true, "DICOMDIR");
        var head = new byte[132];
        var got = 0;
        while (got < head.Length && await content.ReadAsync(head.AsMemory(got), ct) is var n and > 0) got += n;
        var isPart10 = got == 132 && head[128] == 'D' && head[129] == 'I' && head[130] == 'C' && head[131] == 'M';
        if (skipNonDicom && !isPart10 && !name.EndsWith(".dcm", StringComparison.OrdinalIgnoreCase))
            return new UploadOutcome(name, null, true, "not a DICOM file");
        var result = await ingest.StoreAsync(new PrefixStream(head.AsMemory(0, got), content), source, ct);
        if (result.Status == IngestStatus.Invalid && skipNonDicom && !isPart10)
            return new UploadOutcome(name, null, true, "not a DICOM file");
        return new UploadOutcome(name, result, false, result.Reason);
    }

    /// <summary>Every file of a ZIP archive, spooled to disk first (ZIP needs random access; nothing stays in memory).</summary>
    public async Task<IReadOnlyList<UploadOutcome>> StoreZipAsync(Stream content, IngestSource source, CancellationToken ct)
    {
        var spool = storage.NewTempPath();
        try
        {
            await using (var f = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, true))
                await content.CopyToAsync(f, ct);
            var outcomes = new List<UploadOutcome>();
            using var zip = new ZipArchive(new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue;
                try
                {
                    await using var s = entry.Open();
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
