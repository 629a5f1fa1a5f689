using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
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

    /// <summary>What a server's leases logged: shown when a test fails.</summary>
    private sealed class Lines : ILogger<SharedJobLeases>
    {
        public readonly ConcurrentQueue<string> All = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            All.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }

    private sealed record Server(ClusterMembership Membership, SharedJobLeases Leases, JobEngine Engine, Trail Trail, string Name, Lines Log);

    /// <summary>
    /// Jobs of <paramref name="type"/> done at once: "Quick" ones, and "Held" ones as the leader runs a job it took over
    /// from a server that held it.
    /// </summary>
    private sealed class Done(string type = "Quick") : IJobHandler
    {
        public string Type => type;
        public Task<JsonObject> RunAsync(Job job, IProgress<double> progress, CancellationToken ct) => Task.FromResult(new JsonObject());
    }

    /// <param name="leasesTime">The clock of the server's leases (their passes, the grace before a takeover).</param>
    /// <param name="also">A second handler (another job type).</param>
    private static async Task<Server> StartAsync(IndexHarness harness, string name, IJobHandler handler, int history = 100, TimeProvider? leasesTime = null,
        IJobHandler? also = null)
    {
        var membership = new ClusterMembership(harness.Get<IOptions<StorageOptions>>().Value, new ServerIdentity(name), TimeProvider.System,
            NullLogger<ClusterMembership>.Instance);
        await membership.JoinAsync(CancellationToken.None);
        var trail = new Trail();
        var log = new Lines();
        var leases = new SharedJobLeases(membership, harness.Get<IDbContextFactory<IndexDbContext>>(), leasesTime ?? TimeProvider.System, log, trail);
        var folder = Directory.CreateDirectory(Path.Combine(harness.Folder, name)).FullName;
        var engine = new JobEngine(new DataPaths(folder), also is null ? [handler] : [handler, also], Options.Create(new JobsOptions { ConcurrentJobs = 1, JobsHistorySize = history }), TimeProvider.System,
            NullLogger<JobEngine>.Instance, trail, leases);
        await engine.StartAsync(CancellationToken.None);
        return new Server(membership, leases, engine, trail, name, log);
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
            await EndSessionAsync(harness, new ServerIdentity(a.Name).LockKey);
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

    private const int Dead = 5000;

    [Fact]
    public async Task Rows_of_jobs_gone_from_every_server_are_pruned_and_the_list_of_other_servers_jobs_reads_only_their_live_rows()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await using var harness = await IndexHarness.StartAsync(IndexDatabase.PostgreSql);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        await using (var db = harness.Db())
        {
            // A server gone for good, its history left: a finished job, and one recorded by an earlier version (no "Was").
            foreach (var (id, was) in new[] { ("d-now", (JsonNode?)new JsonArray()), ("d-then", null) })
            {
                var row = new JsonObject { ["Owner"] = "jobs-d-" + suffix, ["Job"] = new JsonObject { ["Id"] = id + suffix, ["Type"] = "Quick", ["State"] = "Success" } };
                if (was is not null) row["Was"] = was;
                db.GlobalProperties.Add(new GlobalProperty { Name = SharedJobLeases.Prefix + id + suffix, Value = row.ToJsonString() });
            }
            await db.SaveChangesAsync();
            // What an earlier version left on a busy archive: a row without its job for every job that ever left a history.
            await db.Database.ExecuteSqlRawAsync(
                """INSERT INTO "GlobalProperties" ("Name", "Value") SELECT {0} || md5(g::text), {1} FROM generate_series(1, {2}) g""",
                SharedJobLeases.Prefix, $$"""{"Owner":"jobs-gone-{{suffix}}","Job":null}""", Dead);
        }
        // The leader's leases on a clock ten times as fast: D's absence lasts the grace (15 s) in 1.5 s.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var ticking = new CancellationTokenSource();
        var ticker = Task.Run(async () =>
        {
            while (!ticking.IsCancellationRequested)
            {
                clock.Advance(TimeSpan.FromMilliseconds(500));
                await Task.Delay(50, CancellationToken.None);
            }
        }, CancellationToken.None);
        var started = new List<Server>(); // stopped at the end, whatever happens
        try
        {
            // A, the leader, keeps one job in its history: the job it takes over leaves it at A's next job.
            var a = await StartAsync(harness, "jobs-a-" + suffix, new Done(), history: 1, leasesTime: clock, also: new Done("Held"));
            started.Add(a);
            // A leads: the harness's own membership, which led (and follows a fake clock), has its session ended under it.
            await EndSessionAsync(harness, ClusterMembership.LeaderKey);
            await Until(() => Task.FromResult(a.Membership.IsLeader), "A leading", seconds: 10);
            output.WriteLine($"A leads after {watch.Elapsed.TotalSeconds:F1} s");
            async Task<JsonNode?> RowAsync(string id)
            {
                await using var db = harness.Db();
                return await db.GlobalProperties.AsNoTracking().Where(p => p.Name == SharedJobLeases.Prefix + id).Select(p => p.Value).FirstOrDefaultAsync() is { } v ? JsonNode.Parse(v) : null;
            }
            async Task<string?> StateAsync(string id) => (await RowAsync(id))?["Job"]?["State"]?.GetValue<string>();
            static string[] Was(JsonNode row) => [.. row["Was"]!.AsArray().Select(w => w!.GetValue<string>())];

            // C runs a job Z and stops (its file stays, Z in it as pending): the leader takes Z over once C has been gone
            // for the grace (1.5 s on A's clock), and its row says C may still have a copy.
            var c = "jobs-c-" + suffix;
            var cFirst = await StartAsync(harness, c, new UntilCanceled());
            started.Add(cFirst);
            var z = cFirst.Engine.Submit("Held", []).Id;
            await Until(async () => await StateAsync(z) == "Running", "Z running on C and recorded");
            await StopAsync(cFirst);

            var b = await StartAsync(harness, "jobs-b-" + suffix, new Done(), history: 1);
            started.Add(b);
            async Task<string> RunAsync(Server server)
            {
                var job = server.Engine.Submit("Quick", []);
                await Until(async () => await StateAsync(job.Id) == "Success", $"a job of {server.Name}'s done and recorded");
                return job.Id;
            }
            // Two jobs of B's own; the second pushes the first out of B's history (one job kept).
            var y1 = await RunAsync(b);
            var y2 = await RunAsync(b);
            // A job B took over from E, by hand (as the leader does, E being gone): its row says E may still have a copy.
            var e = "jobs-e-" + suffix;
            var x = Guid.NewGuid().ToString("N");
            await using (var db = harness.Db())
            {
                var copy = new JsonObject { ["Id"] = x, ["Type"] = "Quick", ["State"] = "Pending" };
                db.GlobalProperties.Add(new GlobalProperty { Name = SharedJobLeases.Prefix + x, Value = new JsonObject { ["Owner"] = b.Name, ["Job"] = copy.DeepClone(), ["Was"] = new JsonArray(e) }.ToJsonString() });
                await db.SaveChangesAsync();
                Assert.True(b.Engine.Adopt(JobEngine.Parse(copy)!));
            }
            await Until(async () => await StateAsync(x) == "Success", "the job taken from E done on B");
            var y3 = await RunAsync(b); // pushes X out of B's history

            // The leader's takeover of Z recorded C as a server Z was taken from; A ran Z, and Z leaves A's history at A's next job.
            await Until(async () => (await RowAsync(z))?["Owner"]?.GetValue<string>() == a.Name, "Z taken over by A", seconds: 10);
            Assert.Equal([c], Was((await RowAsync(z))!));
            await Until(async () => await StateAsync(z) == "Success", "Z done on A");
            var ay = await RunAsync(a);
            output.WriteLine($"Z taken over and run by A after {watch.Elapsed.TotalSeconds:F1} s");

            // A's list (GET /jobs): its own job and B's live one, none of the rows of jobs gone.
            var view = new JobsView(a.Engine, a.Leases, a.Trail);
            await Until(async () => (await RowAsync(x))?["Job"] is null && (await RowAsync(z))?["Job"] is null, "X out of B's history, Z out of A's");
            var listed = (await view.ListAsync(null, CancellationToken.None)).Select(j => j.Id).ToList();
            Assert.Equal(new[] { y3, ay }.Order(StringComparer.Ordinal), listed.Where(id => !id.StartsWith("d-", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            // The list's read itself (the SQL filters): of the 5,000 tombstones, B's tombstone of X, A's own live row and
            // tombstone, nothing comes out of the database; only the other servers' live rows (B's, D's if not pruned yet).
            await using (var db = harness.Db())
            {
                var read = await a.Leases.OtherJobRows(db).ToListAsync();
                Assert.Equal([SharedJobLeases.Prefix + y3], read.Select(r => r.Name).Where(n => !n.StartsWith(SharedJobLeases.Prefix + "d-", StringComparison.Ordinal)));
                Assert.All(read, r => Assert.DoesNotContain(a.Name, r.Value, StringComparison.Ordinal));
                Assert.All(read, r => Assert.True(JsonNode.Parse(r.Value)?["Job"] is JsonObject, $"tombstone read: {r.Value}"));
            }
            var times = new List<double>();
            for (var i = 0; i < 21; i++)
            {
                var one = System.Diagnostics.Stopwatch.StartNew();
                await view.ListAsync(null, CancellationToken.None);
                times.Add(one.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            output.WriteLine($"list of other servers' jobs over {Dead} dead rows: median {times[times.Count / 2]:F1} ms, min {times[0]:F1} ms, max {times[^1]:F1} ms");

            // The rows of B's own jobs that left its history are gone: nobody else ever had them.
            Assert.Null(await RowAsync(y1));
            Assert.Null(await RowAsync(y2));
            // X's and Z's stay, without their jobs, while E and C may have a copy to forget...
            var tombstone = (await RowAsync(x))!;
            Assert.Equal(b.Name, tombstone["Owner"]!.GetValue<string>());
            Assert.Equal([e], Was(tombstone));
            Assert.Equal([c], Was((await RowAsync(z))!));
            // ...and go once each, back, has said it has nothing of it: E restarts without a copy (its row is found by
            // what it waits for), C with its file (saved before A took Z over), which it forgets.
            var eServer = await StartAsync(harness, e, new Done());
            started.Add(eServer);
            await Until(async () => await RowAsync(x) is null, "X's row gone once E, restarted without it, has said so", seconds: 10);
            // So too when E's session comes back: a job taken from E while it was cut off, which E deleted meanwhile
            // (nothing of it to release), waits for E's word in B's tombstone.
            var w = Guid.NewGuid().ToString("N");
            await using (var db = harness.Db())
            {
                db.GlobalProperties.Add(new GlobalProperty { Name = SharedJobLeases.Prefix + w, Value = $$"""{"Owner":"{{b.Name}}","Was":["{{e}}"],"Job":null}""" });
                await db.SaveChangesAsync();
            }
            await EndSessionAsync(harness, new ServerIdentity(e).LockKey);
            await Until(async () => await RowAsync(w) is null, "W's row gone once E, back, has said it has nothing of it", seconds: 15);
            output.WriteLine($"E's rejoin acknowledged after {watch.Elapsed.TotalSeconds:F1} s");
            var cJobs = Path.Combine(harness.Folder, c, "jobs");
            Assert.True(File.Exists(Path.Combine(cJobs, z + ".json")), "C's copy of Z");
            var cServer = await StartAsync(harness, c, new UntilCanceled());
            started.Add(cServer);
            await Until(async () => await RowAsync(z) is null, "Z's row gone once C has forgotten its copy", seconds: 10);
            Assert.False(cServer.Engine.Holds(z));
            Assert.Empty(Directory.EnumerateFiles(cJobs));
            Assert.NotNull(await RowAsync(y3));
            // A state of Z that C queued before it released Z (C cut off, its writes retried), written only now, finds no
            // row: it must not revive Z as C's (listed everywhere, and run again once C is next gone).
            await cServer.Leases.WriteAsync(cServer.Engine, z, $$"""{"Id":"{{z}}","Type":"Held","State":"Running"}""", CancellationToken.None);
            Assert.Null(await RowAsync(z));

            output.WriteLine($"pruned on A, B, C and E after {watch.Elapsed.TotalSeconds:F1} s");

            // D's finished job goes too once D has been gone for the grace (the leader, A): D would write it again if
            // it came back. The one an earlier version recorded stays: it may have been taken from a server still away.
            await Until(async () => await RowAsync("d-now" + suffix) is null, "D's finished job's row pruned by the leader", seconds: 10);
            Assert.NotNull(await RowAsync("d-then" + suffix));
            Assert.Equal(new[] { y3, ay, "d-then" + suffix }.Order(StringComparer.Ordinal), (await view.ListAsync(null, CancellationToken.None)).Select(j => j.Id).Order(StringComparer.Ordinal));
            output.WriteLine($"done in {watch.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            await ticking.CancelAsync();
            await ticker;
            foreach (var server in started)
            {
                foreach (var line in server.Log.All) output.WriteLine($"{server.Name}: {line}");
                await StopAsync(server);
            }
        }
    }

    /// <summary>
    /// Ends, under its holder, the PostgreSQL session holding an advisory lock (a server's identity, the leader's) in
    /// this test's database only: the PostgreSQL server is shared by the test classes, each in a database of its own, and
    /// the leader's key is the same in all of them (advisory locks are per database, pg_locks lists every database's).
    /// </summary>
    private static async Task EndSessionAsync(IndexHarness harness, long key)
    {
        await using var admin = new NpgsqlConnection(harness.Get<IOptions<StorageOptions>>().Value.IndexConnectionString + ";Pooling=false");
        await admin.OpenAsync();
        await using var kill = new NpgsqlCommand(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 " +
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
            "AND ((classid::bigint << 32) | objid::bigint) = @key AND pid <> pg_backend_pid()", admin);
        kill.Parameters.AddWithValue("key", key);
        Assert.True(await kill.ExecuteScalarAsync() is true, $"no session holding lock {key} found to end");
    }

    private readonly HashSet<Server> _stopped = [];

    private async Task StopAsync(Server server)
    {
        if (!_stopped.Add(server)) return;
        await server.Engine.StopAsync(CancellationToken.None);
        await server.Membership.DisposeAsync();
    }
}
