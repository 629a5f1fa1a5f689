using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Faults;

/// <summary>
/// SIGKILL of the real server process at random moments of mixed work (C-STOREs from storescu, REST uploads,
/// deletions, an anonymization job and a send job to a real storescp), then a restart, round after round. After each
/// kill, read from the files with the process dead: every acknowledged instance has its row and its intact file.
/// After each restart (start-up reconciliation done, jobs settled): still all there, no file without a row, no row
/// without a file, no instance without its attachment, no empty parent, and no job left unfinished.
/// </summary>
/// <remarks>
/// The kill moments come from a seeded generator; the seed is printed and ORTHANCWEB_KILL_SEED replays it
/// (ORTHANCWEB_KILL_ROUNDS sets the number of rounds, 25 by default: each run of the suite draws a new seed, so runs add
/// up to more moments; 25 keep the suite within CI's time). What is in flight at a given moment still
/// depends on the machine's speed, so a replay hits the same moments, not always the same instructions.
/// </remarks>
public sealed class KillTests(ITestOutputHelper output)
{
    private const string ServerAet = "KILLWEB", ScuAet = "KILLSCU", ScpAet = "KILLSCP";
    private const int SourceInstances = 8;

    [Fact]
    public async Task Sigkill_at_random_moments_of_mixed_work_loses_no_acknowledged_instance_and_leaves_no_orphan_or_stuck_job()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ORTHANCWEB_KILL_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("ORTHANCWEB_KILL_ROUNDS"), CultureInfo.InvariantCulture, out var n) ? n : 25;
        output.WriteLine($"seed {seed}, {rounds} rounds (ORTHANCWEB_KILL_SEED={seed} replays these kill moments)");
        var rng = new Random(seed);
        var folder = Directory.CreateTempSubdirectory("ow-kills-").FullName;
        var sendFolder = Directory.CreateDirectory(Path.Combine(folder, "to-send")).FullName;
        await using var scp = new StorescpPeers();
        var scpPort = ServerProcess.FreePort();
        await scp.StartAsync(ScpAet, scpPort, Path.Combine(folder, "storescp"));
        var dicomPort = ServerProcess.FreePort();
        var config = $$"""
            , "DicomAet": "{{ServerAet}}", "DicomPort": {{dicomPort}}, "JobsHistorySize": 1000,
            "DicomModalities": { "scu": { "AET": "{{ScuAet}}", "Host": "127.0.0.1", "Port": 1 },
                                 "dest": { "AET": "{{ScpAet}}", "Host": "127.0.0.1", "Port": {{scpPort}} } }
            """;
        // A restart a round: quick JIT halves each start-up (the shipped runtime config turns it off for throughput, which
        // matters nothing here), and the environment variable takes precedence over runtimeconfig.json.
        var env = new Dictionary<string, string> { ["DOTNET_TC_QuickJit"] = "1" };
        var ledger = new KillLedger();
        var total = Stopwatch.StartNew();
        var startups = new List<double>();
        var clock = Stopwatch.StartNew();
        ServerProcess? running = await ServerProcess.StartAsync(folder, config, env);
        var server = running;
        startups.Add(clock.Elapsed.TotalSeconds);
        var lastLog = "";
        var round = 0;
        var roundsWithJobsInFlight = 0;
        try
        {
            string sourceStudy;
            using (var client = server.CreateRestClient())
            {
                var source = GeneratedInstances.Series("KILL-SOURCE", $"2.25.{seed}.0", SourceInstances, description: "SOURCE");
                foreach (var i in source)
                {
                    var r = await client.PostAsync("/instances", new ByteArrayContent(i.Bytes));
                    Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                    ledger.Protect(i);
                }
                sourceStudy = source[0].StudyId;
            }
            for (round = 1; round <= rounds; round++)
            {
                ledger.Round = round;
                var plan = KillPlan.Draw(rng);
                var acknowledgedBefore = ledger.AcknowledgedCount;
                await WarmUpAsync(server, dicomPort, ledger, seed, round, sendFolder);
                var work = await RunUntilKilledAsync(server, dicomPort, plan, ledger, seed, round, sourceStudy, sendFolder);
                lastLog = server.Log;
                running = null;
                await server.DisposeAsync();
                // The process is dead: what it left on disk, before any restart touches it.
                CheckAcknowledged(KillIndexSnapshot.Read(server.DataDirectory), ledger, server.DataDirectory, round, checksumsFrom: round, "after the kill");
                var interrupted = InterruptedJobs(server.DataDirectory);
                if (interrupted > 0) roundsWithJobsInFlight++;
                clock.Restart();
                server = running = await ServerProcess.StartAsync(folder, config, env, keepPorts: true);
                startups.Add(clock.Elapsed.TotalSeconds);
                var jobs = await SettleJobsAsync(server);
                var after = KillIndexSnapshot.Read(server.DataDirectory);
                CheckAcknowledged(after, ledger, server.DataDirectory, round, checksumsFrom: int.MaxValue, "after the restart");
                CheckNoOrphans(after, round);
                output.WriteLine($"round {round}: killed after {plan.KillAfterMs} ms ({work}); acknowledged +{ledger.AcknowledgedCount - acknowledgedBefore}; " +
                                 $"{interrupted} job(s) cut short; restart {startups[^1]:0.0} s; jobs {jobs}");
            }
            await FinalChecksAsync(server, ledger);
            // The kills must have cut jobs short for "jobs resume or fail cleanly" to have been tried: with jobs drawn
            // in 80% of rounds, fewer than one round in ten with a job in flight means the kill moments missed them.
            output.WriteLine($"{roundsWithJobsInFlight} of {rounds} rounds killed the server with a job pending or running");
            if (rounds >= 20)
                Assert.True(roundsWithJobsInFlight >= rounds / 10, $"only {roundsWithJobsInFlight} of {rounds} kills caught a job in flight");
        }
        catch (Exception)
        {
            output.WriteLine($"FAILED in round {round} with seed {seed} (ORTHANCWEB_KILL_SEED={seed})");
            output.WriteLine("---- log of the server killed last ----\n" + lastLog);
            output.WriteLine("---- log of the server running now ----\n" + server.Log);
            throw;
        }
        finally
        {
            if (running is not null) await running.DisposeAsync();
        }
        output.WriteLine($"{rounds} kills in {total.Elapsed.TotalSeconds:0} s: {ledger.AcknowledgedCount} instances acknowledged, " +
                         $"{ledger.DeletedCount} deleted with an answer; start-up median {startups.Order().ElementAt(startups.Count / 2):0.0} s, max {startups.Max():0.0} s");
        Directory.Delete(folder, true);
    }

    /// <summary>
    /// One C-STORE association and one REST upload, acknowledged like any other, before the round's clock starts: a
    /// freshly started server compiles its store paths on first use (seconds on a loaded machine), and the kill
    /// moments are meant to fall in the work, not in the JIT.
    /// </summary>
    private static async Task WarmUpAsync(ServerProcess server, int dicomPort, KillLedger ledger, int seed, int round, string sendFolder)
    {
        var instances = GeneratedInstances.Series($"KILL-{round}", $"2.25.{seed}.{round}.0", 2);
        var path = Path.Combine(sendFolder, $"{round}-warm.dcm");
        await File.WriteAllBytesAsync(path, instances[0].Bytes);
        var sent = await StorescuSender.SendAsync(ScuAet, ServerAet, dicomPort, [path]);
        Assert.True(sent.Acknowledged.Count == 1, $"round {round}: the warm-up C-STORE failed:\n{sent.Output}");
        ledger.Acknowledge(instances[0]);
        File.Delete(path);
        using var client = server.CreateRestClient();
        using var r = await client.PostAsync("/instances", new ByteArrayContent(instances[1].Bytes));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        ledger.Acknowledge(instances[1]);
    }

    /// <summary>What one round does before its kill, drawn from the seeded generator up front.</summary>
    private sealed record KillPlan(int KillAfterMs, bool Storescu, int RestUploaders, int[] InstanceDeletesAt, int? StudyDeleteAt, int? AnonymizeAt, int? SendAt)
    {
        public static KillPlan Draw(Random rng)
        {
            var killAfter = rng.Next(50, 2000);
            int? Maybe(double p) => rng.NextDouble() < p ? rng.Next(0, killAfter) : null;
            return new KillPlan(
                killAfter,
                rng.NextDouble() < 0.8,
                rng.Next(0, 3),
                [.. Enumerable.Range(0, rng.Next(0, 4)).Select(_ => rng.Next(0, killAfter)).Order()],
                Maybe(0.3),
                Maybe(0.6),
                Maybe(0.5));
        }
    }

    /// <summary>Starts the round's clients, kills the server at the planned moment, and waits for every client to notice.</summary>
    private static async Task<string> RunUntilKilledAsync(ServerProcess server, int dicomPort, KillPlan plan, KillLedger ledger, int seed, int round,
        string sourceStudy, string sendFolder)
    {
        using var client = server.CreateRestClient();
        client.Timeout = TimeSpan.FromSeconds(60);
        using var killed = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var notes = new List<string>();
        var tasks = new List<Task>();
        var patient = $"KILL-{round}";

        if (plan.Storescu)
            tasks.Add(Task.Run(async () =>
            {
                // One association after another, each with new instances, until the server is gone.
                for (var batch = 0; !killed.IsCancellationRequested; batch++)
                {
                    var instances = GeneratedInstances.Series(patient, $"2.25.{seed}.{round}.1.{batch}", 12);
                    var byPath = new Dictionary<string, GeneratedInstance>();
                    foreach (var (i, k) in instances.Select((i, k) => (i, k)))
                    {
                        var path = Path.Combine(sendFolder, $"{round}-{batch}-{k}.dcm");
                        await File.WriteAllBytesAsync(path, i.Bytes);
                        byPath[path] = i;
                    }
                    var sent = await StorescuSender.SendAsync(ScuAet, ServerAet, dicomPort, byPath.Keys);
                    foreach (var path in sent.Acknowledged) ledger.Acknowledge(byPath[path]);
                    foreach (var path in byPath.Keys) File.Delete(path);
                    lock (notes) notes.Add($"storescu {sent.Acknowledged.Count}/{instances.Count}{(sent.NotAccepted ? " (association not accepted)" : "")}");
                    if (sent.ExitCode != 0) break; // the server is gone (or refused us: then nothing is acknowledged either)
                }
            }));

        for (var u = 0; u < plan.RestUploaders; u++)
        {
            var uploader = u;
            tasks.Add(Task.Run(async () =>
            {
                var root = $"2.25.{seed}.{round}.2.{uploader}";
                var count = 0;
                for (var k = 1; ; k++)
                {
                    var i = GeneratedInstances.Ct(patient, root + ".1", root + ".2", $"{root}.3.{k}", k);
                    try
                    {
                        // No cancellation token: a request in flight at the kill fails by itself, and an answer that
                        // came back before it is an acknowledgement to keep.
                        using var r = await client.PostAsync("/instances", new ByteArrayContent(i.Bytes));
                        if (r.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"upload answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
                        var id = JsonNode.Parse(await r.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
                        Assert.Equal(i.Id, id);
                        ledger.Acknowledge(i);
                        count++;
                    }
                    catch (HttpRequestException) { break; }
                    // A connection the kill cut while HttpClient was still opening it surfaces as a bare SocketException.
                    catch (System.Net.Sockets.SocketException) { break; }
                    catch (TaskCanceledException) { break; }
                }
                lock (notes) notes.Add($"rest {count}");
            }));
        }

        var deletions = new Random(seed ^ round);
        tasks.Add(Task.Run(async () =>
        {
            var plans = plan.InstanceDeletesAt.Select(at => (At: at, Study: false)).ToList();
            if (plan.StudyDeleteAt is { } studyAt) plans.Add((studyAt, true));
            plans.Sort((a, b) => a.At.CompareTo(b.At));
            foreach (var (at, study) in plans)
            {
                if (!await WaitUntilAsync(clock, at, killed.Token)) return;
                string url;
                List<string> ids;
                if (study)
                {
                    var studies = ledger.DeletableStudies(round);
                    if (studies.Count == 0) continue;
                    var target = studies[deletions.Next(studies.Count)];
                    (url, ids) = ($"/studies/{target}", ledger.InstancesOfStudy(target));
                }
                else
                {
                    var instances = ledger.DeletableInstances(round);
                    if (instances.Count == 0) continue;
                    var target = instances[deletions.Next(instances.Count)];
                    (url, ids) = ($"/instances/{target}", [target]);
                }
                ledger.DeletionAsked(ids);
                try
                {
                    using var r = await client.DeleteAsync(url);
                    if (r.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"DELETE {url} answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
                    ledger.DeletionAnswered(ids);
                    lock (notes) notes.Add($"deleted {(study ? "study" : "instance")}");
                }
                catch (HttpRequestException) { return; }
                // A connection the kill cut while HttpClient was still opening it surfaces as a bare SocketException.
                catch (System.Net.Sockets.SocketException) { return; }
                catch (TaskCanceledException) { return; }
            }
        }));

        if (plan.AnonymizeAt is { } anonymizeAt)
            tasks.Add(SubmitAsync(anonymizeAt, $"/studies/{sourceStudy}/anonymize", """{ "Asynchronous": true }""", "anonymize"));
        if (plan.SendAt is { } sendAt)
            tasks.Add(SubmitAsync(sendAt, "/modalities/dest/store", $$"""{ "Resources": [ "{{sourceStudy}}" ], "Asynchronous": true }""", "send"));

        async Task SubmitAsync(int at, string url, string body, string what)
        {
            if (!await WaitUntilAsync(clock, at, killed.Token)) return;
            try
            {
                using var r = await client.PostAsync(url, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
                if (r.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"POST {url} answered {(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
                lock (notes) notes.Add($"{what} job");
            }
            catch (HttpRequestException) { }
            catch (System.Net.Sockets.SocketException) { }
            catch (TaskCanceledException) { }
        }

        await WaitUntilAsync(clock, plan.KillAfterMs, CancellationToken.None);
        server.Kill();
        await killed.CancelAsync();
        await Task.WhenAll(tasks);
        return string.Join(", ", notes);
    }

    /// <summary>
    /// Waits until <paramref name="ms"/> after the round began: the planned moment of a client's action or of the
    /// kill (a moment of the experiment, not a stand-in for a readiness check). False when the kill came first.
    /// </summary>
    private static async Task<bool> WaitUntilAsync(Stopwatch clock, int ms, CancellationToken killed)
    {
        var left = ms - clock.ElapsedMilliseconds;
        try
        {
            if (left > 0) await Task.Delay(TimeSpan.FromMilliseconds(left), killed);
        }
        catch (OperationCanceledException) { return false; }
        return !killed.IsCancellationRequested;
    }

    /// <summary>Jobs the kill cut short: saved (data/jobs/*.json) as pending, running or waiting for a retry.</summary>
    private static int InterruptedJobs(string dataDirectory)
    {
        var folder = Path.Combine(dataDirectory, "jobs");
        if (!Directory.Exists(folder)) return 0;
        return Directory.EnumerateFiles(folder, "*.json")
            .Select(f => { try { return JsonNode.Parse(File.ReadAllText(f))?["State"]?.GetValue<string>(); } catch (System.Text.Json.JsonException) { return null; } })
            .Count(state => state is "Pending" or "Running" or "Retry");
    }

    /// <summary>Every acknowledged instance not asked to be deleted has its row and its file; deletions answered 200 stayed done.</summary>
    private static void CheckAcknowledged(KillIndexSnapshot snapshot, KillLedger ledger, string dataDirectory, int round, int checksumsFrom, string when)
    {
        foreach (var (id, ackRound) in ledger.MustBePresent)
        {
            Assert.True(snapshot.Instances.TryGetValue(id, out var attachment),
                $"round {round}, {when}: instance {id}, acknowledged in round {ackRound}, is not in the index" +
                (snapshot.InstancesWithoutFile.Contains(id) ? " with an attachment" : ""));
            Assert.True(snapshot.StorageFiles.Contains(attachment.Uuid),
                $"round {round}, {when}: the file {attachment.Uuid} of instance {id}, acknowledged in round {ackRound}, is missing");
            if (ackRound >= checksumsFrom)
                Assert.True(IndexFile.Checksum(File.ReadAllBytes(KillIndexSnapshot.StoragePath(dataDirectory, attachment.Uuid))) == attachment.Checksum,
                    $"round {round}, {when}: the file of instance {id} does not match its recorded checksum");
        }
        foreach (var id in ledger.MustBeGone)
            Assert.False(snapshot.Instances.ContainsKey(id), $"round {round}, {when}: instance {id} was deleted (answered 200) but is back");
    }

    private static void CheckNoOrphans(KillIndexSnapshot snapshot, int round)
    {
        Assert.True(!snapshot.OrphanFiles.Any(), $"round {round}: files with no attachment row: {string.Join(", ", snapshot.OrphanFiles.Take(5))}");
        Assert.True(!snapshot.RowsWithoutFile.Any(), $"round {round}: attachment rows with no file: {string.Join(", ", snapshot.RowsWithoutFile.Take(5))}");
        Assert.True(snapshot.InstancesWithoutFile.Count == 0, $"round {round}: instances with no attachment: {string.Join(", ", snapshot.InstancesWithoutFile.Take(5))}");
        Assert.True(snapshot.EmptyParents.Count == 0, $"round {round}: patients/studies/series with nothing under them: {string.Join(", ", snapshot.EmptyParents.Take(5))}");
    }

    /// <summary>
    /// Waits until no job is pending, running or waiting for a retry: each resumed job ran to its end. A job that
    /// ended in failure must say why. Returns a one-line summary.
    /// </summary>
    private static async Task<string> SettleJobsAsync(ServerProcess server)
    {
        using var client = server.CreateRestClient();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var jobs = (await Rest.GetJsonAsync(client, "/jobs?expand")).AsArray().Select(j => j!).ToList();
            var unfinished = jobs.Where(j => j["State"]!.GetValue<string>() is not ("Success" or "Failure")).ToList();
            if (unfinished.Count == 0)
            {
                foreach (var failed in jobs.Where(j => j["State"]!.GetValue<string>() == "Failure"))
                    Assert.True(failed["ErrorDescription"]!.GetValue<string>() is { Length: > 0 } d && d != "Success",
                        $"job failed without a reason: {failed.ToJsonString()}");
                return string.Join(", ", jobs.GroupBy(j => $"{j["Type"]} {j["State"]}").OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}"));
            }
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90),
                $"jobs still unfinished 90 s after the restart: {string.Join("\n", unfinished.Select(j => j.ToJsonString()))}");
            await Task.Delay(100); // polling the jobs' state: each poll is the readiness check
        }
    }

    /// <summary>Resumed jobs redid their work without duplicates: each anonymization made one whole study, each send sent the whole source.</summary>
    private async Task FinalChecksAsync(ServerProcess server, KillLedger ledger)
    {
        using var client = server.CreateRestClient();
        var jobs = (await Rest.GetJsonAsync(client, "/jobs?expand")).AsArray().Select(j => j!).ToList();
        var anonymized = 0;
        foreach (var job in jobs.Where(j => j["State"]!.GetValue<string>() == "Success"))
        {
            var content = job["Content"]!;
            if (job["Type"]!.GetValue<string>() == "ResourceModification")
            {
                var study = content["ID"]!.GetValue<string>();
                var instances = (await Rest.GetJsonAsync(client, $"/studies/{study}/instances")).AsArray();
                Assert.True(instances.Count == SourceInstances, $"anonymization job {job["ID"]} made a study of {instances.Count} instances, not {SourceInstances}");
                anonymized++;
            }
            else if (job["Type"]!.GetValue<string>() == "DicomModalityStore")
                Assert.True(content["InstancesCount"]!.GetValue<int>() == SourceInstances && content["FailedInstancesCount"]!.GetValue<int>() == 0,
                    $"send job {job["ID"]} did not send the whole study: {content.ToJsonString()}");
        }
        // At most one anonymized study per job: a resumed job found its own earlier copies (same UIDs) instead of
        // making another study. (A job that failed may have left the part it made.)
        var anonymizationJobs = jobs.Count(j => j["Type"]!.GetValue<string>() == "ResourceModification");
        var anonymizedStudies = (await Rest.GetJsonAsync(client, "/studies?expand")).AsArray()
            .Count(st => st!["PatientMainDicomTags"]?["PatientID"]?.GetValue<string>() is not { } pid || !pid.StartsWith("KILL-", StringComparison.Ordinal));
        output.WriteLine($"jobs at the end: {jobs.Count}; {anonymized} of {anonymizationJobs} anonymizations succeeded, {anonymizedStudies} anonymized studies; " +
                         $"{ledger.AcknowledgedCount} instances acknowledged");
        Assert.InRange(anonymizedStudies, anonymized, anonymizationJobs);
    }
}
