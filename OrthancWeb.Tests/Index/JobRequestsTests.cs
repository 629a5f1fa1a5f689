using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Jobs;
using static OrthancWeb.Tests.Infrastructure.Poll;
using OrthancWeb.Security;
using OrthancWeb.Storage;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Index;

/// <summary>
/// Two job engines with their leases in this process, on a real PostgreSQL index (cheaper than two server processes,
/// and the only way to hold a job's run here while it stops): requests across servers.
/// </summary>
public sealed class JobRequestsTests(ITestOutputHelper output)
{
    /// <summary>Server A's run: ignores its cancel until <see cref="Unwind"/> is set (a send finishing its file).</summary>
    private sealed class SlowToStop : IJobHandler
    {
        public int Runs;
        public readonly TaskCompletionSource Unwind = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public string Type => "Held";

        public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
        {
            Interlocked.Increment(ref Runs);
            await Unwind.Task;
            ct.ThrowIfCancellationRequested();
            return [];
        }
    }

    /// <summary>Server B's run: until it is cancelled.</summary>
    private sealed class UntilCanceled : IJobHandler
    {
        public string Type => "Held";

        public async Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct)
        {
            await Task.Delay(Timeout.Infinite, ct);
            return [];
        }
    }

    /// <summary>What a server's audit trail received, with the actor it was recorded under.</summary>
    private sealed class Trail : IAuditTrail
    {
        public readonly ConcurrentQueue<(AuditEvent Event, AuditActor? Actor)> Events = new();
        public void Record(AuditEvent auditEvent) => Events.Enqueue((auditEvent, AuditActor.Current));
    }

    private sealed record Server(ClusterMembership Membership, SharedJobLeases Leases, JobEngine Engine, Trail Trail, string Name);

    private static async Task<Server> StartAsync(IndexHarness harness, string name, IJobHandler handler)
    {
        var membership = new ClusterMembership(harness.Get<IOptions<StorageOptions>>().Value, new ServerIdentity(name), TimeProvider.System,
            NullLogger<ClusterMembership>.Instance);
        await membership.JoinAsync(CancellationToken.None);
        var trail = new Trail();
        var leases = new SharedJobLeases(membership, harness.Get<IDbContextFactory<IndexDbContext>>(), TimeProvider.System, NullLogger<SharedJobLeases>.Instance, trail);
        var folder = Directory.CreateDirectory(Path.Combine(harness.Folder, name)).FullName;
        var engine = new JobEngine(new DataPaths(folder), [handler], Options.Create(new JobsOptions { ConcurrentJobs = 1 }), TimeProvider.System,
            NullLogger<JobEngine>.Instance, trail, leases);
        await engine.StartAsync(CancellationToken.None);
        return new Server(membership, leases, engine, trail, name);
    }

    [Fact]
    public async Task A_request_made_on_the_old_owner_while_its_released_run_still_stops_reaches_the_new_owner_once_with_who_asked_from_where()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await using var harness = await IndexHarness.StartAsync(IndexDatabase.PostgreSql);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var slow = new SlowToStop();
        var a = await StartAsync(harness, "jobs-a-" + suffix, slow);
        var b = await StartAsync(harness, "jobs-b-" + suffix, new UntilCanceled());
        try
        {
            // A job running on A, recorded in the index as A's.
            var job = a.Engine.Submit("Held", [], user: "bob");
            var name = SharedJobLeases.Prefix + job.Id;
            async Task<JsonNode?> RowAsync()
            {
                await using var db = harness.Db();
                return await db.GlobalProperties.AsNoTracking().Where(p => p.Name == name).Select(p => p.Value).FirstOrDefaultAsync() is { } v ? JsonNode.Parse(v) : null;
            }
            await Until(async () => slow.Runs == 1 && (await RowAsync())?["Owner"]?.GetValue<string>() == a.Name, "the job running on A and recorded");

            // B takes it over (as the leader does after A's absence: the row names B, B runs it from its start)...
            var row = (await RowAsync())!;
            await using (var db = harness.Db())
            {
                var taken = new JsonObject { ["Owner"] = b.Name, ["Job"] = row["Job"]!.DeepClone() }.ToJsonString();
                await db.GlobalProperties.Where(p => p.Name == name).ExecuteUpdateAsync(u => u.SetProperty(p => p.Value, taken));
            }
            var copy = JobEngine.Parse(JsonSerializer.Serialize(new { job.Id, job.Type, State = "Running", job.User }))!;
            Assert.True(b.Engine.Adopt(copy));
            await Until(() => Task.FromResult(copy.State == JobState.Running), "the job running on B");

            // ...while A had lost its session: A's session is ended under it; back, A releases the job, whose run here
            // does not stop at once.
            await using (var admin = new NpgsqlConnection(harness.Get<IOptions<StorageOptions>>().Value.IndexConnectionString + ";Pooling=false"))
            {
                await admin.OpenAsync();
                await using var kill = new NpgsqlCommand(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 " +
                    "AND ((classid::bigint << 32) | objid::bigint) = @key", admin);
                kill.Parameters.AddWithValue("key", new ServerIdentity(a.Name).LockKey);
                Assert.True(await kill.ExecuteScalarAsync() is true, "no session of A found to end");
            }
            await Until(() => Task.FromResult(!a.Engine.Owns(job.Id) && a.Membership.HasSession && a.Leases.Hold is null), "A back, the job released");
            Assert.Equal(1, slow.Runs);
            output.WriteLine($"released on A after {watch.Elapsed.TotalSeconds:F1} s");

            // A cancel through A (its REST's path) while A's run still stops: it is B's job, and B cancels it.
            // Asked by its user, a clinician signed in on A, as A's REST would (the caller and the audit actor of the request).
            var bob = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "bob"), new Claim(ClaimTypes.Role, Roles.Clinician)], "test"));
            var view = new JobsView(a.Engine, a.Leases, a.Trail);
            var found = await view.GetAsync(job.Id, bob, CancellationToken.None);
            Assert.Equal(b.Name, found?.Owner);
            var eve = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "eve"), new Claim(ClaimTypes.Role, Roles.Clinician)], "test"));
            Assert.Null(await view.GetAsync(job.Id, eve, CancellationToken.None)); // another user's job: unknown to her (REST's 404)
            using (Caller.Enter(bob))
            using (AuditActor.Enter(new AuditActor("bob", "10.1.2.3", AuditSources.Rest)))
                Assert.Equal(JobRequestOutcome.Left, await view.RequestAsync(found!.Value.Job, b.Name, JobOperations.Cancel, CancellationToken.None));
            await Until(() => Task.FromResult(copy.State == JobState.Failure), "the job canceled on B");
            Assert.Equal("Canceled job", copy.ErrorDescription);
            output.WriteLine($"canceled on B after {watch.Elapsed.TotalSeconds:F1} s");

            // Applied once, its row claimed; B's trail says who asked, from where, through which server; A's that it asked.
            await using (var db = harness.Db())
                Assert.False(await db.GlobalProperties.AnyAsync(p => p.Name == SharedJobLeases.RequestPrefix + job.Id));
            var applied = Assert.Single(b.Trail.Events, e => e.Event.Action == AuditActions.JobRequest);
            Assert.Equal(("bob", "10.1.2.3", AuditOutcome.Success), (applied.Actor?.User, applied.Actor?.Address, applied.Event.Outcome));
            Assert.Contains($"cancel asked through server {a.Name} at ", applied.Event.Details, StringComparison.Ordinal);
            Assert.Contains(b.Trail.Events, e => e.Event.Action == AuditActions.JobCanceled && e.Actor?.User == "bob");
            var asked = Assert.Single(a.Trail.Events, e => e.Event.Action == AuditActions.JobRequest);
            Assert.Contains($"cancel asked of server {b.Name}", asked.Event.Details, StringComparison.Ordinal);
            Assert.DoesNotContain(a.Trail.Events, e => e.Event.Action == AuditActions.JobCanceled);

            // A's run ends: A forgets the job, and B's state of it stands.
            slow.Unwind.SetResult();
            await Until(() => Task.FromResult(a.Engine.Get(job.Id) is null && !Directory.EnumerateFiles(Path.Combine(harness.Folder, a.Name, "jobs"), job.Id + ".*").Any()),
                "A's run ended, the job forgotten");
            Assert.Equal(1, slow.Runs);
            await Until(async () => (await RowAsync())?["Job"]?["State"]?.GetValue<string>() == "Failure", "B's end of the job in the index");
            Assert.Equal(b.Name, (await RowAsync())!["Owner"]!.GetValue<string>());

            // B stops for good: a resubmit of its failed job is refused (nobody takes finished jobs over, so nobody would
            // apply it), and leaves no request behind.
            await StopAsync(b);
            await Until(async () => !(await a.Membership.OthersRunningAsync([b.Name], CancellationToken.None)).Contains(b.Name), "B gone from pg_locks");
            using (Caller.Enter(bob))
                Assert.Equal(JobRequestOutcome.OwnerAway, await view.RequestAsync(copy, b.Name, JobOperations.Resubmit, CancellationToken.None));
            await using (var db = harness.Db())
                Assert.False(await db.GlobalProperties.AnyAsync(p => p.Name == SharedJobLeases.RequestPrefix + job.Id));
            output.WriteLine($"done in {watch.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            slow.Unwind.TrySetResult();
            foreach (var server in new[] { a, b }) await StopAsync(server);
        }
    }

    private readonly HashSet<Server> _stopped = [];

    private async Task StopAsync(Server server)
    {
        if (!_stopped.Add(server)) return;
        await server.Engine.StopAsync(CancellationToken.None);
        await server.Membership.DisposeAsync();
    }
}
