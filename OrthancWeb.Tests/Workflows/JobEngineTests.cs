using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
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

    private JobEngine NewEngine(IJobHandler handler) =>
        new(new DataPaths(_folder), [handler], Options.Create(new JobsOptions { ConcurrentJobs = 1 }), NullLogger<JobEngine>.Instance);

    private static async Task WaitAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(20);
        Assert.True(condition());
    }

    [Fact]
    public async Task A_running_job_pauses_resumes_and_cancels_and_its_record_survives_a_restart()
    {
        var handler = new EndlessHandler();
        var engine = NewEngine(handler);
        await engine.StartAsync(CancellationToken.None);
        var job = engine.Submit("Endless", new JsonObject { ["Description"] = "test" }, priority: 5, user: "tester");
        await WaitAsync(() => job.State == JobState.Running && job.Progress == 50);

        Assert.True(engine.Pause(job.Id));
        await WaitAsync(() => job.State == JobState.Paused);
        Assert.False(engine.Resume("no-such-job"));
        Assert.True(engine.Resume(job.Id));
        await WaitAsync(() => job.State == JobState.Running && handler.Runs == 2);

        Assert.True(engine.Cancel(job.Id));
        await WaitAsync(() => job.State == JobState.Failure);
        Assert.Equal("Canceled job", job.ErrorDescription);
        Assert.False(engine.Pause(job.Id)); // finished jobs stay as they are
        Assert.Equal(37, JobEngine.ToJson(job)["ErrorCode"]!.GetValue<int>());
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
        await WaitAsync(() => job.State == JobState.Running);
        // No StopAsync: the process "dies" with the job running; its file says Running.
        var handler = new EndlessHandler();
        var again = NewEngine(handler);
        Assert.Equal(JobState.Pending, again.Get(job.Id)!.State);
        await again.StartAsync(CancellationToken.None);
        await WaitAsync(() => handler.Runs == 1);
        again.Cancel(job.Id);
        await again.StopAsync(CancellationToken.None);
        await engine.StopAsync(CancellationToken.None);
    }

    public void Dispose()
    {
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
