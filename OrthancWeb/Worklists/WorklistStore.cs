using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Worklists;

/// <summary>A worklist item as the REST API and the page show it.</summary>
public sealed record WorklistEntry(string Id, DicomDataset DataSet, DateTime? Performed, DateTime Created, DateTime Updated)
{
    public string PatientName => DataSet.GetString(DicomTags.PatientName)?.Trim() ?? "";
    public string PatientId => DataSet.GetString(DicomTags.PatientID)?.Trim() ?? "";
    public string AccessionNumber => DataSet.GetString(DicomTags.AccessionNumber)?.Trim() ?? "";
    public string Modality => WorklistDataSets.Step(DataSet, DicomTags.Modality);
    public string StationAet => WorklistDataSets.Step(DataSet, DicomTags.ScheduledStationAETitle);
    public string ScheduledDate => WorklistDataSets.Step(DataSet, DicomTags.ScheduledProcedureStepStartDate);
    public string ScheduledTime => WorklistDataSets.Step(DataSet, DicomTags.ScheduledProcedureStepStartTime);
    public string Description => WorklistDataSets.Step(DataSet, DicomTags.ScheduledProcedureStepDescription) is { Length: > 0 } d
        ? d : DataSet.GetString(DicomTags.RequestedProcedureDescription)?.Trim() ?? "";
}

/// <summary>A patient of the archive, as the page offers it for a new item.</summary>
public sealed record ArchivedPatient(string Name, string Id, string BirthDate, string Sex);

/// <summary>Filters of the list: a scheduled date (YYYYMMDD), a modality, a station AE title; performed items or not.</summary>
public sealed record WorklistFilter(string? Date = null, string? Modality = null, string? StationAet = null, bool IncludePerformed = true);

