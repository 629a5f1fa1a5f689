using System.Globalization;
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
        // Neither this server's rows nor tombstones leave the database (see JobLeases.Rows.cs): a list that read every
        // row grew with every job the archive ever ran.
        return [.. (await OtherJobsAsync(db, ct)).Select(r => r.Job)];
    }

    public async Task<JobRow?> FindAsync(string id, CancellationToken ct)
    {
        if (!membership.IsShared) return null;
        await using var db = await contexts.CreateDbContextAsync(ct);
        var name = Prefix + id;
        if (await db.GlobalProperties.AsNoTracking().Where(p => p.Name == name).Select(p => p.Value).FirstOrDefaultAsync(ct) is not { } value) return null;
        var (owner, job, _) = Read(value);
        return job is null || owner.Length == 0 || owner == Me ? null : new JobRow(job, owner);
    }

    public async Task<bool> RequestAsync(JobRow job, JobRequest request, CancellationToken ct)
    {
        // A finished job is taken over by nobody: if its owner is not running, no server would ever apply the request.
        // An unfinished one is the leader's once its owner has been gone for the grace, requests included.
        if (job.Job.IsFinished)
        {
            try
            {
                if (!(await membership.OthersRunningAsync([job.Owner], ct)).Contains(job.Owner)) return false;
            }
            catch (InvalidOperationException) when (!membership.HasSession) { return false; }
        }
        await using var db = await contexts.CreateDbContextAsync(ct);
        var name = RequestPrefix + job.Job.Id;
        var value = new JsonObject
        {
            ["Operation"] = request.Operation,
            ["User"] = request.User,
            ["Address"] = request.Address,
            ["Server"] = Me,
            ["At"] = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            ["Nonce"] = Guid.NewGuid().ToString("N"),
        }.ToJsonString();
        // The latest request wins (as the latest call would on the owner's own REST).
        if (await db.GlobalProperties.Where(p => p.Name == name).ExecuteUpdateAsync(u => u.SetProperty(p => p.Value, value), ct) == 1) return true;
        db.GlobalProperties.Add(new GlobalProperty { Name = name, Value = value });
        try { await db.SaveChangesAsync(ct); }
        catch (DbUpdateException ex) when (IndexDatabase.IsConcurrencyConflict(ex))
        {
            // Another server's request came in between: this one replaces it.
            await db.GlobalProperties.Where(p => p.Name == name).ExecuteUpdateAsync(u => u.SetProperty(p => p.Value, value), ct);
        }
        return true;
    }

    /// <summary>
    /// Applies the requests other servers left for this server's jobs, as its own REST would (the requesting server
    /// checked who may). A request is for the server its job's row names, and only while its engine owns the job:
    /// not while a run of it released to another server is still stopping here (a stop applied to that run would be
    /// lost). Each is claimed (deleted, if still the value read) before it is applied, so that it is applied once at
    /// most, by one server, even if a delete fails or two servers see it. Requests no server will ever apply go too:
    /// for a job that left its owner's history (its row without a job, or no row once pruned: JobLeases.Rows.cs), or
    /// that its owner no longer has.
    /// </summary>
    private async Task ApplyRequestsAsync(JobEngine engine, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var requests = await db.GlobalProperties.AsNoTracking().Where(p => p.Name.StartsWith(RequestPrefix)).ToListAsync(ct);
        if (requests.Count == 0) return;
        var jobs = (await JobRowsAsync(db, requests.Select(r => r.Name[RequestPrefix.Length..]), ct))
            .ToDictionary(p => p.Key, p => Read(p.Value), StringComparer.Ordinal);
        // The leader also drops requests for finished jobs of servers that are not running (nobody takes those over).
        var finishedElsewhere = jobs.Values.Where(j => j.Owner.Length > 0 && j.Owner != Me && j.Job is { IsFinished: true }).Select(j => j.Owner).ToHashSet(StringComparer.Ordinal);
        var running = membership.IsLeader && finishedElsewhere.Count > 0 ? await membership.OthersRunningAsync(finishedElsewhere, ct) : finishedElsewhere;
        foreach (var row in requests)
        {
            var id = row.Name[RequestPrefix.Length..];
            var known = jobs.TryGetValue(id, out var job);
            var mine = known && job.Owner == Me;
            var dead = !known || job.Job is null || (mine && engine.Get(id) is null)
                || (job.Job.IsFinished && !mine && !running.Contains(job.Owner));
            if (!dead && !(mine && engine.Owns(id))) continue; // another server's to apply (or this one's, once its run here has stopped)
            if (!await DeleteIfAsync(db, row.Name, row.Value, ct)) continue;
            var request = ParseRequest(row.Value);
            if (dead)
            {
                LogRequestDropped(logger, request.Operation, id, request.Server ?? "?");
                continue;
            }
            try { Apply(engine, id, request); }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                LogRequestFailed(logger, request.Operation, id, ex.Message);
            }
        }
    }

    private void Apply(JobEngine engine, string id, JobRequest request)
    {
        // Under the requesting user's name and address: what the owner's engine records (a JobCanceled) is theirs.
        using var actor = AuditActor.Enter(new AuditActor(request.User, request.Address, AuditSources.Rest));
        var done = request.Operation switch
        {
            JobOperations.Cancel => engine.Cancel(id),
            JobOperations.Pause => engine.Pause(id),
            JobOperations.Resume => engine.Resume(id),
            JobOperations.Resubmit => engine.Resubmit(id),
            _ => false,
        };
        var at = request.At?.ToString("O", CultureInfo.InvariantCulture) ?? "?";
        audit.Record(new AuditEvent(AuditActions.JobRequest, done ? AuditOutcome.Success : AuditOutcome.MinorFailure)
        {
            ResourceLevel = "Job",
            ResourceId = id,
            Details = $"{request.Operation} asked through server {request.Server ?? "?"} at {at}: " +
                (done ? "applied" : $"not applied, the job being {engine.Get(id)?.State.ToString() ?? "gone"}"),
        });
        LogRequestApplied(logger, request.Operation, id, request.User ?? "the server", request.Server ?? "?", done);
    }

    private static JobRequest ParseRequest(string value)
    {
        try
        {
            var node = JsonNode.Parse(value);
            string? Text(string key) => node?[key]?.GetValue<string>();
            return new JobRequest(Text("Operation") ?? "?", Text("User"), Text("Address"), Text("Server"),
                DateTimeOffset.TryParse(Text("At"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) ? at : null);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException) { return new JobRequest("?", null, null, null, null); }
    }

    [LoggerMessage(LogLevel.Information, "Applied a request from server {Server} to {Operation} job {Id} (for {User}): {Done}")]
    private static partial void LogRequestApplied(ILogger logger, string operation, string id, string user, string server, bool done);

    [LoggerMessage(LogLevel.Warning, "A request from server {Server} to {Operation} job {Id} was dropped: the job left its history, or its owner no longer has it")]
    private static partial void LogRequestDropped(ILogger logger, string operation, string id, string server);

    [LoggerMessage(LogLevel.Warning, "A request to {Operation} job {Id} failed: {Reason}")]
    private static partial void LogRequestFailed(ILogger logger, string operation, string id, string reason);
}
