using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>
/// What the stored instances take, measured against Orthanc's storage limits: the compressed size of every attachment
/// and the number of patients. Counted from the index when first needed, then kept exact by each change the writer
/// makes. When a transaction fails the counts are no longer known: they are forgotten and counted again.
/// </summary>
public sealed class StorageUsage
{
    private long _compressedSize = -1;
    private int _patients = -1;

    private bool IsKnown => _compressedSize >= 0;

    internal long CompressedSize => _compressedSize;

    internal int PatientCount => _patients;

    internal async Task EnsureCountedAsync(IndexDbContext db, CancellationToken ct)
    {
        if (IsKnown) return;
        _compressedSize = await db.Attachments.SumAsync(a => (long?)a.CompressedSize, ct) ?? 0;
        _patients = await db.Resources.CountAsync(r => r.Level == ResourceLevel.Patient, ct);
    }

    /// <summary>The totals as the index holds them now, other writers included.</summary>
    internal void Set(Statistics totals) => (_compressedSize, _patients) = (totals.TotalDiskSize, checked((int)totals.CountPatients));

    internal void Added(long compressedSize, bool newPatient)
    {
        if (!IsKnown) return;
        _compressedSize += compressedSize;
        if (newPatient) _patients++;
    }

    internal void Removed(long compressedSize, int patients)
    {
        if (!IsKnown) return;
        _compressedSize -= compressedSize;
        _patients -= patients;
    }

    /// <summary>The counts as they are now, to come back to when a savepoint is rolled back.</summary>
    internal (long CompressedSize, int Patients) Snapshot => (_compressedSize, _patients);

    internal void Restore((long CompressedSize, int Patients) snapshot) => (_compressedSize, _patients) = snapshot;

    /// <summary>The one way to invalidate: after a failed transaction.</summary>
    internal void Forget() => (_compressedSize, _patients) = (-1, -1);
}
