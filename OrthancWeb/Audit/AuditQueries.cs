using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Audit;

/// <summary>What the browse page and REST filter on; every field optional. User and patient match exactly.</summary>
public sealed record AuditFilter
{
    public string? User { get; init; }
    public string? PatientId { get; init; }
    public string? Action { get; init; }
    public AuditOutcome? Outcome { get; init; }
    /// <summary>Inclusive lower bound (UTC).</summary>
    public DateTimeOffset? Since { get; init; }
    /// <summary>Exclusive upper bound (UTC).</summary>
    public DateTimeOffset? Until { get; init; }
}

/// <summary>One page of entries, newest first, and how many match in all.</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, int Total);

/// <summary>Reading the trail: filtered pages (in the database), single entries, and the walk that verifies the chain.</summary>
public sealed class AuditQueries(IDbContextFactory<AuditDbContext> contexts, AuditWriter writer)
{
    public const int MaximumPageSize = 1000;

    public async Task<AuditPage> PageAsync(AuditFilter filter, int offset, int limit, CancellationToken ct = default)
    {
        limit = Math.Clamp(limit, 1, MaximumPageSize);
        offset = Math.Max(0, offset);
        // What happened before this read is on the page: the writer's lingering batch is written first.
        await writer.FlushAsync(ct);
        await using var db = await contexts.CreateDbContextAsync(ct);
        var query = Apply(db.Entries.AsNoTracking(), filter);
        var total = await query.CountAsync(ct);
        var entries = await query.OrderByDescending(e => e.Id).Skip(offset).Take(limit).ToListAsync(ct);
        return new AuditPage(entries, total);
    }

    /// <summary>Entries in chain order (oldest first), for an export of a range.</summary>
    public async Task<IReadOnlyList<AuditEntry>> RangeAsync(AuditFilter filter, int offset, int limit, CancellationToken ct = default)
    {
        limit = Math.Clamp(limit, 1, MaximumPageSize * 10);
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await Apply(db.Entries.AsNoTracking(), filter).OrderBy(e => e.Id).Skip(Math.Max(0, offset)).Take(limit).ToListAsync(ct);
    }

    public async Task<AuditEntry?> GetAsync(long id, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Entries.AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, ct);
    }

    /// <summary>The actions present, for the page's filter.</summary>
    public async Task<IReadOnlyList<string>> ActionsAsync(CancellationToken ct = default)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await db.Entries.AsNoTracking().Select(e => e.Action).Distinct().OrderBy(a => a).ToListAsync(ct);
    }

    private static IQueryable<AuditEntry> Apply(IQueryable<AuditEntry> q, AuditFilter f)
    {
        if (!string.IsNullOrEmpty(f.User)) q = q.Where(e => e.User == f.User);
        if (!string.IsNullOrEmpty(f.PatientId)) q = q.Where(e => e.PatientId == f.PatientId);
        if (!string.IsNullOrEmpty(f.Action)) q = q.Where(e => e.Action == f.Action);
        if (f.Outcome is { } outcome) q = q.Where(e => e.Outcome == outcome);
        if (f.Since is { } since)
        {
            var s = AuditChain.Normalize(since);
            q = q.Where(e => e.Time >= s);
        }
        if (f.Until is { } until)
        {
            var u = AuditChain.Normalize(until);
            q = q.Where(e => e.Time < u);
        }
        return q;
    }

    /// <summary>
    /// Walks the whole chain in sequence order, from the anchor left by pruning (or from the start), in one read
    /// transaction (a consistent snapshot while the writer goes on), and reports the first broken link: an entry
    /// changed, removed or moved, an anchor no pruning entry vouches for, or a tail shorter than what this server wrote.
    /// </summary>
    public async Task<AuditVerification> VerifyAsync(CancellationToken ct = default)
    {
        await writer.FlushAsync(ct);
        var head = writer.Head;
        await using var db = await contexts.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var anchor = await db.Anchors.AsNoTracking().OrderBy(a => a.Id).FirstOrDefaultAsync(ct);
        var (previousId, previousHash) = anchor is null ? (0L, AuditChain.Genesis) : (anchor.LastPrunedId, anchor.LastPrunedHash);
        var firstId = previousId + 1;
        long checkedCount = 0;
        const int Chunk = 5000;
        while (true)
        {
            var after = previousId;
            var chunk = await db.Entries.AsNoTracking().Where(e => e.Id > after).OrderBy(e => e.Id).Take(Chunk).ToListAsync(ct);
            foreach (var e in chunk)
            {
                if (AuditChain.Check(e, previousId, previousHash) is { } problem)
                    return new AuditVerification(false, checkedCount, firstId, previousId, e.Id, problem);
                (previousId, previousHash) = (e.Id, e.Hash);
                checkedCount++;
            }
            if (chunk.Count < Chunk) break;
        }
        if (anchor is not null)
        {
            // An anchor is only as good as the pruning that wrote it: the latest pruning entry names it.
            var token = AuditWriter.AnchorToken(anchor.LastPrunedId, anchor.LastPrunedHash);
            var pruning = await db.Entries.AsNoTracking().Where(e => e.Action == AuditActions.AuditPruned && e.Id > anchor.LastPrunedId)
                .OrderByDescending(e => e.Id).Select(e => e.Details).FirstOrDefaultAsync(ct);
            if (pruning is null || !pruning.Contains(token, StringComparison.Ordinal))
                return new AuditVerification(false, checkedCount, firstId, previousId, anchor.LastPrunedId + 1,
                    $"the chain starts after entry {anchor.LastPrunedId}, but no pruning entry records that anchor");
        }
        if (previousId < head.Id)
            return new AuditVerification(false, checkedCount, firstId, previousId, previousId + 1,
                $"the trail ends at entry {previousId}, but this server wrote up to entry {head.Id}");
        return new AuditVerification(true, checkedCount, firstId, previousId, null, null);
    }
}
