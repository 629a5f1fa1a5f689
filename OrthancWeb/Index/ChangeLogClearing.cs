using System.Globalization;
using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Index;

/// <summary>
/// Something inside the server that reads the change log in order (auto-routing, Lua callbacks): its place in the
/// log, or null while it follows nothing (then it has nothing to lose).
/// </summary>
public interface IChangeLogFollower
{
    long? Position { get; }
}

/// <summary>Where the followers of the change log keep their places (a global property each).</summary>
public static class ChangeLogPlaces
{
    /// <summary>
    /// Where a follower starts: its saved place, else the log's end, saved at once, because DELETE /changes on another
    /// server sharing the index reads the saved places and would otherwise take what this one has yet to read.
    /// </summary>
    public static async Task<long> SavedOrEndAsync(this GlobalPropertyStore<long> places, string key, IndexQueries queries, CancellationToken ct)
    {
        if (places.All.TryGetValue(key, out var saved)) return saved;
        var end = (await queries.LastChangeAsync(ct))?.Seq ?? 0;
        await places.SaveAsync(key, end, ct);
        return end;
    }
}

/// <summary>
/// DELETE /changes: Orthanc empties its change log (the numbering goes on; "Last" keeps the highest number). Ours is
/// also read by the server itself, so only what every reader has passed is deleted: the changes past an internal
/// follower's place (a routing rule or a Lua callback not yet run) and the NewInstance changes past the durability
/// watermark (their files are checked after a power cut, see <see cref="StorageReconciliation"/>) stay, and
/// disappear at a later DELETE. With every follower caught up, the log is as empty as Orthanc's. Servers sharing an
/// index follow the log on its leader and keep their places and watermarks in the database: there, the lowest of
/// those saved places and watermarks counts too, whichever server is asked.
/// </summary>
public sealed class ChangeLogClearing(IDbContextFactory<IndexDbContext> contexts, DurabilityWatermark durable, ClusterMembership membership,
    IEnumerable<IChangeLogFollower> followers)
{
    /// <summary>The global property that keeps the highest number deleted, so that "Last" never goes back.</summary>
    internal const string ClearedProperty = "ChangesClearedUpTo";

    /// <summary>The name under which each follower keeps its place ("Routing:LastChange", "Lua:LastChange").</summary>
    internal const string FollowerPlace = "LastChange";

    public async Task ClearAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var last = await db.Changes.MaxAsync(c => (long?)c.Seq, ct) ?? 0;
        var floor = followers.Select(f => f.Position).OfType<long>().Aggregate(last, Math.Min);
        var durableUpTo = durable.Value;
        if (membership.IsShared)
        {
            var saved = await db.GlobalProperties.Where(p => p.Name.StartsWith(DurabilityWatermark.PropertyName + ":") || p.Name.EndsWith(":" + FollowerPlace))
                .Select(p => new { p.Name, p.Value }).ToListAsync(ct);
            foreach (var p in saved)
            {
                if (p.Name.EndsWith(":" + FollowerPlace, StringComparison.Ordinal)) floor = Math.Min(floor, Parse(p.Value));
                else durableUpTo = Math.Min(durableUpTo, Parse(p.Value));
            }
        }
        var deletedUpTo = await db.Changes.Where(c => c.Seq <= floor && (c.Seq <= durableUpTo || c.ChangeType != "NewInstance"))
            .MaxAsync(c => (long?)c.Seq, ct);
        if (deletedUpTo is not { } upTo) return;
        await db.Changes.Where(c => c.Seq <= floor && (c.Seq <= durableUpTo || c.ChangeType != "NewInstance")).ExecuteDeleteAsync(ct);
        var property = await db.GlobalProperties.FirstOrDefaultAsync(p => p.Name == ClearedProperty, ct);
        if (property is null) db.GlobalProperties.Add(property = new GlobalProperty { Name = ClearedProperty });
        property.Value = Math.Max(upTo, Parse(property.Value)).ToString(CultureInfo.InvariantCulture);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
    }

    internal static long Parse(string? value) => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seq) ? seq : 0;
}
