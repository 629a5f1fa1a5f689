using System.Globalization;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

/// <summary>
/// Orthanc's MaximumStorageSize and MaximumPatientCount: when an arriving instance would pass a limit, the least
/// recently updated unprotected patients are recycled (deleted) to make room, never the patient the instance belongs
/// to. If not enough can go, the instance is refused and nothing is deleted for it.
/// </summary>
public sealed partial class RecyclingPolicy(StorageUsage usage, ResourceDeletion deletion, ILogger<RecyclingPolicy> logger)
{
    public const string StorageFullReason = "The storage is full and no unprotected patient can be recycled";

    /// <summary>Without a limit no instance can be refused as full.</summary>
    public static bool HasLimit(StorageOptions o) => o.MaximumStorageSize > 0 || o.MaximumPatientCount > 0;

    /// <summary>Recycles what must go for an instance of <paramref name="compressedSize"/> bytes to fit; false when it cannot fit.</summary>
    /// <param name="newPatient">The instance brings a patient the index does not have yet.</param>
    /// <param name="arrival">Who sent the instance, named in the audit entry of each patient recycled for it.</param>
    internal async Task<bool> MakeRoomAsync(ReadWriteTransaction transaction, string patientPublicId, bool newPatient, long compressedSize, StorageOptions o,
        InstanceArrival arrival, CancellationToken ct)
    {
        var db = transaction.Db;
        var maxBytes = o.MaximumStorageSize * 1024 * 1024;
        List<Resource>? recycled = null;
        var bySize = false;
        long freed = 0;
        var patientsFreed = 0;
        while ((maxBytes > 0 && usage.CompressedSize - freed + compressedSize > maxBytes) ||
               (o.MaximumPatientCount > 0 && newPatient && usage.PatientCount - patientsFreed + 1 > o.MaximumPatientCount))
        {
            bySize |= maxBytes > 0 && usage.CompressedSize - freed + compressedSize > maxBytes;
            recycled ??= [];
            var skip = recycled.Select(r => r.Id).ToList();
            var victim = await db.Resources.AsNoTracking()
                .Where(r => r.Level == ResourceLevel.Patient && !r.IsProtected && r.PublicId != patientPublicId && !skip.Contains(r.Id))
                .OrderBy(r => r.LastUpdate).ThenBy(r => r.Id).FirstOrDefaultAsync(ct);
            if (victim is null) return false;
            recycled.Add(victim);
            freed += await SizeUnderAsync(db, victim.Id, ct);
            patientsFreed++;
        }
        if (recycled is null) return true;
        // The limit that made room (the storage size when both were passed), and who sent what needed it.
        var limit = bySize
            ? string.Create(CultureInfo.InvariantCulture, $"MaximumStorageSize {o.MaximumStorageSize} MB")
            : string.Create(CultureInfo.InvariantCulture, $"MaximumPatientCount {o.MaximumPatientCount}");
        var sender = arrival.RemoteAet is { Length: > 0 } aet ? $"{arrival.Origin} from {aet}" : arrival.Origin;
        if (arrival.RemoteIp is { Length: > 0 } ip) sender += $" ({ip})";
        foreach (var victim in recycled)
        {
            LogRecycling(logger, victim.PublicId);
            await deletion.RecycleAsync(transaction, victim, $"Recycled to make room for an arriving instance ({limit}; {sender})", ct);
        }
        return true;
    }

    [LoggerMessage(LogLevel.Information, "Recycling patient {Patient} to make room")]
    private static partial void LogRecycling(ILogger logger, string patient);

    private static async Task<long> SizeUnderAsync(IndexDbContext db, long resourceId, CancellationToken ct)
    {
        var ids = await ResourceDeletion.DescendantInstanceIdsAsync(db, resourceId, ct);
        return await db.Attachments.Where(a => ids.Contains(a.ResourceId)).SumAsync(a => (long?)a.CompressedSize, ct) ?? 0;
    }
}
