using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Index;

namespace OrthancWeb.Jobs;

/// <summary>A job's row in the shared index: its owner, its job (null once it left the owner's history) and the
/// servers it was taken from that may still have a copy of it (null for a row of an earlier version, which did not say).</summary>
internal readonly record struct JobRowValue(string Owner, Job? Job, IReadOnlyList<string>? Was);

/// <summary>
/// The rows' format, and their pruning. "Job:{id}" = {"Owner", "Job", "Was"}: the job's owner, its latest state, and
/// the servers it was taken from (by the leader, see AdoptAsync) that have not yet said they no longer have it. A
/// row with a null "Job" (a tombstone) is kept, once the job left its owner's history, only while "Was" names a
/// server: such a server, back, must find the row naming another owner to forget its copy instead of running it again
/// (ForgetTakenOver). So:
/// - its owner deletes the row of a job leaving its history when "Was" is empty (the job was never anywhere else, or
///   every server it was taken from said it has nothing of it): no server has a copy to revive, and a request left for
///   the job is dropped like one for a tombstone (no row: ApplyRequestsAsync drops it, claimed, once);
/// - a server taken over removes itself from "Was" once nothing of the job is left on it (<see cref="JobEngine.Holds"/>:
///   no job, no stopping run, no file), and deletes the row if that leaves a tombstone waiting for nobody; it looks for
///   such rows at its start and each time its session is back (<see cref="FormerAsync"/>), and a state of the job it
///   queued before it released it, written late, creates no row again (WriteAsync inserts only for a job its engine owns);
/// - the leader deletes the rows of finished jobs whose owner has been gone for <see cref="AbsenceBeforeTakeover"/>,
///   when "Was" is empty, under the owner's lock as for a takeover (it cannot come back in between): a finished job is
///   taken over by nobody and never runs again, and its owner, if it comes back, writes the rows of the jobs still in
///   its history again (at its start, or as its session is back).
/// Rows of earlier versions have no "Was": whether a job was taken over is unknown, so their tombstones stay (as
/// before) and are no longer read (see below); their jobs' rows get "Was" only when a version writing it creates them.
/// Tombstones are written with "Job" last, and live rows never end so: <see cref="TombstoneEnd"/> is how SQL tells
/// them apart (an earlier version's tombstones end so too), and <see cref="OwnPrefix"/> a row of this server's
/// (the owner comes first in every version's rows), so that a list of the other servers' jobs reads neither. The
/// shared index is PostgreSQL only (SQLite's index has one server: none of this runs there), but the queries are
/// plain LIKEs, on both providers.
/// </summary>
public sealed partial class SharedJobLeases
{
    /// <summary>How every tombstone's value ends (an earlier version's {"Owner","Job":null} as this one's).</summary>
    private const string TombstoneEnd = "\"Job\":null}";

    /// <summary>This server's name as JSON writes it in a row (the default encoder escapes some characters).</summary>
    private string Quoted => field ??= JsonValue.Create(Me).ToJsonString();

    /// <summary>How every row naming this server as the owner begins.</summary>
    private string OwnPrefix => field ??= "{\"Owner\":" + Quoted + ",";

    /// <summary>Jobs released to the server that took them over, for which this server still has to say so (AcknowledgeAsync).</summary>
    private readonly ConcurrentDictionary<string, byte> _forgotten = new(StringComparer.Ordinal);

    /// <summary>A row's value: the owner first (see <see cref="OwnPrefix"/>), and a tombstone's "Job" last (see <see cref="TombstoneEnd"/>).</summary>
    private static string Value(string owner, JsonNode? job, IReadOnlyCollection<string>? was)
    {
        var row = new JsonObject { ["Owner"] = owner };
        if (job is not null) row["Job"] = job;
        if (was is not null) row["Was"] = new JsonArray([.. was.Select(w => (JsonNode?)JsonValue.Create(w))]);
        if (job is null) row["Job"] = null;
        return row.ToJsonString();
    }

    /// <summary>A row's owner, job (null once the job left a history, or when the row cannot be read) and "Was".</summary>
    private static JobRowValue Read(string value)
    {
        try
        {
            var node = JsonNode.Parse(value);
            var job = node?["Job"] is JsonObject o ? JobEngine.Parse(o) : null;
            var was = node?["Was"] is JsonArray a ? a.Select(w => w?.GetValue<string>() ?? "").ToList() : null;
            return new(node?["Owner"]?.GetValue<string>() ?? "", job, was);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException) { return new("", null, null); }
    }

    /// <summary>A row rewritten for another owner and "Was", its job kept as it is (not read into a Job and written out again).</summary>
    private static string Rewritten(string value, string owner, IReadOnlyCollection<string>? was) =>
        Value(owner, JsonNode.Parse(value)?["Job"]?.DeepClone(), was);

    /// <summary>
    /// Deletes a row only if its value is still the one read (a compare-and-swap: every change of a row in the shared
    /// index is of the row read, so that a takeover, an owner's write or a former owner's word in between wins).
    /// </summary>
    private static async Task<bool> DeleteIfAsync(IndexDbContext db, string name, string value, CancellationToken ct) =>
        await db.GlobalProperties.Where(p => p.Name == name && p.Value == value).ExecuteDeleteAsync(ct) == 1;

