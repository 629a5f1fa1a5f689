using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using OrthancWeb.Worklists;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Worklists;

/// <summary>
/// One server with worklist items (four in the index, one in its Worklists:Folder) and, beside it, DCMTK's wlmscpfs
/// serving the same five items as .wl files: the real peers on both ends of every query.
/// </summary>
public sealed class WorklistFixture : IAsyncLifetime
{
    public const string Aet = "OWWL";
    public const string WlmAet = "WLMSCP";
    private string _folder = "";
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public PeerProcess Wlm { get; private set; } = null!;
    public string Port { get; private set; } = "";
    public string WlmPort { get; private set; } = "";
    public Dictionary<string, string> Ids { get; } = [];

    /// <summary>Accession number to Orthanc-style tags: A, B, C and D go to the index, F to the server's folder.</summary>
    public static readonly (string Accession, string Json)[] Items =
    [
        ("ACC1", Item("DOE^JOHN", "P1", "ACC1", "RP1", "CT", "CT1", "20261202", "080000")),
        ("ACC2", Item("SMITH^ANNA", "P2", "ACC2", "RP2", "MR", "MR1", "20261202", "140000")),
        ("ACC3", Item("DOE^JANE", "P3", "ACC3", "RP3", "CT", "CT2", "20261203", "090000")),
        ("ACC4", Item("BROWN^BOB", "P4", "ACC4", "RP4", "US", "US1", "20261130", "103000")),
        ("ACC5", Item("GREEN^EVE", "P5", "ACC5", "RP5", "CT", "CT1", "20261202", "160000")),
    ];

    public static string Item(string name, string id, string accession, string rp, string modality, string station, string date, string time) => $$"""
        { "Tags": { "PatientName": "{{name}}", "PatientID": "{{id}}", "PatientBirthDate": "19700101", "PatientSex": "O",
          "AccessionNumber": "{{accession}}", "RequestedProcedureID": "{{rp}}", "RequestedProcedureDescription": "{{modality}} EXAM",
          "StudyInstanceUID": "1.2.826.0.1.3680043.10.1.{{id[1..]}}",
          "ScheduledProcedureStepSequence": [ { "Modality": "{{modality}}", "ScheduledStationAETitle": "{{station}}",
            "ScheduledProcedureStepStartDate": "{{date}}", "ScheduledProcedureStepStartTime": "{{time}}",
            "ScheduledProcedureStepID": "SPS{{id[1..]}}", "ScheduledProcedureStepDescription": "{{modality}} EXAM",
            "ScheduledPerformingPhysicianName": "" } ] } }
        """;

