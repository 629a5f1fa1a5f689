using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Explorer;
using OrthancWeb.Index;

namespace OrthancWeb.Tests.Explorer;

/// <summary>
/// The studies grid sorted by the patient's name or ID reads copies of those tags kept on the studies
/// (<see cref="StudySortKey"/>, written by triggers): they must be there in an index written before they existed (the
/// migration fills them) and follow every change of a patient's tags, of a study's parent, and every deletion. The
/// names sort in the opposite order of the IDs, so a copy of the wrong tag or a stale one shows in the pages. Run on
/// both providers.
/// </summary>
public abstract class StudySortKeysTests(string provider) : IAsyncLifetime
{
    private static readonly int Name = (int)DicomTags.PatientName.Value, Id = (int)DicomTags.PatientID.Value;
    private GridIndex _index = null!;

    public async Task InitializeAsync() => _index = await GridIndex.CreateAsync(provider);

    public async Task DisposeAsync() => await _index.DisposeAsync();

    [Fact]
    public async Task Studies_sorted_by_patient_name_or_id_follow_the_patients_tags_from_the_migration_on()
    {
        // Rows that predate the keys: the index is taken back to the migration before them, filled, then migrated.
        await using (var db = _index.Db())
        {
            var migrations = db.Database.GetMigrations().ToList();
            var previous = migrations[migrations.FindIndex(m => m.EndsWith("_StudySortKeys", StringComparison.Ordinal)) - 1];
            await db.GetService<IMigrator>().MigrateAsync(previous);
        }
        var patients = new List<Resource>();
        for (var p = 0; p < 6; p++)
        {
            var patient = _index.Patient((DicomTags.PatientName, $"{(char)('Z' - p)}^Name{(p % 2 == 0 ? "" : "^x")}"), (DicomTags.PatientID, $"ID{p}"));
            for (var s = 0; s < 1 + p % 3; s++) _index.Study(patient, (DicomTags.StudyDate, "20200101"));
            patients.Add(patient);
        }
        await _index.SaveAsync();
        await using (var db = _index.Db()) await db.Database.MigrateAsync();
        await AssertPagesFollowThePatientsAsync();

        // What writers do: an overwrite or a reconstruction clears a patient's tags and writes them again; an update
        // of a value; a patient left without a name; a study moved to another patient, one added, one deleted, a
        // patient deleted with its studies. Each with a change, as every writer appends one.
        await using (var db = _index.Db())
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            await db.MainDicomTags.Where(t => t.ResourceId == patients[0].Id).ExecuteDeleteAsync();
            db.MainDicomTags.AddRange(
                new MainDicomTag { ResourceId = patients[0].Id, Tag = Name, Value = "Aaron^First", ValueUpper = "AARON^FIRST" },
                new MainDicomTag { ResourceId = patients[0].Id, Tag = Id, Value = "ZZ9", ValueUpper = "ZZ9" });
            await db.SaveChangesAsync();
            await db.MainDicomTags.Where(t => t.ResourceId == patients[1].Id && t.Tag == Name)
                .ExecuteUpdateAsync(u => u.SetProperty(t => t.Value, "Mid^Way").SetProperty(t => t.ValueUpper, "MID^WAY"));
            await db.MainDicomTags.Where(t => t.ResourceId == patients[2].Id && t.Tag == Name).ExecuteDeleteAsync();
            var moved = patients[5].Children[0].Id;
            await db.Resources.Where(r => r.Id == moved).ExecuteUpdateAsync(u => u.SetProperty(r => r.ParentId, patients[3].Id));
            db.Resources.Add(new Resource { Level = ResourceLevel.Study, PublicId = "Study-added", ParentId = patients[1].Id, LastUpdate = DateTime.UtcNow, IsStable = true });
            await db.SaveChangesAsync();
            var deleted = patients[5].Children[1].Id;
            await db.Resources.Where(r => r.Id == deleted || r.Id == patients[4].Id).ExecuteDeleteAsync();
            db.Changes.Add(new ChangeEntry { ChangeType = "UpdatedAttachment", Level = ResourceLevel.Patient, PublicId = patients[0].PublicId, Date = DateTime.UtcNow });
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }
        await AssertPagesFollowThePatientsAsync();
    }

    /// <summary>
    /// The keys are exactly the studies joined to their patients' tags, and every page sorted by name or ID, either
    /// way, shows what the join gives: by the value regardless of case, ties by patient then study, a study whose
    /// patient lacks the tag in a run of its own (first ascending).
    /// </summary>
    private async Task AssertPagesFollowThePatientsAsync()
    {
        await using var db = _index.Db();
        var studies = await db.Resources.Where(r => r.Level == ResourceLevel.Study)
            .Select(r => new { r.Id, r.PublicId, Patient = r.ParentId!.Value }).ToListAsync();
        var tags = await db.MainDicomTags.Where(t => t.Tag == Name || t.Tag == Id).ToListAsync();
        var joined = (from s in studies join t in tags on s.Patient equals t.ResourceId select (s.Id, t.Tag, t.ValueUpper, s.Patient))
            .Order().ToList();
        var keys = (await db.StudySortKeys.ToListAsync()).Select(k => (k.ResourceId, k.Tag, k.ValueUpper, k.ParentId)).Order().ToList();
        Assert.Equal(joined, keys);

        foreach (var (column, tag) in new[] { ("PatientName", Name), ("PatientId", Id) })
            foreach (var descending in new[] { false, true })
            {
                string? KeyOf(long patient) => tags.FirstOrDefault(t => t.ResourceId == patient && t.Tag == tag)?.ValueUpper;
                var ascending = studies.Where(s => KeyOf(s.Patient) is null).OrderBy(s => s.Id)
                    .Concat(studies.Where(s => KeyOf(s.Patient) is not null).OrderBy(s => KeyOf(s.Patient), StringComparer.Ordinal).ThenBy(s => s.Patient).ThenBy(s => s.Id))
                    .Select(s => s.PublicId).ToList();
                if (descending) ascending.Reverse();
                async Task<List<string>> PageAsync(int skip)
                {
                    var (total, rows) = await _index.Explorer.SearchStudiesAsync(new StudySearch(), column, descending, skip, 4);
                    Assert.Equal(studies.Count, total);
                    return rows.Select(r => r.Id).ToList();
                }
                // Forwards, backwards (seeks from the keys of the pages served) and a jump off the page boundaries.
                var shown = new List<string>();
                for (var skip = 0; skip < studies.Count; skip += 4) shown.AddRange(await PageAsync(skip));
                Assert.Equal(ascending, shown);
                for (var skip = (studies.Count - 1) / 4 * 4; skip >= 0; skip -= 4) Assert.Equal(ascending.Skip(skip).Take(4), await PageAsync(skip));
                foreach (var skip in new[] { 3, 1, studies.Count - 2 }) Assert.Equal(ascending.Skip(skip).Take(4), await PageAsync(skip));
            }
    }
}

public sealed class StudySortKeysOnSqliteTests() : StudySortKeysTests(IndexDatabase.Sqlite);

public sealed class StudySortKeysOnPostgreSqlTests() : StudySortKeysTests(IndexDatabase.PostgreSql);
