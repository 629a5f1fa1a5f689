using System.Net.Http.Json;
using System.Diagnostics;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Network;

/// <summary>Our SCU (through REST) against DCMTK's dcmqrscp archive: echo, store, find, and retrieve (C-MOVE to us).</summary>
public sealed class DcmqrscpTests : IAsyncLifetime
{
    private const string QrAet = "QRSCP";
    private const string OurAet = "OWEB";
    private string _folder = "";
    private ServerProcess _server = null!;
    private HttpClient _rest = null!;
    private PeerProcess _qr = null!;
    private int _qrPort;

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-qr-").FullName;
        var dicomPort = ServerProcess.FreePort();
        (_qr, _qrPort) = Dcmqrscp.Start(_folder, QrAet, OurAet, dicomPort);
        _server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{dicomPort}}, "DicomAet": "{{OurAet}}",
            "DicomModalities": { "qr": { "AET": "{{QrAet}}", "Host": "127.0.0.1", "Port": {{_qrPort}} } }
            """);
        _rest = _server.CreateRestClient();
        await _qr.WaitUntilListeningAsync(_qrPort);
    }

    public async Task DisposeAsync()
    {
        await _qr.DisposeAsync();
        _rest.Dispose();
        await _server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Echo_store_find_and_retrieve_against_dcmqrscp()
    {
        Assert.True((await _rest.PostAsync("/modalities/qr/echo", new StringContent(""))).IsSuccessStatusCode);

        // Store into the archive with our SCU, then remove our copy so the retrieve has something to bring back.
        var up = await UploadAsync(_rest, Sample("CT_small.dcm"));
        var store = await _rest.PostAsync("/modalities/qr/store", new StringContent(up["ParentStudy"]!.GetValue<string>()));
        var stored = JsonNode.Parse(await store.Content.ReadAsStringAsync())!;
        Assert.True(store.IsSuccessStatusCode, stored.ToJsonString());
        Assert.Equal(0, stored["FailedInstancesCount"]!.GetValue<int>());
        Assert.True((await _rest.DeleteAsync("/patients/" + up["ParentPatient"]!.GetValue<string>())).IsSuccessStatusCode);

        // C-FIND at study level, answers readable in both shapes.
        var query = await _rest.PostAsJsonAsync("/modalities/qr/query", new { Level = "Study", Query = new { PatientID = "1CT1" } }, OrthancJsonOptions);
        var q = JsonNode.Parse(await query.Content.ReadAsStringAsync())!;
        Assert.True(query.IsSuccessStatusCode, q.ToJsonString());
        var id = q["ID"]!.GetValue<string>();
        Assert.Equal(["0"], Ids(await GetJsonAsync(_rest, $"/queries/{id}/answers")));
        var answer = await GetJsonAsync(_rest, $"/queries/{id}/answers/0/content?simplify");
        var studyUid = DicomFile.Open(Sample("CT_small.dcm")).Dataset.GetString(DicomTags.StudyInstanceUID);
        Assert.Equal(studyUid, answer["StudyInstanceUID"]!.GetValue<string>());

        // Retrieve: C-MOVE from the archive to us; the study is back in our index.
        var retrieve = await _rest.PostAsync($"/queries/{id}/retrieve", new StringContent(OurAet));
        var r = JsonNode.Parse(await retrieve.Content.ReadAsStringAsync())!;
        Assert.True(retrieve.IsSuccessStatusCode, r.ToJsonString());
        Assert.Equal(1, r["CompletedSubOperations"]!.GetValue<int>());
        var back = await PostJsonAsync(_rest, "/tools/find", new { Level = "Study", Query = new { StudyInstanceUID = studyUid } });
        Assert.Single(back.AsArray());
        var instance = (await GetJsonAsync(_rest, $"/studies/{back[0]!.GetValue<string>()}/instances"))[0]!["ID"]!.GetValue<string>();
        Assert.Equal("QRSCP", (await GetJsonAsync(_rest, $"/instances/{instance}/metadata?expand"))["RemoteAET"]!.GetValue<string>());

        // The same retrieve as a job (C-MOVE is a long operation): delete our copy again, move it back asynchronously.
        Assert.True((await _rest.DeleteAsync($"/studies/{back[0]!.GetValue<string>()}")).IsSuccessStatusCode);
        var submitted = await PostJsonAsync(_rest, "/modalities/qr/move",
            new { Level = "Study", Resources = new[] { new { StudyInstanceUID = studyUid } }, TargetAet = OurAet, Asynchronous = true });
        var job = await OrthancWeb.Tests.Workflows.JobsTests.WaitForStateAsync(_rest, submitted["ID"]!.GetValue<string>(), "Success", "Failure");
        Assert.True(job["State"]!.GetValue<string>() == "Success", job.ToJsonString());
        Assert.Equal("DicomMoveScu", job["Type"]!.GetValue<string>());
        Assert.Equal(1, job["Content"]!["CompletedSubOperations"]!.GetValue<int>());
        Assert.Single((await PostJsonAsync(_rest, "/tools/find", new { Level = "Study", Query = new { StudyInstanceUID = studyUid } })).AsArray());
    }
}
