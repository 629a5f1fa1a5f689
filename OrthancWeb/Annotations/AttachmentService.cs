using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Security;
using OrthancWeb.Storage;

namespace OrthancWeb.Annotations;

/// <summary>A file attached to a resource, as the index records it.</summary>
public sealed record AttachmentRecord(int ContentType, string Uuid, long UncompressedSize, long CompressedSize, string Md5, string CompressedMd5,
    bool Compressed, long Revision, string Checksum)
{
    public Revision Etag => new(Revision, Md5);

    internal AttachmentInfo AsInfo => new(Uuid, UncompressedSize, CompressedSize, Checksum, Md5, CompressedMd5, Compressed);
}

/// <summary>
/// Files attached to patients, studies, series and instances (Orthanc's /{level}/{id}/attachments): the DICOM file of
/// an instance, and user-defined content types (1024-65535) written with revisions. Their bytes go to the storage
/// area, durable before the index points at them, compressed as StorageCompression says; the index row is written
/// by the index's single writer, and a replaced or deleted file goes once the commit no longer points at it.
/// </summary>
public sealed class AttachmentService(IDbContextFactory<IndexDbContext> contexts, IndexTransactions transactions, StorageArea storage,
    StorageUsage usage, InstanceFiles files, AnnotationCatalog catalog, IOptionsMonitor<StorageOptions> storageOptions, IAuditTrail audit,
    TimeProvider time)
{
    private static AttachmentRecord Record(Attachment a) =>
        new(a.ContentType, a.Uuid, a.UncompressedSize, a.CompressedSize, a.UncompressedMd5, a.CompressedMd5, a.CompressionType == 1, a.Revision, a.Checksum);

    /// <summary>The content types attached to a resource, in order; null when the resource does not exist.</summary>
    public async Task<IReadOnlyList<int>?> ListAsync(string publicId, ResourceLevel level, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var id = await db.Resources.Where(x => x.PublicId == publicId && x.Level == level).Select(x => (long?)x.Id).FirstOrDefaultAsync(ct);
        if (id is null) return null;
        return await db.Attachments.Where(a => a.ResourceId == id).OrderBy(a => a.ContentType).Select(a => a.ContentType).ToListAsync(ct);
    }

    /// <summary>One attachment; Found is false when the resource does not exist, the record null when it has no such attachment.</summary>
    public async Task<(bool Found, AttachmentRecord? Attachment)> GetAsync(string publicId, ResourceLevel level, int contentType, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var id = await db.Resources.Where(x => x.PublicId == publicId && x.Level == level).Select(x => (long?)x.Id).FirstOrDefaultAsync(ct);
        if (id is null) return (false, null);
        var row = await db.Attachments.AsNoTracking().FirstOrDefaultAsync(a => a.ResourceId == id && a.ContentType == contentType, ct);
        if (row is null) return (true, null);
        var record = Record(row);
        // The DICOM file's MD5s are computed on first request (the ingest path records a faster checksum only).
        if (record.Md5.Length == 0 || record.CompressedMd5.Length == 0)
        {
            var (md5, compressedMd5) = await files.Md5Async(record.AsInfo, ct);
            record = record with { Md5 = md5, CompressedMd5 = compressedMd5 };
        }
        return (true, record);
    }

    /// <summary>The attachment's data as it was attached (decompressed); seekable when the file is stored uncompressed.</summary>
    public Stream OpenData(AttachmentRecord a) => storage.OpenRead(a.Uuid, a.Compressed);

    /// <summary>The bytes as they are on disk (Orthanc's compressed-data: its zlib layout when compressed).</summary>
    public Stream OpenStored(AttachmentRecord a) => storage.OpenRead(a.Uuid, compressed: false);

    /// <summary>Whether the file still has the MD5s recorded when it was attached (Orthanc's verify-md5).</summary>
    public async Task<bool> VerifyMd5Async(AttachmentRecord a, CancellationToken ct) => await Task.Run(() =>
    {
        string onDisk;
        using (var raw = OpenStored(a)) onDisk = FileChecksum.WithMd5(raw).Md5;
        if (!a.Compressed) return onDisk == a.Md5 && onDisk == a.CompressedMd5;
        using var data = OpenData(a);
        return onDisk == a.CompressedMd5 && FileChecksum.WithMd5(data).Md5 == a.Md5;
    }, ct);

    /// <summary>Attaches (or replaces) a user-defined attachment with the request's body.</summary>
    public async Task<AnnotationWrite> SetAsync(string publicId, ResourceLevel level, AnnotationKey key, Stream body, Revision? ifMatch, CancellationToken ct)
    {
        RequireUser(key, "attach files to");
        var (stored, md5, compressedMd5) = await StoreAsync(body, storageOptions.CurrentValue.StorageCompression, ct);
        return await SwapAsync(publicId, level, key, stored, md5, compressedMd5, ifMatch, expectedUuid: null, "attached", ct);
    }

    public async Task<AnnotationWrite> DeleteAsync(string publicId, ResourceLevel level, AnnotationKey key, Revision? ifMatch, CancellationToken ct)
    {
        RequireUser(key, "delete attachments of");
        if (ifMatch is null && catalog.CheckRevisions) return new(AnnotationWriteStatus.RevisionMissing);
        return await SwapAsync(publicId, level, key, null, "", "", ifMatch, expectedUuid: null, "deleted", ct);
    }

    /// <summary>Stores the attachment compressed or not (Orthanc's /compress and /uncompress): a new file, a new revision.</summary>
    public async Task<AnnotationWrite> SetCompressionAsync(string publicId, ResourceLevel level, AnnotationKey key, bool compress, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "compress attachments");
        var (found, current) = await GetAsync(publicId, level, key.Number, ct);
        if (!found) return new(AnnotationWriteStatus.UnknownResource);
        if (current is null) return new(AnnotationWriteStatus.Missing);
        if (current.Compressed == compress) return new(AnnotationWriteStatus.Done, current.Etag);
        StoredFile stored;
        string compressedMd5;
        await using (var data = OpenData(current))
            (stored, _, compressedMd5) = await StoreAsync(data, compress, ct);
        return await SwapAsync(publicId, level, key, stored, current.Md5, compressedMd5, null, current.Uuid, compress ? "compressed" : "uncompressed", ct);
    }

    private static void RequireUser(AnnotationKey key, string action)
    {
        Caller.Demand(Policies.Modify, action + " resources");
        if (!key.IsUser) throw new AccessDeniedException($"The attachment {key.DisplayName} is Orthanc's own and cannot be changed");
    }

    /// <summary>
    /// Puts a stored file in the index in place of the current one (or removes the current one when there is none),
    /// checking the revision under the single writer; the file that lost is deleted.
    /// </summary>
    private async Task<AnnotationWrite> SwapAsync(string publicId, ResourceLevel level, AnnotationKey key, StoredFile? stored, string md5, string compressedMd5,
        Revision? ifMatch, string? expectedUuid, string what, CancellationToken ct)
    {
        (string? PatientId, string? StudyUid) who = default;
        AnnotationWrite outcome;
        try
        {
            outcome = await transactions.ReadWriteAsync(async (tx, ct) =>
            {
                var db = tx.Db;
                var r = await db.Resources.Where(x => x.PublicId == publicId && x.Level == level).FirstOrDefaultAsync(ct);
                if (r is null) return new AnnotationWrite(AnnotationWriteStatus.UnknownResource);
                var row = await db.Attachments.FirstOrDefaultAsync(a => a.ResourceId == r.Id && a.ContentType == key.Number, ct);
                if (row is null && stored is null) return new AnnotationWrite(AnnotationWriteStatus.Missing);
                if (expectedUuid is not null && row?.Uuid != expectedUuid) return new AnnotationWrite(AnnotationWriteStatus.RevisionMismatch);
                if (row is not null && expectedUuid is null)
                {
                    if (ifMatch is null && catalog.CheckRevisions) return new AnnotationWrite(AnnotationWriteStatus.RevisionMissing);
                    if (ifMatch is { } expected && !expected.Matches(row.Revision, row.UncompressedMd5)) return new AnnotationWrite(AnnotationWriteStatus.RevisionMismatch);
                }
                who = await ResourceDeletion.IdentifiersAsync(db, r, ct);
                // Orthanc 1.10 logs UpdatedAttachment when a user attachment is stored, replaced, (un)compressed or
                // deleted; compressing its own DICOM file logs nothing.
                if (key.IsUser)
                    db.Changes.Add(new ChangeEntry { ChangeType = "UpdatedAttachment", Level = level, PublicId = publicId, Date = time.GetUtcNow().UtcDateTime });
                if (row is not null)
                {
                    tx.Release([row.Uuid]);
                    usage.Removed(row.CompressedSize, 0);
                }
                if (stored is null)
                {
                    db.Attachments.Remove(row!);
                    return new AnnotationWrite(AnnotationWriteStatus.Done);
                }
                if (row is null) db.Attachments.Add(row = new Attachment { ResourceId = r.Id, ContentType = key.Number });
                else row.Revision++;
                (row.Uuid, row.UncompressedSize, row.CompressedSize, row.Checksum) = (stored.Uuid, stored.UncompressedSize, stored.CompressedSize, stored.Checksum);
                (row.UncompressedMd5, row.CompressedMd5, row.CompressionType) = (md5, compressedMd5, stored.Compressed ? 1 : 0);
                usage.Added(stored.CompressedSize, newPatient: false);
                return new AnnotationWrite(AnnotationWriteStatus.Done, new Revision(row.Revision, md5));
            }, ct);
        }
        catch
        {
            if (stored is not null) storage.Delete(stored.Uuid);
            throw;
        }
        if (outcome.Status != AnnotationWriteStatus.Done)
        {
            if (stored is not null) storage.Delete(stored.Uuid);
            return outcome;
        }
        audit.Record(new AuditEvent(AuditActions.Modify, AuditOutcome.Success)
        {
            PatientId = who.PatientId, StudyInstanceUid = who.StudyUid, ResourceLevel = level.ToString(), ResourceId = publicId,
            Details = $"attachment {key.DisplayName} {what}" + (outcome.Revision is { } rev ? $" (revision {rev.Number})" : ""),
        });
        return outcome;
    }

    /// <summary>
    /// Writes a new file of the storage area from a stream, with its MD5 and checksum taken on the way, and makes it
    /// durable (syncfs on Linux, as a batch of instances) before the index may point at it.
    /// </summary>
    private async Task<(StoredFile File, string Md5, string CompressedMd5)> StoreAsync(Stream source, bool compress, CancellationToken ct)
    {
        var incoming = storage.CreateIncoming();
        StoredFile? stored = null;
        try
        {
            long size = 0;
            string md5, checksum;
            await using (var file = new FileStream(incoming.Handle, FileAccess.Write, 1 << 16))
            {
                var checksummed = new ChecksummingStream(file);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await source.ReadAsync(buffer, ct)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    checksummed.Write(buffer, 0, n);
                    size += n;
                }
                md5 = Convert.ToHexStringLower(hash.GetHashAndReset());
                checksum = checksummed.Checksum;
                file.Flush(flushToDisk: !StorageArea.CanSyncFileSystem);
            }
            stored = await Task.Run(() => storage.Commit(incoming, size, checksum, compress), ct);
            var compressedMd5 = md5;
            if (stored.Compressed)
                await using (var raw = storage.OpenRead(stored.Uuid, compressed: false))
                    compressedMd5 = FileChecksum.WithMd5(raw).Md5;
            if (StorageArea.CanSyncFileSystem) await Task.Run(storage.SyncFileSystems, ct);
            return (stored, md5, compressedMd5);
        }
        catch
        {
            incoming.Handle.Dispose();
            File.Delete(incoming.Path);
            if (stored is not null) storage.Delete(stored.Uuid);
            throw;
        }
    }
}
