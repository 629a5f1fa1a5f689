using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.Tests.Workflows;

/// <summary>The engine's state machine on a job that runs until it is told to stop, and its files across a restart.</summary>
public sealed class JobEngineTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-engine-").FullName;

    /// <summary>Reports 50 % and then works until cancelled; counts its runs.</summary>
    private sealed class EndlessHandler : IJobHandler
    {
        public int Runs;
        public string Type => "Endless";

        public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
        {
            Interlocked.Increment(ref Runs);
            progress.Report(50);
            await Task.Delay(Timeout.Infinite, ct);
            return [];
        }
    }

    /// <summary>Fails its first run ("destination down") and succeeds after; counts its runs.</summary>
    private sealed class FailsOnceHandler : IJobHandler
    {
        public int Runs;
        public string Type => "FailsOnce";

        public Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct) =>
            Interlocked.Increment(ref Runs) == 1 ? throw new InvalidOperationException("destination down") : Task.FromResult(new JsonObject());
    }

    /// <summary>Its first run ignores cancellation until <see cref="Unwind"/> is set (a send finishing its current file); later runs end at once.</summary>
    private sealed class SlowToStopHandler : IJobHandler
    {
        public int Runs;
        public readonly TaskCompletionSource Unwind = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public string Type => "SlowToStop";

        public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
        {
            if (Interlocked.Increment(ref Runs) > 1) return [];
            await Unwind.Task;
            ct.ThrowIfCancellationRequested();
            return [];
        }
    }

    private sealed class QuickHandler : IJobHandler
    {
        public string Type => "Quick";

        public Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct) => Task.FromResult(new JsonObject());
    }

    /// <summary>The engine's clock: it moves only when a test moves it.</summary>
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));

    private JobEngine NewEngine(params IJobHandler[] handlers) =>
        new(new DataPaths(_folder), handlers, Options.Create(new JobsOptions { ConcurrentJobs = 1 }), _clock, NullLogger<JobEngine>.Instance);

    /// <summary>Until <paramref name="condition"/> holds (the workers run on real threads), or fails saying where the job is.</summary>
    private static async Task WaitAsync(Job job, Func<bool> condition)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && deadline.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(10);
        Assert.True(condition(), $"job {job.Type}: {job.State}, {job.Attempts} attempt(s), progress {job.Progress}, {job.ErrorDescription} {job.ErrorDetails}");
    }

    [Fact]
    public async Task A_running_job_pauses_resumes_and_cancels_and_its_record_survives_a_restart()
    {
        var handler = new EndlessHandler();
        var engine = NewEngine(handler);
        await engine.StartAsync(CancellationToken.None);
        var job = engine.Submit("Endless", new JsonObject { ["Description"] = "test" }, priority: 5, user: "tester");
        await WaitAsync(job, () => job.State == JobState.Running && job.Progress == 50);
        Assert.Equal(_clock.GetUtcNow().UtcDateTime, job.CreationTime);

        // Its runtime is what the engine's clock measured while it ran.
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(engine.Pause(job.Id));
        await WaitAsync(job, () => job.State == JobState.Paused);
        Assert.Equal(5, job.EffectiveRuntime, precision: 3);
        Assert.False(engine.Resume("no-such-job"));
        Assert.True(engine.Resume(job.Id));
        await WaitAsync(job, () => job.State == JobState.Running && handler.Runs == 2);

        Assert.True(engine.Cancel(job.Id));
        await WaitAsync(job, () => job.State == JobState.Failure);
        Assert.Equal("Canceled job", job.ErrorDescription);
        Assert.Equal(_clock.GetUtcNow().UtcDateTime, job.CompletionTime);
        Assert.False(engine.Pause(job.Id)); // finished jobs stay as they are
        var json = engine.ToJson(job);
        Assert.Equal(37, json["ErrorCode"]!.GetValue<int>());
        Assert.Equal("20260301T080005.000000", json["Timestamp"]!.GetValue<string>());
        await engine.StopAsync(CancellationToken.None);

        // Another engine over the same folder (a restart) knows the job and how it ended.
        var again = NewEngine(new EndlessHandler());
        var reloaded = again.Get(job.Id)!;
        Assert.Equal((JobState.Failure, "Canceled job", 5, "tester"), (reloaded.State, reloaded.ErrorDescription, reloaded.Priority, reloaded.User));
        Assert.Equal("test", reloaded.Content["Description"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_job_running_at_a_crash_runs_again_after_the_restart()
    {
        var engine = NewEngine(new EndlessHandler());
        await engine.StartAsync(CancellationToken.None);
        var job = engine.Submit("Endless", []);
        await WaitAsync(job, () => job.State == JobState.Running);
        // No StopAsync: the process "dies" with the job running; its file says Running.
        var handler = new EndlessHandler();
        var again = NewEngine(handler);
        Assert.Equal(JobState.Pending, again.Get(job.Id)!.State);
        await again.StartAsync(CancellationToken.None);
        await WaitAsync(job, () => handler.Runs == 1);
        again.Cancel(job.Id);
        await again.StopAsync(CancellationToken.None);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_failed_job_runs_again_once_its_retry_delay_has_passed_on_the_engine_clock()
    {
        var failing = new FailsOnceHandler();
        var engine = NewEngine(failing, new QuickHandler());
        await engine.StartAsync(CancellationToken.None);
        var job = engine.Submit("FailsOnce", [], maxRetries: 1, retryDelaySeconds: 30);
        await WaitAsync(job, () => job.State == JobState.Retry);
        Assert.Equal(("Retrying", "destination down"), (job.ErrorDescription, job.ErrorDetails));
        Assert.Equal(_clock.GetUtcNow().UtcDateTime.AddSeconds(30), job.NextAttempt);

        // 29 s on, the retry is not due. A job submitted now runs; the retry, older and so first in line once due,
        // would have been taken before it.
        _clock.Advance(TimeSpan.FromSeconds(29));
        var later = engine.Submit("Quick", []);
        await WaitAsync(later, () => later.State == JobState.Success);
        Assert.Equal((JobState.Retry, 1), (job.State, failing.Runs));

        // Once due, an idle worker's poll (on the same clock) finds it, with nothing submitted to wake it. Whether the
        // poll was armed before or after a move of the clock, the next move fires it.
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (job.State != JobState.Success && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10);
        }
        Assert.True(job.State == JobState.Success, $"{job.State} after {failing.Runs} run(s): {job.ErrorDetails}");
        Assert.Equal(2, failing.Runs);
        Assert.True(job.CompletionTime >= job.NextAttempt);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_running_job_released_to_another_server_is_stopped_and_forgotten_without_a_final_state()
    {
        // Another server took the job over while this one was cut off from the index: it must not run in two places.
        var handler = new EndlessHandler();
        var engine = NewEngine(handler, new QuickHandler());
        await engine.StartAsync(CancellationToken.None);
        var finished = new System.Collections.Concurrent.ConcurrentQueue<string>();
        engine.JobFinished += j => finished.Enqueue(j.Id);
        var job = engine.Submit("Endless", []);
        await WaitAsync(job, () => job.State == JobState.Running && job.Progress == 50);
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(_folder, "jobs"), job.Id + ".*"));

        engine.Release(job.Id);
        bool Gone() => engine.Get(job.Id) is null && !Directory.EnumerateFiles(Path.Combine(_folder, "jobs"), job.Id + ".*").Any();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!Gone() && deadline.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(10);
        Assert.True(Gone(), "the released job is still known here or has files left");
        Assert.Equal(JobState.Running, job.State); // not Failure nor "Canceled job": that is the other server's to say
        Assert.Equal(1, handler.Runs);

        // The worker is free again, and the job does not come back with a restart.
        var quick = engine.Submit("Quick", []);
        await WaitAsync(quick, () => quick.State == JobState.Success && !finished.IsEmpty); // raised once its state is saved
        Assert.Equal([quick.Id], finished);
        await engine.StopAsync(CancellationToken.None);
        Assert.Null(NewEngine(handler, new QuickHandler()).Get(job.Id));
    }

    /// <summary>A job of a handler slow to stop, running, then released to another server (its run here still unwinding).</summary>
    private async Task<(JobEngine Engine, SlowToStopHandler Handler, Job Job)> ReleasedWhileItRunsAsync()
    {
        var handler = new SlowToStopHandler();
        var engine = NewEngine(handler);
        await engine.StartAsync(CancellationToken.None);
        var job = engine.Submit("SlowToStop", [], user: "tester");
        await WaitAsync(job, () => handler.Runs == 1);
        engine.Release(job.Id);
        return (engine, handler, job);
    }

    /// <summary>The job as a shared index's row records it while it runs: what a server taking it back adopts.</summary>
    private static Job CopyAsRecorded(Job job) =>
        JobEngine.Parse(System.Text.Json.JsonSerializer.Serialize(new { job.Id, job.Type, State = "Running", job.User }))!;

    [Fact]
    public async Task A_job_taken_back_while_its_released_run_still_unwinds_runs_again_once_that_run_has_ended()
    {
        // Released to the server that took it over while this one was cut off; that server dies too, and this one, now
        // leading, takes the job back before its own run here has stopped.
        var (engine, handler, job) = await ReleasedWhileItRunsAsync();
        var back = CopyAsRecorded(job);
        Assert.True(engine.Adopt(back));

        // The released run ends without a final state and is not the one kept: the adopted copy runs from its start.
        handler.Unwind.SetResult();
        await WaitAsync(back, () => back.State == JobState.Success);
        Assert.Equal(2, handler.Runs);
        Assert.Same(back, engine.Get(job.Id));
        Assert.Equal(JobState.Running, job.State);
        await engine.StopAsync(CancellationToken.None);
        Assert.Equal(JobState.Success, NewEngine(handler).Get(job.Id)!.State); // and it is saved, not deleted with the released run
    }

    [Fact]
    public async Task A_job_released_while_its_run_still_stops_is_not_shown_nor_stopped_here_and_a_stop_of_the_copy_taken_back_holds()
    {
        // Its run here ignores the cancel for a while (a send finishing its file): meanwhile the job is its new owner's,
        // and a cancel applied to this dying copy would be lost while answered as done.
        var (engine, handler, job) = await ReleasedWhileItRunsAsync();
        Assert.Null(engine.Get(job.Id)); // so JobsView falls back to the index's row, and the request goes to its owner
        Assert.False(engine.Owns(job.Id)); // so a request row for the job is left to its owner
        Assert.DoesNotContain(engine.List(), j => j.Id == job.Id);
        Assert.False(engine.Cancel(job.Id));

        // Taken back before that run has stopped: a cancel now is of the copy that will run, and holds once the old run ends.
        var back = CopyAsRecorded(job);
        Assert.True(engine.Adopt(back));
        Assert.True(engine.Owns(job.Id));
        Assert.Same(back, engine.Get(job.Id));
        Assert.True(engine.Cancel(job.Id));
        handler.Unwind.SetResult();
        await WaitAsync(back, () => back.State == JobState.Failure && engine.Get(job.Id) == back && engine.Owns(job.Id));
        Assert.Equal("Canceled job", back.ErrorDescription);
        await engine.StopAsync(CancellationToken.None);
        Assert.Equal(1, handler.Runs); // canceled before it could run again
        Assert.Equal(JobState.Failure, NewEngine(handler).Get(job.Id)!.State); // saved after the released run's files went
    }

    [Fact]
    public async Task A_job_taken_back_then_taken_over_again_while_its_run_still_stops_is_forgotten_not_revived()
    {
        var handler = new SlowToStopHandler();
        var engine = NewEngine(handler);
        await engine.StartAsync(CancellationToken.None);
        var job = engine.Submit("SlowToStop", []);
        await WaitAsync(job, () => handler.Runs == 1);
        engine.Release(job.Id);
        Assert.True(engine.Adopt(JobEngine.Parse(System.Text.Json.JsonSerializer.Serialize(new { job.Id, job.Type, State = "Pending" }))!));
        engine.Release(job.Id); // its adopter lost it again to a third server
        handler.Unwind.SetResult();
        var folder = Path.Combine(_folder, "jobs");
        bool Gone() => engine.Get(job.Id) is null && !Directory.EnumerateFiles(folder, job.Id + ".*").Any();
        await WaitAsync(job, Gone);
        await engine.StopAsync(CancellationToken.None);
        Assert.Equal(1, handler.Runs);
        Assert.Null(NewEngine(handler).Get(job.Id));
    }

    public void Dispose()
    {
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
