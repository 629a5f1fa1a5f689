using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Npgsql;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Infrastructure.Poll;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Index;

/// <summary>Two servers sharing an index on a PostgreSQL of their own, which the test stops and starts under them.</summary>
public sealed class PostgresRestartFixture : SeveralServersFixture
{
    private readonly Lazy<Task<PostgresServer>> _own = new(PostgresServer.StartOwnAsync);

    protected override int Count => 2;

    protected override Task<PostgresServer> PostgresAsync() => _own.Value;

    public Task<PostgresServer> Postgres => _own.Value;

    /// <summary>Its own PostgreSQL is stopped with it: the test process's exit handler does not run when the runner ends it.</summary>
    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        (await _own.Value).Stop();
    }
}

public sealed class PostgresRestartTests(PostgresRestartFixture fx, ITestOutputHelper output) : IClassFixture<PostgresRestartFixture>
{
    private Task<StorescuSender> SendAsync(int server, IEnumerable<string> files) =>
        StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[server], files);

    private async Task<long> InstancesAsync(int server) =>
        long.Parse((await Rest.GetJsonAsync(fx.Clients[server], "/statistics"))["CountInstances"]!.ToString(), CultureInfo.InvariantCulture);

    /// <summary>Whether each server's identity lock is held in the index's database now (as the servers read it: pg_locks).</summary>
    private async Task<bool> IdentityLocksHeldAsync(IEnumerable<long> keys)
    {
        try
        {
            await using var connection = new NpgsqlConnection(fx.Database + ";Pooling=false");
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 " +
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", connection);
            var held = new HashSet<long>();
            await using (var reader = await command.ExecuteReaderAsync())
                while (await reader.ReadAsync()) held.Add(reader.GetInt64(0));
            return keys.All(held.Contains);
        }
        catch (NpgsqlException) { return false; }
    }

    /// <summary>A call during the outage: it must fail, not hang.</summary>
    private static async Task<(HttpStatusCode Status, string Body, TimeSpan Took)> TimedAsync(Func<Task<HttpResponseMessage>> call)
    {
        var watch = Stopwatch.StartNew();
        using var answer = await call();
        return (answer.StatusCode, await answer.Content.ReadAsStringAsync(), watch.Elapsed);
    }

    [Fact]
    public async Task A_restart_of_PostgreSQL_under_two_servers_refuses_stores_meanwhile_loses_nothing_acknowledged_and_both_rejoin()
    {
        var pg = await fx.Postgres;
        var total = Stopwatch.StartNew();
        void Mark(string what) => output.WriteLine($"{total.Elapsed.TotalSeconds,5:F1} s  {what}");
        var names = new List<string>();
        for (var i = 0; i < 2; i++)
            names.Add((await Rest.GetJsonAsync(fx.Clients[i], "/system"))["DatabaseServerIdentifier"]!.GetValue<string>());
        var keys = names.Select(n => new OrthancWeb.Hosting.ServerIdentity(n).LockKey).ToList();
        Assert.True(await IdentityLocksHeldAsync(keys));
        var instancesAtStart = await InstancesAsync(0); // the other test of the class may have stored some

        // A job of server 0 waiting to retry (its destination does not listen yet): it must outlive the restart, run
        // once and stay server 0's (server 1 must not take it over because server 0's lock vanished with the sessions).
        var small = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "job"), GeneratedInstances.Series("RESTART-JOB", "1.2.826.0.1.3680043.10.9106", 3));
        Assert.Equal(3, (await SendAsync(0, small)).Acknowledged.Count);
        var smallStudy = GeneratedInstances.Series("RESTART-JOB", "1.2.826.0.1.3680043.10.9106", 1)[0].StudyId;
        var job = (await Rest.PostJsonAsync(fx.Clients[0], "/modalities/dest/store",
            new { Resources = new[] { smallStudy }, Asynchronous = true, Retries = 100, RetryDelay = 1 }))["ID"]!.GetValue<string>();
        await Until(async () => (await Rest.GetJsonAsync(fx.Clients[0], $"/jobs/{job}"))["State"]!.GetValue<string>() == "Retry", "the job waiting to retry", 30);

        // storescu sends 300 instances to server 0; PostgreSQL stops once a few dozen are in.
        var instances = GeneratedInstances.Series("RESTART-INGEST", "1.2.826.0.1.3680043.10.9107", 300, pixelBytes: 8 * 1024);
        var files = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "ingest"), instances);
        var byFile = files.Zip(instances).ToDictionary(p => p.First, p => p.Second);
        var before = await InstancesAsync(1);
        var sending = SendAsync(0, files);
        await Until(async () => await InstancesAsync(1) >= before + 40, "40 instances in", 30);
        Mark("job waiting, 40 instances in");
        var outage = Stopwatch.StartNew();
        await Task.Run(pg.StopServer);
        output.WriteLine($"PostgreSQL stopped in {outage.ElapsedMilliseconds} ms");
        try
        {
            // During the outage: a REST store is refused as unavailable (Orthanc's DatabaseUnavailable), a read fails
            // at once instead of hanging, neither server is ready, and a C-STORE is answered with a failure.
            var refused = GeneratedInstances.Series("RESTART-REFUSED", "1.2.826.0.1.3680043.10.9108", 1)[0];
            var store = await TimedAsync(() => fx.Clients[1].PostAsync("/instances", new ByteArrayContent(refused.Bytes)));
            output.WriteLine($"REST store during the outage: {(int)store.Status} in {store.Took.TotalMilliseconds:F0} ms: {store.Body}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, store.Status);
            Assert.Contains("index database", store.Body, StringComparison.Ordinal);
            var read = await TimedAsync(() => fx.Clients[1].GetAsync("/instances"));
            output.WriteLine($"REST read during the outage: {(int)read.Status} in {read.Took.TotalMilliseconds:F0} ms");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, read.Status);
            Assert.True(read.Took < TimeSpan.FromSeconds(10), $"a read took {read.Took} during the outage");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await fx.ReadyAsync(0));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await fx.ReadyAsync(1));
            // Without its session server 0 starts no job: the job waiting to retry every second is not tried again
            // until the session is back (the leader could have taken it over meanwhile). An attempt that had started
            // before the loss may still end: counted a second after the hold began, then again at the outage's end.
            await Until(() => Task.FromResult(fx.Servers[0].Log.Contains("no job starts here", StringComparison.Ordinal)), "server 0 holding its jobs", 10);
            // Its own jobs answer from memory meanwhile: once the job is not Running, no attempt is under way, and none starts.
            await Until(async () => await fx.JobStateAsync(0, job) != "Running", "a running attempt ended", 10);
            var held = Stopwatch.StartNew();
            var attemptsHeld = fx.FailedAttempts(0, job);
            var duringFiles = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "during"), GeneratedInstances.Series("RESTART-DURING", "1.2.826.0.1.3680043.10.9109", 3));
            var during = await SendAsync(1, duringFiles);
            output.WriteLine(during.Output.Split('\n').LastOrDefault(l => l.Contains("Store Response", StringComparison.Ordinal)));
            Assert.Empty(during.Acknowledged);
            Assert.Contains("Refused: OutOfResources", during.Output, StringComparison.Ordinal);
            var first = await sending;
            output.WriteLine($"server 0 acknowledged {first.Acknowledged.Count} of 300 around the outage");
            Assert.InRange(first.Acknowledged.Count, 40, 300); // all 300 when storescu outran pg_ctl's stop

            // Long enough for several retries (one a second) had the workers not been held.
            await Until(() => Task.FromResult(held.Elapsed > TimeSpan.FromSeconds(5)), "five seconds held", 10);
            Assert.Equal(attemptsHeld, fx.FailedAttempts(0, job));
            Assert.Equal("Retry", await fx.JobStateAsync(0, job)); // its own jobs answer from memory meanwhile
            output.WriteLine($"the job was tried {attemptsHeld} time(s) before the hold, none in {held.Elapsed.TotalSeconds:F1} s held");

            Mark("outage checked");
            // PostgreSQL back: both servers take their identity locks again, one leads, both are ready, within seconds
            // and without a restart of either.
            await Task.Run(pg.StartServer);
            var back = Stopwatch.StartNew();
            await Until(async () => await IdentityLocksHeldAsync(keys), "both identity locks held again", 20);
            await Until(async () => await fx.ReadyAsync(0) == HttpStatusCode.OK && await fx.ReadyAsync(1) == HttpStatusCode.OK, "both servers ready", 20);
            await Until(async () => (await fx.LeadersAsync()).Count == 1, "one leader", 20);
            output.WriteLine($"outage {outage.ElapsedMilliseconds - back.ElapsedMilliseconds} ms; rejoined, ready and led {back.ElapsedMilliseconds} ms after PostgreSQL was back");
            Assert.True(back.Elapsed < TimeSpan.FromSeconds(10), $"took {back.Elapsed} to rejoin");

            Mark("rejoined");
            // Both store again: the rest of the series to server 1 (the instances acknowledged before are AlreadyStored),
            // a few to server 0; the refused REST instance was not stored.
            var again = await SendAsync(1, files);
            Assert.Equal(300, again.Acknowledged.Count);
            var againFiles = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "again"), GeneratedInstances.Series("RESTART-AGAIN", "1.2.826.0.1.3680043.10.9110", 5));
            Assert.Equal(5, (await SendAsync(0, againFiles)).Acknowledged.Count);
            Assert.Equal(HttpStatusCode.NotFound, (await fx.Clients[0].GetAsync($"/instances/{refused.Id}")).StatusCode);

            // Nothing acknowledged before or after the outage is lost, and every file is intact.
            foreach (var file in first.Acknowledged)
            {
                var verify = await fx.Clients[1].PostAsync($"/instances/{byFile[file].Id}/attachments/dicom/verify-md5", null);
                Assert.True(verify.IsSuccessStatusCode, $"{Path.GetFileName(file)} acknowledged before the outage, then {verify.StatusCode}");
            }
            Assert.Equal(instancesAtStart + 3 + 300 + 5, await InstancesAsync(0));
            // One file per instance, but for the file of a store whose COMMIT was on its way when PostgreSQL stopped:
            // not acknowledged, and kept, since the commit may have gone through (storescu waits for each answer, so
            // that is one store at most); a start-up check clears it if no row points at it.
            var (count, _) = fx.StoredFiles();
            output.WriteLine($"{count - await InstancesAsync(1)} file(s) beyond the instances indexed");
            Assert.InRange(count - await InstancesAsync(1), 0, 1);

            Mark("stored again, verified");
            // The leader's duties resumed: the series stored across the outage turns stable.
            await Until(async () => (await Rest.GetJsonAsync(fx.Clients[1], $"/studies/{instances[0].StudyId}"))["IsStable"]!.GetValue<bool>(), "the study stable", 20);

            Mark("stable");
            // A second server under a running server's identifier is still refused.
            var twin = Path.Combine(fx.Root, "twin");
            Directory.CreateDirectory(twin);
            var refusedStart = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(twin,
                fx.Settings(ServerProcess.FreePort()) + $", \"DatabaseServerIdentifier\": \"{names[1]}\""));
            Assert.Contains("already runs", refusedStart.Message, StringComparison.Ordinal);

            Mark("twin refused");
            // The job is still server 0's: once its destination listens it succeeds there, once; server 1 never took it.
            // Looked at once a wrong takeover could have come: the leader starts its clock in its new term, after
            // PostgreSQL is back, so its grace and a pass more from then.
            var grace = OrthancWeb.Jobs.SharedJobLeases.AbsenceBeforeTakeover + 2 * OrthancWeb.Jobs.SharedJobLeases.AdoptionPeriod;
            await Until(() => Task.FromResult(back.Elapsed > grace), "the leader's grace over", 30);
            var received = Path.Combine(fx.Root, "dest");
            await using (var dest = new StorescpPeers())
            {
                await dest.StartAsync(SeveralServersFixture.DestAet, fx.DestPort, received);
                await Until(async () => (await Rest.GetJsonAsync(fx.Clients[0], $"/jobs/{job}"))["State"]!.GetValue<string>() == "Success", "the job done", 30);
            }
            Assert.Equal(3, Directory.EnumerateFiles(received, "*", SearchOption.AllDirectories).Count());
            // Run once, by server 0 alone: its row still names it, neither server took it over, and server 1 answers
            // for it from that row.
            Assert.Equal(names[0], await fx.JobOwnerAsync(job));
            for (var i = 0; i < 2; i++) Assert.DoesNotContain($"Taking over job {job}", fx.Servers[i].Log, StringComparison.Ordinal);
            await Until(async () => await fx.JobStateAsync(1, job) == "Success", "server 1 answering the job's end", 10);
            Mark("job done");
        }
        catch
        {
            // What the servers said of it.
            for (var i = 0; i < 2; i++)
                output.WriteLine($"--- server {i}:\n" + string.Join('\n', fx.Servers[i].Log.Split('\n').TakeLast(80)));
            throw;
        }
        finally
        {
            // Whatever failed, the fixture needs its database back to drop it.
            try { await Task.Run(pg.StartServer); } catch (InvalidOperationException) { }
        }
    }

    [Fact]
    public async Task A_job_of_one_server_is_listed_and_answered_by_the_other_which_pauses_resumes_and_cancels_it_through_the_index()
    {
        var watch = Stopwatch.StartNew();
        // A job of server 0 that keeps retrying: its destination does not listen.
        var instance = GeneratedInstances.Series("CLUSTER-JOBS", "1.2.826.0.1.3680043.10.9111", 1)[0];
        Assert.True((await fx.Clients[0].PostAsync("/instances", new ByteArrayContent(instance.Bytes))).IsSuccessStatusCode);
        var job = (await Rest.PostJsonAsync(fx.Clients[0], "/modalities/dest/store",
            new { Resources = new[] { instance.StudyId }, Asynchronous = true, Retries = 1000, RetryDelay = 1 }))["ID"]!.GetValue<string>();
        await Until(async () => await fx.JobStateAsync(0, job) == "Retry", "the job retrying on server 0", 30);

        // Server 1 lists it and answers for it as server 0 does (from the row server 0 keeps in the index).
        await Until(async () => Rest.Ids(await Rest.GetJsonAsync(fx.Clients[1], "/jobs")).Contains(job), "the job listed by server 1", 10);
        var (there, here) = (await Rest.GetJsonAsync(fx.Clients[0], $"/jobs/{job}"), await Rest.GetJsonAsync(fx.Clients[1], $"/jobs/{job}"));
        Assert.Equal(there.AsObject().Select(p => p.Key), here.AsObject().Select(p => p.Key));
        foreach (var field in new[] { "ID", "Type", "Priority", "CreationTime", "Content" })
            Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(there[field], here[field]), $"{field}: {there[field]} on server 0, {here[field]} on server 1");
        Assert.Contains(job, (await Rest.GetJsonAsync(fx.Clients[1], "/jobs?expand")).AsArray().Select(j => j!["ID"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Clients[1].GetAsync($"/jobs/{Guid.NewGuid()}")).StatusCode);

        // Server 1 pauses, resumes and cancels it: server 0, which runs it, applies each within seconds.
        async Task Act(string operation, Func<string, bool> reached)
        {
            var answer = await fx.Clients[1].PostAsync($"/jobs/{job}/{operation}", JsonContent.Create(new { }));
            Assert.True(answer.IsSuccessStatusCode, $"{operation}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
            await Until(async () => reached(await fx.JobStateAsync(0, job)), $"{operation} applied on server 0", 15);
            await Until(async () => reached(await fx.JobStateAsync(1, job)), $"{operation} seen from server 1", 10);
        }
        await Act("pause", s => s == "Paused");
        await Act("resume", s => s != "Paused");
        await Act("cancel", s => s == "Failure");
        var canceled = await Rest.GetJsonAsync(fx.Clients[1], $"/jobs/{job}");
        Assert.Equal(("Canceled job", 37), (canceled["ErrorDescription"]!.GetValue<string>(), canceled["ErrorCode"]!.GetValue<int>()));
        // Finished: nothing more to cancel, as on server 0 itself.
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.Clients[1].PostAsync($"/jobs/{job}/cancel", JsonContent.Create(new { }))).StatusCode);
        output.WriteLine($"listed, answered, paused, resumed and canceled across servers in {watch.Elapsed.TotalSeconds:F1} s");
    }
}
