using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Anonymization;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using OrthancWeb.Tests.Workflows;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.DicomWeb.Client;

/// <summary>
/// Our server (a real process) with DICOMweb servers in its appsettings.json: Debian's orthanc with its DICOMweb
/// plugin, open and behind HTTP Basic; the same with a wrong password; a port nothing listens on; and a remote that
/// answers WADO-RS with broken multipart bodies. A routing rule forwards to orthanc by STOW-RS.
/// </summary>
public sealed class DicomWebClientFixture : IAsyncLifetime
{
    private string _folder = "";
    public OrthancPeer Orthanc { get; private set; } = null!;
    public OrthancPeer Secured { get; private set; } = null!;
    public BrokenDicomWebServer Broken { get; private set; } = null!;
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public HttpClient OrthancRest { get; private set; } = null!;
    public string Folder => _folder;

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-dicomweb-client-").FullName;
        Orthanc = await OrthancPeer.StartAsync(dicomWeb: true);
        Secured = await OrthancPeer.StartAsync(dicomWeb: true, credentials: ("alice", "wonderland"));
        Broken = BrokenDicomWebServer.Start();
        OrthancRest = Orthanc.CreateClient();
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "StableAge": 1, "DicomWebClientStowBatchSize": 1, "DicomWebClientMaximumJsonSize": 1,
            "DicomWebServers": {
              "orthanc": { "Url": "{{Orthanc.Url}}/dicom-web/" },
              "secured": { "Url": "{{Secured.Url}}/dicom-web", "Username": "alice", "Password": "wonderland" },
              "badcreds": { "Url": "{{Secured.Url}}/dicom-web", "Username": "alice", "Password": "not-her-password" },
              "down": { "Url": "http://127.0.0.1:{{ServerProcess.FreePort()}}/dicom-web", "Timeout": 5 },
              "broken": { "Url": "http://127.0.0.1:{{Broken.Port}}/dicom-web", "Timeout": 10 },
              "silent": { "Url": "http://127.0.0.1:{{Broken.Port}}/silent", "Timeout": 2 }
            },
            "Routing": [
              { "Name": "to-orthanc", "Trigger": "Instance", "Tags": { "StudyDescription": "DWROUTE*" }, "ForwardToDicomWeb": [ "orthanc" ], "Retries": 0 }
            ]
            """);
        Rest = Server.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        Rest.Dispose();
        OrthancRest.Dispose();
        await Server.DisposeAsync();
        await Broken.DisposeAsync();
        await Secured.DisposeAsync();
        await Orthanc.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    /// <summary>A copy of a pydicom sample as a new instance (new study, series and SOP UIDs unless given), as bytes.</summary>
    public static byte[] NewInstance(string sample, string? study = null, string? series = null, string? description = null)
    {
        var f = DicomFile.Open(Sample(sample));
        f.Dataset.Add(DicomTags.StudyInstanceUID, DicomVR.UI, study ?? UidMap.NewUid());
        f.Dataset.Add(DicomTags.SeriesInstanceUID, DicomVR.UI, series ?? UidMap.NewUid());
        f.Dataset.Add(DicomTags.SOPInstanceUID, DicomVR.UI, UidMap.NewUid());
        if (description is not null) f.Dataset.Add(DicomTags.StudyDescription, DicomVR.LO, description);
        f.UpdateFileMetaInfo();
        using var memory = new MemoryStream();
        f.Save(memory);
        return memory.ToArray();
    }

    public static string SopUid(byte[] instance) => DicomFile.Open(new MemoryStream(instance)).Dataset.GetString(DicomTags.SOPInstanceUID)!;
}

/// <summary>
/// A DICOMweb "server" that answers every WADO-RS request with what a hostile or broken remote sends, written by hand
/// on the socket: study 1.2.3 gets a whole instance, then a second part cut off in its middle and the connection
/// closed; study 1.2.4 gets a DICOM file labelled application/json; under /silent nothing is ever answered; and a
/// STOW-RS gets the answer the test set in <see cref="StowAnswer"/>.
/// </summary>
public sealed class BrokenDicomWebServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <summary>The two instances of study 1.2.3's answer: the first arrives whole, the second only half.</summary>
    public byte[] Whole { get; } = DicomWebClientFixture.NewInstance("CT_small.dcm");
    public byte[] CutShort { get; } = DicomWebClientFixture.NewInstance("MR_small.dcm");
    public byte[] Mislabelled { get; } = DicomWebClientFixture.NewInstance("CT_small.dcm");

    private BrokenDicomWebServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, ServerProcess.FreePort());
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The status line and DICOM JSON body a POST /studies is answered with.</summary>
    public (string Status, string Json) StowAnswer { get; set; } = ("200 OK", "{}");

    public static BrokenDicomWebServer Start() => new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var request = new StringBuilder();
            var buffer = new byte[4096];
            while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0) return;
                request.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            var head = request.ToString();
            var path = head.Split(' ')[1];
            if (path.StartsWith("/silent", StringComparison.Ordinal))
            {
                try { await Task.Delay(Timeout.Infinite, _stop.Token); } catch (OperationCanceledException) { }
                return;
            }
            if (head.StartsWith("POST", StringComparison.Ordinal))
            {
                // Read the whole request before answering, as a server does.
                var length = long.Parse(System.Text.RegularExpressions.Regex.Match(head, @"Content-Length: (\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase).Groups[1].Value,
                    System.Globalization.CultureInfo.InvariantCulture);
                long read = Encoding.ASCII.GetByteCount(head[(head.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
                while (read < length)
                {
                    var n = await stream.ReadAsync(buffer, _stop.Token);
                    if (n == 0) return;
                    read += n;
                }
                var (status, json) = StowAnswer;
                var body = Encoding.UTF8.GetBytes(json);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 {status}\r\nContent-Type: application/dicom+json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(body);
                return;
            }
            if (path.StartsWith("/dicom-web/studies?", StringComparison.Ordinal))
            {
                // A QIDO-RS answer that never ends (no Content-Length): it must be cut off at DicomWebClientMaximumJsonSize.
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n["));
                var item = Encoding.ASCII.GetBytes("""{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "ENDLESS^STREAM"}]}},""");
                try
                {
                    while (!_stop.IsCancellationRequested) await stream.WriteAsync(item, _stop.Token);
                }
                catch (IOException) { } // the client hung up, as it should
                catch (OperationCanceledException) { }
                return;
            }
            if (path == "/dicom-web/page")
            {
                var html = "<html><script>alert(document.cookie)</script></html>"u8.ToArray();
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {html.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(html);
                return;
            }
            if (path.EndsWith("/studies/1.2.3", StringComparison.Ordinal))
            {
                const string boundary = "broken-boundary";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary={boundary}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n"));
                await stream.WriteAsync(Whole);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"\r\n--{boundary}\r\nContent-Type: application/dicom\r\n\r\n"));
                await stream.WriteAsync(CutShort.AsMemory(0, CutShort.Length / 2));
                // No closing boundary: the connection ends in the middle of the second instance.
            }
            else if (path.EndsWith("/studies/1.2.4", StringComparison.Ordinal))
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Mislabelled.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(Mislabelled);
            }
            else
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

public sealed class DicomWebClientTests(DicomWebClientFixture fx) : IClassFixture<DicomWebClientFixture>
{
    private async Task<JsonNode> UploadToOrthancAsync(byte[] instance)
    {
        var response = await fx.OrthancRest.PostAsync("/instances", new ByteArrayContent(instance));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"orthanc refused the upload: {text}");
        return JsonNode.Parse(text)!;
    }

    private async Task<JsonNode> UploadToUsAsync(byte[] instance)
    {
        var response = await fx.Rest.PostAsync("/instances", new ByteArrayContent(instance));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"upload refused: {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>The instance with this SOP Instance UID on a server (ours or orthanc), or null.</summary>
    private static async Task<string?> LookupAsync(HttpClient client, string uid)
    {
        var response = await client.PostAsync("/tools/lookup", new StringContent(uid));
        var found = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        return found.FirstOrDefault(f => f!["Type"]!.GetValue<string>() == "Instance")?["ID"]!.GetValue<string>();
    }

    private async Task<JsonNode> PostAsync(string url, string json, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await fx.Rest.PostAsync(url, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private async Task<JsonNode> JobAsync(JsonNode submitted, params string[] states) =>
        await JobsTests.WaitForStateAsync(fx.Rest, submitted["ID"]!.GetValue<string>(), states);

    private async Task<long> InstanceCountAsync() => (await GetJsonAsync(fx.Rest, "/statistics"))["CountInstances"]!.GetValue<long>();

    [Fact]
    public async Task Servers_come_from_appsettings_and_from_put_and_their_passwords_are_never_shown()
    {
        var names = Ids(await GetJsonAsync(fx.Rest, "/dicom-web/servers"));
        Assert.Subset(names.ToHashSet(), new[] { "orthanc", "secured", "badcreds", "down", "broken" }.ToHashSet());

        var put = await fx.Rest.PutAsync("/dicom-web/servers/runtime",
            new StringContent($$"""{"Url": "{{fx.Orthanc.Url}}/dicom-web", "Username": "bob", "Password": "bobs-secret", "HttpHeaders": {"X-Token": "t0k3n"} }"""));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        // Orthanc's shorthand: ["url", "user", "password"].
        put = await fx.Rest.PutAsync("/dicom-web/servers/short", new StringContent($"""["{fx.Orthanc.Url}/dicom-web", "carol", "carols-secret"]"""));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());

        var expandedText = await fx.Rest.GetStringAsync("/dicom-web/servers?expand");
        Assert.DoesNotContain("wonderland", expandedText);
        Assert.DoesNotContain("bobs-secret", expandedText);
        Assert.DoesNotContain("t0k3n", expandedText);
        var expanded = JsonNode.Parse(expandedText)!;
        Assert.Equal("database", expanded["runtime"]!["DefinedIn"]!.GetValue<string>());
        Assert.Equal("bob", expanded["runtime"]!["Username"]!.GetValue<string>());
        Assert.True(expanded["runtime"]!["HasPassword"]!.GetValue<bool>());
        Assert.Equal("carol", expanded["short"]!["Username"]!.GetValue<string>());
        Assert.Equal("appsettings.json", expanded["secured"]!["DefinedIn"]!.GetValue<string>());
        Assert.Equal(["get", "qido", "retrieve", "stow"], Ids(await GetJsonAsync(fx.Rest, "/dicom-web/servers/runtime")));

        // The new server works at once: a QIDO-RS through it reaches orthanc.
        await PostAsync("/dicom-web/servers/runtime/qido", """{"Uri": "/studies"}""");

        // What cannot be changed, or could not work, is refused with the reason.
        var configured = await fx.Rest.PutAsync("/dicom-web/servers/orthanc", new StringContent($$"""{"Url": "{{fx.Orthanc.Url}}/x"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, configured.StatusCode);
        Assert.Contains("appsettings.json", await configured.Content.ReadAsStringAsync());
        var ftp = await fx.Rest.PutAsync("/dicom-web/servers/ftp", new StringContent("""{"Url": "ftp://example.org/dicom-web"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, ftp.StatusCode);
        Assert.Contains("Url must be an absolute http:// or https:// URL", await ftp.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.Rest.DeleteAsync("/dicom-web/servers/orthanc")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.DeleteAsync("/dicom-web/servers/runtime")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.GetAsync("/dicom-web/servers/runtime")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.DeleteAsync("/dicom-web/servers/runtime")).StatusCode);
        await fx.Rest.DeleteAsync("/dicom-web/servers/short");
    }

    [Fact]
    public async Task A_server_whose_settings_cannot_work_is_refused_at_start_up_with_the_reason()
    {
        var folder = Directory.CreateTempSubdirectory("ow-dicomweb-invalid-").FullName;
        try
        {
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(folder,
                """, "DicomWebServers": { "nowhere": { "Url": "not a url" } }"""));
            Assert.Contains("DicomWebServers:nowhere: Url must be an absolute http:// or https:// URL", failure.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task Qido_searches_orthanc_and_answers_its_dicom_json()
    {
        var study = UidMap.NewUid();
        await UploadToOrthancAsync(DicomWebClientFixture.NewInstance("CT_small.dcm", study));

        var studies = (await PostAsync("/dicom-web/servers/orthanc/qido", $$"""{"Uri": "/studies", "Arguments": {"StudyInstanceUID": "{{study}}"} }""")).AsArray();
        var found = Assert.Single(studies)!;
        Assert.Equal(study, found["0020000D"]!["Value"]![0]!.GetValue<string>());
        var series = (await PostAsync("/dicom-web/servers/orthanc/qido", $$"""{"Uri": "/studies/{{study}}/series"}""")).AsArray();
        Assert.Equal("CT", Assert.Single(series)!["00080060"]!["Value"]![0]!.GetValue<string>());

        // Orthanc's /get: any GET under the server's Url, here the study's metadata (PS3.18 10.4.1.1.2).
        var metadata = await fx.Rest.PostAsync("/dicom-web/servers/orthanc/get", new StringContent($$"""{"Uri": "/studies/{{study}}/metadata"}"""));
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
        Assert.Equal("application/dicom+json", metadata.Content.Headers.ContentType?.MediaType);
        Assert.Equal(study, Assert.Single(JsonNode.Parse(await metadata.Content.ReadAsStringAsync())!.AsArray())!["0020000D"]!["Value"]![0]!.GetValue<string>());

        // Behind HTTP Basic: the configured credentials are sent.
        await UploadToSecuredAsync(DicomWebClientFixture.NewInstance("CT_small.dcm", study));
        Assert.Single((await PostAsync("/dicom-web/servers/secured/qido", $$"""{"Uri": "/studies", "Arguments": {"StudyInstanceUID": "{{study}}"} }""")).AsArray());

        // A path that is no QIDO-RS resource, or that would leave the server's Url, is refused before anything is sent.
        var escape = await PostAsync("/dicom-web/servers/orthanc/qido", """{"Uri": "/../system"}""", HttpStatusCode.BadRequest);
        Assert.Contains("is not a QIDO-RS resource", escape["Details"]!.GetValue<string>());
        var unknown = await fx.Rest.PostAsync("/dicom-web/servers/nosuch/qido", new StringContent("""{"Uri": "/studies"}"""));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private async Task UploadToSecuredAsync(byte[] instance)
    {
        using var client = fx.Secured.CreateClient();
        var response = await client.PostAsync("/instances", new ByteArrayContent(instance));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Stow_sends_our_instances_to_orthanc_byte_for_byte_as_a_job_and_is_audited()
    {
        var (study, series) = (UidMap.NewUid(), UidMap.NewUid());
        var instances = new[] { DicomWebClientFixture.NewInstance("CT_small.dcm", study, series), DicomWebClientFixture.NewInstance("CT_small.dcm", study, series) };
        JsonNode? stored = null;
        foreach (var i in instances) stored = await UploadToUsAsync(i);
        var studyId = stored!["ParentStudy"]!.GetValue<string>();

        var job = await JobAsync(await PostAsync("/dicom-web/servers/orthanc/stow", $$"""{"Resources": ["{{studyId}}"], "Synchronous": false}"""), "Success", "Failure");
        Assert.True(job["State"]!.GetValue<string>() == "Success", job.ToJsonString());
        Assert.Equal("DicomWebStowClient", job["Type"]!.GetValue<string>());
        // Two STOW-RS requests of one instance each (DicomWebClientStowBatchSize 1 here).
        Assert.Equal(2, job["Content"]!["InstancesCount"]!.GetValue<int>());
        Assert.Equal(0, job["Content"]!["FailedInstancesCount"]!.GetValue<int>());

        foreach (var instance in instances)
        {
            var uid = DicomWebClientFixture.SopUid(instance);
            var theirs = await LookupAsync(fx.OrthancRest, uid);
            Assert.True(theirs is not null, $"orthanc does not have {uid}");
            var ours = await LookupAsync(fx.Rest, uid);
            // The file as we store it, sent as it is: same SOP Instance UID, same pixel data, same bytes.
            Assert.Equal(await fx.Rest.GetByteArrayAsync($"/instances/{ours}/file"), await fx.OrthancRest.GetByteArrayAsync($"/instances/{theirs}/file"));
        }

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var sends = (await GetJsonAsync(fx.Rest, "/audit?action=Send&limit=1000")).AsArray();
            if (sends.Any(e => e!["Details"]?.GetValue<string>() is { } d && d.StartsWith("STOW-RS of 2 of 2 instance(s) to DICOMweb server orthanc", StringComparison.Ordinal)
                && e["StudyInstanceUID"]?.GetValue<string>() == study)) break;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "no audit entry for the STOW-RS: " + sends.ToJsonString());
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Retrieve_brings_studies_and_instances_from_orthanc_into_our_store_as_a_job()
    {
        var (study, series) = (UidMap.NewUid(), UidMap.NewUid());
        var studyInstances = new[] { DicomWebClientFixture.NewInstance("MR_small.dcm", study, series), DicomWebClientFixture.NewInstance("MR_small.dcm", study, series) };
        foreach (var i in studyInstances) await UploadToOrthancAsync(i);
        var (otherStudy, otherSeries) = (UidMap.NewUid(), UidMap.NewUid());
        var single = DicomWebClientFixture.NewInstance("CT_small.dcm", otherStudy, otherSeries);
        var notAsked = DicomWebClientFixture.NewInstance("CT_small.dcm", otherStudy, otherSeries);
        await UploadToOrthancAsync(single);
        await UploadToOrthancAsync(notAsked);

        var submitted = await PostAsync("/dicom-web/servers/orthanc/retrieve", $$"""
            {"Resources": [ {"Study": "{{study}}"}, {"Study": "{{otherStudy}}", "Series": "{{otherSeries}}", "Instance": "{{DicomWebClientFixture.SopUid(single)}}"} ]}
            """);
        var job = await JobAsync(submitted, "Success", "Failure");
        Assert.True(job["State"]!.GetValue<string>() == "Success", job.ToJsonString());
        Assert.Equal(3, job["Content"]!["ReceivedInstancesCount"]!.GetValue<int>());

        foreach (var instance in studyInstances.Append(single))
        {
            var uid = DicomWebClientFixture.SopUid(instance);
            var ours = await LookupAsync(fx.Rest, uid);
            Assert.True(ours is not null, $"{uid} did not arrive");
            var theirs = await LookupAsync(fx.OrthancRest, uid);
            Assert.Equal(await fx.OrthancRest.GetByteArrayAsync($"/instances/{theirs}/file"), await fx.Rest.GetByteArrayAsync($"/instances/{ours}/file"));
            Assert.Equal("orthanc", await fx.Rest.GetStringAsync($"/instances/{ours}/metadata/DicomWebServer"));
            Assert.Equal("Plugins", await fx.Rest.GetStringAsync($"/instances/{ours}/metadata/Origin"));
        }
        Assert.Null(await LookupAsync(fx.Rest, DicomWebClientFixture.SopUid(notAsked)));
        var deadline = Stopwatch.StartNew();
        while (!(await GetJsonAsync(fx.Rest, "/audit?action=Retrieve&limit=1000")).AsArray().Any(e =>
            e!["Details"]?.GetValue<string>() == $"WADO-RS studies/{study} from DICOMweb server orthanc: 2 stored, 0 already there, 0 refused"))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "no audit entry for the WADO-RS retrieve");
            await Task.Delay(100);
        }

        // A UID that is not one is refused before any job exists.
        await PostAsync("/dicom-web/servers/orthanc/retrieve", """{"Resources": [{"Study": "1.2/../../system"}]}""", HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_server_that_is_down_fails_the_job_with_the_reason()
    {
        var stored = await UploadToUsAsync(DicomWebClientFixture.NewInstance("CT_small.dcm"));
        var job = await JobAsync(await PostAsync("/dicom-web/servers/down/stow", $$"""{"Resources": ["{{stored["ID"]}}"]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains("cannot reach DICOMweb server down", job["ErrorDetails"]!.GetValue<string>());

        job = await JobAsync(await PostAsync("/dicom-web/servers/down/retrieve", """{"Resources": [{"Study": "1.2.3"}]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains("cannot reach DICOMweb server down", job["ErrorDetails"]!.GetValue<string>());
    }

    [Fact]
    public async Task Wrong_credentials_are_reported_as_the_remotes_401()
    {
        var qido = await PostAsync("/dicom-web/servers/badcreds/qido", """{"Uri": "/studies"}""", HttpStatusCode.InternalServerError);
        Assert.Contains("answered 401 Unauthorized", qido["Details"]!.GetValue<string>());
        Assert.Contains("check its Username, Password and HttpHeaders", qido["Details"]!.GetValue<string>());

        var stored = await UploadToUsAsync(DicomWebClientFixture.NewInstance("CT_small.dcm"));
        var job = await JobAsync(await PostAsync("/dicom-web/servers/badcreds/stow", $$"""{"Resources": ["{{stored["ID"]}}"]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains("answered 401 Unauthorized", job["ErrorDetails"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_broken_multipart_answer_fails_the_job_and_stores_no_part_of_an_instance()
    {
        var before = await InstanceCountAsync();
        var job = await JobAsync(await PostAsync("/dicom-web/servers/broken/retrieve", """{"Resources": [{"Study": "1.2.3"}]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains("sent a broken WADO-RS answer after 1 instance(s)", job["ErrorDetails"]!.GetValue<string>());
        // The instance that arrived whole is kept, intact; the one cut short is nowhere.
        var whole = await LookupAsync(fx.Rest, DicomWebClientFixture.SopUid(fx.Broken.Whole));
        Assert.NotNull(whole);
        Assert.Equal(fx.Broken.Whole, await fx.Rest.GetByteArrayAsync($"/instances/{whole}/file"));
        Assert.Null(await LookupAsync(fx.Rest, DicomWebClientFixture.SopUid(fx.Broken.CutShort)));
        Assert.Equal(before + 1, await InstanceCountAsync());

        // Not multipart at all: refused as such, nothing stored.
        job = await JobAsync(await PostAsync("/dicom-web/servers/broken/retrieve", """{"Resources": [{"Study": "1.2.4"}]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains("answered application/json, not multipart/related", job["ErrorDetails"]!.GetValue<string>());
        Assert.Null(await LookupAsync(fx.Rest, DicomWebClientFixture.SopUid(fx.Broken.Mislabelled)));
        Assert.Equal(before + 1, await InstanceCountAsync());

        // No file of the broken parts is left behind in the storage area either: every stored file is an instance's,
        // and the only .part files are the empty ones made ahead of need (StorageArea.CreateIncoming).
        var files = Directory.EnumerateFiles(Path.Combine(fx.Server.DataDirectory, "storage"), "*", SearchOption.AllDirectories).ToList();
        Assert.DoesNotContain(files, f => f.EndsWith(".part", StringComparison.Ordinal) && new FileInfo(f).Length > 0);
        Assert.Equal(await InstanceCountAsync(), files.Count(f => Guid.TryParse(Path.GetFileName(f), out _)));
    }

    [Fact]
    public async Task Instances_the_remote_refuses_or_does_not_acknowledge_fail_the_stow_job_with_the_reason()
    {
        var refused = DicomWebClientFixture.NewInstance("CT_small.dcm");
        var (refusedId, refusedUid) = ((await UploadToUsAsync(refused))["ID"]!.GetValue<string>(), DicomWebClientFixture.SopUid(refused));
        // PS3.18 10.5.3: 409 and a FailedSOPSequence whose item gives the Failure Reason (0x0110, processing failure).
        fx.Broken.StowAnswer = ("409 Conflict", $$"""
            {"00081198": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
              "00081155": {"vr": "UI", "Value": ["{{refusedUid}}"]}, "00081197": {"vr": "US", "Value": [272]} } ] } }
            """);
        var job = await JobAsync(await PostAsync("/dicom-web/servers/broken/stow", $$"""{"Resources": ["{{refusedId}}"]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains($"1 of 1 instances were refused by DICOMweb server broken: {refusedUid}: failure reason 0x0110 (processing failure)", job["ErrorDetails"]!.GetValue<string>());
        Assert.Equal([refusedId], Ids(job["Content"]!["FailedInstances"]!));

        // A 200 that names nothing in its ReferencedSOPSequence has stored nothing we can count on.
        var ignored = DicomWebClientFixture.NewInstance("CT_small.dcm");
        var ignoredId = (await UploadToUsAsync(ignored))["ID"]!.GetValue<string>();
        fx.Broken.StowAnswer = ("200 OK", """{"00081199": {"vr": "SQ", "Value": []}}""");
        job = await JobAsync(await PostAsync("/dicom-web/servers/broken/stow", $$"""{"Resources": ["{{ignoredId}}"]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains("not in the answer's ReferencedSOPSequence", job["ErrorDetails"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_qido_answer_past_the_size_bound_is_cut_off_and_refused()
    {
        var qido = await PostAsync("/dicom-web/servers/broken/qido", """{"Uri": "/studies", "Arguments": {"limit": "10"}}""", HttpStatusCode.InternalServerError);
        Assert.Contains("DICOMweb server broken sent more than the 1 MB allowed (DicomWebClientMaximumJsonSize)", qido["Details"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_remotes_html_is_never_served_as_ours_through_get()
    {
        var page = await fx.Rest.PostAsync("/dicom-web/servers/broken/get", new StringContent("""{"Uri": "/page"}"""));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("application/octet-stream", page.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_remote_that_never_answers_fails_the_job_after_its_timeout()
    {
        var job = await JobAsync(await PostAsync("/dicom-web/servers/silent/retrieve", """{"Resources": [{"Study": "1.2.5"}]}"""), "Success", "Failure");
        Assert.Equal("Failure", job["State"]!.GetValue<string>());
        Assert.Contains("DICOMweb server silent gave no complete answer within 2 s", job["ErrorDetails"]!.GetValue<string>());
        var qido = await PostAsync("/dicom-web/servers/silent/qido", """{"Uri": "/studies"}""", HttpStatusCode.InternalServerError);
        Assert.Contains("gave no complete answer within 2 s", qido["Details"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_routing_rule_forwards_what_arrives_to_a_dicomweb_server()
    {
        var instance = DicomWebClientFixture.NewInstance("CT_small.dcm", description: "DWROUTE 1");
        var id = (await UploadToUsAsync(instance))["ID"]!.GetValue<string>();
        var deadline = Stopwatch.StartNew();
        JsonNode? route = null;
        while (route is null || route["State"]!.GetValue<string>() is not ("Success" or "Failure"))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "no finished Route job for " + id);
            await Task.Delay(100);
            route = (await GetJsonAsync(fx.Rest, "/jobs?expand")).AsArray()
                .FirstOrDefault(j => j!["Type"]!.GetValue<string>() == "Route" && j["Content"]!["ParentResources"]![0]!.GetValue<string>() == id);
        }
        Assert.True(route["State"]!.GetValue<string>() == "Success", route.ToJsonString());
        Assert.Contains("dicomweb:orthanc", route["Content"]!["Forwarded"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.NotNull(await LookupAsync(fx.OrthancRest, DicomWebClientFixture.SopUid(instance)));
    }
}
