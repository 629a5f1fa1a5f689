using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;
using OrthancWeb.Security;

namespace OrthancWeb.Jobs;

public sealed class JobsOptions
{
    /// <summary>Jobs running at once (Orthanc's ConcurrentJobs).</summary>
    public int ConcurrentJobs { get; set; } = 2;

    /// <summary>Finished jobs kept in the history (Orthanc's JobsHistorySize).</summary>
    public int JobsHistorySize { get; set; } = 100;
}

/// <summary>
/// The jobs engine: a priority queue of jobs run by a few workers, with cancel, pause/resume, resubmit and automatic
/// retries. Every change of state is written to the data folder (one JSON file per job, replaced atomically), and a
/// restart picks up where it stopped: jobs that were running are run again from the start.
/// </summary>
public sealed partial class JobEngine : BackgroundService
{
    private readonly ConcurrentDictionary<string, Job> _jobs = new();
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly ConcurrentDictionary<string, JobState> _stopReason = new();
    /// <summary>Running jobs released to another server: cancelled, then forgotten rather than finished.</summary>
    private readonly ConcurrentDictionary<string, bool> _released = new();
    private readonly Dictionary<string, IJobHandler> _handlers;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly string _folder;
    private readonly IOptions<JobsOptions> _options;
    private readonly ILogger<JobEngine> _logger;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly IAuditTrail _audit;

    /// <summary>How often idle workers look for retries that came due.</summary>
    private static readonly TimeSpan RetryPoll = TimeSpan.FromSeconds(1);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    private readonly IJobLeases? _leases;

    public JobEngine(DataPaths paths, IEnumerable<IJobHandler> handlers, IOptions<JobsOptions> options, TimeProvider time, ILogger<JobEngine> logger,
        IAuditTrail? audit = null, IJobLeases? leases = null)
    {
        _leases = leases;
        _audit = audit ?? NoTrail.Instance;
        _time = time;
        _folder = Path.Combine(paths.Root, "jobs");
        Directory.CreateDirectory(_folder);
        _handlers = handlers.ToDictionary(h => h.Type, StringComparer.Ordinal);
        _options = options;
        _logger = logger;
        Load();
    }

