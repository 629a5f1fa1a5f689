using System.Diagnostics.CodeAnalysis;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// The start-up check that makes the index and the storage area agree. Files with no row are leftovers of a crash
/// between rename and commit; rows with no file were damaged by hand; files of instances committed after the last
/// durability watermark may have been cut short by a power cut between commit and flush, and are checked against
/// the checksum the index holds. On a storage folder and index shared with other running servers, their files in
/// flight are theirs: their partial and temporary files (tagged with their name) are left alone, and a file with no
/// row is taken for an orphan only once it is older than <see cref="InFlightAge"/> (a running server may be between
/// its rename and its commit); the instances past every server's watermark are checked, and the watermarks of
/// servers no longer running are retired once their files are checked.
/// </summary>
public sealed partial class StorageReconciliation(
    IndexTransactions transactions,
    IDbContextFactory<IndexDbContext> contexts,
    StorageArea storage,
    ResourceDeletion deletion,
    DurabilityWatermark watermark,
    ClusterMembership membership,
    TimeProvider time,
    Microsoft.Extensions.Options.IOptionsMonitor<StorageOptions> options,
    ILogger<StorageReconciliation> logger)
{
    /// <summary>How old a file without a row must be before it is removed while other servers run on the same storage.</summary>
    public static readonly TimeSpan InFlightAge = TimeSpan.FromHours(1);

    public async Task<(int OrphanFiles, int DanglingRows)> ReconcileAsync(CancellationToken ct)
    {
        var running = await OtherServersRunningAsync(ct);
        var liveTags = running.Select(i => new Hosting.ServerIdentity(i).Tag).ToHashSet(StringComparer.Ordinal);
        var (orphans, dangling, checkedUpTo) = await transactions.ReadWriteAsync(async (transaction, ct) =>
        {
            var db = transaction.Db;
            storage.ClearTemp(liveTags);
            var all = options.CurrentValue.StartupCheckAllFiles;
            var allKnown = all ? (await db.Attachments.Select(a => a.Uuid).ToListAsync(ct)).ToHashSet(StringComparer.Ordinal) : [];
            var known = new HashSet<string>(allKnown, StringComparer.Ordinal);
            var orphans = 0;
            var inFlightSince = time.GetUtcNow().UtcDateTime - InFlightAge;
            foreach (var uuid in all ? storage.EnumerateUuids(liveTags).ToList() : [])
            {
                if (known.Remove(uuid)) continue;
                // On a shared index, even with no other server seen running: one whose session was cut (a database
                // restart) is not seen until it rejoins, and may be between its rename and its commit.
                if (membership.IsShared && File.GetLastWriteTimeUtc(storage.PathOf(uuid)) > inFlightSince) continue;
                storage.Delete(uuid);
                orphans++;
            }
            // Every server's watermark: past the lowest, some server's files may not have been flushed.
            var watermarks = await db.GlobalProperties.Where(p => p.Name.StartsWith(DurabilityWatermark.PropertyName))
                .ToDictionaryAsync(p => p.Name, p => DurabilityWatermark.Parse(p.Value), StringComparer.Ordinal, ct);
            var recorded = watermarks.Count == 0 ? 0 : watermarks.Values.Min();
            var recent = await db.Changes.Where(c => c.Seq > recorded && c.ChangeType == "NewInstance")
                .Select(c => c.PublicId).Distinct().ToListAsync(ct);
            foreach (var publicId in recent)
            {
                var att = await db.Resources.Where(r => r.PublicId == publicId)
                    .Join(db.Attachments, r => r.Id, a => a.ResourceId, (r, a) => new { a.Uuid, a.Checksum, a.CompressedMd5 }).FirstOrDefaultAsync(ct);
                if (att is null || !storage.Exists(att.Uuid)) continue;
                if (att.Checksum.Length > 0 ? FileChecksum.OfFile(storage.PathOf(att.Uuid)) == att.Checksum
                    : LegacyMd5(storage.PathOf(att.Uuid)) == att.CompressedMd5) continue;
                LogIncomplete(logger, publicId);
                storage.Delete(att.Uuid);
            }
            var dangling = 0;
            var missing = allKnown.Where(u => !storage.Exists(u)).ToList();
            // Every file missing is a storage folder not mounted or misnamed (StorageDirectory), not damage: deleting
            // every row would empty the archive (every server's, on a shared index).
            if (missing.Count > 0 && missing.Count == allKnown.Count)
                throw new InvalidOperationException(
                    $"None of the {allKnown.Count} files the index holds is in the storage folder {storage.Root}: is it mounted, and is StorageDirectory " +
                    "right? Nothing was changed.");
            foreach (var missingUuid in missing)
            {
                // Gone meanwhile when another server deleted the instance (its row first, then its file).
                if (await db.Attachments.FirstOrDefaultAsync(a => a.Uuid == missingUuid, ct) is not { } att) continue;
                if (await db.Resources.FirstOrDefaultAsync(r => r.Id == att.ResourceId, ct) is not { } instance) continue;
                await deletion.DeleteWithEmptyParentsAsync(transaction, instance, ct);
                dangling++;
            }
            await db.SaveChangesAsync(ct);
            // Everything now in the index has been checked: that is the new watermark.
            var maxSeq = await db.Changes.MaxAsync(c => (long?)c.Seq, ct) ?? 0;
            var property = await db.GlobalProperties.FirstOrDefaultAsync(p => p.Name == watermark.Name, ct);
            if (property is null) db.GlobalProperties.Add(property = new GlobalProperty { Name = watermark.Name });
            property.Value = maxSeq.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // The watermarks of servers that are gone (and a single server's, once shared): their files are checked now.
            var retired = watermarks.Keys.Where(n => n != watermark.Name &&
                (DurabilityWatermark.ServerOf(n) is not { } server || !running.Contains(server))).ToList();
            if (retired.Count > 0) await db.GlobalProperties.Where(p => retired.Contains(p.Name)).ExecuteDeleteAsync(ct);
            return (orphans, dangling, maxSeq);
        }, ct);
        watermark.Reset(checkedUpTo);
        return (orphans, dangling);
    }

    /// <summary>
    /// The orphan sweep beside running servers on a shared index and storage folder: removes the stored files no
    /// attachment row names and the partial files of servers no longer running, once older than <see cref="InFlightAge"/>.
    /// The files are looked up in the index in batches after they are listed and their age read, so a commit that
    /// lands meanwhile keeps its file; memory stays bounded by the batch whatever the archive's size.
    /// </summary>
    public async Task<int> SweepOrphansAsync(CancellationToken ct)
    {
        var running = await OtherServersRunningAsync(ct);
        var liveTags = running.Select(i => new Hosting.ServerIdentity(i).Tag).ToHashSet(StringComparer.Ordinal);
        var before = time.GetUtcNow().UtcDateTime - InFlightAge;
        var removed = 0;
        var batch = new List<string>(SweepBatch);
        foreach (var entry in storage.EnumerateEntries())
        {
            ct.ThrowIfCancellationRequested();
            if (entry.IsPartial)
            {
                // Only a server that is gone leaves its partial files for good (an untagged one is not ours to judge).
                if (entry.PartialTag is null || entry.PartialTag == storage.OwnTag || liveTags.Contains(entry.PartialTag)) continue;
                if (File.GetLastWriteTimeUtc(entry.Path) > before) continue;
                File.Delete(entry.Path);
                removed++;
                continue;
            }
            if (File.GetLastWriteTimeUtc(entry.Path) > before) continue;
            batch.Add(entry.Name);
            if (batch.Count == SweepBatch) removed += await RemoveUnindexedAsync(batch, ct);
        }
        if (batch.Count > 0) removed += await RemoveUnindexedAsync(batch, ct);
        return removed;
    }

    private const int SweepBatch = 500;

    /// <summary>Removes the files of this batch that no attachment row names, then empties the batch.</summary>
    private async Task<int> RemoveUnindexedAsync(List<string> batch, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var known = (await db.Attachments.Where(a => batch.Contains(a.Uuid)).Select(a => a.Uuid).ToListAsync(ct)).ToHashSet(StringComparer.Ordinal);
        var removed = 0;
        foreach (var uuid in batch.Where(u => !known.Contains(u)))
        {
            LogOrphan(logger, uuid);
            storage.Delete(uuid);
            removed++;
        }
        batch.Clear();
        return removed;
    }

    [LoggerMessage(LogLevel.Warning, "Orphan sweep: removing file {Uuid}, which no index row names and which is older than an hour")]
    private static partial void LogOrphan(ILogger logger, string uuid);

    /// <summary>The servers other than this one that run on the index now, from the watermarks they keep.</summary>
    private async Task<IReadOnlySet<string>> OtherServersRunningAsync(CancellationToken ct)
    {
        if (!membership.IsShared) return new HashSet<string>();
        await using var db = await contexts.CreateDbContextAsync(ct);
        var names = await db.GlobalProperties.Where(p => p.Name.StartsWith(DurabilityWatermark.PropertyName + ":")).Select(p => p.Name).ToListAsync(ct);
        return await membership.OthersRunningAsync(names.Select(DurabilityWatermark.ServerOf).OfType<string>(), ct);
    }

    [LoggerMessage(LogLevel.Warning, "Instance {Instance} was not completely on disk after an interruption; removing it")]
    private static partial void LogIncomplete(ILogger logger, string instance);

    /// <summary>Rows written before the checksum column have the MD5 of the file on disk instead.</summary>
    [SuppressMessage("Security", "CA5351:Do Not Use Broken Cryptographic Primitives",
        Justification = "Those rows record Orthanc's attachment MD5 and nothing else: only MD5 can check the file against them.")]
    private static string LegacyMd5(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(f));
    }
}
