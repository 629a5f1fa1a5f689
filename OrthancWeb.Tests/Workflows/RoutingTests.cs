using System.Net;
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
        Start("ANONDEST", anonPort, AnonFolder);
        Start("MRDEST", mrPort, MrFolder);
        Start("RUNTIME", runtimePort, RuntimeFolder);
        await Task.Delay(300);
    }

    public void Start(string aet, int port, string folder) => _peers.Start(aet, port, folder);

    public async Task DisposeAsync()
    {
        _peers.Dispose();
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

public sealed class RoutingTests(RoutingFixture fx) : IClassFixture<RoutingFixture>
{
    private static async Task<List<DicomFile>> WaitForFilesAsync(string folder, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var files = Directory.GetFiles(folder);
            if (files.Length >= count)
            {
                await Task.Delay(200); // storescp finishes writing
                return Directory.GetFiles(folder).Select(f => DicomFile.Open(f)).ToList();
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Directory.GetFiles(folder).Length} of {count} files arrived in {folder}");
    }

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
            var study = OrthancWeb.Dicom.Anonymization.UidMap.NewUid();
            var series = OrthancWeb.Dicom.Anonymization.UidMap.NewUid();
            for (var i = 0; i < 3; i++)
                await UploadAsync(fx.Rest, Write(folder, "CT_small.dcm", ds =>
                {
                    ds.Add(DicomTags.StudyInstanceUID, DicomVR.UI, study);
                    ds.Add(DicomTags.SeriesInstanceUID, DicomVR.UI, series);
                    ds.Add(DicomTags.SOPInstanceUID, DicomVR.UI, OrthancWeb.Dicom.Anonymization.UidMap.NewUid());
                    ds.Add(DicomTags.StudyDescription, DicomVR.LO, "TRIAL 7 BASELINE");
                }));
            var received = await WaitForFilesAsync(fx.AnonFolder, 3, TimeSpan.FromSeconds(30));
            Assert.All(received, f => Assert.Equal("YES", f.Dataset.GetString(DicomTags.PatientIdentityRemoved)));
            Assert.Single(received.Select(f => f.Dataset.GetString(DicomTags.StudyInstanceUID)).Distinct());
            Assert.NotEqual(study, received[0].Dataset.GetString(DicomTags.StudyInstanceUID));
            Assert.NotEqual("CompressedSamples^CT1", received[0].Dataset.GetString(DicomTags.PatientName));
            // The anonymized copy stays on the server too, and was not routed again (it would have arrived twice).
            await Task.Delay(2500);
            Assert.Equal(3, Directory.GetFiles(fx.AnonFolder).Length);
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
            foreach (var (file, aet) in new[] { (mr, "MRSCANNER"), (ct, "MRSCANNER"), (other, "ELSEWHERE") })
            {
                var r = Peers.Run("storescu", "-aet", aet, "-aec", "OWEB", "127.0.0.1", fx.DicomPort.ToString(), file);
                Assert.True(r.ExitCode == 0, r.Stderr);
            }
            var received = await WaitForFilesAsync(fx.MrFolder, 1, TimeSpan.FromSeconds(20));
            await Task.Delay(2000); // time for wrongly routed ones to show up
            received = Directory.GetFiles(fx.MrFolder).Select(f => DicomFile.Open(f)).ToList();
            Assert.Equal([DicomFile.Open(mr).Dataset.GetString(DicomTags.SOPInstanceUID)], received.Select(f => f.Dataset.GetString(DicomTags.SOPInstanceUID)));
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
            await UploadAsync(fx.Rest, path);
            // The job exists and waits for its next attempt.
            string? jobId = null;
            for (var i = 0; i < 100 && jobId is null; i++)
            {
                foreach (var job in (await GetJsonAsync(fx.Rest, "/jobs?expand")).AsArray())
                    if (job!["Type"]!.GetValue<string>() == "Route" && job["State"]!.GetValue<string>() == "Retry"
                        && job["Content"]!["Description"]!.GetValue<string>().Contains("late")) jobId = job["ID"]!.GetValue<string>();
                await Task.Delay(100);
            }
            Assert.NotNull(jobId);
            fx.Start("LATE", fx.LatePort, fx.LateFolder);
            var done = await JobsTests.WaitForStateAsync(fx.Rest, jobId!, "Success", "Failure");
            Assert.Equal("Success", done["State"]!.GetValue<string>());
            var received = await WaitForFilesAsync(fx.LateFolder, 1, TimeSpan.FromSeconds(10));
            Assert.Equal(DicomFile.Open(path).Dataset.GetString(DicomTags.SOPInstanceUID), received[0].Dataset.GetString(DicomTags.SOPInstanceUID));
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
            await UploadAsync(fx.Rest, knee);
            var received = await WaitForFilesAsync(fx.RuntimeFolder, 1, TimeSpan.FromSeconds(20));
            Assert.Equal("KNEE", received[0].Dataset.GetString(DicomTags.BodyPartExamined));
            Assert.Equal(HttpStatusCode.OK, (await fx.Rest.DeleteAsync("/routing/rules/knees")).StatusCode);
        }
        finally { Directory.Delete(folder, true); }
    }
}
