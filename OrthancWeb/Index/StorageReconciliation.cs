using System.Diagnostics.CodeAnalysis;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// The start-up check that makes the index and the storage area agree. Files with no row are leftovers of a crash
/// between rename and commit; rows with no file were damaged by hand; files of instances committed after the last
/// durability watermark may have been cut short by a power cut between commit and flush, and are checked against
/// the checksum the index holds.
/// </summary>
public sealed partial class StorageReconciliation(
    IndexTransactions transactions,
    StorageArea storage,
    ResourceDeletion deletion,
    DurabilityWatermark watermark,
    Microsoft.Extensions.Options.IOptionsMonitor<StorageOptions> options,
    ILogger<StorageReconciliation> logger)
{
    public async Task<(int OrphanFiles, int DanglingRows)> ReconcileAsync(CancellationToken ct)
    {
        var (orphans, dangling, checkedUpTo) = await transactions.ReadWriteAsync(async (transaction, ct) =>
        {
            var db = transaction.Db;
            storage.ClearTemp();
            var all = options.CurrentValue.StartupCheckAllFiles;
            var allKnown = all ? (await db.Attachments.Select(a => a.Uuid).ToListAsync(ct)).ToHashSet(StringComparer.Ordinal) : [];
            var known = new HashSet<string>(allKnown, StringComparer.Ordinal);
            var orphans = 0;
            foreach (var uuid in all ? storage.EnumerateUuids().ToList() : [])
            {
                if (known.Remove(uuid)) continue;
                storage.Delete(uuid);
                orphans++;
            }
            var recorded = DurabilityWatermark.Parse(await db.GlobalProperties.Where(p => p.Name == DurabilityWatermark.PropertyName).Select(p => p.Value).FirstOrDefaultAsync(ct));
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
            foreach (var missingUuid in allKnown.Where(u => !storage.Exists(u)).ToList())
            {
                var att = await db.Attachments.FirstAsync(a => a.Uuid == missingUuid, ct);
                var instance = await db.Resources.FirstAsync(r => r.Id == att.ResourceId, ct);
                await deletion.DeleteWithEmptyParentsAsync(transaction, instance, ct);
                dangling++;
            }
            await db.SaveChangesAsync(ct);
            // Everything now in the index has been checked: that is the new watermark.
            var maxSeq = await db.Changes.MaxAsync(c => (long?)c.Seq, ct) ?? 0;
            var property = await db.GlobalProperties.FirstOrDefaultAsync(p => p.Name == DurabilityWatermark.PropertyName, ct);
            if (property is null) db.GlobalProperties.Add(property = new GlobalProperty { Name = DurabilityWatermark.PropertyName });
            property.Value = maxSeq.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return (orphans, dangling, maxSeq);
        }, ct);
        watermark.Reset(checkedUpTo);
        return (orphans, dangling);
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
