using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>
/// The index's totals for /statistics: resources of each level and the attachments' sizes, kept in the
/// "IndexCounters" table (on PostgreSQL a view summing "IndexCounterSlots", see the CounterSlots migration) by triggers
/// the StatisticsCounters migrations create (one per provider), so that reading
/// them costs the same at a million instances as at ten, and they stay exact whichever server writes. Not in the EF
/// model: no code writes them.
/// </summary>
public static class IndexCounters
{
    private sealed class Row
    {
        public string Name { get; set; } = "";
        public long Value { get; set; }
    }

    public static async Task<Statistics> ReadAsync(IndexDbContext db, CancellationToken ct)
    {
        var rows = await db.Database.SqlQueryRaw<Row>("""SELECT "Name", "Value" FROM "IndexCounters" """).ToListAsync(ct);
        long Get(string name) => rows.FirstOrDefault(r => r.Name == name)?.Value ?? 0;
        return new Statistics(Get("Resources0"), Get("Resources1"), Get("Resources2"), Get("Resources3"), Get("CompressedSize"), Get("UncompressedSize"));
    }
}
