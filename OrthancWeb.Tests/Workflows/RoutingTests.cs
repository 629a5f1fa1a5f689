using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Workflows;

/// <summary>
/// A server with routing rules in its appsettings.json and storescp destinations: what arrives over DICOM or REST is
/// anonymized and/or forwarded by rule, including to a destination that is down at first.
/// </summary>
public sealed class RoutingFixture : IAsyncLifetime
{
    private string _folder = "";
    private readonly StorescpPeers _peers = new();
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public int DicomPort { get; private set; }
    public int LatePort { get; private set; }
    public string AnonFolder { get; private set; } = "";
    public string MrFolder { get; private set; } = "";
    public string LateFolder { get; private set; } = "";
    public string RuntimeFolder { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Peers.Tool("storescp");
        _folder = Directory.CreateTempSubdirectory("ow-routing-").FullName;
        var (anonPort, mrPort, runtimePort) = (ServerProcess.FreePort(), ServerProcess.FreePort(), ServerProcess.FreePort());
        (DicomPort, LatePort) = (ServerProcess.FreePort(), ServerProcess.FreePort());
        (AnonFolder, MrFolder, LateFolder, RuntimeFolder) = (Path.Combine(_folder, "anon"), Path.Combine(_folder, "mr"), Path.Combine(_folder, "late"), Path.Combine(_folder, "runtime"));
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{DicomPort}}, "DicomAet": "OWEB", "StableAge": 1,
            "DicomModalities": {
              "anon": { "AET": "ANONDEST", "Host": "127.0.0.1", "Port": {{anonPort}} },
              "mr": { "AET": "MRDEST", "Host": "127.0.0.1", "Port": {{mrPort}} },
              "late": { "AET": "LATE", "Host": "127.0.0.1", "Port": {{LatePort}} },
              "runtime": { "AET": "RUNTIME", "Host": "127.0.0.1", "Port": {{runtimePort}} }
            },
            "Routing": [
              { "Name": "trial", "Trigger": "StableStudy", "Tags": { "StudyDescription": "TRIAL*" }, "Anonymize": true, "ForwardTo": [ "anon" ] },
              { "Name": "mr-from-scanner", "Trigger": "Instance", "CallingAet": "MRSCANNER", "Modality": "MR", "ForwardTo": [ "mr" ] },
              { "Name": "late", "Trigger": "Instance", "Tags": { "StudyDescription": "LATE*" }, "ForwardTo": [ "late" ], "Retries": 60, "RetryDelay": 1 }
            ]
            """);
        Rest = Server.CreateRestClient();
        await StartAsync("ANONDEST", anonPort, AnonFolder);
        await StartAsync("MRDEST", mrPort, MrFolder);
        await StartAsync("RUNTIME", runtimePort, RuntimeFolder);
    }

    public Task StartAsync(string aet, int port, string folder) => _peers.StartAsync(aet, port, folder);

    public async Task DisposeAsync()
    {
        await _peers.DisposeAsync();
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

/// <remarks>
/// That something was not routed is proved by something routed after it, never by waiting: the rules follow the change
/// log in order, so once a later change has its Route job, an earlier one that matched would have had its job too.
/// The files a destination received are read once the job that sent them has succeeded: storescp writes each file
/// before it answers the C-STORE.
/// </remarks>
public sealed class RoutingTests(RoutingFixture fx) : IClassFixture<RoutingFixture>
{
    /// <summary>A Route job: the rule that made it, the resource it routes, its state, and its whole JSON.</summary>
    private sealed record RouteJobInfo(string Rule, string Resource, string State, JsonNode Job)
    {
        public override string ToString() => $"{Rule} {Resource} {State} {Job["ErrorDetails"]}";
    }

    private async Task<List<RouteJobInfo>> RouteJobsAsync() =>
        (await GetJsonAsync(fx.Rest, "/jobs?expand")).AsArray()
            .Where(j => j!["Type"]!.GetValue<string>() == "Route")
            .Select(j => new RouteJobInfo(j!["Content"]!["Rule"]!["Name"]!.GetValue<string>(),
                j["Content"]!["ParentResources"]![0]!.GetValue<string>(), j["State"]!.GetValue<string>(), j))
            .ToList();

    /// <summary>The Route job of <paramref name="rule"/> for <paramref name="resource"/>, once it is in one of <paramref name="states"/>.</summary>
    private async Task<RouteJobInfo> WaitForRouteAsync(string rule, string resource, params string[] states)
    {
        var deadline = Stopwatch.StartNew();
        List<RouteJobInfo> seen;
        do
        {
            seen = await RouteJobsAsync();
            if (seen.FirstOrDefault(j => j.Rule == rule && j.Resource == resource && states.Contains(j.State)) is { } job) return job;
            await Task.Delay(100);
        } while (deadline.Elapsed < TimeSpan.FromSeconds(60));
        throw new TimeoutException($"no Route job of rule {rule} for {resource} in state {string.Join("/", states)}; Route jobs: {string.Join("; ", seen)}");
    }

    /// <summary>The public ID of the resource with this DICOM UID.</summary>
    private async Task<string> LookupAsync(string uid)
    {
        var found = JsonNode.Parse(await (await fx.Rest.PostAsync("/tools/lookup", new StringContent(uid))).Content.ReadAsStringAsync())!.AsArray();
        return Assert.Single(found)!["ID"]!.GetValue<string>();
    }

    private static List<DicomFile> Files(string folder) => Directory.GetFiles(folder).Select(f => DicomFile.Open(f)).ToList();

    private static string Write(string folder, string sample, Action<DicomDataset> change)
    {
        var f = DicomFile.Open(Sample(sample));
        change(f.Dataset);
        f.UpdateFileMetaInfo();
        var path = Path.Combine(folder, Guid.NewGuid().ToString("N") + ".dcm");
        f.Save(path);
        return path;
    }

    [Fact]
    public async Task A_stable_trial_study_is_anonymized_as_one_study_and_forwarded()
    {
        var folder = Directory.CreateTempSubdirectory("ow-route-in-").FullName;
        try
        {
            async Task<(string Id, string Uid)> UploadTrialStudyAsync(int instances)
            {
                var (study, series) = (OrthancWeb.Dicom.Anonymization.UidMap.NewUid(), OrthancWeb.Dicom.Anonymization.UidMap.NewUid());
                JsonNode? stored = null;
                for (var i = 0; i < instances; i++)
                    stored = await UploadAsync(fx.Rest, Write(folder, "CT_small.dcm", ds =>
                    {
                        ds.Add(DicomTags.StudyInstanceUID, DicomVR.UI, study);
                        ds.Add(DicomTags.SeriesInstanceUID, DicomVR.UI, series);
                        ds.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid());
                        ds.Add(DicomTags.StudyDescription, DicomVR.LO, "TRIAL 7 BASELINE");
                    }));
                return (stored!["ParentStudy"]!.GetValue<string>(), study);
            }

            var original = await UploadTrialStudyAsync(3);
            var route = await WaitForRouteAsync("trial", original.Id, "Success", "Failure");
            Assert.True(route.State == "Success", route.ToString());
            var received = Files(fx.AnonFolder);
            Assert.Equal(3, received.Count);
            Assert.All(received, f => Assert.Equal("YES", f.Dataset.GetString(DicomTags.PatientIdentityRemoved)));
            Assert.Single(received.Select(f => f.Dataset.GetString(DicomTags.StudyInstanceUID)).Distinct());
            Assert.NotEqual(original.Uid, received[0].Dataset.GetString(DicomTags.StudyInstanceUID));
            Assert.NotEqual("CompressedSamples^CT1", received[0].Dataset.GetString(DicomTags.PatientName));

            // The anonymized copy stays on the server too, and is not routed again once it is stable. A trial study
            // uploaded after that is routed, so the copy's StableStudy, earlier in the change log, was looked at.
            var copy = route.Job["Content"]!["AnonymizedResource"]!.GetValue<string>();
            var deadline = Stopwatch.StartNew();
            while (!(await GetJsonAsync(fx.Rest, $"/studies/{copy}"))["IsStable"]!.GetValue<bool>())
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"the anonymized study {copy} never became stable");
                await Task.Delay(100);
            }
            var later = await UploadTrialStudyAsync(1);
            await WaitForRouteAsync("trial", later.Id, "Success", "Failure");
            var routes = await RouteJobsAsync();
            Assert.DoesNotContain(routes, j => j.Resource == copy);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Instances_from_the_mr_scanner_are_forwarded_as_they_arrive_and_others_are_not()
    {
        var folder = Directory.CreateTempSubdirectory("ow-route-mr-").FullName;
        try
        {
            var mr = Write(folder, "MR_small.dcm", ds => ds.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid()));
            var ct = Write(folder, "CT_small.dcm", ds => ds.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid()));
            var other = Write(folder, "MR_small.dcm", ds => ds.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid()));
            // Sent last, and routed: once its job exists, the three before it were looked at.
            var last = Write(folder, "MR_small.dcm", ds => ds.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid()));
            var sent = new[] { (mr, "MRSCANNER"), (ct, "MRSCANNER"), (other, "ELSEWHERE"), (last, "MRSCANNER") };
            var ids = new List<string>();
            foreach (var (file, aet) in sent)
            {
                var r = Peers.Run("storescu", "-aet", aet, "-aec", "OWEB", "127.0.0.1", fx.DicomPort.ToString(CultureInfo.InvariantCulture), file);
                Assert.True(r.ExitCode == 0, r.Stderr);
                ids.Add(await LookupAsync(DicomFile.Open(file).Dataset.GetString(DicomTags.SOPInstanceUID)!));
            }
            foreach (var id in new[] { ids[0], ids[3] })
            {
                var job = await WaitForRouteAsync("mr-from-scanner", id, "Success", "Failure");
                Assert.True(job.State == "Success", job.ToString());
            }
            var routed = (await RouteJobsAsync()).Where(j => ids.Contains(j.Resource));
            Assert.Equal(new[] { ids[0], ids[3] }.Order(), routed.Select(j => j.Resource).Order());
            Assert.Equal(new[] { mr, last }.Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)).Order(),
                Files(fx.MrFolder).Select(f => f.Dataset.GetString(DicomTags.SOPInstanceUID)).Order());
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task A_route_to_a_destination_that_is_down_retries_until_it_is_up()
    {
        var folder = Directory.CreateTempSubdirectory("ow-route-late-").FullName;
        try
        {
            var path = Write(folder, "rtdose.dcm", ds => ds.Add(DicomTags.StudyDescription, DicomVR.LO, "LATE DELIVERY"));
            var instance = (await UploadAsync(fx.Rest, path))["ID"]!.GetValue<string>();
            // The job exists and waits for its next attempt.
            var waiting = await WaitForRouteAsync("late", instance, "Retry");
            await fx.StartAsync("LATE", fx.LatePort, fx.LateFolder);
            var done = await JobsTests.WaitForStateAsync(fx.Rest, waiting.Job["ID"]!.GetValue<string>(), "Success", "Failure");
            Assert.Equal("Success", done["State"]!.GetValue<string>());
            Assert.Equal([DicomFile.Open(path).Dataset.GetString(DicomTags.SOPInstanceUID)], Files(fx.LateFolder).Select(f => f.Dataset.GetString(DicomTags.SOPInstanceUID)));
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Rules_added_at_run_time_route_and_configured_ones_are_read_only()
    {
        var folder = Directory.CreateTempSubdirectory("ow-route-rt-").FullName;
        try
        {
            var put = await fx.Rest.PutAsync("/routing/rules/knees", new StringContent("""{"Trigger": "Instance", "Tags": {"BodyPartExamined": "KNEE"}, "ForwardTo": ["runtime"]}"""));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var rules = await GetJsonAsync(fx.Rest, "/routing/rules");
            Assert.Contains(rules.AsArray(), r => r!["Name"]!.GetValue<string>() == "knees" && !r["ReadOnly"]!.GetValue<bool>());
            Assert.Contains(rules.AsArray(), r => r!["Name"]!.GetValue<string>() == "trial" && r["ReadOnly"]!.GetValue<bool>());
            Assert.Equal(HttpStatusCode.BadRequest, (await fx.Rest.DeleteAsync("/routing/rules/trial")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await fx.Rest.PutAsync("/routing/rules/empty", new StringContent("""{"Trigger": "Instance"}"""))).StatusCode);

            var knee = Write(folder, "MR_small.dcm", ds =>
            {
                ds.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid());
                ds.Add(DicomTags.BodyPartExamined, DicomVR.CS, "KNEE");
            });
            var route = await WaitForRouteAsync("knees", (await UploadAsync(fx.Rest, knee))["ID"]!.GetValue<string>(), "Success", "Failure");
            Assert.True(route.State == "Success", route.ToString());
            Assert.Equal("KNEE", Assert.Single(Files(fx.RuntimeFolder)).Dataset.GetString(DicomTags.BodyPartExamined));
            Assert.Equal(HttpStatusCode.OK, (await fx.Rest.DeleteAsync("/routing/rules/knees")).StatusCode);
        }
        finally { Directory.Delete(folder, true); }
    }
}
