using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Audit;
using OrthancWeb.Index;

namespace OrthancWeb.Jobs;

/// <summary>Every server's view of the other servers' jobs, and the requests it leaves their owners (see <see cref="JobsView"/>).</summary>
public sealed partial class SharedJobLeases
{
    public async Task<IReadOnlyList<Job>> OthersAsync(CancellationToken ct)
    {
        if (!membership.IsShared) return [];
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.GlobalProperties.AsNoTracking().Where(p => p.Name.StartsWith(Prefix)).Select(p => p.Value).ToListAsync(ct);
        return rows.Select(Read).Where(r => r.Owner != Me && r.Job is not null).Select(r => r.Job!).ToList();
    }

    public async Task<Job?> FindAsync(string id, CancellationToken ct)
    {
        if (!membership.IsShared) return null;
        await using var db = await contexts.CreateDbContextAsync(ct);
        var name = Prefix + id;
        return await db.GlobalProperties.AsNoTracking().Where(p => p.Name == name).Select(p => p.Value).FirstOrDefaultAsync(ct) is { } value
            ? Read(value).Job
            : null;
    }

    public async Task RequestAsync(string id, string operation, string? user, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var name = RequestPrefix + id;
        var value = new JsonObject { ["Operation"] = operation, ["User"] = user }.ToJsonString();
        // The latest request wins (as the latest call would on the owner's own REST).
        if (await db.GlobalProperties.Where(p => p.Name == name).ExecuteUpdateAsync(u => u.SetProperty(p => p.Value, value), ct) == 1) return;
        db.GlobalProperties.Add(new GlobalProperty { Name = name, Value = value });
        try { await db.SaveChangesAsync(ct); }
        catch (DbUpdateException ex) when (IndexDatabase.IsConcurrencyConflict(ex))
        {
            // Another server's request came in between: this one replaces it.
            await db.GlobalProperties.Where(p => p.Name == name).ExecuteUpdateAsync(u => u.SetProperty(p => p.Value, value), ct);
        }
    }

    /// <summary>
    /// Applies the requests other servers left for this server's jobs, as its own REST would (the requesting server
    /// checked who may), and removes each once applied; a request newer than the one read stays for the next pass.
    /// Requests for jobs of other servers are theirs (or their adopter's) to apply.
    /// </summary>
    private async Task ApplyRequestsAsync(JobEngine engine, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.GlobalProperties.AsNoTracking().Where(p => p.Name.StartsWith(RequestPrefix)).ToListAsync(ct);
        foreach (var row in rows)
        {
            var id = row.Name[RequestPrefix.Length..];
            if (engine.Get(id) is null) continue;
            string? operation = null, user = null;
            try
            {
                var node = JsonNode.Parse(row.Value);
                (operation, user) = (node?["Operation"]?.GetValue<string>(), node?["User"]?.GetValue<string>());
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException) { }
            using (AuditActor.Enter(new AuditActor(user, null, AuditSources.Rest)))
            {
                var done = operation switch
                {
                    JobOperations.Cancel => engine.Cancel(id),
                    JobOperations.Pause => engine.Pause(id),
                    JobOperations.Resume => engine.Resume(id),
                    JobOperations.Resubmit => engine.Resubmit(id),
                    _ => false,
                };
                LogRequestApplied(logger, operation ?? "?", id, user ?? "the server", done);
            }
            await db.GlobalProperties.Where(p => p.Name == row.Name && p.Value == row.Value).ExecuteDeleteAsync(ct);
        }
    }

    [LoggerMessage(LogLevel.Information, "Applied a request from another server to {Operation} job {Id} (for {User}): {Done}")]
    private static partial void LogRequestApplied(ILogger logger, string operation, string id, string user, bool done);
}
