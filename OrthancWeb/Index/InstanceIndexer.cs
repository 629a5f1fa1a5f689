using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// Writes a batch of arriving instances in one transaction. Per instance: a stored copy is kept (AlreadyStored) or
/// replaced, recycling makes room, the patient, study and series are found or created (main tags, New* change), then
/// the instance's own rows and its NewInstance change. The attachment rows go last: they alone need the checksum,
/// which is computed (and the file written) alongside the rest. The context stays open with its prepared statements
/// from batch to batch; it is dropped after a failure, so that the next batch starts clean.
/// </summary>
public sealed class InstanceIndexer(
    IDbContextFactory<IndexDbContext> contexts,
    IndexTransactions transactions,
    IOptionsMonitor<StorageOptions> options,
    HierarchyCache hierarchy,
    StorageUsage usage,
    RecyclingPolicy recycling,
    ResourceDeletion deletion,
    DurabilityWatermark watermark,
    ClusterMembership membership,
    TimeProvider time) : IDisposable
{
    /// <summary>The transaction-level advisory lock under which servers sharing an index recycle, one at a time.</summary>
    private const long RecyclingLockKey = 0x4F57524543594C; // "OWRECYL"

    private IndexDbContext? _db;
    private IndexRowWriter? _rows;
    private ReadWriteTransaction? _transaction;

    // The batch's parents, touched once at its end, and the attachment rows it has still to write.
    private readonly HashSet<long> _touched = [];
    private readonly List<(long InstanceId, PendingInstance Instance)> _attachments = [];

    private static long? IndexInSeriesOf(DicomDataset ds)
    {
        foreach (var tag in new[] { DicomTags.InstanceNumber, DicomTags.ImageIndex })
            if (long.TryParse(ds.GetString(tag)?.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n))
                return n;
        return null;
    }

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, string, CancellationToken, Task<Resource?>>> ResourceByPublicIdNoTracking = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, string id, CancellationToken ct) => db.Resources.AsNoTracking().FirstOrDefault(r => r.PublicId == id)));

    private static readonly ProviderCompiledQuery<Func<IndexDbContext, long, CancellationToken, Task<int>>> ChildCount = new(() =>
        EF.CompileAsyncQuery((IndexDbContext db, long id, CancellationToken ct) => db.Resources.Count(r => r.ParentId == id)));

    public void Dispose() => DropContext();

    private void DropContext()
    {
        _rows?.Dispose();
        _db?.Dispose();
        (_rows, _db, _transaction) = (null, null, null);
    }

    /// <summary>
    /// Commits a batch, filling <paramref name="results"/>; the caller is the writer. Returns the highest change
    /// sequence number written.
    /// </summary>
    internal async Task<long> CommitAsync(IReadOnlyList<PendingInstance> batch, StoreOutcome[] results, CancellationToken ct)
    {
        if (_db is null)
        {
            // Kept only once open: a context left behind by a failed open (PostgreSQL restarting) had no writer nor
            // transaction, and every later batch failed on them until the server restarted.
            var opened = await contexts.CreateDbContextAsync(ct);
            try { await opened.Database.OpenConnectionAsync(ct); }
            catch
            {
                await opened.DisposeAsync();
                throw;
            }
            _db = opened;
            _rows = new IndexRowWriter(_db);
            _transaction = transactions.Open(_db);
        }
        var (db, rows, transaction) = (_db, _rows!, _transaction!);
        try
        {
            db.ChangeTracker.Clear();
            _touched.Clear();
            _attachments.Clear();
            await usage.EnsureCountedAsync(db, ct);
            var o = options.CurrentValue;
            // One transaction for the bulk deletes (which run at once) and the tracked changes (saved at commit).
            await transaction.BeginAsync(ct);
            rows.UseCurrentTransaction();
            rows.BeginBatch();
            // The durability watermark rides along with each batch (no flush of its own).
            await rows.SetPropertyAsync(watermark.Name, watermark.ValueText, ct);
            // Without a storage limit no instance can be refused as full: then it needs no savepoint to undo.
            var canBeFull = RecyclingPolicy.HasLimit(o);
            if (canBeFull && membership.IsShared)
            {
                // Servers sharing the index: one stores under a limit at a time (held to the commit), measuring from the
                // trigger-kept totals, which hold what the others stored, so a patient is recycled once and a limit is
                // never passed by two servers each thinking there was room.
                await db.Database.ExecuteSqlRawAsync($"SELECT pg_advisory_xact_lock({RecyclingLockKey})", ct);
                usage.Set(await IndexCounters.ReadAsync(db, ct));
            }
            for (var i = 0; i < batch.Count; i++)
            {
                if (!canBeFull)
                {
                    results[i] = await AddAsync(transaction, rows, batch[i], o, ct);
                    continue;
                }
                // Recycling may delete what earlier instances of this batch stored: their files must be attached
                // first, or the deletion would miss them.
                await WriteAttachmentsAsync(rows, ct);
                // A refused instance (storage full) must leave no trace, not even the deletions it tried.
                var savepoint = await transaction.SavepointAsync(ct);
                results[i] = await AddAsync(transaction, rows, batch[i], o, ct);
                if (results[i].Status == StoreStatus.StorageFull) await transaction.RollbackToAsync(savepoint, ct);
            }
            if (_touched.Count > 0)
            {
                // The parents of this batch's instances: updated now, and no longer stable.
                var now = time.GetUtcNow().UtcDateTime;
                foreach (var id in _touched) await rows.TouchAsync(id, now, ct);
            }
            await WriteAttachmentsAsync(rows, ct);
            try { await transaction.CommitAsync(ct); }
            catch (Exception ex) when (IndexDatabase.IsUnavailable(ex))
            {
                // The connection broke with the COMMIT on its way: PostgreSQL may have committed it. The batch's files
                // must stay (rows may point at them) and the batch must not be run again (it would find its own rows,
                // answer AlreadyStored and delete the files they point at).
                throw new CommitOutcomeUnknownException(ex);
            }
            return rows.MaxChangeSeq;
        }
        catch
        {
            await transaction.AbandonAsync();
            DropContext();
            throw;
        }
        finally
        {
            transaction.DeleteReleasedFiles(); // only once the index no longer points at them
        }
    }

    private async Task<StoreOutcome> AddAsync(ReadWriteTransaction transaction, IndexRowWriter rows, PendingInstance p, StorageOptions o, CancellationToken ct)
    {
        var (header, ids, file, arrival) = (p.Header, p.Ids, p.File, p.Arrival);
        var ds = header.Dataset;

        // Rows inserted earlier in this batch are visible here: the inserts run in the batch's transaction.
        var existing = await rows.IdAsync(ids.InstancePublicId, ct) == 0 ? null : await ResourceByPublicIdNoTracking.For(transaction.Db)(transaction.Db, ids.InstancePublicId, ct);
        // A replacing instance brings the current values of its parents' main tags too (modification in place).
        var refreshParents = existing is not null;
        if (existing is not null)
        {
            if (!o.OverwriteInstances && !arrival.Overwrite) return new StoreOutcome(StoreStatus.AlreadyStored);
            await WriteAttachmentsAsync(rows, ct); // the replaced copy may be one of this batch's
            await deletion.DeleteTreeAsync(transaction, existing, logDeletion: false, ct);
        }

        var newPatient = !hierarchy.TryGetParent(ids.PatientPublicId, out _) && await rows.IdAsync(ids.PatientPublicId, ct) == 0;
        if (RecyclingPolicy.HasLimit(o) && !await recycling.MakeRoomAsync(transaction, ids.PatientPublicId, newPatient, file.CompressedSize, o, arrival, ct))
            return new StoreOutcome(StoreStatus.StorageFull, RecyclingPolicy.StorageFullReason);

        var now = time.GetUtcNow().UtcDateTime;
        List<(string, string)>? ParentMetadata(ResourceLevel level) =>
            arrival.ParentMetadata?.Where(m => m.Level == level).Select(m => (m.Name, m.Value)).ToList();
        var patientId = await ParentAsync(rows, ResourceLevel.Patient, ids.PatientPublicId, null, ds, now, refreshParents, ct, ParentMetadata(ResourceLevel.Patient));
        var studyId = await ParentAsync(rows, ResourceLevel.Study, ids.StudyPublicId, patientId, ds, now, refreshParents, ct, ParentMetadata(ResourceLevel.Study));
        // Orthanc records on a series the RemoteAET of the instance that created it.
        var seriesMetadata = ParentMetadata(ResourceLevel.Series) ?? [];
        if (arrival.RemoteAet is not null || arrival.Origin == "RestApi") seriesMetadata.Add(("RemoteAET", arrival.RemoteAet ?? ""));
        var seriesId = await ParentAsync(rows, ResourceLevel.Series, ids.SeriesPublicId, studyId, ds, now, refreshParents, ct, seriesMetadata);
        if (!hierarchy.TryGetSeriesCount(seriesId, out var count))
            count = await ChildCount.For(transaction.Db)(transaction.Db, seriesId, ct);
        var indexInSeries = count + 1;
        hierarchy.SetSeriesCount(seriesId, indexInSeries);

        var instanceId = await rows.ResourceAsync(ResourceLevel.Instance, ids.InstancePublicId, seriesId, now, isStable: true, ct);
        await TagsAsync(rows, instanceId, ResourceLevel.Instance, ds, ct);
        var nowText = OrthancTime.Format(now);
        var metadata = new List<(string, string)>(10)
        {
            ("ReceptionDate", nowText),
            ("Origin", arrival.Origin),
        };
        if (arrival.RemoteIp is not null) metadata.Add(("RemoteIP", arrival.RemoteIp));
        // Orthanc 1.10.1 records an empty RemoteAET for an instance that came by HTTP.
        if (arrival.RemoteAet is not null || arrival.Origin == "RestApi") metadata.Add(("RemoteAET", arrival.RemoteAet ?? ""));
        if (arrival.CalledAet is not null) metadata.Add(("CalledAET", arrival.CalledAet));
        metadata.Add(("TransferSyntax", header.TransferSyntax.Uid));
        // Where Pixel Data begins in the stored file, known from the header read that stopped there (Orthanc 1.9.1+);
        // not for a deflated file (the offset is in the inflated data) nor a transcoded one (its header is not read back).
        if (header.StoppedAt == DicomTags.PixelData && header.StoppedAtOffset is { } pixelDataOffset && !header.TransferSyntax.IsDeflated)
            metadata.Add(("PixelDataOffset", pixelDataOffset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        metadata.Add(("SopClassUid", ds.GetString(DicomTags.SOPClassUID) ?? ""));
        // Orthanc's IndexInSeries is the instance's own number (Instance Number, else Image Index, PS3.3 C.7.6.1 and
        // C.8.4.8), not its rank of arrival: absent when the file carries neither.
        if (IndexInSeriesOf(ds) is { } index)
            metadata.Add(("IndexInSeries", index.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // No LastUpdate on an instance, as Orthanc: its parents' is their Resource.LastUpdate (see Annotations.MetadataService).
        if (arrival.Metadata is { Count: > 0 } more) metadata.AddRange(more);
        await rows.MetadataAsync(instanceId, metadata, ct);
        await rows.InstanceJsonAsync(instanceId, p.Json, ct);
        await rows.ChangeAsync("NewInstance", ResourceLevel.Instance, ids.InstancePublicId, now, ct);
        _attachments.Add((instanceId, p));

        // Deletions above already took their share off the usage.
        usage.Added(file.CompressedSize, newPatient);
        return new StoreOutcome(StoreStatus.Success);
    }

    /// <summary>Writes the attachment rows left by <see cref="AddAsync"/>, waiting for each checksum still being computed.</summary>
    private async Task WriteAttachmentsAsync(IndexRowWriter rows, CancellationToken ct)
    {
        foreach (var (instanceId, p) in _attachments)
        {
            var file = p.File;
            var checksum = p.Checksum is null ? file.Checksum : await p.Checksum;
            await rows.AttachmentAsync(instanceId, new Attachment
            {
                ContentType = Attachment.DicomContentType,
                Uuid = file.Uuid,
                UncompressedSize = file.UncompressedSize,
                CompressedSize = file.CompressedSize,
                Checksum = checksum,
                CompressionType = file.Compressed ? 1 : 0,
            }, ct);
        }
        _attachments.Clear();
    }

    /// <summary>The ID of a patient, study or series, created (with its main tags and a New* change) when new.</summary>
    private async Task<long> ParentAsync(IndexRowWriter rows, ResourceLevel level, string publicId, long? parentId,
        DicomDataset ds, DateTime now, bool refresh, CancellationToken ct, IReadOnlyList<(string Name, string Value)>? newMetadata = null)
    {
        if (!hierarchy.TryGetParent(publicId, out var id))
        {
            id = await rows.IdAsync(publicId, ct);
            if (id == 0)
            {
                id = await rows.ResourceAsync(level, publicId, parentId, now, isStable: false, ct);
                await TagsAsync(rows, id, level, ds, ct);
                await rows.ChangeAsync("New" + level, level, publicId, now, ct);
                if (newMetadata is { Count: > 0 }) await rows.MetadataAsync(id, newMetadata, ct);
                refresh = false;
            }
            hierarchy.AddParent(publicId, id);
        }
        if (refresh)
        {
            await rows.ClearTagsAsync(id, ct);
            await TagsAsync(rows, id, level, ds, ct);
        }
        _touched.Add(id);
        return id;
    }

    private static Task TagsAsync(IndexRowWriter rows, long resourceId, ResourceLevel level, DicomDataset ds, CancellationToken ct) =>
        rows.MainTagsAsync(resourceId, level, ds, ct);
}