    /// <summary>Replaces a row's value only if it is still the one read (see <see cref="DeleteIfAsync"/>).</summary>
    private static async Task<bool> ReplaceIfAsync(IndexDbContext db, string name, string value, string replacement, CancellationToken ct) =>
        await db.GlobalProperties.Where(p => p.Name == name && p.Value == value)
            .ExecuteUpdateAsync(u => u.SetProperty(p => p.Value, replacement), ct) == 1;

    /// <summary>The rows of the given jobs that exist, by job id.</summary>
    private static async Task<Dictionary<string, string>> JobRowsAsync(IndexDbContext db, IEnumerable<string> ids, CancellationToken ct)
    {
        var names = ids.Select(id => Prefix + id).ToList();
        return await db.GlobalProperties.AsNoTracking().Where(p => names.Contains(p.Name))
            .ToDictionaryAsync(p => p.Name[Prefix.Length..], p => p.Value, StringComparer.Ordinal, ct);
    }

    /// <summary>The rows of the other servers' jobs, tombstones left out by the database rather than read and dropped here.</summary>
    internal IQueryable<GlobalProperty> OtherJobRows(IndexDbContext db)
    {
        var own = OwnPrefix;
        // StartsWith/EndsWith of a parameter: LIKE with its wildcards escaped, on both providers.
        return db.GlobalProperties.AsNoTracking()
            .Where(p => p.Name.StartsWith(Prefix) && !p.Value.StartsWith(own) && !p.Value.EndsWith(TombstoneEnd));
    }

    /// <summary>
    /// The other servers' jobs, read from <see cref="OtherJobRows"/>: the rows that name another owner and hold a job
    /// (the SQL leaves out this server's rows and tombstones; an unreadable row, owner and job unknown, is left out here).
    /// </summary>
    private async Task<List<(string Name, string Value, string Owner, Job Job, IReadOnlyList<string>? Was)>> OtherJobsAsync(IndexDbContext db, CancellationToken ct)
    {
        var rows = await OtherJobRows(db).ToListAsync(ct);
        return [.. rows.Select(r => (r.Name, r.Value, Read: Read(r.Value)))
            .Where(x => x.Read.Owner.Length > 0 && x.Read.Owner != Me && x.Read.Job is not null)
            .Select(x => (x.Name, x.Value, x.Read.Owner, x.Read.Job!, x.Read.Was))];
    }

    /// <summary>
    /// Deletes the row of a finished job of a server gone for the grace (the leader, see the summary above): under its
    /// lock, so that it cannot come back and find its row gone between its start-up write and this; only the row read.
    /// </summary>
    private Task<bool> PruneAsync(IndexDbContext db, string owner, string name, string value, CancellationToken ct) =>
        membership.WhileHoldingAsync(new Hosting.ServerIdentity(owner).LockKey, () => DeleteIfAsync(db, name, value, ct), ct);

    /// <summary>
    /// Queues for <see cref="AcknowledgeAsync"/> the jobs whose rows still name this server among those they were taken
    /// from (at the start and at each rejoin).
    /// </summary>
    private async Task FormerAsync(CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var quoted = Quoted;
        var own = OwnPrefix;
        // The LIKE narrows to rows mentioning this server (a job's content could, too); the parse decides.
        var rows = await db.GlobalProperties.AsNoTracking()
            .Where(p => p.Name.StartsWith(Prefix) && !p.Value.StartsWith(own) && p.Value.Contains(quoted)).ToListAsync(ct);
        foreach (var row in rows.Where(r => Read(r.Value).Was?.Contains(Me) == true)) _forgotten.TryAdd(row.Name[Prefix.Length..], 0);
    }

    /// <summary>
    /// Says, in the rows of jobs taken from this server, that it no longer has them, once nothing of them is left here
    /// (<see cref="JobEngine.Holds"/>): until then a restart would load the job again, and only the row naming another
    /// owner makes it forget it. A tombstone that waited for this server alone goes with it. Each change is of the row
    /// read only (its owner's writes and the leader's takeovers compare too); one that lost is tried again next pass.
    /// </summary>
    private async Task AcknowledgeAsync(JobEngine engine, CancellationToken ct)
    {
        var ids = _forgotten.Keys.Where(id => !engine.Holds(id)).ToList();
        if (ids.Count == 0) return;
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await JobRowsAsync(db, ids, ct);
        foreach (var id in ids)
        {
            // Gone, back here (taken back: this server is its owner, not a former one), or never waiting for this one.
            if (!rows.TryGetValue(id, out var value) || Read(value) is not { Owner: var owner, Was: { } was } read || owner == Me || !was.Contains(Me))
            {
                _forgotten.TryRemove(id, out _);
                continue;
            }
            var rest = was.Where(w => w != Me).ToList();
            var done = read.Job is null && rest.Count == 0
                ? await DeleteIfAsync(db, Prefix + id, value, ct)
                : await ReplaceIfAsync(db, Prefix + id, value, Rewritten(value, owner, rest), ct);
            if (done) _forgotten.TryRemove(id, out _);
        }
    }
}
