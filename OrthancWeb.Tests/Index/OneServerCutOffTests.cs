using System.Diagnostics;
using System.Net;
using Npgsql;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Infrastructure.Poll;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Index;

/// <summary>Two servers on one PostgreSQL index, the second reaching it through a link the test cuts.</summary>
public sealed class OneServerCutOffFixture : SeveralServersFixture
{
    public TcpCut? Link { get; private set; }

    protected override int Count => 2;

    protected override string ConnectionString(int i)
    {
        if (i == 0) return Database;
        var direct = new NpgsqlConnectionStringBuilder(Database);
        Link ??= new TcpCut(direct.Port);
        return new NpgsqlConnectionStringBuilder(Database) { Port = Link.Port }.ConnectionString;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Link?.Dispose();
    }
}

/// <summary>
/// One server cut off from PostgreSQL while the other keeps it (its network gone, not the database): the cut-off server
/// starts no job, the leader takes its job over once it has been gone for the grace and runs it once, and the server,
/// back, forgets the job instead of running it a second time.
/// </summary>
public sealed class OneServerCutOffTests(OneServerCutOffFixture fx, ITestOutputHelper output) : IClassFixture<OneServerCutOffFixture>
{
    [Fact]
    public async Task A_server_cut_off_alone_starts_no_job_its_job_runs_once_on_the_leader_and_back_it_forgets_the_job()
    {
        var link = fx.Link!;
        var names = new List<string>();
        for (var i = 0; i < 2; i++)
            names.Add((await Rest.GetJsonAsync(fx.Clients[i], "/system"))["DatabaseServerIdentifier"]!.GetValue<string>());

        // A job of server 1 waiting to retry every second: its destination does not listen yet.
        var uid = "1.2.826.0.1.3680043.10.9201";
        var files = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "cut-job"), GeneratedInstances.Series("CUTOFF-JOB", uid, 3));
        Assert.Equal(3, (await StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[0], files)).Acknowledged.Count);
        var study = GeneratedInstances.Series("CUTOFF-JOB", uid, 1)[0].StudyId;
        var job = (await Rest.PostJsonAsync(fx.Clients[1], "/modalities/dest/store",
            new { Resources = new[] { study }, Asynchronous = true, Retries = 100, RetryDelay = 1 }))["ID"]!.GetValue<string>();
        await Until(async () => await fx.JobStateAsync(1, job) == "Retry", "the job waiting to retry", 30);
        await Until(async () => await fx.JobOwnerAsync(job) == names[1], "the job's row naming server 1", 10);

        var received = Path.Combine(fx.Root, "cut-dest");
        var attempts = 0;
        var cut = Stopwatch.StartNew();
        link.Cut();
        try
        {
            // Server 1 holds its workers and is not ready; server 0 goes on storing as if nothing happened.
            await Until(() => Task.FromResult(fx.Logged(1, "no job starts here")), "server 1 holding its jobs", 15);
            await Until(async () => await fx.JobStateAsync(1, job) != "Running", "an attempt under way ended", 10);
            attempts = fx.FailedAttempts(1, job);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await fx.ReadyAsync(1));
            Assert.Equal(HttpStatusCode.OK, await fx.ReadyAsync(0));
            var meanwhile = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "cut-meanwhile"), GeneratedInstances.Series("CUTOFF-MEANWHILE", "1.2.826.0.1.3680043.10.9202", 3));
            Assert.Equal(3, (await StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[0], meanwhile)).Acknowledged.Count);

            // Gone for the grace: the leader (server 0, the one left) takes the job over and, once its destination
            // listens, runs it to its end. Server 1 tried nothing all along.
            await Until(() => Task.FromResult(fx.Logged(0, $"Taking over job {job}")), "server 0 taking the job over", 60);
            output.WriteLine($"taken over {cut.Elapsed.TotalSeconds:F1} s after the cut");
            Assert.Equal(names[0], await fx.JobOwnerAsync(job));
            await using (var dest = new StorescpPeers())
            {
                await dest.StartAsync(SeveralServersFixture.DestAet, fx.DestPort, received);
                await Until(async () => await fx.JobStateAsync(0, job) == "Success", "the job done on server 0", 30);
            }
            Assert.Equal(3, Directory.EnumerateFiles(received, "*", SearchOption.AllDirectories).Count());
            Assert.Equal(attempts, fx.FailedAttempts(1, job));
        }
        catch
        {
            for (var i = 0; i < 2; i++)
                output.WriteLine($"--- server {i}:\n" + string.Join('\n', fx.Servers[i].Log.Split('\n').TakeLast(60)));
            throw;
        }
        finally
        {
            link.Restore();
        }

        // Back: server 1 rejoins, forgets the job the leader ran, and only then lets its workers start jobs again.
        await Until(() => Task.FromResult(fx.Logged(1, $"Job {job} was taken over by")), "server 1 forgetting the job", 30);
        await Until(() => Task.FromResult(fx.Logged(1, "jobs may start again")), "server 1 starting jobs again", 30);
        await Until(async () => await fx.ReadyAsync(1) == HttpStatusCode.OK, "server 1 ready", 30);
        // Its workers run again (a new job of its own is tried, and fails: the destination no longer listens), and the
        // old job, long due had it still been here, is not tried: the leader's run was its only one.
        var probe = (await Rest.PostJsonAsync(fx.Clients[1], "/modalities/dest/store",
            new { Resources = new[] { study }, Asynchronous = true }))["ID"]!.GetValue<string>();
        await Until(async () => await fx.JobStateAsync(1, probe) == "Failure", "a new job tried on server 1", 30);
        Assert.Equal(attempts, fx.FailedAttempts(1, job));
        Assert.Equal("Success", await fx.JobStateAsync(1, job)); // answered from the index: the leader's run
        Assert.Equal(names[0], await fx.JobOwnerAsync(job));
    }
}
