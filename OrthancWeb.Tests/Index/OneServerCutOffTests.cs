using System.Diagnostics;
using System.Net;
using Npgsql;
using OrthancWeb.Tests.Infrastructure;
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
    private static async Task Until(Func<Task<bool>> condition, string what, int seconds)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {seconds} s: {what}");
            await Task.Delay(100);
        }
    }

    private bool Logged(int server, string text) => fx.Servers[server].Log.Contains(text, StringComparison.Ordinal);

    private int FailedAttempts(int server, string job) =>
        fx.Servers[server].Log.Split('\n').Count(l => l.Contains($"Job {job} (", StringComparison.Ordinal) && l.Contains("failed on attempt", StringComparison.Ordinal));

    private async Task<HttpStatusCode> ReadyAsync(int server) => (await fx.Clients[server].GetAsync("/health/ready")).StatusCode;

    private async Task<string> StateAsync(int server, string job) => (await Rest.GetJsonAsync(fx.Clients[server], $"/jobs/{job}"))["State"]!.GetValue<string>();

    /// <summary>Who owns a job, as its row in the shared index says.</summary>
    private async Task<string?> OwnerAsync(string job)
    {
        await using var connection = new NpgsqlConnection(fx.Database + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT \"Value\" FROM \"GlobalProperties\" WHERE \"Name\" = @name", connection);
        command.Parameters.AddWithValue("name", OrthancWeb.Jobs.SharedJobLeases.Prefix + job);
        return await command.ExecuteScalarAsync() is string value ? System.Text.Json.Nodes.JsonNode.Parse(value)?["Owner"]?.GetValue<string>() : null;
    }

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
        await Until(async () => await StateAsync(1, job) == "Retry", "the job waiting to retry", 30);
        await Until(async () => await OwnerAsync(job) == names[1], "the job's row naming server 1", 10);

        var received = Path.Combine(fx.Root, "cut-dest");
        var attempts = 0;
        var cut = Stopwatch.StartNew();
        link.Cut();
        try
        {
            // Server 1 holds its workers and is not ready; server 0 goes on storing as if nothing happened.
            await Until(() => Task.FromResult(Logged(1, "no job starts here")), "server 1 holding its jobs", 15);
            await Until(async () => await StateAsync(1, job) != "Running", "an attempt under way ended", 10);
            attempts = FailedAttempts(1, job);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyAsync(1));
            Assert.Equal(HttpStatusCode.OK, await ReadyAsync(0));
            var meanwhile = GeneratedInstances.WriteFiles(Path.Combine(fx.Root, "cut-meanwhile"), GeneratedInstances.Series("CUTOFF-MEANWHILE", "1.2.826.0.1.3680043.10.9202", 3));
            Assert.Equal(3, (await StorescuSender.SendAsync(SeveralServersFixture.ScuAet, SeveralServersFixture.Aet, fx.DicomPorts[0], meanwhile)).Acknowledged.Count);

            // Gone for the grace: the leader (server 0, the one left) takes the job over and, once its destination
            // listens, runs it to its end. Server 1 tried nothing all along.
            await Until(() => Task.FromResult(Logged(0, $"Taking over job {job}")), "server 0 taking the job over", 60);
            output.WriteLine($"taken over {cut.Elapsed.TotalSeconds:F1} s after the cut");
            Assert.Equal(names[0], await OwnerAsync(job));
            await using (var dest = new StorescpPeers())
            {
                await dest.StartAsync(SeveralServersFixture.DestAet, fx.DestPort, received);
                await Until(async () => await StateAsync(0, job) == "Success", "the job done on server 0", 30);
            }
            Assert.Equal(3, Directory.EnumerateFiles(received, "*", SearchOption.AllDirectories).Count());
            Assert.Equal(attempts, FailedAttempts(1, job));
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
        await Until(() => Task.FromResult(Logged(1, $"Job {job} was taken over by")), "server 1 forgetting the job", 30);
        await Until(() => Task.FromResult(Logged(1, "jobs may start again")), "server 1 starting jobs again", 30);
        await Until(async () => await ReadyAsync(1) == HttpStatusCode.OK, "server 1 ready", 30);
        // Its workers run again (a new job of its own is tried, and fails: the destination no longer listens), and the
        // old job, long due had it still been here, is not tried: the leader's run was its only one.
        var probe = (await Rest.PostJsonAsync(fx.Clients[1], "/modalities/dest/store",
            new { Resources = new[] { study }, Asynchronous = true }))["ID"]!.GetValue<string>();
        await Until(async () => await StateAsync(1, probe) == "Failure", "a new job tried on server 1", 30);
        Assert.Equal(attempts, FailedAttempts(1, job));
        Assert.Equal("Success", await StateAsync(1, job)); // answered from the index: the leader's run
        Assert.Equal(names[0], await OwnerAsync(job));
    }
}
