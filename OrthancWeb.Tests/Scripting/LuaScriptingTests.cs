using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Compatibility;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Scripting;

/// <summary>
/// Our server with ExecuteLuaEnabled and the filter-by-calling-AE script in LuaScripts, a storescp as the modality
/// "sample", and Debian's orthanc with ExecuteLuaEnabled for the differential answers of execute-script.
/// </summary>
public sealed class LuaFixture : IAsyncLifetime
{
    private string _folder = "";
    private readonly StorescpPeers _peers = new();
    public ServerProcess Server { get; private set; } = null!;
    public OrthancPeer Orthanc { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public HttpClient OrthancRest { get; private set; } = null!;
    public int DicomPort { get; private set; }
    public string SampleFolder { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Peers.Tool("storescp");
        _folder = Directory.CreateTempSubdirectory("ow-lua-").FullName;
        SampleFolder = Path.Combine(_folder, "sample");
        var samplePort = ServerProcess.FreePort();
        DicomPort = ServerProcess.FreePort();
        // Relative to the configuration file, as Orthanc reads LuaScripts.
        await File.WriteAllTextAsync(Path.Combine(_folder, "filter.lua"), LuaScripts.FilterByCallingAet);
        var orthanc = OrthancPeer.StartAsync(extraJson: "\"ExecuteLuaEnabled\": true");
        var server = ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{DicomPort}}, "DicomAet": "OWEB", "ExecuteLuaEnabled": true, "LuaScripts": [ "filter.lua" ],
            "DicomModalities": { "sample": { "AET": "SAMPLE", "Host": "127.0.0.1", "Port": {{samplePort}} },
                                 "self": { "AET": "OWEB", "Host": "127.0.0.1", "Port": {{DicomPort}} } }
            """);
        var storescp = _peers.StartAsync("SAMPLE", samplePort, SampleFolder);
        (Server, Orthanc) = (await server, await orthanc);
        await storescp;
        Rest = Server.CreateRestClient();
        OrthancRest = Orthanc.CreateClient();
    }

    public static async Task<HttpResponseMessage> ExecuteAsync(HttpClient client, string script) =>
        await client.PostAsync("/tools/execute-script", new StringContent(script));

    public async Task DisposeAsync()
    {
        await _peers.DisposeAsync();
        Rest.Dispose();
        OrthancRest.Dispose();
        await Server.DisposeAsync();
        await Orthanc.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

/// <remarks>
/// The tests of this class share one Lua state and run one after the other: each installs the OnStoredInstance it
/// needs through execute-script (as the Orthanc Book shows) and removes it when done.
/// </remarks>
public sealed class LuaScriptingTests(LuaFixture fx) : IClassFixture<LuaFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>What Orthanc 1.10.1 answers, byte for byte for the printed output, field by field for the errors.</summary>
    [Theory]
    [InlineData("print(42)")]
    [InlineData("PrintRecursive({a=1})")]
    [InlineData("PrintRecursive({1, {x='y'}, true})")]
    [InlineData("PrintRecursive(5)")]
    [InlineData("print(1, 2, 'x') print(true) print(nil) print(1.5) print(10/2)")]
    [InlineData("return 5")]
    [InlineData("")]
    [InlineData("print(ParseJson('{\"a\":[1,2]}')['a'][2])")]
    [InlineData("print(DumpJson({b='x', a=1}))")]
    [InlineData("print(DumpJson({1, 2}, true)) print(DumpJson({a=1.5, b=2}, true))")]
    [InlineData("print(RestApiGet('/nope'))")]
    [InlineData("print(ParseJson(RestApiGet('/system', true))['ApiVersion'])")]
    [InlineData("print(type(GetOrthancConfiguration()))")]
    [InlineData("print(")]
    [InlineData("error('boom')")]
    public async Task Execute_script_answers_as_orthanc_does(string script)
    {
        using var ours = await LuaFixture.ExecuteAsync(fx.Rest, script);
        using var orthanc = await LuaFixture.ExecuteAsync(fx.OrthancRest, script);
        var (ourBody, theirBody) = (await ours.Content.ReadAsStringAsync(), await orthanc.Content.ReadAsStringAsync());
        Assert.Equal(orthanc.StatusCode, ours.StatusCode);
        if (orthanc.StatusCode == HttpStatusCode.OK)
        {
            Assert.Equal("text/plain", ours.Content.Headers.ContentType?.MediaType);
            Assert.Equal(theirBody, ourBody);
        }
        else
        {
            // "Message" is the reason in ours (the project's choice for every error), Orthanc's generic text in 1.10.
            var differences = JsonDifference.Between(JsonNode.Parse(theirBody), JsonNode.Parse(ourBody), new HashSet<string> { "Message" });
            Assert.True(differences.Count == 0, string.Join("\n", differences) + "\nours: " + ourBody);
        }
    }

    [Fact]
    public async Task Execute_script_is_audited()
    {
        using var ok = await LuaFixture.ExecuteAsync(fx.Rest, "print('audited run')");
        ok.EnsureSuccessStatusCode();
        // The trail is written from a queue: the record is there shortly.
        await Until(async () => (await fx.Rest.GetStringAsync("/audit?action=ExecuteScript")).Contains("audited run", StringComparison.Ordinal), "the audit record");
    }

    [Fact]
    public async Task Filter_by_calling_aet_discards_refuses_or_stores()
    {
        var dir = Directory.CreateTempSubdirectory("ow-lua-filter-").FullName;
        try
        {
            var trusted = Write(dir, GeneratedInstances.Ct("LUATRUSTED", "1.2.826.0.1.3680043.10.1001.1", "1.2.826.0.1.3680043.10.1001.2", "1.2.826.0.1.3680043.10.1001.3", 1));
            var untrusted = Write(dir, GeneratedInstances.Ct("LUAUNTRUSTED", "1.2.826.0.1.3680043.10.1002.1", "1.2.826.0.1.3680043.10.1002.2", "1.2.826.0.1.3680043.10.1002.3", 1));
            var refused = Write(dir, GeneratedInstances.Ct("LUAREFUSED", "1.2.826.0.1.3680043.10.1003.1", "1.2.826.0.1.3680043.10.1003.2", "1.2.826.0.1.3680043.10.1003.3", 1));

            var fromTrusted = await StorescuSender.SendAsync("TRUSTED", "OWEB", fx.DicomPort, [trusted.Path]);
            Assert.Equal([trusted.Path], fromTrusted.Acknowledged);
            Assert.Equal(HttpStatusCode.OK, (await fx.Rest.GetAsync("/instances/" + trusted.Instance.Id)).StatusCode);

            // As Orthanc 1.10: the sender is told Success, and nothing is stored.
            var fromUntrusted = await StorescuSender.SendAsync("UNTRUSTED", "OWEB", fx.DicomPort, [untrusted.Path]);
            Assert.Equal([untrusted.Path], fromUntrusted.Acknowledged);
            Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.GetAsync("/instances/" + untrusted.Instance.Id)).StatusCode);

            // ReceivedCStoreInstanceFilter's own status: the sender sees the failure.
            var fromRefused = await StorescuSender.SendAsync("REFUSED", "OWEB", fx.DicomPort, [refused.Path]);
            Assert.Empty(fromRefused.Acknowledged);
            Assert.Matches("(?i)Received Store Response \\(.*(OutOfResources|Out of Resources|a700)", fromRefused.Output);
            Assert.Equal(HttpStatusCode.NotFound, (await fx.Rest.GetAsync("/instances/" + refused.Instance.Id)).StatusCode);

            // REST uploads are not DICOM: the same file is stored.
            using var upload = await fx.Rest.PostAsync("/instances", new ByteArrayContent(untrusted.Instance.Bytes));
            Assert.Equal("Success", JsonNode.Parse(await upload.Content.ReadAsStringAsync())!["Status"]!.GetValue<string>());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task Auto_routing_sends_to_the_modality_then_deletes_and_reports_the_job()
    {
        await InstallAsync(LuaScripts.AutoRouting);
        try
        {
            var routed = GeneratedInstances.Ct("ROUTEME", "1.2.826.0.1.3680043.10.1004.1", "1.2.826.0.1.3680043.10.1004.2", "1.2.826.0.1.3680043.10.1004.3", 1);
            var kept = GeneratedInstances.Ct("KEEPME", "1.2.826.0.1.3680043.10.1005.1", "1.2.826.0.1.3680043.10.1005.2", "1.2.826.0.1.3680043.10.1005.3", 1);
            foreach (var instance in new[] { routed, kept })
                (await fx.Rest.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).EnsureSuccessStatusCode();

            // storescp names its files by modality and SOP Instance UID.
            await Until(() => Directory.Exists(fx.SampleFolder) && Directory.EnumerateFiles(fx.SampleFolder).Any(f => f.EndsWith(routed.SopUid, StringComparison.Ordinal)), "the routed instance at the modality");
            await Until(async () => (await fx.Rest.GetAsync("/instances/" + routed.Id)).StatusCode == HttpStatusCode.NotFound, "the routed instance deleted here");
            await Until(() => fx.Server.Log.Contains("Lua job succeeded: ", StringComparison.Ordinal), "OnJobSuccess");
            await Until(() => fx.Server.Log.Contains("Lua saw the deletion of " + routed.Id, StringComparison.Ordinal), "OnDeletedInstance");
            Assert.Equal(HttpStatusCode.OK, (await fx.Rest.GetAsync("/instances/" + kept.Id)).StatusCode);
            Assert.DoesNotContain(Directory.EnumerateFiles(fx.SampleFolder), f => f.EndsWith(kept.SopUid, StringComparison.Ordinal));
        }
        finally { await InstallAsync("OnStoredInstance = nil OnJobSuccess = nil OnDeletedInstance = nil"); }
    }

    [Fact]
    public async Task Anonymize_on_arrival_replaces_the_original_once()
    {
        await InstallAsync(LuaScripts.AnonymizeOnArrival);
        try
        {
            var original = GeneratedInstances.Ct("LUAANON", "1.2.826.0.1.3680043.10.1006.1", "1.2.826.0.1.3680043.10.1006.2", "1.2.826.0.1.3680043.10.1006.3", 1,
                description: "LUA-ANONYMIZED");
            (await fx.Rest.PostAsync("/instances", new ByteArrayContent(original.Bytes))).EnsureSuccessStatusCode();
            await Until(async () => (await fx.Rest.GetAsync("/instances/" + original.Id)).StatusCode == HttpStatusCode.NotFound, "the original deleted");
            // The copy kept StudyDescription; found by it, it is one instance (the copy was not anonymized again).
            var copies = JsonNode.Parse(await (await fx.Rest.PostAsync("/tools/find", new StringContent("""
                { "Level": "Instance", "Query": { "StudyDescription": "LUA-ANONYMIZED" }, "Expand": true }
                """))).Content.ReadAsStringAsync())!.AsArray();
            var copy = Assert.Single(copies);
            var id = copy!["ID"]!.GetValue<string>();
            Assert.Equal("Lua", await fx.Rest.GetStringAsync($"/instances/{id}/metadata/Origin"));
            var tags = JsonNode.Parse(await fx.Rest.GetStringAsync($"/instances/{id}/simplified-tags"))!;
            Assert.Equal("Anonymized by Lua", tags["PatientName"]!.GetValue<string>());
        }
        finally { await InstallAsync("OnStoredInstance = nil"); }
    }

    [Fact]
    public async Task Find_filters_rewrite_outgoing_and_incoming_queries()
    {
        var instance = GeneratedInstances.Ct("LUAFIND", "1.2.826.0.1.3680043.10.1007.1", "1.2.826.0.1.3680043.10.1007.2", "1.2.826.0.1.3680043.10.1007.3", 1);
        (await fx.Rest.PostAsync("/instances", new ByteArrayContent(instance.Bytes))).EnsureSuccessStatusCode();
        await InstallAsync("""
            function OutgoingFindRequestFilter(query, modality)
               if query['PatientID'] == 'OUTALIAS' and modality['AET'] == 'OWEB' then query['PatientID'] = 'INALIAS' end
               return query
            end
            function IncomingFindRequestFilter(query, origin)
               if query['PatientID'] == 'INALIAS' and origin['RemoteAet'] == 'OWEB' then query['PatientID'] = 'LUAFIND' end
               return query
            end
            """);
        try
        {
            // Our C-FIND SCU to our own C-FIND SCP: OUTALIAS becomes INALIAS on the way out, LUAFIND on the way in.
            using var query = await fx.Rest.PostAsync("/modalities/self/query", new StringContent("""{ "Level": "Study", "Query": { "PatientID": "OUTALIAS" } }"""));
            var queryId = JsonNode.Parse(await query.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
            var answers = JsonNode.Parse(await fx.Rest.GetStringAsync($"/queries/{queryId}/answers?expand"))!.AsArray();
            var answer = Assert.Single(answers);
            Assert.Contains("\"LUAFIND\"", answer!.ToJsonString(), StringComparison.Ordinal);
        }
        finally { await InstallAsync("OutgoingFindRequestFilter = nil IncomingFindRequestFilter = nil"); }
    }

    private async Task InstallAsync(string script)
    {
        using var response = await LuaFixture.ExecuteAsync(fx.Rest, script);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static (string Path, GeneratedInstance Instance) Write(string dir, GeneratedInstance instance)
    {
        var path = System.IO.Path.Combine(dir, instance.SopUid + ".dcm");
        File.WriteAllBytes(path, instance.Bytes);
        return (path, instance);
    }

    private static Task Until(Func<bool> condition, string what) => Until(() => Task.FromResult(condition()), what);

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > Deadline) throw new TimeoutException($"waited {Deadline.TotalSeconds} s for {what}");
            await Task.Delay(100);
        }
    }
}
