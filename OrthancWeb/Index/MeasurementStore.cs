using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>A user's measurement as stored: on which frame of which instance, its kind and its points.</summary>
public sealed record StoredMeasurement(long Id, string InstanceId, int Frame, string Kind, string Points);

/// <summary>
/// The viewer's measurements, each owned by one user: a user lists, adds and deletes only their own. Writes go through
/// the index's single writer like every other change.
/// </summary>
public sealed class MeasurementStore(IDbContextFactory<IndexDbContext> contexts, IndexTransactions transactions, TimeProvider time)
{
    /// <summary>A user's measurements on any frame of the given instances (one viewport's series), oldest first.</summary>
    public async Task<IReadOnlyList<StoredMeasurement>> ListAsync(string userId, IReadOnlyCollection<string> instanceIds, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await (
            from m in db.Measurements
            join r in db.Resources on m.InstanceId equals r.Id
            where m.UserId == userId && instanceIds.Contains(r.PublicId)
            orderby m.Id
            select new StoredMeasurement(m.Id, r.PublicId, m.Frame, m.Kind, m.Points)).ToListAsync(ct);
    }

    /// <summary>Adds a measurement; null when the instance is gone.</summary>
    /// <exception cref="Dicom.DicomValidationException">The user already keeps <paramref name="perFrameLimit"/> measurements on that frame, or <paramref name="perUserLimit"/> in all.</exception>
    public Task<StoredMeasurement?> AddAsync(string userId, string instanceId, int frame, string kind, string points, int perFrameLimit, int perUserLimit, CancellationToken ct) =>
        transactions.ReadWriteAsync<StoredMeasurement?>(async (transaction, ct) =>
        {
            var db = transaction.Db;
            var instance = await db.Resources.Where(r => r.PublicId == instanceId && r.Level == ResourceLevel.Instance).Select(r => (long?)r.Id).FirstOrDefaultAsync(ct);
            if (instance is not { } id) return null;
            if (await db.Measurements.CountAsync(m => m.InstanceId == id && m.UserId == userId && m.Frame == frame, ct) >= perFrameLimit)
                throw new Dicom.DicomValidationException($"at most {perFrameLimit} measurements are kept per frame: delete one first");
            if (await db.Measurements.CountAsync(m => m.UserId == userId, ct) >= perUserLimit)
                throw new Dicom.DicomValidationException($"at most {perUserLimit} measurements are kept per user: delete some first");
            var row = new Measurement { InstanceId = id, Frame = frame, UserId = userId, Kind = kind, Points = points, Created = time.GetUtcNow().UtcDateTime };
            db.Measurements.Add(row);
            await db.SaveChangesAsync(ct);
            return new StoredMeasurement(row.Id, instanceId, frame, kind, points);
        }, ct);

    /// <summary>Deletes one of the user's own measurements; false when there is none with that ID for this user.</summary>
    public Task<bool> DeleteAsync(string userId, long id, CancellationToken ct) =>
        transactions.ReadWriteAsync(async (transaction, ct) =>
            await transaction.Db.Measurements.Where(m => m.Id == id && m.UserId == userId).ExecuteDeleteAsync(ct) > 0, ct);
}
