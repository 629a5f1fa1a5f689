using Microsoft.EntityFrameworkCore;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Security;

namespace OrthancWeb.Annotations;

/// <summary>Orthanc 1.12's label syntax: 1 to 64 letters, digits, '_' or '-' (ServerToolbox::IsValidLabel).</summary>
public static class LabelName
{
    public const int MaximumLength = 64;

    public static bool IsValid(string? label) =>
        !string.IsNullOrEmpty(label) && label.Length <= MaximumLength && label.All(c => c is '_' or '-' || char.IsAsciiLetterOrDigit(c));

    /// <summary>Orthanc's reason for refusing a label (HTTP 400, ParameterOutOfRange).</summary>
    public static string Reason(string label) =>
        $"A label must be a non-empty, alphanumeric string, possibly with '_' or '-' characters, with maximum {MaximumLength} characters, but got: {label}";
}

/// <summary>A label refused for its syntax.</summary>
public sealed class InvalidLabelException(string label) : ArgumentException(LabelName.Reason(label));

/// <summary>
/// Labels on patients, studies, series and instances (Orthanc 1.12): the REST routes and the explorer's chips, filter
/// and bulk labelling all come here. Labels go with their resource (a cascade of the index).
/// </summary>
public sealed class LabelService(IDbContextFactory<IndexDbContext> contexts, IndexTransactions transactions, IndexQueries queries, IAuditTrail audit)
{
    /// <summary>The labels of a resource, sorted; null when the resource does not exist.</summary>
    public async Task<IReadOnlyList<string>?> ListAsync(string publicId, ResourceLevel level, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var id = await db.Resources.Where(x => x.PublicId == publicId && x.Level == level).Select(x => (long?)x.Id).FirstOrDefaultAsync(ct);
        if (id is null) return null;
        return (await db.Labels.Where(l => l.ResourceId == id).Select(l => l.Label).ToListAsync(ct)).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The labels of many resources of one level at once (a page of the explorer): public ID to its sorted labels.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> OfAsync(IReadOnlyCollection<string> publicIds, CancellationToken ct)
    {
        if (publicIds.Count == 0) return new Dictionary<string, IReadOnlyList<string>>();
        var ids = publicIds.ToList();
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Labels.Where(l => db.Resources.Any(r => r.Id == l.ResourceId && ids.Contains(r.PublicId)))
            .Select(l => new { PublicId = db.Resources.Where(r => r.Id == l.ResourceId).Select(r => r.PublicId).First(), l.Label }).ToListAsync(ct);
        return rows.GroupBy(r => r.PublicId).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(r => r.Label).Order(StringComparer.Ordinal).ToList());
    }

    /// <summary>Every label in use (Orthanc's /tools/labels), sorted.</summary>
    public async Task<IReadOnlyList<string>> AllAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return (await db.Labels.Select(l => l.Label).Distinct().ToListAsync(ct)).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Adds a label to a resource (nothing changes if it has it already); false when the resource does not exist.</summary>
    public async Task<bool> AddAsync(string publicId, ResourceLevel level, string label, CancellationToken ct) =>
        await ChangeAsync([publicId], level, label, add: true, ct) > 0;

    public async Task<bool> RemoveAsync(string publicId, ResourceLevel level, string label, CancellationToken ct) =>
        await ChangeAsync([publicId], level, label, add: false, ct) > 0;

    /// <summary>Adds or removes a label on many resources of one level in one transaction (the explorer's bulk labelling); returns how many exist.</summary>
    public async Task<int> ChangeAsync(IReadOnlyCollection<string> publicIds, ResourceLevel level, string label, bool add, CancellationToken ct)
    {
        Caller.Demand(Policies.Modify, add ? "label resources" : "remove labels");
        if (!LabelName.IsValid(label)) throw new InvalidLabelException(label);
        var ids = publicIds.Distinct().ToList();
        var changed = new List<(string PublicId, string? PatientId, string? StudyUid)>();
        var found = await transactions.ReadWriteAsync(async (tx, ct) =>
        {
            var db = tx.Db;
            var resources = await db.Resources.Where(r => ids.Contains(r.PublicId) && r.Level == level).ToListAsync(ct);
            var rowIds = resources.Select(r => r.Id).ToList();
            var having = (await db.Labels.Where(l => rowIds.Contains(l.ResourceId) && l.Label == label).Select(l => l.ResourceId).ToListAsync(ct)).ToHashSet();
            foreach (var r in resources)
            {
                if (having.Contains(r.Id) == add) continue;
                if (add) db.Labels.Add(new ResourceLabel { ResourceId = r.Id, Label = label });
                else db.Labels.Remove(new ResourceLabel { ResourceId = r.Id, Label = label });
                var (patientId, studyUid) = await ResourceDeletion.IdentifiersAsync(db, r, ct);
                changed.Add((r.PublicId, patientId, studyUid));
            }
            return resources.Count;
        }, ct);
        if (changed.Count > 0) queries.LabelsChanged();
        foreach (var (publicId, patientId, studyUid) in changed)
            audit.Record(new AuditEvent(AuditActions.Modify, AuditOutcome.Success)
            {
                PatientId = patientId, StudyInstanceUid = studyUid, ResourceLevel = level.ToString(), ResourceId = publicId,
                Details = $"label {label} {(add ? "added" : "removed")}",
            });
        return found;
    }
}
