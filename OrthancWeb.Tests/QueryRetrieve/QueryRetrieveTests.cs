using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.QueryRetrieve;

/// <summary>
/// DCMTK's dcmqrscp as the remote PACS, loaded once with storescu (three studies), and our server querying it: one
/// pair of processes for every test of the class.
/// </summary>
public sealed class DcmqrscpArchive : IAsyncLifetime
{
    public const string QrAet = "QRSCP";
    public const string OurAet = "OWEB";
    public const int QueryRetrieveSize = 4;
    public const int MaximumAnswers = 2;
    public static readonly string[] Files = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm"];

    private string _folder = "";
    private PeerProcess _qr = null!;
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public int QrPort { get; private set; }
    public int DicomPort { get; private set; }

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-qr-").FullName;
        DicomPort = ServerProcess.FreePort();
        (_qr, QrPort) = Dcmqrscp.Start(_folder, QrAet, OurAet, DicomPort);
        var serverStart = ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{DicomPort}}, "DicomAet": "{{OurAet}}", "QueryRetrieveSize": {{QueryRetrieveSize}}, "QueryRetrieveMaximumAnswers": {{MaximumAnswers}},
            "DicomModalities": { "qr": { "AET": "{{QrAet}}", "Host": "127.0.0.1", "Port": {{QrPort}} } }
            """);
        await _qr.WaitUntilListeningAsync(QrPort);
        var sent = await StorescuSender.SendAsync("LOADER", QrAet, QrPort, Files.Select(Sample));
        Assert.True(sent.Acknowledged.Count == Files.Length, sent.Output);
        Server = await serverStart;
        Rest = Server.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        await _qr.DisposeAsync();
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

/// <summary>Orthanc's /queries family (shapes as Orthanc 1.10.1 answers them), C-MOVE and C-GET retrieves, per-modality settings.</summary>
public sealed class QueryRetrieveTests(DcmqrscpArchive archive) : IClassFixture<DcmqrscpArchive>
{
    private HttpClient Rest => archive.Rest;

    private static string StudyUid(string file) => DicomFile.Open(Sample(file)).Dataset.GetString(DicomTags.StudyInstanceUID)!;

    private async Task<string> QueryAsync(string modality, object body)
    {
        var q = await PostJsonAsync(Rest, $"/modalities/{modality}/query", body);
        Assert.Equal("/queries/" + q["ID"]!.GetValue<string>(), q["Path"]!.GetValue<string>());
        return q["ID"]!.GetValue<string>();
    }

    private async Task<string[]> LocalStudiesAsync(string studyUid) =>
        Ids(await PostJsonAsync(Rest, "/tools/find", new { Level = "Study", Query = new { StudyInstanceUID = studyUid } }));

    /// <summary>Our copy removed, so a retrieve has something to bring back.</summary>
    private async Task ForgetAsync(string studyUid)
    {
        foreach (var id in await LocalStudiesAsync(studyUid))
            Assert.True((await Rest.DeleteAsync($"/studies/{id}")).IsSuccessStatusCode);
    }

    private async Task ViewAuditedAsync(string queryId)
    {
        var deadline = Stopwatch.StartNew();
        while (!(await GetJsonAsync(Rest, "/audit?action=View&limit=1000")).AsArray().Any(e => e!["ResourceID"]?.GetValue<string>() == queryId))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"no View of query {queryId} in the audit trail");
            await Task.Delay(50);
        }
    }

    private async Task<string> TextAsync(string url)
    {
        var response = await Rest.GetAsync(url);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The source recorded for a retrieved study's instance: the archive's AE title.</summary>
    private async Task<string> RemoteAetAsync(string studyId)
    {
        var instance = (await GetJsonAsync(Rest, $"/studies/{studyId}/instances"))[0]!["ID"]!.GetValue<string>();
        return (await GetJsonAsync(Rest, $"/instances/{instance}/metadata?expand"))["RemoteAET"]!.GetValue<string>();
    }

    [Fact]
    public async Task Queries_answer_as_Orthanc_is_refined_to_series_and_retrieved_by_C_MOVE()
    {
        var ct = StudyUid("CT_small.dcm");
        await ForgetAsync(ct);
        var id = await QueryAsync("qr", new { Level = "Study", Query = new { PatientID = "1CT1" } });
        Assert.Contains(id, Ids(await GetJsonAsync(Rest, "/queries")));
        Assert.Equal(["answers", "level", "modality", "query", "retrieve"], Ids(await GetJsonAsync(Rest, $"/queries/{id}")));
        Assert.Equal("Study", await TextAsync($"/queries/{id}/level"));
        Assert.Equal("qr", await TextAsync($"/queries/{id}/modality"));
        // What was asked, without the return keys added for the archive.
        Assert.Equal("""{"PatientID":"1CT1"}""", (await GetJsonAsync(Rest, $"/queries/{id}/query?simplify")).ToJsonString());
        Assert.Equal(["0"], Ids(await GetJsonAsync(Rest, $"/queries/{id}/answers")));
        Assert.Equal(["content", "retrieve", "query-series", "query-instances"], Ids(await GetJsonAsync(Rest, $"/queries/{id}/answers/0")));
        var full = await GetJsonAsync(Rest, $"/queries/{id}/answers/0/content");
        Assert.Equal(ct, full["0020,000d"]!["Value"]!.GetValue<string>());
        await ViewAuditedAsync(id); // answers are patient data: reading them is in the trail
        Assert.Equal("STUDY", (await GetJsonAsync(Rest, $"/queries/{id}/answers?expand&simplify"))[0]!["QueryRetrieveLevel"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await Rest.GetAsync($"/queries/{id}/answers/1/content")).StatusCode);
        // A study cannot be refined to studies (Orthanc: 404).
        Assert.Equal(HttpStatusCode.NotFound, (await Rest.PostAsync($"/queries/{id}/answers/0/query-studies", new StringContent("{}"))).StatusCode);

        // Its series: a new query whose keys are the study's UID and what the body adds.
        var series = (await PostJsonAsync(Rest, $"/queries/{id}/answers/0/query-series", new { Query = new { Modality = "" } }))["ID"]!.GetValue<string>();
        Assert.Equal("Series", await TextAsync($"/queries/{series}/level"));
        var asked = await GetJsonAsync(Rest, $"/queries/{series}/query?simplify");
        Assert.Equal(ct, asked["StudyInstanceUID"]!.GetValue<string>());
        var seriesAnswer = (await GetJsonAsync(Rest, $"/queries/{series}/answers?expand&simplify")).AsArray().Single()!;
        Assert.Equal("CT", seriesAnswer["Modality"]!.GetValue<string>());

        // Retrieve the one series by C-MOVE within the request, the body the target AE alone (Orthanc's shorthand).
        var moved = await Rest.PostAsync($"/queries/{series}/answers/0/retrieve", new StringContent(DcmqrscpArchive.OurAet));
        var result = JsonNode.Parse(await moved.Content.ReadAsStringAsync())!;
        Assert.True(moved.IsSuccessStatusCode, result.ToJsonString());
        Assert.Equal(("C-MOVE", "QRSCP", 1), (result["RetrieveMethod"]!.GetValue<string>(), result["RemoteAet"]!.GetValue<string>(), result["CompletedSubOperations"]!.GetValue<int>()));
        Assert.Equal(seriesAnswer["SeriesInstanceUID"]!.GetValue<string>(), result["Query"]![0]!["0020,000e"]!.GetValue<string>());
        var local = Assert.Single(await LocalStudiesAsync(ct));
        Assert.Equal(DcmqrscpArchive.QrAet, await RemoteAetAsync(local));

        Assert.True((await Rest.DeleteAsync($"/queries/{series}")).IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Rest.GetAsync($"/queries/{series}")).StatusCode);
    }

    [Fact]
    public async Task A_modality_set_to_C_GET_retrieves_on_its_own_association_as_a_job_and_within_the_request()
    {
        // Per-modality settings in a PUT, Orthanc's names; the invalid ones refused with their reason.
        var put = await Rest.PutAsync("/modalities/qrget", Json(new
        {
            AET = DcmqrscpArchive.QrAet, Host = "127.0.0.1", Port = archive.QrPort, RetrieveMethod = "C-GET", LocalAet = "OWEBGET", Timeout = 20,
            AllowTranscoding = false, PreferredTransferSyntax = "1.2.840.10008.1.2.1",
        }));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var config = await GetJsonAsync(Rest, "/modalities/qrget/configuration");
        Assert.Equal(("C-GET", "OWEBGET", 20, false), (config["RetrieveMethod"]!.GetValue<string>(), config["LocalAet"]!.GetValue<string>(),
            config["Timeout"]!.GetValue<int>(), config["AllowTranscoding"]!.GetValue<bool>()));
        foreach (var (bad, reason) in new (object Body, string Reason)[]
                 {
                     (new { AET = "X", Host = "127.0.0.1", Port = 104, RetrieveMethod = "C-FOO" }, "RetrieveMethod"),
                     (new { AET = "X", Host = "127.0.0.1", Port = 104, PreferredTransferSyntax = "1.2.3" }, "PreferredTransferSyntax"),
                     (new { AET = "X", Host = "127.0.0.1", Port = 104, LocalAet = "SEVENTEEN-CHARS-X" }, "LocalAet"),
                 })
        {
            var refused = await Rest.PutAsync("/modalities/bad", Json(bad));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains(reason, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // /queries/{id}/retrieve as a job: the modality's RetrieveMethod makes it a C-GET (DicomGetScu).
        var mr = StudyUid("MR_small.dcm");
        await ForgetAsync(mr);
        var id = await QueryAsync("qrget", new { Level = "Study", Query = new { PatientID = "4MR1" } });
        var submitted = await PostJsonAsync(Rest, $"/queries/{id}/retrieve", new { Synchronous = false });
        var job = await Workflows.JobsTests.WaitForStateAsync(Rest, submitted["ID"]!.GetValue<string>(), "Success", "Failure");
        Assert.True(job["State"]!.GetValue<string>() == "Success", job.ToJsonString());
        Assert.Equal("DicomGetScu", job["Type"]!.GetValue<string>());
        Assert.Equal(100, job["Progress"]!.GetValue<int>());
        Assert.Equal(("OWEBGET", 1), (job["Content"]!["LocalAet"]!.GetValue<string>(), job["Content"]!["CompletedSubOperations"]!.GetValue<int>()));
        var local = Assert.Single(await LocalStudiesAsync(mr));
        Assert.Equal(DcmqrscpArchive.QrAet, await RemoteAetAsync(local)); // stored through the ingest path, its source the archive

        // POST /modalities/{id}/get within the request (Orthanc 1.12.6's route), on the modality kept in appsettings.json.
        await ForgetAsync(mr);
        var got = await PostJsonAsync(Rest, "/modalities/qr/get", new { Level = "Study", Resources = new[] { new { StudyInstanceUID = mr } } });
        Assert.Equal(("C-GET", 1, 0), (got["RetrieveMethod"]!.GetValue<string>(), got["CompletedSubOperations"]!.GetValue<int>(), got["FailedSubOperations"]!.GetValue<int>()));
        Assert.Single(await LocalStudiesAsync(mr));
        // A C-GET has no target: naming one is a mistake, said as such.
        var targeted = await Rest.PostAsync($"/queries/{id}/retrieve", Json(new { TargetAet = "ELSEWHERE" }));
        Assert.Equal(HttpStatusCode.BadRequest, targeted.StatusCode);
    }

    [Fact]
    public async Task Queries_are_bounded_in_number_and_in_answers()
    {
        // Three studies match "*", at most MaximumAnswers kept: the rest was cancelled (C-CANCEL) and the association still ends well.
        var all = await QueryAsync("qr", new { Level = "Study", Query = new { PatientID = "*" } });
        Assert.Equal(DcmqrscpArchive.MaximumAnswers, Ids(await GetJsonAsync(Rest, $"/queries/{all}/answers")).Length);
        var ids = new List<string> { all };
        for (var i = 0; i < DcmqrscpArchive.QueryRetrieveSize; i++)
            ids.Add(await QueryAsync("qr", new { Level = "Patient", Query = new { PatientID = "4MR1" } }));
        // QueryRetrieveSize kept, the oldest (least recently used) gone.
        var kept = Ids(await GetJsonAsync(Rest, "/queries"));
        Assert.Equal(DcmqrscpArchive.QueryRetrieveSize, kept.Length);
        Assert.DoesNotContain(all, kept);
        Assert.Equal(HttpStatusCode.NotFound, (await Rest.GetAsync($"/queries/{all}/answers")).StatusCode);
        Assert.Equal(["content", "retrieve", "query-studies", "query-series", "query-instances"], Ids(await GetJsonAsync(Rest, $"/queries/{ids[^1]}/answers/0")));
    }

    [Fact]
    public async Task The_page_searches_expands_retrieves_a_series_and_opens_the_study()
    {
        var ct = StudyUid("CT_small.dcm");
        await ForgetAsync(ct);
        await using var chromium = await Browser.Chromium.LaunchAsync();
        var page = await chromium.SignInAsync(archive.Server, "admin", ServerProcess.AdminPassword);
        try
        {
            await page.ClickAsync("[data-testid=nav-query-retrieve]");
            await page.WaitForSelectorAsync("[data-testid=qr-search]");
            await page.FillAsync("input[data-testid=qr-patient-id]", "1CT1");
            await page.PressAsync("input[data-testid=qr-patient-id]", "Tab"); // the field's change reaches the circuit
            await page.ClickAsync("[data-testid=qr-search]");
            await page.WaitForSelectorAsync("[data-testid=qr-study]:has-text('CompressedSamples^CT1')");
            Assert.Equal(1, await page.Locator("[data-testid=qr-study]").CountAsync());

            // The results stay when the user goes elsewhere and comes back (the circuit's session keeps them).
            await page.ClickAsync("[data-testid=nav-jobs]");
            await page.WaitForSelectorAsync("[data-testid=jobs]");
            await page.ClickAsync("[data-testid=nav-query-retrieve]");
            await page.WaitForSelectorAsync("[data-testid=qr-study]:has-text('CompressedSamples^CT1')");

            await page.ClickAsync("[data-testid=qr-study-expand]");
            await page.WaitForSelectorAsync("[data-testid=qr-series]:has-text('CT')");
            await page.Locator("[data-testid=qr-series-select] input, input[data-testid=qr-series-select]").ClickAsync(new() { Force = true });
            await page.ClickAsync("[data-testid=qr-retrieve]:not([disabled])");
            await page.WaitForSelectorAsync("[data-testid=qr-job-state]:has-text('Success')", new() { Timeout = 60_000 });
            await Browser.Chromium.ShotAsync(page, "query-retrieve");
            await page.ClickAsync("[data-testid=qr-open-study]");
            await page.WaitForURLAsync("**/ui/studies/**");
            await page.WaitForSelectorAsync("text=CompressedSamples^CT1");
            Assert.Single(await LocalStudiesAsync(ct));
        }
        catch
        {
            await Browser.Chromium.ShotAsync(page, "query-retrieve-failed");
            throw;
        }
    }

    private static StringContent Json(object body) =>
        new(System.Text.Json.JsonSerializer.Serialize(body, OrthancJsonOptions), System.Text.Encoding.UTF8, "application/json");
}
