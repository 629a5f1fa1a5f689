using System.Security.Claims;

namespace OrthancWeb.Jobs;

/// <summary>
/// The jobs as REST shows them: this server's own (from its engine), and with a shared index the other servers' too,
/// as their owners last recorded them there (see <see cref="SharedJobLeases"/>), so that any server answers for any
/// job of the archive. Acting on another server's job is a request its owner applies within a pass of its leases'
/// loop. On SQLite (one server) this is the engine alone: no query, no delay.
/// </summary>
public sealed class JobsView(JobEngine engine, IJobLeases leases)
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

    /// <summary>A job if <paramref name="viewer"/> may see it, and whether it is this server's own.</summary>
    public async Task<(Job Job, bool Own)?> GetAsync(string id, ClaimsPrincipal? viewer, CancellationToken ct)
    {
        if (engine.Get(id, viewer) is { } own) return (own, true);
        if (!leases.IsShared || await leases.FindAsync(id, ct) is not { } other || !JobEngine.IsVisibleTo(other, viewer)) return null;
        // Forgotten here after another server took it over, or never here: either way the index's copy is its state.
        return (other, false);
    }

    /// <summary>
    /// Cancels, pauses, resumes or resubmits another server's job, as <see cref="JobEngine.Cancel"/>, <see cref="JobEngine.Pause"/>
    /// <see cref="JobEngine.Resume"/> and <see cref="JobEngine.Resubmit"/> would on its own server (the same checks of who may, and of its state as last
    /// recorded), by leaving its owner a request. False when its state does not allow it.
    /// </summary>
    public async Task<bool> RequestAsync(Job other, string operation, CancellationToken ct)
    {
        engine.DemandControl(other);
        var allowed = operation switch
        {
            JobOperations.Cancel or JobOperations.Pause => !other.IsFinished,
            JobOperations.Resume => other.State == JobState.Paused,
            JobOperations.Resubmit => other.State == JobState.Failure,
            _ => false,
        };
        if (!allowed) return false;
        var user = Security.Caller.Current?.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;
        await leases.RequestAsync(other.Id, operation, user, ct);
        return true;
    }
}
