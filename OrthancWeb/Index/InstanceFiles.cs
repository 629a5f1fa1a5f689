using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>Reads the DICOM file of a stored instance, by public ID, decompressing transparently.</summary>
public sealed class InstanceFiles(IndexQueries queries, StorageArea storage, IndexMaintenance maintenance)
{
    public Task<AttachmentInfo?> FindAsync(string instanceId, CancellationToken ct) => queries.AttachmentAsync(instanceId, ct);

    /// <summary>
    /// Orthanc's two MD5s of a stored file (of the DICOM file, and of the bytes on disk), computed on first request
    /// from a file that still matches the checksum recorded at ingest, then kept in the index.
    /// </summary>
    /// <exception cref="StoredFileDamagedException">The file no longer matches its checksum.</exception>
    public async Task<(string Md5, string CompressedMd5)> Md5Async(AttachmentInfo file, CancellationToken ct)
    {
        if (file.UncompressedMd5.Length > 0 && file.CompressedMd5.Length > 0) return (file.UncompressedMd5, file.CompressedMd5);
        var (md5, compressedMd5) = await Task.Run(() =>
        {
            string checksum, onDiskMd5;
            using (var raw = storage.OpenRead(file.Uuid, compressed: false))
                (checksum, onDiskMd5) = FileChecksum.WithMd5(raw);
            // A row from before checksums were recorded has none to check against.
            if (file.Checksum.Length > 0 && checksum != file.Checksum)
                throw new StoredFileDamagedException($"The stored file {file.Uuid} no longer matches the checksum recorded when it was received");
            if (!file.Compressed) return (onDiskMd5, onDiskMd5);
            using var inflated = storage.OpenRead(file.Uuid, compressed: true);
            return (FileChecksum.WithMd5(inflated).Md5, onDiskMd5);
        }, ct);
        await maintenance.RecordMd5Async(file.Uuid, md5, compressedMd5, ct);
        return (md5, compressedMd5);
    }

    public Stream Open(AttachmentInfo file) => storage.OpenRead(file.Uuid, file.Compressed);

    /// <summary>The whole file in memory, decompressed (for what rewrites an instance: modification, media export).</summary>
    public async Task<byte[]> ReadAllAsync(AttachmentInfo file, CancellationToken ct)
    {
        if (!file.Compressed) return await File.ReadAllBytesAsync(storage.PathOf(file.Uuid), ct);
        await using var source = Open(file);
        var bytes = new byte[file.UncompressedSize];
        await source.ReadExactlyAsync(bytes, ct);
        return bytes;
    }

    /// <summary>The data set, stopping before pixel data unless asked for (pixel data then loads lazily when uncompressed).</summary>
    public DicomFile Read(AttachmentInfo file, bool includePixelData = false)
    {
        var options = includePixelData ? DicomReadOptions.Default : new DicomReadOptions { StopBeforeTag = DicomTags.PixelData };
        if (!file.Compressed)
            return DicomFile.Open(storage.PathOf(file.Uuid), options);
        return DicomFile.Open(storage.ReadAll(file.Uuid, true).AsMemory(), options);
    }
}

/// <summary>A stored file whose bytes changed after it was acknowledged (a disk fault, or a hand that edited it).</summary>
public sealed class StoredFileDamagedException(string message) : IOException(message);
