using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using OrthancWeb.Index;

namespace OrthancWeb.Jobs;

/// <summary>Where the jobs engine learns which of its jobs are its own when several servers share an index.</summary>
public interface IJobLeases
{
    /// <summary>Called once before the engine's workers start; keeps following its jobs until the server stops.</summary>
    Task StartAsync(JobEngine engine, CancellationToken stoppingToken);

    /// <summary>
    /// Null while the engine's workers may start jobs; else a task that completes once they may again (this server's
    /// index session is lost, or back but the jobs taken over meanwhile not forgotten yet).
    /// </summary>
    Task? Hold { get; }

    /// <summary>Whether other servers' jobs are in the index (false on SQLite: the calls below are never needed there).</summary>
    bool IsShared { get; }

    /// <summary>The other servers' jobs, as their owners last recorded them in the index.</summary>
    Task<IReadOnlyList<Job>> OthersAsync(CancellationToken ct);

    /// <summary>
    /// One job of another server's as recorded in the index, with that server, or null. Null too for a row naming this
    /// server: its engine answers for its own jobs, and one it no longer has was deleted or trimmed here (the row's
    /// update may still be queued).
    /// </summary>
    Task<JobRow?> FindAsync(string id, CancellationToken ct);

    /// <summary>
    /// Asks the server that owns a job to cancel, pause, resume or resubmit it (<see cref="JobOperations"/>): it applies the
    /// request at its next pass (within <see cref="SharedJobLeases.AdoptionPeriod"/>), as its own REST would. False,
    /// leaving nothing, when no server would ever apply it: a finished job whose owner is not running (the leader takes
    /// over unfinished jobs only), or this server cannot tell now (its index session is lost).
    /// </summary>
    Task<bool> RequestAsync(JobRow job, JobRequest request, CancellationToken ct);
}

/// <summary>A job as its row in the shared index records it, and the server that owns it.</summary>
public sealed record JobRow(Job Job, string Owner);

/// <summary>
/// What a server asks of another's job, and who asked: the user (as the requesting server's accounts name them), the
/// client's address, the requesting server and when. The owner's audit trail records it all with what it did.
/// </summary>
public sealed record JobRequest(string Operation, string? User, string? Address, string? Server, DateTimeOffset? At);

/// <summary>What one server may ask of another's job through the index.</summary>
public static class JobOperations
{
    public const string Cancel = "cancel", Pause = "pause", Resume = "resume", Resubmit = "resubmit";
}

