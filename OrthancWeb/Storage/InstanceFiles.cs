using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;

namespace OrthancWeb.Storage;

/// <summary>Reads the DICOM file of a stored instance, by public ID, decompressing transparently.</summary>
public sealed class InstanceFiles(IndexQueries queries, StorageArea storage)
{
    public Task<AttachmentInfo?> FindAsync(string instanceId, CancellationToken ct) => queries.AttachmentAsync(instanceId, ct);

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
