using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using OrthancWeb.Storage;

namespace OrthancWeb.Scripting;

/// <summary>
/// Calls the scripts' event callbacks, off every path a sender waits on: OnStoredInstance, OnStable*, OnDeleted* follow
/// the index's change log, OnUpdated* too (as automatic routing does, with its place in the log kept in the database, so a change seen
/// just before a crash is handled again after the restart, never skipped), and the jobs' OnJobSubmitted/Success/Failure
/// come through a queue, OnHeartBeat every LuaHeartBeatPeriod seconds. A script that throws is logged and the next event goes on; a slow one delays only later
/// callbacks. Initialize runs once the server answers (a script may call the REST API from it), Finalize at shutdown.
/// </summary>
public sealed partial class LuaEventsService(
    LuaEngine lua, IndexQueries queries, InstanceFiles files, JobEngine jobs, IDbContextFactory<IndexDbContext> contexts,
    IHostApplicationLifetime lifetime, ClusterMembership membership, IOptions<LuaOptions> options, TimeProvider time, ILogger<LuaEventsService> logger) : BackgroundService, IChangeLogFollower
{
    /// <summary>
    /// Its place, followed in memory even without a callback (one may be defined at any time, and is then called from
    /// there): DELETE /changes keeps what follows it. Before the start, the place saved by the last run.
    /// </summary>
    public long? Position => Interlocked.Read(ref _position) is var p and >= 0 ? p
        : _cursor.All.TryGetValue(CursorKey, out var saved) ? saved : null;

    private long _position = -1;

    /// <summary>How long it rests once it has caught up with the change log.</summary>
    private static readonly TimeSpan Rest = TimeSpan.FromMilliseconds(200);

    private static readonly string[] ChangeCallbacks =
    [
        "OnStoredInstance", "OnStablePatient", "OnStableStudy", "OnStableSeries",
        "OnDeletedPatient", "OnDeletedStudy", "OnDeletedSeries", "OnDeletedInstance",
        "OnUpdatedPatient", "OnUpdatedStudy", "OnUpdatedSeries", "OnUpdatedInstance",
    ];

    private readonly GlobalPropertyStore<long> _cursor = new(contexts, "Lua:");
    private const string CursorKey = "LastChange";
    private readonly Channel<(string Callback, string JobId)> _jobEvents = Channel.CreateUnbounded<(string, string)>();

    /// <summary>Where the change log was when the server started (or where it was left), taken before anything arrives.</summary>
    private long _startPosition;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // The configured scripts run before the server answers anything: one that fails stops the start.
        lua.LoadScripts();
        _startPosition = _cursor.All.TryGetValue(CursorKey, out var saved) ? saved : (await queries.LastChangeAsync(cancellationToken))?.Seq ?? 0;
        jobs.JobSubmitted += OnJobSubmitted;
        jobs.JobFinished += OnJobFinished;
        await base.StartAsync(cancellationToken);
    }

    private void OnJobSubmitted(Job job)
    {
        if (lua.Defines("OnJobSubmitted")) _jobEvents.Writer.TryWrite(("OnJobSubmitted", job.Id));
    }

    private void OnJobFinished(Job job)
    {
        var callback = job.State == JobState.Success ? "OnJobSuccess" : "OnJobFailure";
        if (lua.Defines(callback)) _jobEvents.Writer.TryWrite((callback, job.Id));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        jobs.JobSubmitted -= OnJobSubmitted;
        jobs.JobFinished -= OnJobFinished;
        await base.StopAsync(cancellationToken);
        await CallLoggedAsync("Finalize", [], cancellationToken);
    }

    public override void Dispose()
    {
        _cursor.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try { await Task.Delay(Timeout.Infinite, lifetime.ApplicationStarted).WaitAsync(stoppingToken); }
        catch (OperationCanceledException) when (lifetime.ApplicationStarted.IsCancellationRequested) { }
        catch (OperationCanceledException) { return; }
        await CallLoggedAsync("Initialize", [], stoppingToken);
        var jobEvents = RunJobEventsAsync(stoppingToken);
        var heartBeat = RunHeartBeatAsync(stoppingToken);
        await FollowChangesAsync(stoppingToken);
        await jobEvents;
        await heartBeat;
    }

    /// <summary>
    /// OnHeartBeat() every LuaHeartBeatPeriod seconds (Orthanc 1.11; 0 turns it off). The period runs from call to call,
    /// and a call that outlasts it makes the next one late, never two at once: the scripts share one Lua state.
    /// </summary>
    private async Task RunHeartBeatAsync(CancellationToken stoppingToken)
    {
        if (options.Value.LuaHeartBeatPeriod <= 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.LuaHeartBeatPeriod), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await CallLoggedAsync("OnHeartBeat", [], stoppingToken);
        }
        catch (OperationCanceledException) { }
    }

    private async Task RunJobEventsAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var (callback, jobId) in _jobEvents.Reader.ReadAllAsync(stoppingToken))
                await CallLoggedAsync(callback, [jobId], stoppingToken);
        }
        catch (OperationCanceledException) { }
    }

    private async Task FollowChangesAsync(CancellationToken stoppingToken)
    {
        long cursor = _startPosition;
        var saved = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            var done = true;
            try
            {
                if (!membership.IsLeader)
                {
                    // Servers sharing an index: the leader calls the change callbacks, once for the archive. This one
                    // takes over where the last leader left the log when it leads in turn.
                    Interlocked.Exchange(ref _position, -1);
                    await membership.WhenLeaderAsync(stoppingToken);
                    _cursor.Forget();
                    saved = _cursor.All.TryGetValue(CursorKey, out var place);
                    cursor = saved ? place : (await queries.LastChangeAsync(stoppingToken))?.Seq ?? 0;
                }
                Interlocked.Exchange(ref _position, cursor);
                if (!lua.DefinesAny(ChangeCallbacks))
                {
                    // No callback to call: keep up with the log in memory (one small query per rest), so that a callback
                    // defined later (execute-script) is called for what arrives from then on, and forget the saved place
                    // (once), so that a restart without such a callback replays nothing. Ingest pays nothing meanwhile.
                    if (saved) { await _cursor.DeleteAsync(CursorKey, stoppingToken); saved = false; }
                    // Read before the second look: a callback defined in between keeps the older place, so nothing it
                    // should see is skipped.
                    var position = (await queries.LastChangeAsync(stoppingToken))?.Seq ?? cursor;
                    if (!lua.DefinesAny(ChangeCallbacks)) cursor = position;
                }
                else
                {
                    // Saved before the first change is handled: DELETE /changes on another server sharing the index
                    // reads the saved places, and must not take the changes this leader has yet to call callbacks for.
                    if (!saved) { await _cursor.SaveAsync(CursorKey, cursor, stoppingToken); saved = true; }
                    var (changes, last, complete) = await queries.ChangesAsync(cursor, 100, stoppingToken);
                    foreach (var change in changes)
                    {
                        await HandleAsync(change, stoppingToken);
                        // Saved after each change: a slow script must not make a restart replay a whole page.
                        cursor = change.Seq;
                        await _cursor.SaveAsync(CursorKey, change.Seq, stoppingToken);
                        Interlocked.Exchange(ref _position, cursor);
                    }
                    if (last != cursor) { cursor = last; await _cursor.SaveAsync(CursorKey, last, stoppingToken); }
                    done = complete;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception ex)
            {
                LogPaused(logger, ex.Message);
            }
            if (done)
            {
                try { await Task.Delay(Rest, time, stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task HandleAsync(ChangeInfo change, CancellationToken ct)
    {
        var callback = change.ChangeType switch
        {
            "NewInstance" => "OnStoredInstance",
            "StablePatient" or "StableStudy" or "StableSeries" => "On" + change.ChangeType,
            "Deleted" => "OnDeleted" + change.Level,
            // Orthanc 1.10: a user metadata or attachment written or deleted calls OnUpdated<Level>(id).
            "UpdatedMetadata" or "UpdatedAttachment" => "OnUpdated" + change.Level,
            _ => null,
        };
        if (callback is null || !lua.Defines(callback)) return;
        object?[]? arguments;
        try
        {
            arguments = change.ChangeType switch
            {
                "NewInstance" => await StoredInstanceArgumentsAsync(change.PublicId, ct),
                "Deleted" or "UpdatedMetadata" or "UpdatedAttachment" => [change.PublicId],
                _ => await StableArgumentsAsync(change, ct),
            };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSkipped(logger, callback, change.PublicId, ex.Message);
            return;
        }
        if (arguments is null) return; // deleted since
        await CallLoggedAsync(callback, arguments, ct);
    }

    /// <summary>OnStoredInstance(instanceId, tags, metadata, origin): the instance's tags (simplified), its metadata, who sent it.</summary>
    private async Task<object?[]?> StoredInstanceArgumentsAsync(string instanceId, CancellationToken ct)
    {
        if (await queries.GetAsync(instanceId, ResourceLevel.Instance, ct) is not { File: { } file } instance) return null;
        var tags = new OrthancJson().ToSimplified(files.Read(file).Dataset);
        var metadata = Metadata(instance.Metadata);
        var origin = new System.Text.Json.Nodes.JsonObject { ["RequestOrigin"] = instance.Metadata.GetValueOrDefault("Origin", "Unknown") };
        if (instance.Metadata.TryGetValue("RemoteAET", out var aet)) origin["RemoteAet"] = aet;
        if (instance.Metadata.TryGetValue("CalledAET", out var called)) origin["CalledAet"] = called;
        if (instance.Metadata.TryGetValue("RemoteIP", out var ip)) origin["RemoteIp"] = ip;
        return [instanceId, tags, metadata, origin];
    }

    /// <summary>OnStable*(id, tags, metadata): the resource's main tags (a study's without the patient's) and its metadata.</summary>
    private async Task<object?[]?> StableArgumentsAsync(ChangeInfo change, CancellationToken ct)
    {
        if (await queries.GetAsync(change.PublicId, change.Level, ct) is not { } resource) return null;
        var tags = new System.Text.Json.Nodes.JsonObject();
        foreach (var (tag, value) in resource.MainDicomTags.OrderBy(t => t.Key))
            tags[DicomDictionary.Find(tag)?.Keyword is { Length: > 0 } keyword ? keyword : tag.ToOrthancKey()] = value;
        return [change.PublicId, tags, Metadata(resource.Metadata)];
    }

    private static System.Text.Json.Nodes.JsonObject Metadata(IReadOnlyDictionary<string, string> metadata)
    {
        var o = new System.Text.Json.Nodes.JsonObject();
        foreach (var (name, value) in metadata) o[name] = value;
        return o;
    }

    private async Task CallLoggedAsync(string callback, object?[] arguments, CancellationToken ct)
    {
        try { await lua.CallAsync(callback, arguments, ct); }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        catch (Exception ex)
        {
            // A failing script loses nothing: what it was told about is stored, and the next event goes on.
            LogFailed(logger, callback, ex.Message);
        }
    }

    [LoggerMessage(LogLevel.Error, "Lua: {Callback} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string callback, string reason);

    [LoggerMessage(LogLevel.Warning, "Lua: {Callback} of {Id} skipped: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string callback, string id, string reason);

    [LoggerMessage(LogLevel.Warning, "Lua events paused after an error, retrying shortly: {Reason}")]
    private static partial void LogPaused(ILogger logger, string reason);
}
