using System.Security.Claims;
using OrthancWeb.Audit;

namespace OrthancWeb.Jobs;

/// <summary>
/// The jobs as REST shows them: this server's own (from its engine), and with a shared index the other servers' too,
/// as their owners last recorded them there (see <see cref="SharedJobLeases"/>), so that any server answers for any
/// job of the archive. Acting on another server's job is a request its owner applies within a pass of its leases'
/// loop. On SQLite (one server) this is the engine alone: no query, no delay.
/// </summary>
public sealed class JobsView(JobEngine engine, IJobLeases leases, IAuditTrail audit)
{
    /// <summary>The jobs <paramref name="viewer"/> may see, newest first; a job of this server's is its own live state.</summary>
    public async Task<IReadOnlyList<Job>> ListAsync(ClaimsPrincipal? viewer, CancellationToken ct)
    {
        var own = engine.List(viewer);
        if (!leases.IsShared) return own;
        var ids = own.Select(j => j.Id).ToHashSet(StringComparer.Ordinal);
        var others = (await leases.OthersAsync(ct)).Where(j => !ids.Contains(j.Id) && JobEngine.IsVisibleTo(j, viewer));
        return own.Concat(others).OrderByDescending(j => j.CreationTime).ToList();
    }

    /// <summary>
    /// A job if <paramref name="viewer"/> may see it, and the server that owns it if not this one. A job released to
    /// another server whose run here is still stopping is that server's already (the engine no longer shows it).
    /// </summary>
    public async Task<(Job Job, string? Owner)?> GetAsync(string id, ClaimsPrincipal? viewer, CancellationToken ct)
    {
        if (engine.Get(id, viewer) is { } own) return (own, null);
        if (!leases.IsShared || await leases.FindAsync(id, ct) is not { } other || !JobEngine.IsVisibleTo(other.Job, viewer)) return null;
        // Forgotten here after another server took it over, or never here: either way the index's copy is its state.
        return (other.Job, other.Owner);
    }

    /// <summary>
    /// Cancels, pauses, resumes or resubmits a job <paramref name="viewer"/> may see (<see cref="JobOperations"/>): this
    /// server's at once, another server's by a request to its owner. Null when the job is unknown to the viewer. REST and
    /// the jobs page both act through here. Returns the job as it stands now (this server's live copy, or the row).
    /// </summary>
    public async Task<(JobRequestOutcome Outcome, Job Job, string? Owner)?> ActAsync(string id, string operation, ClaimsPrincipal? viewer, CancellationToken ct)
    {
        if (await GetAsync(id, viewer, ct) is not { } found) return null;
        var outcome = found.Owner is { } owner
            ? await RequestAsync(found.Job, owner, operation, ct)
            : operation switch
            {
                JobOperations.Cancel => engine.Cancel(id),
                JobOperations.Pause => engine.Pause(id),
                JobOperations.Resume => engine.Resume(id),
                _ => engine.Resubmit(id),
            } ? JobRequestOutcome.Left : JobRequestOutcome.NotAllowed;
        return (outcome, engine.Get(id) ?? found.Job, found.Owner);
    }

    /// <summary>
    /// Cancels, pauses, resumes or resubmits another server's job, as <see cref="JobEngine.Cancel"/>, <see cref="JobEngine.Pause"/>
    /// <see cref="JobEngine.Resume"/> and <see cref="JobEngine.Resubmit"/> would on its own server (the same checks of who may, and of its state as last
    /// recorded), by leaving its owner a request; the request is in this server's audit trail too.
    /// </summary>
    public async Task<JobRequestOutcome> RequestAsync(Job other, string owner, string operation, CancellationToken ct)
    {
        engine.DemandControl(other);
        var allowed = operation switch
        {
            JobOperations.Cancel or JobOperations.Pause => !other.IsFinished,
            JobOperations.Resume => other.State == JobState.Paused,
            JobOperations.Resubmit => other.State == JobState.Failure,
            _ => false,
        };
        if (!allowed) return JobRequestOutcome.NotAllowed;
        var user = Security.Caller.Current?.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;
        var left = await leases.RequestAsync(new JobRow(other, owner), new JobRequest(operation, user, AuditActor.Current?.Address, null, null), ct);
        audit.Record(new AuditEvent(AuditActions.JobRequest, left ? AuditOutcome.Success : AuditOutcome.MinorFailure)
        {
            ResourceLevel = "Job",
            ResourceId = other.Id,
            Details = left ? $"{operation} asked of server {owner}, which runs the {other.Type} job of {other.User ?? "the server"}"
                : $"{operation} not asked: server {owner}, which ran the {other.Type} job of {other.User ?? "the server"}, is not running",
        });
        return left ? JobRequestOutcome.Left : JobRequestOutcome.OwnerAway;
    }
}

/// <summary>What became of a request for another server's job.</summary>
public enum JobRequestOutcome
{
    /// <summary>Left for its owner, which applies it within seconds.</summary>
    Left,

    /// <summary>The job's state, as last recorded, does not allow it (as on its own server).</summary>
    NotAllowed,

    /// <summary>Its owner is not running and nobody else would apply it (a finished job), or this server cannot tell now.</summary>
    OwnerAway,
}