    public async Task InitializeAsync()
    {
        Peers.Tool("wlmscpfs");
        _folder = Directory.CreateTempSubdirectory("ow-worklists-").FullName;
        var ours = Directory.CreateDirectory(Path.Combine(_folder, "wl-ours")).FullName;
        var theirs = Directory.CreateDirectory(Path.Combine(_folder, "wl-dcmtk", WlmAet)).FullName;
        File.WriteAllText(Path.Combine(theirs, "lockfile"), "");
        foreach (var (accession, json) in Items)
        {
            var file = new DicomFile(WorklistDataSets.FromJson(JsonNode.Parse(json)), TransferSyntax.ExplicitVRLittleEndian);
            file.UpdateFileMetaInfo();
            File.WriteAllBytes(Path.Combine(theirs, accession + ".wl"), file.ToBytes());
            if (accession == "ACC5") File.WriteAllBytes(Path.Combine(ours, accession + ".wl"), file.ToBytes());
        }
        var port = ServerProcess.FreePort();
        Port = port.ToString(CultureInfo.InvariantCulture);
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{port}}, "DicomAet": "{{Aet}}",
            "DicomModalities": {
              "scanner": { "AET": "WLSCU", "Host": "127.0.0.1", "Port": 1 },
              "nowl": { "AET": "NOWL", "Host": "127.0.0.1", "Port": 1, "AllowFindWorklist": false }
            },
            "Worklists": { "Folder": {{System.Text.Json.JsonSerializer.Serialize(ours)}} }
            """);
        Rest = Server.CreateRestClient();
        foreach (var (accession, json) in Items.Where(i => i.Accession != "ACC5"))
        {
            var created = await PostAsync(Rest, "/worklists/create", json);
            Assert.Equal(HttpStatusCode.OK, created.Status);
            Ids[accession] = created.Body!["ID"]!.GetValue<string>();
        }
        var wlmPort = ServerProcess.FreePort();
        WlmPort = wlmPort.ToString(CultureInfo.InvariantCulture);
        // -dfr: the items are complete for us, wlmscpfs need not judge them; -s: one process, ended with the fixture.
        var psi = new ProcessStartInfo(Peers.Tool("wlmscpfs")) { WorkingDirectory = _folder };
        foreach (var a in new[] { "-s", "-dfr", "-dfp", Path.Combine(_folder, "wl-dcmtk"), WlmPort }) psi.ArgumentList.Add(a);
        Wlm = PeerProcess.Start(psi);
        await Wlm.WaitUntilListeningAsync(wlmPort);
    }

    public static async Task<(HttpStatusCode Status, JsonNode? Body, string Text)> PostAsync(HttpClient client, string url, string json, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Post, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? body = null;
        try { body = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
        return (response.StatusCode, body, text);
    }

    public async Task DisposeAsync()
    {
        Rest.Dispose();
        await Wlm.DisposeAsync();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

public sealed class WorklistTests(WorklistFixture fx) : IClassFixture<WorklistFixture>
{
    /// <summary>findscu -W with these keys against a worklist SCP; the answers as data sets (extracted with -X).</summary>
    private static (Peers.Result Result, List<DicomDataset> Answers) Find(string callingAe, string calledAe, string port, params string[] keys)
    {
        var dir = Directory.CreateTempSubdirectory("ow-wlfind-").FullName;
        try
        {
            var args = new List<string> { "-W", "-v", "-X", "-od", dir, "-aet", callingAe, "-aec", calledAe };
            foreach (var k in keys) { args.Add("-k"); args.Add(k); }
            args.Add("127.0.0.1");
            args.Add(port);
            var result = Peers.Run("findscu", [.. args]);
            var answers = Directory.GetFiles(dir, "rsp*.dcm").Order(StringComparer.Ordinal).Select(f => DicomFile.Open(f).Dataset).ToList();
            return (result, answers);
        }
        finally { Directory.Delete(dir, true); }
    }

    private static SortedSet<string> Accessions(List<DicomDataset> answers) =>
        new(answers.Select(a => a.GetString(DicomTags.AccessionNumber)?.Trim() ?? "?"), StringComparer.Ordinal);

    private const string Sps = "ScheduledProcedureStepSequence[0].";

    public static TheoryData<string, string[], string[]> Queries => new()
    {
        { "everything", [Sps + "Modality"], ["ACC1", "ACC2", "ACC3", "ACC4", "ACC5"] },
        { "modality", [Sps + "Modality=CT"], ["ACC1", "ACC3", "ACC5"] },
        { "date range", [Sps + "ScheduledProcedureStepStartDate=20261201-20261202"], ["ACC1", "ACC2", "ACC5"] },
        { "open date range", [Sps + "ScheduledProcedureStepStartDate=-20261201"], ["ACC4"] },
        { "station AE", [Sps + "ScheduledStationAETitle=CT1"], ["ACC1", "ACC5"] },
        { "modality and date", [Sps + "Modality=CT", Sps + "ScheduledProcedureStepStartDate=20261202"], ["ACC1", "ACC5"] },
        { "date and time range", [Sps + "ScheduledProcedureStepStartDate=20261202", Sps + "ScheduledProcedureStepStartTime=070000-150000"], ["ACC1", "ACC2"] },
        { "date-time range across days", [Sps + "ScheduledProcedureStepStartDate=20261202-20261203", Sps + "ScheduledProcedureStepStartTime=150000-100000"], ["ACC3", "ACC5"] },
        { "patient name wildcard", ["PatientName=DOE*", Sps + "Modality"], ["ACC1", "ACC3"] },
        { "patient ID", ["PatientID=P2", Sps + "Modality"], ["ACC2"] },
        { "accession number", ["AccessionNumber=ACC3", Sps + "Modality"], ["ACC3"] },
        { "requested procedure ID", ["RequestedProcedureID=RP4", Sps + "Modality"], ["ACC4"] },
    };

    /// <summary>The same query to us and to wlmscpfs (the same items as .wl files): the same items match.</summary>
    [Theory]
    [MemberData(nameof(Queries))]
    public void Findscu_W_matches_the_items_wlmscpfs_matches(string what, string[] keys, string[] expected)
    {
        string[] all = ["AccessionNumber", .. keys];
        if (keys.Any(k => k.StartsWith("AccessionNumber", StringComparison.Ordinal))) all = keys;
        var (ours, ourAnswers) = Find("WLSCU", WorklistFixture.Aet, fx.Port, all);
        Assert.True(ours.ExitCode == 0, $"{what}: findscu against us failed: {ours.Stderr}");
        var (theirs, theirAnswers) = Find("WLSCU", WorklistFixture.WlmAet, fx.WlmPort, all);
        Assert.True(theirs.ExitCode == 0, $"{what}: findscu against wlmscpfs failed: {theirs.Stderr}");
        Assert.Equal(expected, Accessions(theirAnswers));
        Assert.Equal(Accessions(theirAnswers), Accessions(ourAnswers));
        // Only the keys asked for come back (PS3.4 K.6.1.2.3), the step reduced to its requested keys.
        foreach (var answer in ourAnswers)
        {
            Assert.Null(answer[DicomTags.PatientBirthDate]);
            var step = Assert.Single(answer.GetSequence(DicomTags.ScheduledProcedureStepSequence)!.Items);
            Assert.Null(step[DicomTags.ScheduledProcedureStepDescription]);
        }
    }

    [Fact]
    public void Names_match_whatever_their_case_and_empty_keys_come_back_filled()
    {
        var (result, answers) = Find("WLSCU", WorklistFixture.Aet, fx.Port, "PatientName=doe^jo*", "PatientID", "StudyInstanceUID", Sps + "ScheduledProcedureStepStartTime");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var answer = Assert.Single(answers);
        Assert.Equal("P1", answer.GetString(DicomTags.PatientID));
        Assert.Equal("1.2.826.0.1.3680043.10.1.1", answer.GetString(DicomTags.StudyInstanceUID));
        Assert.Equal("080000", answer.GetSequence(DicomTags.ScheduledProcedureStepSequence)!.Items[0].GetString(DicomTags.ScheduledProcedureStepStartTime));
    }

    [Fact]
    public async Task A_modality_without_AllowFindWorklist_is_refused_and_the_refusal_audited()
    {
        var (result, answers) = Find("NOWL", WorklistFixture.Aet, fx.Port, "AccessionNumber", Sps + "Modality");
        Assert.Empty(answers);
        // Refused: Not Authorized (0124), a DIMSE status, not a rejected association.
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(result.Stdout + result.Stderr, "(?i)0x0?124"), result.Stdout + result.Stderr);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var audit = await GetJsonAsync(fx.Rest, "/audit?action=C-FIND&outcome=MinorFailure");
            if (audit.ToJsonString().Contains("NOWL may not query worklists", StringComparison.Ordinal)) break;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "no audit entry for the refusal: " + audit.ToJsonString());
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Rest_creates_reads_changes_and_deletes_items_and_refuses_bad_bodies_with_a_reason()
    {
        var json = WorklistFixture.Item("TEMP^TOM", "P9", "ACC9", "RP9", "CR", "CR1", "20261205", "0930");
        var created = await WorklistFixture.PostAsync(fx.Rest, "/worklists/create", json);
        Assert.Equal(HttpStatusCode.OK, created.Status);
        var id = created.Body!["ID"]!.GetValue<string>();
        Assert.Equal("/worklists/" + id, created.Body["Path"]!.GetValue<string>());

        var item = await GetJsonAsync(fx.Rest, "/worklists/" + id);
        Assert.Equal("TEMP^TOM", item["Tags"]!["PatientName"]!.GetValue<string>());
        Assert.Equal("CR", item["Tags"]!["ScheduledProcedureStepSequence"]![0]!["Modality"]!.GetValue<string>());
        Assert.Contains(id, Ids(new JsonArray((await GetJsonAsync(fx.Rest, "/worklists?modality=cr")).AsArray().Select(i => (JsonNode?)i!["ID"]!.DeepClone()).ToArray())));
        Assert.Empty((await GetJsonAsync(fx.Rest, "/worklists?date=20261205&station=OTHER")).AsArray());

        // A DICOM JSON body (PS3.18 F) replaces it.
        var put = await WorklistFixture.PostAsync(fx.Rest, "/worklists/" + id, """
            { "00100010": { "vr": "PN", "Value": [ { "Alphabetic": "TEMP^TINA" } ] }, "00100020": { "vr": "LO", "Value": [ "P9" ] },
              "00400100": { "vr": "SQ", "Value": [ { "00080060": { "vr": "CS", "Value": [ "DX" ] },
                                                     "00400002": { "vr": "DA", "Value": [ "20261206" ] } } ] } }
            """, HttpMethod.Put);
        Assert.Equal(HttpStatusCode.OK, put.Status);
        item = await GetJsonAsync(fx.Rest, "/worklists/" + id);
        Assert.Equal("TEMP^TINA", item["Tags"]!["PatientName"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(item["Tags"]!["StudyInstanceUID"]?.GetValue<string>())); // made when missing
        var (_, answers) = Find("WLSCU", WorklistFixture.Aet, fx.Port, "PatientID=P9", Sps + "Modality");
        Assert.Equal("DX", Assert.Single(answers).GetSequence(DicomTags.ScheduledProcedureStepSequence)!.Items[0].GetString(DicomTags.Modality));

        foreach (var (body, reason) in new[]
        {
            ("not json", "not JSON"),
            ("""{ "Tags": { "PatientName": "X^Y" } }""", "ScheduledProcedureStepSequence"),
            ("""{ "Tags": { "PatientName": "X", "NoSuchKeyword": "1", "ScheduledProcedureStepSequence": [ {} ] } }""", "NoSuchKeyword"),
            ("""{ "Tags": { "PatientName": "X", "ScheduledProcedureStepSequence": [ { "ScheduledProcedureStepStartDate": "2026-12-01" } ] } }""", "YYYYMMDD"),
            ("""{ "Tags": { "PatientName": "X", "ScheduledProcedureStepSequence": "CT" } }""", "array of objects"),
        })
        {
            var bad = await WorklistFixture.PostAsync(fx.Rest, "/worklists/create", body);
            Assert.True(bad.Status == HttpStatusCode.BadRequest, $"{body}: {(int)bad.Status} {bad.Text}");
            Assert.Contains(reason, bad.Text, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await fx.Rest.DeleteAsync("/worklists/" + id)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.GetAsync("/worklists/" + id)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.DeleteAsync("/worklists/" + id)).StatusCode);
    }

    [Fact]
    public async Task An_arriving_image_with_the_accession_number_marks_its_item_performed()
    {
        var json = WorklistFixture.Item("ARRIVE^AL", "P8", "ACC-ARRIVE", "RP8", "CT", "CT9", "20261202", "1100");
        var id = (await WorklistFixture.PostAsync(fx.Rest, "/worklists/create", json)).Body!["ID"]!.GetValue<string>();
        Assert.Single(Find("WLSCU", WorklistFixture.Aet, fx.Port, "AccessionNumber=ACC-ARRIVE", Sps + "Modality").Answers);

        // The modality's image: a study of its own (not the item's UID), found by its accession number.
        var image = GeneratedInstances.Ct("P8", "1.2.826.0.1.3680043.10.2.1", "1.2.826.0.1.3680043.10.2.1.1", "1.2.826.0.1.3680043.10.2.1.1.1", 1, pixelBytes: 1024);
        var file = DicomFile.Open(image.Bytes);
        file.Dataset.Add(DicomTags.AccessionNumber, "ACC-ARRIVE");
        var upload = await fx.Rest.PostAsync("/instances", new ByteArrayContent(file.ToBytes()));
        Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());

        var deadline = Stopwatch.StartNew();
        JsonNode item;
        while ((item = await GetJsonAsync(fx.Rest, "/worklists/" + id))["Performed"] is null)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the item was not marked performed");
            await Task.Delay(100);
        }
        Assert.Matches("^[0-9]{8}T[0-9]{6}$", item["Performed"]!.GetValue<string>());
        // Performed: no longer offered to the modalities.
        Assert.Empty(Find("WLSCU", WorklistFixture.Aet, fx.Port, "AccessionNumber=ACC-ARRIVE", Sps + "Modality").Answers);
    }

    [Fact]
    public async Task An_image_joining_a_series_that_began_before_its_item_was_scheduled_marks_the_item_performed()
    {
        // Image A of a series arrives while nothing waits for it.
        const string study = "1.2.826.0.1.3680043.10.3.1", series = study + ".1";
        await UploadWithAccessionAsync(GeneratedInstances.Ct("P9", study, series, series + ".1", 1, pixelBytes: 1024), "ACC-LATE");
        // A sentinel item and its image, sent after A: once it is performed, the arrivals have gone past A's changes.
        var sentinel = await CreateAsync(WorklistFixture.Item("SENTINEL^S", "P10", "ACC-SENTINEL", "RP10", "CT", "CT9", "20261202", "1200"));
        await UploadWithAccessionAsync(GeneratedInstances.Ct("P10", "1.2.826.0.1.3680043.10.3.2", "1.2.826.0.1.3680043.10.3.2.1", "1.2.826.0.1.3680043.10.3.2.1.1", 1, pixelBytes: 1024), "ACC-SENTINEL");
        await PerformedAsync(sentinel);

        // The item is scheduled late, then image B joins the existing series: no new series, yet the item is performed.
        var late = await CreateAsync(WorklistFixture.Item("LATE^LARRY", "P9", "ACC-LATE", "RP9", "CT", "CT9", "20261202", "1300"));
        Assert.Null((await GetJsonAsync(fx.Rest, "/worklists/" + late))["Performed"]);
        await UploadWithAccessionAsync(GeneratedInstances.Ct("P9", study, series, series + ".2", 2, pixelBytes: 1024), "ACC-LATE");
        await PerformedAsync(late);
    }

    private async Task<string> CreateAsync(string json) =>
        (await WorklistFixture.PostAsync(fx.Rest, "/worklists/create", json)).Body!["ID"]!.GetValue<string>();

    private async Task UploadWithAccessionAsync(GeneratedInstance image, string accession)
    {
        var file = DicomFile.Open(image.Bytes);
        file.Dataset.Add(DicomTags.AccessionNumber, accession);
        var upload = await fx.Rest.PostAsync("/instances", new ByteArrayContent(file.ToBytes()));
        Assert.True(upload.IsSuccessStatusCode, await upload.Content.ReadAsStringAsync());
    }

    private async Task PerformedAsync(string id)
    {
        var deadline = Stopwatch.StartNew();
        while ((await GetJsonAsync(fx.Rest, "/worklists/" + id))["Performed"] is null)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"item {id} was not marked performed");
            await Task.Delay(100);
        }
    }

    /// <summary>Our worklist C-FIND SCU against wlmscpfs, through Orthanc's REST route and both of its body shapes.</summary>
    [Fact]
    public async Task Find_worklist_queries_wlmscpfs_and_answers_the_matching_items_in_orthancs_shapes()
    {
        var put = await WorklistFixture.PostAsync(fx.Rest, "/modalities/wlmscp",
            $$"""{ "AET": "{{WorklistFixture.WlmAet}}", "Host": "127.0.0.1", "Port": {{fx.WlmPort}} }""", HttpMethod.Put);
        Assert.True(put.Status == HttpStatusCode.OK, put.Text);

        // The query as the body (Orthanc up to 1.9.4): keywords, a sequence of one item, empty values as return keys.
        var human = await WorklistFixture.PostAsync(fx.Rest, "/modalities/wlmscp/find-worklist", """
            { "PatientName": "DOE*", "AccessionNumber": "",
              "ScheduledProcedureStepSequence": [ { "Modality": "CT", "ScheduledProcedureStepStartDate": "" } ] }
            """);
        Assert.True(human.Status == HttpStatusCode.OK, human.Text);
        var items = human.Body!.AsArray().Select(n => n!.AsObject()).OrderBy(n => n["AccessionNumber"]!.GetValue<string>()).ToList();
        Assert.Equal(["ACC1", "ACC3"], items.Select(i => i["AccessionNumber"]!.GetValue<string>()));
        Assert.Equal("DOE^JOHN", items[0]["PatientName"]!.GetValue<string>());
        var step = items[1]["ScheduledProcedureStepSequence"]!.AsArray().Single()!;
        Assert.Equal("CT", step["Modality"]!.GetValue<string>());
        Assert.Equal("20261203", step["ScheduledProcedureStepStartDate"]!.GetValue<string>());

        // {"Query": ..., "Short": true} (Orthanc 1.9.5): the answers keyed by tag.
        var shortForm = await WorklistFixture.PostAsync(fx.Rest, "/modalities/wlmscp/find-worklist",
            """{ "Query": { "AccessionNumber": "ACC2", "PatientID": "" }, "Short": true }""");
        Assert.True(shortForm.Status == HttpStatusCode.OK, shortForm.Text);
        var only = Assert.Single(shortForm.Body!.AsArray())!;
        Assert.Equal("P2", only["0010,0020"]!.GetValue<string>());
        Assert.Equal("ACC2", only["0008,0050"]!.GetValue<string>());

        // An unknown modality is a 404, a tag that does not exist a 400 with the reason.
        Assert.Equal(HttpStatusCode.NotFound, (await WorklistFixture.PostAsync(fx.Rest, "/modalities/nosuch/find-worklist", "{}")).Status);
        var bad = await WorklistFixture.PostAsync(fx.Rest, "/modalities/wlmscp/find-worklist", """{ "NoSuchKeyword": "" }""");
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("NoSuchKeyword", bad.Text);
    }
}