    private void Load()
    {
        // Outputs a crash left half-written (an archive being built) are of no use to anyone.
        foreach (var partial in Directory.EnumerateFiles(_folder, "*.part")) File.Delete(partial);
        foreach (var file in Directory.EnumerateFiles(_folder, "*.json"))
        {
            try
            {
                var job = Parse(File.ReadAllText(file));
                if (job is null) continue;
                if (job.State == JobState.Running) job.State = JobState.Pending; // interrupted by the restart: run it again
                _jobs[job.Id] = job;
            }
            catch (JsonException ex)
            {
                LogUnreadableJobFile(_logger, file, ex.Message);
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Ignoring unreadable job file {File}: {Reason}")]
    private static partial void LogUnreadableJobFile(ILogger logger, string file, string reason);

    private void Save(Job job)
    {
        // One save at a time: a worker finishing a run and a REST call resuming the job both save it, and two writers
        // of the one temporary file made the second's move fail (seen as a flaky test). Inside this lock the snapshot
        // taken last is also the one written last.
        lock (_saveGate)
        {
            // A job deleted from the history while its last state was being saved stays deleted.
            if (!_jobs.ContainsKey(job.Id)) return;
            var text = Serialize(job);
            var path = Path.Combine(_folder, job.Id + ".json");
            var temp = path + ".tmp";
            File.WriteAllText(temp, text);
            File.Move(temp, path, overwrite: true);
            Saved?.Invoke(job, text);
        }
    }

    /// <summary>
    /// Every job's current state as a save would write it, handed to <paramref name="each"/> under the save lock, so
    /// that it is ordered with <see cref="Saved"/>: a save raised before a job's snapshot is of an older state, and one
    /// raised after of a newer one. A job read outside that lock while a worker runs it could be older than a save
    /// queued before it (a job seen "Running", its "Success" queued in between): whoever queues both would write the
    /// older last. <paramref name="each"/> must only queue.
    /// </summary>
    internal void Snapshot(Action<Job, string> each)
    {
        lock (_saveGate)
        {
            foreach (var job in List()) each(job, Serialize(job));
        }
    }

    /// <summary>A job's JSON as saved, read under the gate its state changes hold (a worker may be updating it).</summary>
    private string Serialize(Job job)
    {
        lock (_gate) return JsonSerializer.Serialize(job, Json);
    }

    /// <summary>A job's state as saved (its JSON), raised in the order of the saves; observers must only queue it.</summary>
    public event Action<Job, string>? Saved;

    /// <summary>A job left this server's history (deleted or trimmed).</summary>
    public event Action<string>? Removed;

    internal static Job? Parse(string json) => JsonSerializer.Deserialize<Job>(json, Json);

    /// <summary>A job from JSON already parsed (a row of the shared index), without writing it out and reading it again.</summary>
    internal static Job? Parse(JsonObject json) => json.Deserialize<Job>(Json);

    /// <summary>
    /// Takes over a job whose server is gone (servers sharing an index, see <see cref="IJobLeases"/>): one that was
    /// running is run again from the start, as after a restart.
    /// </summary>
    public bool Adopt(Job job)
    {
        if (job.IsFinished) return false;
        lock (_gate)
        {
            if (job.State == JobState.Running) job.State = JobState.Pending;
            if (_released.ContainsKey(job.Id))
            {
                // This server released the job (taken over while it was cut off) and its run here is still unwinding;
                // now the job comes back (its new owner is gone too). The unwinding run must not finish it, nor its end
                // forget it: the end of that run puts this copy in its place (see RunAsync), to run from its start.
                _readopted[job.Id] = job;
                return true;
            }
            if (!_jobs.TryAdd(job.Id, job)) return false;
        }
        Save(job);
        _wake.Release();
        return true;
    }

    /// <summary>Jobs taken back while their released run was still unwinding: queued again when it ends.</summary>
    private readonly ConcurrentDictionary<string, Job> _readopted = new();

    /// <summary>
    /// Forgets a job another server has taken over while this one was down or cut off from the index (its saved file
    /// and outputs too). A job running here is cancelled first and forgotten when its handler returns, without a final
    /// state of its own: the server that took it over runs it from its start, and it must not run in two places.
    /// </summary>
    public void Release(string id)
    {
        lock (_gate)
        {
            // Taken back while its released run was still stopping, and now taken over again: not to be revived.
            _readopted.TryRemove(id, out _);
            if (_running.TryGetValue(id, out var cts))
            {
                _released[id] = true;
                cts.Cancel();
                return;
            }
            if (_jobs.TryGetValue(id, out var taken) && taken.State == JobState.Running)
            {
                // Taken by a worker that has not registered it yet: it is cancelled as it registers.
                _released[id] = true;
                return;
            }
            if (!_jobs.TryRemove(id, out _)) return;
        }
        DeleteFiles(id);
    }

    /// <summary>
    /// Whether this server runs the job and answers for it: false for a job it does not have, and for one released to
    /// another server whose run here is still stopping (unless taken back meanwhile). A request for a job this server
    /// does not own is its owner's (see JobLeases.Requests.cs), and a stop applied to the stopping run would be lost.
    /// </summary>
    public bool Owns(string id)
    {
        lock (_gate) return _jobs.ContainsKey(id) && (!_released.ContainsKey(id) || _readopted.ContainsKey(id));
    }

    /// <summary>
    /// Whether anything of a job is still here: the job (a released run still stopping included) or a file of it (one
    /// that could not be deleted loads again at the next start). A server taken over says it no longer has a job only
    /// once this is false (see JobLeases.cs): until then its row must stay, or the job would be revived here.
    /// </summary>
    public bool Holds(string id)
    {
        lock (_gate)
            if (_jobs.ContainsKey(id) || _released.ContainsKey(id) || _readopted.ContainsKey(id)) return true;
        lock (_saveGate) return FilesOf(id).Any();
    }

    /// <summary>
    /// The job's files and outputs. A file that cannot be deleted (a reader holding it open, the folder read-only) is
    /// said in the log and left: it must not stop the release of a job, nor the worker that ran it. A file left behind
    /// loads at the next start and is forgotten again then (its row names its new owner).
    /// </summary>
    private void DeleteFiles(string id)
    {
        lock (_saveGate)
        {
            try
            {
                foreach (var f in FilesOf(id)) File.Delete(f);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogFilesNotDeleted(_logger, id, ex.Message);
            }
        }
    }

    /// <summary>
    /// A job's files: its saved state and whatever it produced (an archive is "{id}.zip"). One definition for the
    /// deletes and for <see cref="Holds"/>, which must see every file a delete could leave behind.
    /// </summary>
    private IEnumerable<string> FilesOf(string id) => Directory.EnumerateFiles(_folder, id + ".*");

    [LoggerMessage(LogLevel.Error, "Could not delete the files of job {Id}: {Reason}")]
    private static partial void LogFilesNotDeleted(ILogger logger, string id, string reason);

    private readonly object _saveGate = new();

    public Job Submit(string type, JsonObject content, int priority = 0, string? user = null, int maxRetries = 0, int retryDelaySeconds = 10)
    {
        if (!_handlers.TryGetValue(type, out var handler)) throw new ArgumentException($"No handler for jobs of type {type}");
        Caller.Demand(handler.Policy, $"start {type} jobs");
        var job = new Job
        {
            Id = Guid.NewGuid().ToString(),
            Type = type,
            CreationTime = Now,
            Priority = priority,
            Content = content,
            // The owner: who asked (REST passes its user; the caller covers every other path). The server's own jobs
            // (routing) have none, and only administrators see them.
            User = user ?? (Caller.Current?.Identity is { IsAuthenticated: true, Name: { } name } ? name : null),
            MaxRetries = maxRetries,
            RetryDelaySeconds = retryDelaySeconds,
        };
        _jobs[job.Id] = job;
        Save(job);
        TrimHistory();
        _wake.Release();
        Raise(JobSubmitted, job);
        return job;
    }

    /// <summary>
    /// Any job of this server's, for its own work (handlers, clean-ups); users go through <see cref="Get(string, ClaimsPrincipal?)"/>.
    /// Not a job released to another server while its run here stops (that server answers for it now), but the copy
    /// taken back meanwhile if there is one: stops, resumes and reads act on the job that will run, not on the run
    /// being thrown away.
    /// </summary>
    public Job? Get(string id)
    {
        lock (_gate) return Live(id);
    }

    /// <summary>Under <see cref="_gate"/>: see <see cref="Get(string)"/>.</summary>
    private Job? Live(string id) =>
        _readopted.TryGetValue(id, out var back) ? back
        : _released.ContainsKey(id) ? null
        : _jobs.GetValueOrDefault(id);

    /// <summary>A job was submitted (Lua's OnJobSubmitted). Handlers must be quick and must not throw: they run on the submitter's path.</summary>
    public event Action<Job>? JobSubmitted;

    /// <summary>A job ended, in Success or Failure (Lua's OnJobSuccess, OnJobFailure); same rules as <see cref="JobSubmitted"/>.</summary>
    public event Action<Job>? JobFinished;

    private void Raise(Action<Job>? handlers, Job job)
    {
        try { handlers?.Invoke(job); }
        catch (Exception ex) { LogObserverFailed(_logger, job.Id, ex.Message); }
    }

    [LoggerMessage(LogLevel.Warning, "A job observer failed on job {Id}: {Reason}")]
    private static partial void LogObserverFailed(ILogger logger, string id, string reason);

    /// <summary>A job if <paramref name="viewer"/> may see it (else null, as if it did not exist).</summary>
    public Job? Get(string id, ClaimsPrincipal? viewer) => Get(id) is { } job && IsVisibleTo(job, viewer) ? job : null;

    /// <summary>This server's jobs, newest first, as <see cref="Get(string)"/> shows each.</summary>
    public IReadOnlyList<Job> List()
    {
        lock (_gate) return _jobs.Keys.Select(Live).OfType<Job>().OrderByDescending(j => j.CreationTime).ToList();
    }

    /// <summary>The jobs <paramref name="viewer"/> may see, newest first.</summary>
    public IReadOnlyList<Job> List(ClaimsPrincipal? viewer) => List().Where(j => IsVisibleTo(j, viewer)).ToList();

    /// <summary>
    /// A job and what it produced (an archive of patient data) belong to its owner: administrators see every job,
    /// other users their own. Jobs with no owner (the server's own, and those saved before jobs had owners) are the
    /// administrators'. No user at all is the server's own work, which sees everything.
    /// </summary>
    public static bool IsVisibleTo(Job job, ClaimsPrincipal? viewer) =>
        viewer is null
        || Policies.Allows(viewer, Policies.Administer)
        || (job.User is not null && viewer.Identity?.IsAuthenticated == true && string.Equals(job.User, viewer.Identity.Name, StringComparison.Ordinal));

    /// <summary>Running jobs stop, others never start; either way the job ends as a failure ("Canceled job"), as in Orthanc.</summary>
    public bool Cancel(string id)
    {
        var done = Stop(id, JobState.Failure);
        if (done && Get(id) is { } job)
            _audit.Record(new AuditEvent(AuditActions.JobCanceled, AuditOutcome.Success) { ResourceLevel = "Job", ResourceId = id, Details = $"{job.Type} job of {job.User ?? "the server"}" });
        return done;
    }

    public bool Pause(string id) => Stop(id, JobState.Paused);

    /// <summary>Whoever may submit a job of its type may also stop, resume or resubmit it, if it is theirs (or they administer).</summary>
    internal void DemandControl(Job job)
    {
        Caller.Demand(_handlers.TryGetValue(job.Type, out var handler) ? handler.Policy : Policies.Modify, $"control {job.Type} jobs");
        if (!IsVisibleTo(job, Caller.Current))
            throw new AccessDeniedException($"{Caller.Current?.Identity?.Name ?? "an anonymous user"} may not control job {job.Id}, which is not theirs");
    }

    private bool Stop(string id, JobState target)
    {
        if (Get(id) is not { } job || job.IsFinished) return false;
        DemandControl(job);
        lock (_gate)
        {
            if (job.State == JobState.Running)
            {
                // Taken by a worker: stop it now, or as soon as it starts if it has not registered yet.
                _stopReason[id] = target;
                if (_running.TryGetValue(id, out var cts)) cts.Cancel();
                return true;
            }
            if (target == JobState.Paused && job.State == JobState.Paused) return true;
            Finish(job, target, target == JobState.Failure ? "Canceled job" : "Success", "");
        }
        Save(job);
        return true;
    }

    public bool Resume(string id)
    {
        if (Get(id) is not { State: JobState.Paused } job) return false;
        DemandControl(job);
        lock (_gate) job.State = JobState.Pending;
        Save(job);
        _wake.Release();
        return true;
    }

    /// <summary>Runs a failed job again (handlers that track failed items retry just those).</summary>
    public bool Resubmit(string id)
    {
        if (Get(id) is not { State: JobState.Failure } job) return false;
        DemandControl(job);
        lock (_gate)
        {
            job.State = JobState.Pending;
            job.Attempts = 0;
            job.CompletionTime = null;
            job.ErrorDescription = "Success";
            job.ErrorDetails = "";
        }
        Save(job);
        _wake.Release();
        return true;
    }

    /// <summary>
    /// Orthanc 1.12's DELETE /jobs/{id} (Orthanc Book, REST API "Delete a job from history"): only a completed job
    /// (Success or Failure, a canceled job included) leaves the history, with what it produced; a job that has not
    /// run or not finished must be canceled first. False for an unknown or unfinished job.
    /// </summary>
    public bool Delete(string id)
    {
        if (Get(id) is not { } job) return false;
        DemandControl(job);
        lock (_gate)
        {
            // Under the gate: a worker cannot take the job, nor Resubmit revive it, between the check and the removal.
            // Nor while a released run of it stops: its end decides what stays (see RunAsync).
            if (!job.IsFinished || _released.ContainsKey(id) || !_jobs.TryRemove(id, out _)) return false;
        }
        // The saved job and its outputs (an archive is "{id}.zip"); a save still in flight has finished under _saveGate.
        DeleteFiles(id);
        Removed?.Invoke(id);
        _audit.Record(new AuditEvent(AuditActions.Delete, AuditOutcome.Success) { ResourceLevel = "Job", ResourceId = id, Details = $"{job.Type} job of {job.User ?? "the server"} deleted from the history" });
        return true;
    }

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private void Finish(Job job, JobState state, string description, string details)
    {
        job.State = state;
        job.ErrorDescription = description;
        job.ErrorDetails = details;
        if (state is JobState.Success or JobState.Failure) job.CompletionTime = Now;
    }

    private void TrimHistory()
    {
        var finished = _jobs.Values.Where(j => j.IsFinished).OrderByDescending(j => j.CompletionTime).Skip(_options.Value.JobsHistorySize).ToList();
        foreach (var j in finished)
        {
            _jobs.TryRemove(j.Id, out _);
            // As a delete does: under the save lock, so that a save in flight cannot write the file back after this,
            // and a file that cannot be deleted is logged rather than thrown out of Submit or a finishing worker.
            DeleteFiles(j.Id);
            Removed?.Invoke(j.Id);
            using (AuditActor.Enter(new AuditActor(null, null, AuditSources.Server)))
                _audit.Record(new AuditEvent(AuditActions.Delete, AuditOutcome.Success) { ResourceLevel = "Job", ResourceId = j.Id, Details = $"{j.Type} job of {j.User ?? "the server"} left the history" });
        }
    }

    /// <summary>The next job to run: highest priority first, then oldest; retries once their delay has passed.</summary>
    private Job? Take()
    {
        lock (_gate)
        {
            var now = Now;
            var job = _jobs.Values
                .Where(j => j.State == JobState.Pending || (j.State == JobState.Retry && j.NextAttempt <= now))
                .OrderByDescending(j => j.Priority).ThenBy(j => j.CreationTime).FirstOrDefault();
            if (job is not null) job.State = JobState.Running;
            return job;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Before any job runs: the jobs other servers took over while this one was down are theirs now.
        if (_leases is not null) await _leases.StartAsync(this, stoppingToken);
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, _options.Value.ConcurrentJobs)).Select(_ => WorkerAsync(stoppingToken)));
    }

    private async Task WorkerAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            // Checked as each job is taken: a server cut off from a shared index starts nothing (see IJobLeases.Hold).
            if (_leases?.Hold is { } hold)
            {
                try { await hold.WaitAsync(stoppingToken); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            var job = Take();
            if (job is null)
            {
                // Woken by a submission, or by the clock to pick up retries that came due.
                try { await IdleAsync(stoppingToken); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            await RunAsync(job, stoppingToken);
        }
    }

    private async Task IdleAsync(CancellationToken stoppingToken)
    {
        using var woken = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var poll = Task.Delay(RetryPoll, _time, woken.Token);
        var wake = _wake.WaitAsync(woken.Token);
        await Task.WhenAny(poll, wake);
        // The loser is cancelled: a wake-up not yet taken stays in the semaphore for the next wait.
        await woken.CancelAsync();
        stoppingToken.ThrowIfCancellationRequested();
    }

    private async Task RunAsync(Job job, CancellationToken stoppingToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        lock (_gate)
        {
            _running[job.Id] = cts;
            // Paused, cancelled or released to another server between being taken and starting.
            if (_stopReason.ContainsKey(job.Id) || _released.ContainsKey(job.Id)) cts.Cancel();
        }
        job.Attempts++;
        job.Progress = 0;
        Save(job);
        var started = _time.GetTimestamp();
        try
        {
            var handler = _handlers[job.Type];
            // Parallel items report out of order: progress only goes up, and only while the job runs.
            var progress = new ImmediateProgress<double>(p =>
            {
                lock (_gate)
                    if (job.State == JobState.Running) job.Progress = Math.Max(job.Progress, Math.Round(p, 1));
            });
            var result = await Task.Run(() => handler.RunAsync(job, progress, cts.Token), cts.Token);
            lock (_gate)
            {
                job.Result = result;
                job.Progress = 100;
                Finish(job, JobState.Success, "Success", "");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            lock (_gate) job.State = JobState.Pending; // the server stops: run it again next start
        }
        catch (OperationCanceledException) when (_released.ContainsKey(job.Id))
        {
            // Another server runs it now: no final state here (the finally forgets it).
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                var target = _stopReason.TryRemove(job.Id, out var t) ? t : JobState.Failure;
                Finish(job, target, target == JobState.Failure ? "Canceled job" : "Success", "");
            }
        }
        catch (Exception ex)
        {
            LogAttemptFailed(_logger, job.Id, job.Type, job.Attempts, ex.Message);
            lock (_gate)
            {
                if (ex is JobItemsFailedException partial) job.Result = partial.Result;
                if (job.Attempts <= job.MaxRetries)
                {
                    job.State = JobState.Retry;
                    job.NextAttempt = Now.AddSeconds(job.RetryDelaySeconds);
                    job.ErrorDescription = "Retrying";
                    job.ErrorDetails = ex.Message;
                }
                else Finish(job, JobState.Failure, "Internal error", ex.Message);
            }
        }
        finally
        {
            bool released;
            lock (_gate)
            {
                _running.TryRemove(job.Id, out _);
                _stopReason.TryRemove(job.Id, out _); // a stop that came too late to matter must not hit a later run
                released = _released.ContainsKey(job.Id);
            }
            if (released)
            {
                // The files first, while this run's copy still holds the job's place (Running: no worker takes it) and
                // the job is still released: a copy taken back meanwhile is not in the queue yet, so no run of it can
                // have written an output (an archive's "{id}.zip.part") that this would delete.
                DeleteFiles(job.Id);
                Job? again;
                lock (_gate)
                {
                    _released.TryRemove(job.Id, out _);
                    if (_readopted.TryRemove(job.Id, out again)) _jobs[job.Id] = again;
                    else _jobs.TryRemove(job.Id, out _);
                }
                if (again is null) LogReleased(_logger, job.Id, job.Type);
                else
                {
                    LogReadopted(_logger, job.Id, job.Type);
                    Save(again);
                    _wake.Release();
                }
            }
            else
            {
                job.EffectiveRuntime += _time.GetElapsedTime(started).TotalSeconds;
                Save(job);
                if (job.IsFinished)
                {
                    TrimHistory();
                    Raise(JobFinished, job);
                }
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Job {Id} ({Type}) was taken over by another server while it ran here: stopped and forgotten")]
    private static partial void LogReleased(ILogger logger, string id, string type);

    [LoggerMessage(LogLevel.Warning, "Job {Id} ({Type}) was taken over by another server while it ran here, then taken back: its run stopped, it runs again from its start")]
    private static partial void LogReadopted(ILogger logger, string id, string type);

    [LoggerMessage(LogLevel.Warning, "Job {Id} ({Type}) failed on attempt {Attempt}: {Reason}")]
    private static partial void LogAttemptFailed(ILogger logger, string id, string type, int attempt, string reason);

    /// <summary>Orthanc's shape of GET /jobs/{id}.</summary>
    public JsonObject ToJson(Job job)
    {
        var content = job.Content.DeepClone().AsObject();
        if (job.Result is not null)
            foreach (var (k, v) in job.Result) content[k] = v?.DeepClone();
        return new JsonObject
        {
            ["ID"] = job.Id,
            ["Type"] = job.Type,
            ["State"] = job.State.ToString(),
            ["Progress"] = (int)job.Progress,
            ["Priority"] = job.Priority,
            ["CreationTime"] = Timestamp(job.CreationTime),
            ["CompletionTime"] = job.CompletionTime is { } c ? Timestamp(c) : null,
            ["EffectiveRuntime"] = Math.Round(job.EffectiveRuntime, 3),
            ["ErrorCode"] = job.State == JobState.Failure ? (job.ErrorDescription == "Canceled job" ? 37 : -1) : 0,
            ["ErrorDescription"] = job.ErrorDescription,
            ["ErrorDetails"] = job.ErrorDetails,
            ["Timestamp"] = Timestamp(Now),
            ["Content"] = content,
        };
    }

    private static string Timestamp(DateTime t) => t.ToString("yyyyMMdd'T'HHmmss.ffffff", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>For an engine built without a trail (unit tests of the engine alone); the server always has one.</summary>
internal sealed class NoTrail : IAuditTrail
{
    public static readonly NoTrail Instance = new();
    public void Record(AuditEvent auditEvent) { }
}

/// <summary>Some items of a job failed: the job fails (or retries), and the result says which items, for a resubmit to retry just them.</summary>
public sealed class JobItemsFailedException(string message, JsonObject result) : Exception(message)
{
    public JsonObject Result { get; } = result;
}
