using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Workflows;

/// <summary>The jobs engine over REST: asynchronous anonymization, sending to storescp, a destination that is down, control actions, restart.</summary>
public sealed class JobsTests(WorkflowFixture fx) : IClassFixture<WorkflowFixture>
{
    public static async Task<JsonNode> WaitForStateAsync(HttpClient rest, string jobId, params string[] states)
    {
        var deadline = Stopwatch.StartNew();
        JsonNode job;
        do
        {
            job = await GetJsonAsync(rest, $"/jobs/{jobId}");
            if (states.Contains(job["State"]!.GetValue<string>())) return job;
            await Task.Delay(100);
        } while (deadline.Elapsed < TimeSpan.FromSeconds(60));
        throw new TimeoutException($"job {jobId} never reached {string.Join("/", states)}: {job.ToJsonString()}");
    }

    [Fact]
    public async Task Asynchronous_anonymization_runs_as_a_job_and_reports_the_new_study()
    {
        var (studyId, folder) = await AnonymizeModifyTests.UploadStudyAsync(fx.Rest, "CT_small.dcm", 4);
        try
        {
            var submitted = await PostJsonAsync(fx.Rest, $"/studies/{studyId}/anonymize", new { Asynchronous = true });
            var jobId = submitted["ID"]!.GetValue<string>();
            Assert.Equal($"/jobs/{jobId}", submitted["Path"]!.GetValue<string>());
            var job = await WaitForStateAsync(fx.Rest, jobId, "Success", "Failure");
            Assert.Equal("Success", job["State"]!.GetValue<string>());
            Assert.Equal(100, job["Progress"]!.GetValue<int>());
            Assert.Equal("ResourceModification", job["Type"]!.GetValue<string>());
            var newStudy = job["Content"]!["ID"]!.GetValue<string>();
            Assert.Equal(4, (await GetJsonAsync(fx.Rest, $"/studies/{newStudy}/instances")).AsArray().Count);
            Assert.Contains(jobId, Ids(await GetJsonAsync(fx.Rest, "/jobs")));
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Sending_to_a_destination_that_is_down_retries_until_it_is_up()
    {
        var up = await UploadAsync(fx.Rest, Sample("MR_small.dcm"));
        var submitted = await PostJsonAsync(fx.Rest, "/modalities/late/store",
            new { Resources = new[] { up["ParentStudy"]!.GetValue<string>() }, Asynchronous = true, Retries = 20, RetryDelay = 1 });
        var jobId = submitted["ID"]!.GetValue<string>();
        var waiting = await WaitForStateAsync(fx.Rest, jobId, "Retry", "Failure", "Success");
        Assert.Equal("Retry", waiting["State"]!.GetValue<string>());
        Assert.NotEqual("", waiting["ErrorDetails"]!.GetValue<string>()); // why: connection refused

        await fx.StartStorescpAsync("LATE", fx.LatePort, fx.LateFolder);
        var done = await WaitForStateAsync(fx.Rest, jobId, "Success", "Failure");
        Assert.Equal("Success", done["State"]!.GetValue<string>());
        Assert.Equal(1, done["Content"]!["InstancesCount"]!.GetValue<int>());
        var sop = DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID);
        Assert.Contains(sop, Directory.GetFiles(fx.LateFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)));
    }