/// <summary>
/// Jobs of servers sharing a PostgreSQL index: each job's latest state is also kept in the index (a global property
/// "Job:{id}" naming the server that owns it), and its server's identity lock is its lease (see
/// <see cref="ClusterMembership"/>): held as long as that server runs, dropped by PostgreSQL when it dies. The leader
/// looks every <see cref="AdoptionPeriod"/> for unfinished jobs whose owner has held no lock for
/// <see cref="AbsenceBeforeTakeover"/> (a server whose session was cut rejoins within that time) and takes them over
/// (one that was running is run again from its start, as after a restart), holding the owner's lock while it rewrites
/// the row, so that the owner cannot come back in between. A server that comes back forgets the jobs taken over
/// meanwhile instead of running them a second time. A row also names the servers the job was taken from that may still
/// have a copy of it ("Was"); a job that left its owner's history stays as a row without its job only until each of
/// them has said it has none, so that none revives it, and its row goes then (JobLeases.Rows.cs: what is pruned, when,
/// and why it is safe). From the moment a server loses its session until, back, it has forgotten
/// those jobs, its workers start nothing (<see cref="Hold"/>). The rows also let any server list and answer for every
/// job, and ask a job's owner to cancel, pause, resume or resubmit it (JobLeases.Requests.cs). On SQLite the index has
/// one server: nothing to do.
/// </summary>
public sealed partial class SharedJobLeases(ClusterMembership membership, IDbContextFactory<IndexDbContext> contexts, TimeProvider time,
    ILogger<SharedJobLeases> logger, Audit.IAuditTrail audit) : IJobLeases
{
    public const string Prefix = "Job:";

    /// <summary>
    /// A request to a job's owner from another server: "JobRequest:{id}" = {"Operation", "User", "Address", "Server",
    /// "At", "Nonce"} (the nonce: two like requests in a row are two values, so that a claim is of one of them).
    /// </summary>
    public const string RequestPrefix = "JobRequest:";

    public static readonly TimeSpan AdoptionPeriod = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan AbsenceBeforeTakeover = TimeSpan.FromSeconds(15);

    /// <summary>Since when the leader has seen each owner not running (it starts again with each leadership).</summary>
    private readonly Dictionary<string, DateTimeOffset> _absentSince = new(StringComparer.Ordinal);

    /// <summary>The leadership term <see cref="_absentSince"/> was seen in.</summary>
    private int _term;

    /// <summary>Set when this server's session came back: the jobs taken over meanwhile are to be forgotten.</summary>
    private volatile bool _rejoined;

    private readonly Channel<(string Id, string? Json)> _writes = Channel.CreateUnbounded<(string, string?)>(new UnboundedChannelOptions { SingleReader = true });

    private string Me => membership.Identity.Identifier;

    public bool IsShared => membership.IsShared;

    private readonly object _holdGate = new();

    /// <summary>Set while the workers are held back; completed (and cleared) when they may start jobs again.</summary>
    private TaskCompletionSource? _hold;

    /// <summary>Sessions lost so far: a release of the hold is only for the loss it followed.</summary>
    private int _losses;

    /// <summary>
    /// A server without its session cannot tell whether the leader has taken its jobs over (after
    /// <see cref="AbsenceBeforeTakeover"/>): a job it started then could run in two places. Its workers start nothing
    /// from the moment the session is lost until, back, it has forgotten the jobs taken over meanwhile. Jobs already
    /// running go on (a short outage is no reason to stop them; they fail on their own if they need the index).
    /// </summary>
    public Task? Hold
    {
        get
        {
            if (!membership.IsShared) return null;
            lock (_holdGate)
            {
                // Lost an instant ago, its event not raised yet.
                if (!membership.HasSession) _hold ??= new(TaskCreationOptions.RunContinuationsAsynchronously);
                return _hold?.Task;
            }
        }
    }

    private void HoldBack()
    {
        lock (_holdGate)
        {
            _losses++;
            _hold ??= new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        LogHeld(logger);
    }

    /// <summary>Lets the workers go, unless the session was lost again since <paramref name="losses"/> was read.</summary>
    private void LetGo(int losses)
    {
        lock (_holdGate)
        {
            if (_losses != losses || !membership.HasSession || _hold is not { } hold) return;
            _hold = null;
            hold.TrySetResult();
        }
        LogResumed(logger);
    }

    public async Task StartAsync(JobEngine engine, CancellationToken stoppingToken)
    {
        if (!membership.IsShared) return;
        // Lost: hold the workers back at once. Back: the jobs taken over meanwhile are forgotten first (the loop's
        // next pass), then the workers go on.
        membership.SessionLost += HoldBack;
        membership.Rejoined += () => _rejoined = true;
        // No job runs before this server knows which of its jobs are still its own: while the index cannot be read,
        // it waits rather than run a job another server may have taken over.
        Dictionary<string, string> rows = [];
        await UntilReadAsync(async () => rows = await OwnersAsync(engine, stoppingToken), stoppingToken);
        ForgetTakenOver(engine, rows);
        engine.Saved += (job, json) => _writes.Writer.TryWrite((job.Id, json));
        engine.Removed += id => _writes.Writer.TryWrite((id, null));
        // Jobs saved before (a first start on a shared index, or saves this server could not write when it stopped).
        // Through the write loop, which retries, rather than here: a blip of the database at start-up must not stop the engine.
        Republish(engine);
        // Jobs taken from this server earlier whose rows still wait for it to say it has nothing of them (it stopped
        // before it could).
        await UntilReadAsync(() => FormerAsync(stoppingToken), stoppingToken);
        _ = Task.Run(() => WriteLoopAsync(engine, stoppingToken), CancellationToken.None);
        _ = Task.Run(() => AdoptLoopAsync(engine, stoppingToken), CancellationToken.None);
    }

    /// <summary>Reads the index at start-up until it can, waiting <see cref="AdoptionPeriod"/> after each failure (logged).</summary>
    private async Task UntilReadAsync(Func<Task> read, CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                await read();
                return;
            }
            // An OperationCanceledException not of the server stopping is a failure like any other (a command timeout).
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogForgetFailed(logger, ex.Message);
                await Task.Delay(AdoptionPeriod, time, stoppingToken);
            }
        }
    }

    /// <summary>Forgets the jobs another server has taken over while this one was down or without its session.</summary>
    private void ForgetTakenOver(JobEngine engine, Dictionary<string, string> rows)
    {
        foreach (var job in engine.List())
        {
            if (rows.TryGetValue(job.Id, out var owner) && owner.Length > 0 && owner != Me)
            {
                engine.Release(job.Id);
                _forgotten.TryAdd(job.Id, 0); // to say so in its row once nothing of it is left here (AcknowledgeAsync)
                LogMoved(logger, job.Id, owner); // after: its saved file is gone once this is said (a running job's, once its run stops)
            }
        }
    }

    /// <summary>
    /// Queues the state of every job this server has, as the engine saves it: at its start, and as its session is back
    /// while its workers run. Under the engine's save lock (<see cref="JobEngine.Snapshot"/>): a state read without it
    /// could be older than a save queued meanwhile ("Running" read, "Success" queued before it), written over the newer
    /// one, and the job, unfinished in its row, run again by the leader once this server is gone.
    /// </summary>
    private void Republish(JobEngine engine) => engine.Snapshot((job, json) => _writes.Writer.TryWrite((job.Id, json)));

    /// <summary>The owners of the jobs this engine has, as their rows name them (the other rows are no concern of it).</summary>
    private async Task<Dictionary<string, string>> OwnersAsync(JobEngine engine, CancellationToken ct)
    {
        var ids = engine.List().Select(j => j.Id).ToList();
        if (ids.Count == 0) return [];
        await using var db = await contexts.CreateDbContextAsync(ct);
        return (await JobRowsAsync(db, ids, ct)).ToDictionary(r => r.Key, r => Read(r.Value).Owner, StringComparer.Ordinal);
    }

    private async Task WriteLoopAsync(JobEngine engine, CancellationToken ct)
    {
        try
        {
            await foreach (var (id, json) in _writes.Reader.ReadAllAsync(ct))
            {
                // Until it is written: a state left behind (a job done, still "Running" in the index) would be run
                // again by whoever takes the job over.
                while (true)
                {
                    try
                    {
                        await WriteAsync(engine, id, json, ct);
                        break;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        LogWriteFailed(logger, id, ex.Message);
                        await Task.Delay(AdoptionPeriod, time, ct);
                    }
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Records one job's state (null: it left the history) in its row; internal for the tests, which replay a late write.</summary>
    internal async Task WriteAsync(JobEngine engine, string id, string? json, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var name = Prefix + id;
        var job = json is null ? null : JsonNode.Parse(json);
        while (true)
        {
            var row = await db.GlobalProperties.AsNoTracking().FirstOrDefaultAsync(p => p.Name == name, ct);
            if (row is null)
            {
                // No row: a job of this server's own (no other server ever had it, see PruneAsync), so nobody to keep a
                // row for once it leaves the history; and only while the engine still owns it. A write queued before the
                // job was released (this server cut off from the index, its writes retried) may come after the row of
                // the server that took it over went: that server's tombstone goes once this one has released the job and
                // said so (ForgetTakenOver, then AcknowledgeAsync). Inserted, that late state would revive the job as
                // this server's: listed by every server, and run again by the leader once this one is next gone. No race:
                // the release comes before that delete, so the engine no longer owns the job when the row is found
                // missing; and a job is released, or owned again, only on a row naming another owner, which exists (an
                // insert racing it fails on the key, and the next try finds that row).
                if (job is null || !engine.Owns(id)) return;
                db.GlobalProperties.Add(new GlobalProperty { Name = name, Value = Value(Me, job, []) });
                await db.SaveChangesAsync(ct);
                return;
            }
            var read = Read(row.Value);
            // Taken over by the leader while this server had lost its session: the job is the other server's now, and
            // this server forgets it (see ForgetTakenOver) instead of writing its own state over the other's.
            if (read.Owner is { Length: > 0 } owner && owner != Me)
            {
                LogNotWritten(logger, id, owner);
                return;
            }
            // The job left the history, and no server it was taken from may still have it: nothing is left to keep
            // from being revived, and the row goes (see JobLeases.Rows.cs). Only the row read: a takeover or a former
            // owner's word in between is seen on the next pass.
            if (job is null && read.Was is { Count: 0 })
            {
                if (await DeleteIfAsync(db, name, row.Value, ct)) return;
                continue;
            }
            // Only over the row read: a takeover in between wins, and is seen on the next pass.
            if (await ReplaceIfAsync(db, name, row.Value, Value(Me, job, read.Was), ct)) return;
        }
    }

    private async Task AdoptLoopAsync(JobEngine engine, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(AdoptionPeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                // Every failure below is logged and tried again next pass; an OperationCanceledException not of the
                // server stopping (a command timeout) too: leaving the loop would hold the workers back for good.
                if (_rejoined)
                {
                    // The owners are read only while the session is held, and the loss count with it: rows read without
                    // the session could predate a takeover the leader commits before this server has its name back.
                    // Cleared first: a rejoin after this read raises the flag again for the next pass.
                    _rejoined = false;
                    int losses;
                    bool session;
                    lock (_holdGate) (losses, session) = (_losses, membership.HasSession);
                    if (!session) _rejoined = true; // lost again already: tried again once it is back
                    else
                    {
                        try
                        {
                            ForgetTakenOver(engine, await OwnersAsync(engine, ct));
                            // Rows of its finished jobs the leader pruned while it was away (see PruneAsync) are written again.
                            Republish(engine);
                            // Jobs taken from this server that it no longer has (deleted here while it was cut off, so
                            // not released above): their rows wait for it to say so, as at its start.
                            await FormerAsync(ct);
                            LetGo(losses);
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                        {
                            _rejoined = true;
                            LogForgetFailed(logger, ex.Message);
                        }
                    }
                }
                if (Hold is not null) continue;
                try { await ApplyRequestsAsync(engine, ct); }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested) { LogRequestsFailed(logger, ex.Message); }
                try { await AcknowledgeAsync(engine, ct); }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested) { LogAcknowledgeFailed(logger, ex.Message); }
                if (!membership.IsLeader) continue;
                if (membership.LeadershipTerm != _term)
                {
                    // An absence seen in an earlier leadership says nothing of now: a server seen gone an hour ago,
                    // whose lock vanished again with every session when PostgreSQL restarted, is not gone for 15 s.
                    _absentSince.Clear();
                    _term = membership.LeadershipTerm;
                }
                try { await AdoptAsync(engine, ct); }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested) { LogAdoptionFailed(logger, ex.Message); }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task AdoptAsync(JobEngine engine, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        // Rows without a job (see OtherJobsAsync) are no concern here: nothing to take over, and they go when the servers
        // they wait for say so. Unfinished jobs to take over, and finished ones whose rows can go once their owner is
        // gone (PruneAsync).
        var candidates = (await OtherJobsAsync(db, ct)).Where(x => !x.Job.IsFinished || x.Was is { Count: 0 }).ToList();
        var owners = candidates.Select(x => x.Owner).ToHashSet(StringComparer.Ordinal);
        var running = owners.Count == 0 ? owners : await membership.OthersRunningAsync(owners, ct);
        var now = time.GetUtcNow();
        foreach (var owner in _absentSince.Keys.Where(o => !owners.Contains(o) || running.Contains(o)).ToList()) _absentSince.Remove(owner);
        var pruned = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, value, owner, job, was) in candidates)
        {
            if (running.Contains(owner)) continue;
            if (!_absentSince.TryGetValue(owner, out var since)) _absentSince[owner] = since = now;
            if (now - since < AbsenceBeforeTakeover) continue;
            if (job.IsFinished)
            {
                if (await PruneAsync(db, owner, name, value, ct)) pruned[owner] = pruned.GetValueOrDefault(owner) + 1;
                continue;
            }
            // Under the owner's lock: it cannot rejoin between this rewrite and the job's start here. The row must
            // still be the one read: another leader may have taken the job meanwhile. The owner joins the servers the
            // job was taken from: its copy must not be revived, so the row stays until it says it has none.
            var taken = await membership.WhileHoldingAsync(new Hosting.ServerIdentity(owner).LockKey, () => ReplaceIfAsync(db, name, value,
                Rewritten(value, Me, was is null ? null : [.. was.Append(owner).Where(w => w != Me).Distinct(StringComparer.Ordinal)]), ct), ct);
            if (taken && engine.Adopt(job)) LogAdopted(logger, job.Id, job.Type, owner);
        }
        foreach (var (owner, count) in pruned) LogPruned(logger, count, owner);
    }

    [LoggerMessage(LogLevel.Warning, "The index session is lost: no job starts here until it is back (jobs running go on)")]
    private static partial void LogHeld(ILogger logger);

    [LoggerMessage(LogLevel.Information, "The index session is back and the jobs taken over meanwhile are forgotten: jobs may start again")]
    private static partial void LogResumed(ILogger logger);

    [LoggerMessage(LogLevel.Information, "Job {Id} was taken over by {Owner} while this server was down: forgotten here")]
    private static partial void LogMoved(ILogger logger, string id, string owner);

    [LoggerMessage(LogLevel.Warning, "Taking over job {Id} ({Type}) of {Owner}, which is no longer running")]
    private static partial void LogAdopted(ILogger logger, string id, string type, string owner);

    [LoggerMessage(LogLevel.Warning, "Job {Id} is run by {Owner} now: its state here is not recorded")]
    private static partial void LogNotWritten(ILogger logger, string id, string owner);

    [LoggerMessage(LogLevel.Warning, "Could not record job {Id} in the shared index: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string id, string reason);

    [LoggerMessage(LogLevel.Warning, "Could not look for jobs to take over: {Reason}")]
    private static partial void LogAdoptionFailed(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Warning, "Could not read which jobs other servers took over (no job starts here until it can): {Reason}")]
    private static partial void LogForgetFailed(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Information, "Removed the rows of {Count} finished jobs of {Owner}, gone: it writes them again if it comes back")]
    private static partial void LogPruned(ILogger logger, int count, string owner);

    [LoggerMessage(LogLevel.Warning, "Could not record in the index that jobs taken from this server are gone from it: {Reason}")]
    private static partial void LogAcknowledgeFailed(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Warning, "Could not apply the requests other servers left for this server's jobs: {Reason}")]
    private static partial void LogRequestsFailed(ILogger logger, string reason);
}