/// <summary>
/// The worklist items kept in the index: created, changed and deleted by the REST API and the page (Modify), read by
/// them (View) and by the worklist SCP. Every access is in the audit trail, as for any patient data.
/// </summary>
public sealed partial class WorklistStore(IDbContextFactory<IndexDbContext> contexts, IndexQueries queries, IOptionsMonitor<WorklistOptions> options, IAuditTrail audit,
    TimeProvider time, ILogger<WorklistStore> logger)
{
    public async Task<IReadOnlyList<WorklistEntry>> ListAsync(WorklistFilter filter, CancellationToken ct)
    {
        Caller.Demand(Policies.View, "read worklists");
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = db.WorklistItems.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(filter.Date)) rows = rows.Where(w => w.ScheduledDate == filter.Date.Trim());
        // Kept upper-case (Fill): CS values are upper-case (PS3.5 Table 6.2-1).
        var modality = filter.Modality?.Trim().ToUpperInvariant();
        if (!string.IsNullOrEmpty(modality)) rows = rows.Where(w => w.Modality == modality);
        if (!string.IsNullOrWhiteSpace(filter.StationAet)) rows = rows.Where(w => w.StationAet == filter.StationAet.Trim());
        if (!filter.IncludePerformed) rows = rows.Where(w => w.Performed == null);
        var list = await rows.OrderBy(w => w.ScheduledDate).ThenBy(w => w.ScheduledTime).ThenBy(w => w.Id).ToListAsync(ct);
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success) { ResourceLevel = "Worklist", Details = $"{list.Count} worklist item(s) listed" });
        return list.Select(Entry).ToList();
    }

    public async Task<WorklistEntry?> GetAsync(string id, CancellationToken ct)
    {
        Caller.Demand(Policies.View, "read worklists");
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.WorklistItems.AsNoTracking().FirstOrDefaultAsync(w => w.PublicId == id, ct);
        if (row is not null)
            audit.Record(new AuditEvent(AuditActions.View, AuditOutcome.Success) { ResourceLevel = "Worklist", ResourceId = id, PatientId = NonEmpty(row.PatientId) });
        return row is null ? null : Entry(row);
    }

    /// <summary>A new item from a data set already validated (<see cref="WorklistDataSets.FromJson"/>); its ID.</summary>
    public async Task<string> CreateAsync(DicomDataset ds, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "create worklists");
        var now = time.GetUtcNow().UtcDateTime;
        var row = new WorklistItem { PublicId = Guid.NewGuid().ToString(), Created = now };
        Fill(row, WorklistDataSets.Validate(ds), now);
        await using var db = await contexts.CreateDbContextAsync(ct);
        db.WorklistItems.Add(row);
        await db.SaveChangesAsync(ct);
        Record(AuditActions.Modify, row, "worklist item created");
        return row.PublicId;
    }

    /// <summary>Replaces an item's data set (as the plugin's PUT); false when there is no such item.</summary>
    public async Task<bool> UpdateAsync(string id, DicomDataset ds, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "change worklists");
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.WorklistItems.FirstOrDefaultAsync(w => w.PublicId == id, ct);
        if (row is null) return false;
        Fill(row, WorklistDataSets.Validate(ds), time.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        Record(AuditActions.Modify, row, "worklist item changed");
        return true;
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, "delete worklists");
        await using var db = await contexts.CreateDbContextAsync(ct);
        var row = await db.WorklistItems.FirstOrDefaultAsync(w => w.PublicId == id, ct);
        if (row is null) return false;
        db.WorklistItems.Remove(row);
        await db.SaveChangesAsync(ct);
        Record(AuditActions.Delete, row, "worklist item deleted");
        return true;
    }

    /// <summary>
    /// Images of these studies arrived: their items (by accession number or Study Instance UID) are marked performed or
    /// removed, as OnArrival says. Called off the ingest path, by <see cref="WorklistArrivals"/>. The number changed.
    /// </summary>
    public async Task<int> OnArrivalAsync(IReadOnlyCollection<string> accessionNumbers, IReadOnlyCollection<string> studyUids, CancellationToken ct)
    {
        var action = options.CurrentValue.OnArrival;
        if (action == ArrivalAction.Keep || accessionNumbers.Count + studyUids.Count == 0) return 0;
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.WorklistItems
            .Where(w => w.Performed == null && (accessionNumbers.Contains(w.AccessionNumber) || studyUids.Contains(w.StudyInstanceUid)))
            .ToListAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        foreach (var row in rows)
        {
            if (action == ArrivalAction.Remove) db.WorklistItems.Remove(row);
            else row.Performed = now;
        }
        await db.SaveChangesAsync(ct);
        foreach (var row in rows)
            Record(action == ArrivalAction.Remove ? AuditActions.Delete : AuditActions.Modify, row, "worklist item performed: its images arrived");
        return rows.Count;
    }

    /// <summary>Whether any item waits for its images (when none does, arrivals need not be followed).</summary>
    public async Task<bool> AnyScheduledAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.WorklistItems.AnyAsync(w => w.Performed == null, ct);
    }

    /// <summary>
    /// What the worklist SCP offers: the items of the index not yet performed, then the files of Worklists:Folder, read
    /// now (files come and go while the server runs, as with wlmscpfs). An unreadable file is skipped and logged.
    /// </summary>
    public async IAsyncEnumerable<DicomDataset> ScheduledAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        List<string> rows;
        await using (var db = await contexts.CreateDbContextAsync(ct))
            rows = await db.WorklistItems.AsNoTracking().Where(w => w.Performed == null)
                .OrderBy(w => w.ScheduledDate).ThenBy(w => w.ScheduledTime).ThenBy(w => w.Id).Select(w => w.DataSet).ToListAsync(ct);
        foreach (var json in rows) yield return WorklistDataSets.FromDicomJson(json);
        var folder = options.CurrentValue.Folder;
        if (folder.Length == 0 || !Directory.Exists(folder)) yield break;
        foreach (var path in Directory.EnumerateFiles(folder, "*.wl").Order(StringComparer.Ordinal))
        {
            ct.ThrowIfCancellationRequested();
            DicomDataset? ds = null;
            try
            {
                var bytes = await File.ReadAllBytesAsync(path, ct);
                ds = DicomFile.Open(bytes).Dataset;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DicomReadException) { LogUnreadable(logger, path, ex.Message); }
            if (ds is not null) yield return ds;
        }
    }

    /// <summary>
    /// Patients of the archive whose name or ID starts with the text (case-insensitive), for scheduling a procedure
    /// for a patient already here: their name, ID, birth date and sex, at most 20.
    /// </summary>
    public async Task<IReadOnlyList<ArchivedPatient>> FindPatientsAsync(string text, CancellationToken ct)
    {
        Caller.Demand(Policies.View, "search patients");
        text = text.Trim().Replace("*", "", StringComparison.Ordinal).Replace("?", "", StringComparison.Ordinal);
        if (text.Length == 0) return [];
        var found = new List<string>();
        foreach (var tag in new[] { DicomTags.PatientName, DicomTags.PatientID })
            found.AddRange(await queries.FindAsync(new FindRequest(ResourceLevel.Patient, [new FindConstraint(tag, text + "*")], CaseSensitive: false, Limit: 20), ct));
        var ids = found.Distinct().Take(20).ToList();
        var tags = await queries.TagsWithAncestorsAsync(ids, ct);
        audit.Record(new AuditEvent(AuditActions.Query, AuditOutcome.Success) { ResourceLevel = "Patient", Details = $"worklist patient search: {ids.Count} match(es)" });
        return ids.Where(tags.ContainsKey).Select(id =>
        {
            var t = tags[id];
            return new ArchivedPatient(t.GetValueOrDefault(DicomTags.PatientName) ?? "", t.GetValueOrDefault(DicomTags.PatientID) ?? "",
                t.GetValueOrDefault(DicomTags.PatientBirthDate) ?? "", t.GetValueOrDefault(DicomTags.PatientSex) ?? "");
        }).OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    private static void Fill(WorklistItem row, DicomDataset ds, DateTime now)
    {
        string Top(DicomTag tag) => ds.GetString(tag)?.Trim() ?? "";
        row.DataSet = WorklistDataSets.ToDicomJson(ds);
        row.PatientId = Top(DicomTags.PatientID);
        row.PatientName = Top(DicomTags.PatientName);
        row.AccessionNumber = Top(DicomTags.AccessionNumber);
        row.StudyInstanceUid = Top(DicomTags.StudyInstanceUID);
        row.RequestedProcedureId = Top(DicomTags.RequestedProcedureID);
        row.Modality = WorklistDataSets.Step(ds, DicomTags.Modality).ToUpperInvariant();
        row.StationAet = WorklistDataSets.Step(ds, DicomTags.ScheduledStationAETitle);
        row.ScheduledDate = WorklistDataSets.Step(ds, DicomTags.ScheduledProcedureStepStartDate);
        row.ScheduledTime = WorklistDataSets.Step(ds, DicomTags.ScheduledProcedureStepStartTime);
        row.Updated = now;
    }

    private static WorklistEntry Entry(WorklistItem row) =>
        new(row.PublicId, WorklistDataSets.FromDicomJson(row.DataSet), row.Performed, row.Created, row.Updated);

    private void Record(string action, WorklistItem row, string details) =>
        audit.Record(new AuditEvent(action, AuditOutcome.Success)
        {
            ResourceLevel = "Worklist", ResourceId = row.PublicId, PatientId = NonEmpty(row.PatientId), StudyInstanceUid = NonEmpty(row.StudyInstanceUid), Details = details,
        });

    private static string? NonEmpty(string? v) => string.IsNullOrWhiteSpace(v) ? null : v.Trim();

    [LoggerMessage(LogLevel.Warning, "Worklist file {Path} skipped: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);
}