    [Fact]
    public async Task Send_job_to_storescp_and_the_actions_on_a_waiting_job()
    {
        var up = await UploadAsync(fx.Rest, Sample("CT_small.dcm"));
        var instance = up["ID"]!.GetValue<string>();
        var sent = await PostJsonAsync(fx.Rest, "/modalities/dest/store", new { Resources = new[] { instance }, Asynchronous = true });
        var job = await WaitForStateAsync(fx.Rest, sent["ID"]!.GetValue<string>(), "Success", "Failure");
        Assert.Equal("Success", job["State"]!.GetValue<string>());
        Assert.Contains(DicomFile.Open(Sample("CT_small.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID),
            Directory.GetFiles(fx.DestFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)));

        var missing = await fx.Rest.PostAsync("/modalities/no-such-modality/store", new StringContent(instance));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // A job waiting for a destination that never comes: pause, resume, cancel, resubmit.
        var blocked = await PostJsonAsync(fx.Rest, "/modalities/never/store", new { Resources = new[] { instance }, Asynchronous = true, Retries = 1000, RetryDelay = 30 });
        var id = blocked["ID"]!.GetValue<string>();
        await WaitForStateAsync(fx.Rest, id, "Retry");
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.PostAsync($"/jobs/{id}/pause", null)).StatusCode);
        Assert.Equal("Paused", (await GetJsonAsync(fx.Rest, $"/jobs/{id}"))["State"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.PostAsync($"/jobs/{id}/resume", null)).StatusCode);
        var resumed = await WaitForStateAsync(fx.Rest, id, "Retry");
        Assert.True(resumed["EffectiveRuntime"]!.GetValue<double>() >= 0);
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.PostAsync($"/jobs/{id}/cancel", null)).StatusCode);
        var canceled = await GetJsonAsync(fx.Rest, $"/jobs/{id}");
        Assert.Equal("Failure", canceled["State"]!.GetValue<string>());
        Assert.Equal("Canceled job", canceled["ErrorDescription"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.Rest.PostAsync($"/jobs/{id}/resume", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.PostAsync($"/jobs/{id}/resubmit", null)).StatusCode);
        await WaitForStateAsync(fx.Rest, id, "Retry");
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.PostAsync($"/jobs/{id}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.GetAsync("/jobs/no-such-job")).StatusCode);
    }

    [Fact]
    public async Task Jobs_survive_a_restart()
    {
        var folder = Directory.CreateTempSubdirectory("ow-jobs-restart-").FullName;
        var downPort = ServerProcess.FreePort();
        var config = $$"""
            , "DicomModalities": { "down": { "AET": "DOWN", "Host": "127.0.0.1", "Port": {{downPort}} } }
            """;
        try
        {
            string id;
            await using (var server = await ServerProcess.StartAsync(folder, config))
            using (var rest = server.CreateRestClient())
            {
                var up = await UploadAsync(rest, Sample("CT_small.dcm"));
                var job = await PostJsonAsync(rest, "/modalities/down/store", new { Resources = new[] { up["ID"]!.GetValue<string>() }, Asynchronous = true, Retries = 50, RetryDelay = 1 });
                id = job["ID"]!.GetValue<string>();
                await WaitForStateAsync(rest, id, "Retry");
                server.Kill();
            }
            await using (var again = await ServerProcess.StartAsync(folder, config, keepPorts: true))
            using (var rest = again.CreateRestClient())
            {
                var job = await GetJsonAsync(rest, $"/jobs/{id}");
                Assert.Equal("DicomModalityStore", job["Type"]!.GetValue<string>());
                Assert.Equal("down", job["Content"]!["RemoteModality"]!.GetValue<string>());
                // It carries on trying after the restart: once the destination is up, it gets there.
                await using var destination = new StorescpPeers();
                var received = Path.Combine(folder, "received");
                await destination.StartAsync("DOWN", downPort, received);
                var done = await WaitForStateAsync(rest, id, "Success", "Failure");
                Assert.True(done["State"]!.GetValue<string>() == "Success", done.ToJsonString());
                Assert.Single(Directory.GetFiles(received));
            }
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Modalities_added_at_run_time_are_used_and_those_of_the_configuration_are_read_only()
    {
        var put = await fx.Rest.PutAsync("/modalities/added", new StringContent($$"""{"AET": "DEST", "Host": "127.0.0.1", "Port": {{fx.DestPort}}}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Contains("added", Ids(await GetJsonAsync(fx.Rest, "/modalities")));
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.PostAsync("/modalities/added/echo", new StringContent(""))).StatusCode);
        // Orthanc's array form replaces it.
        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.PutAsync("/modalities/added", new StringContent($$"""["DEST", "127.0.0.1", {{fx.DestPort}}]"""))).StatusCode);

        var onConfigured = await fx.Rest.PutAsync("/modalities/dest", new StringContent("""{"AET": "X", "Host": "127.0.0.1", "Port": 104}"""));
        Assert.Equal(HttpStatusCode.BadRequest, onConfigured.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.Rest.DeleteAsync("/modalities/dest")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.Rest.PutAsync("/modalities/bad", new StringContent("""{"AET": "", "Host": "h", "Port": 0}"""))).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.DeleteAsync("/modalities/added")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.PostAsync("/modalities/added/echo", new StringContent(""))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.DeleteAsync("/modalities/added")).StatusCode);
    }
}
