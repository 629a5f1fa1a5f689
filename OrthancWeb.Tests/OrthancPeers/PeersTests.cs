using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Compatibility;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.OrthancPeers;

/// <summary>
/// /peers against Debian's orthanc 1.10.1 both ways: the same requests to both servers answer alike (lists,
/// configurations, errors, the store's answer and job), and instances really cross in each direction.
/// </summary>
[Collection(OursAndOrthancServers.Name)]
public sealed class PeersTests(PeersFixture fx)
{
    /// <summary>Where each server's peers point, and as whom: necessarily different.</summary>
    private static readonly HashSet<string> PeerAddress = ["Url", "Username"];

    internal static void AssertSame(JsonNode? orthanc, JsonNode? ours, ISet<string>? ignored = null)
    {
        // "Message" holds the reason here (as every error of ours; Orthanc 1.10 repeats OrthancError there).
        var differences = JsonDifference.Between(orthanc, ours, new HashSet<string>(ignored ?? new HashSet<string>()) { "Message" });
        Assert.True(differences.Count == 0, string.Join("\n", differences) + $"\northanc: {orthanc?.ToJsonString()}\nours: {ours?.ToJsonString()}");
    }

    [Fact]
    public async Task The_peers_of_both_configuration_shapes_are_listed_and_described_as_orthanc_does()
    {
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/peers");
        Assert.Equal((200, 200), (orthanc.Status, ours.Status));
        Assert.Equal(["dead", "other", "other-object"], ours.Json!.AsArray().Select(n => n!.GetValue<string>()));
        AssertSame(orthanc.Json, ours.Json);

        (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/peers?expand");
        Assert.Equal(200, ours.Status);
        AssertSame(orthanc.Json, ours.Json, PeerAddress);
        // The password never shows, the header names do (their values may be secrets too).
        Assert.Null(ours.Json!["other-object"]!["Password"]);
        Assert.Equal("[\"X-Test\"]", ours.Json["other-object"]!["HttpHeaders"]!.ToJsonString());
        Assert.Equal(fx.Orthanc.Url + "/", ours.Json["other-object"]!["Url"]!.GetValue<string>());

        foreach (var path in new[] { "/peers/other", "/peers/other/configuration", "/peers/other-object/configuration", "/peers/dead/configuration" })
        {
            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, path);
            Assert.Equal((orthanc.Status, path), (ours.Status, path));
            AssertSame(orthanc.Json, ours.Json, PeerAddress);
        }
    }

    [Theory]
    [InlineData("GET", "/peers/nope/system", null)]
    [InlineData("GET", "/peers/nope/configuration", null)]
    [InlineData("POST", "/peers/nope/store", "[]")]
    [InlineData("DELETE", "/peers/nope", null)]
    [InlineData("POST", "/peers/other/store", "[\"0000\"]")]
    [InlineData("POST", "/peers/other/store", "[\"f689ddd2-662f8fe1-8b18180d-ec2a2cee-00000000\"]")]
    public async Task Errors_have_orthancs_status_and_code(string method, string path, string? body)
    {
        var (ours, orthanc) = await fx.SendBothAsync(new HttpMethod(method), path, body);
        Assert.True(orthanc.Status == ours.Status, $"orthanc {orthanc.Status} {orthanc.Body}, ours {ours.Status} {ours.Body}");
        AssertSame(orthanc.Json, ours.Json, new HashSet<string> { "Details" });
        // The unknown peer's name in Orthanc's words.
        if (orthanc.Json?["Details"] is { } details && path.Contains("nope", StringComparison.Ordinal))
            Assert.Equal(details.GetValue<string>(), ours.Json!["Details"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_peer_that_does_not_answer_is_orthancs_network_error_whether_asked_for_its_system_or_sent_to()
    {
        var id = (await PeersFixture.JsonAsync(fx.OursClient, "/instances"))[0]!.GetValue<string>();
        foreach (var (method, path, body) in new[] { ("GET", "/peers/dead/system", (string?)null), ("POST", "/peers/dead/store", id) })
        {
            var (ours, orthanc) = await fx.SendBothAsync(new HttpMethod(method), path, body);
            Assert.Equal((500, path), (ours.Status, path));
            AssertSame(orthanc.Json, ours.Json, new HashSet<string> { "Details" });
            Assert.Contains("cannot reach Orthanc peer dead", ours.Json!["Details"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task System_goes_through_in_both_directions_over_http_and_https()
    {
        // Ours asks orthanc: orthanc's own /system, as it is.
        AssertSame(await PeersFixture.JsonAsync(fx.OrthancClient, "/system"), await PeersFixture.JsonAsync(fx.OursClient, "/peers/other/system"));
        AssertSame(await PeersFixture.JsonAsync(fx.OrthancClient, "/system"), await PeersFixture.JsonAsync(fx.OursClient, "/peers/other-object/system"));
        // Orthanc asks us, with our admin's Basic credentials, over plain HTTP and over our HTTPS port.
        var ourSystem = await PeersFixture.JsonAsync(fx.OursClient, "/system");
        AssertSame(ourSystem, await PeersFixture.JsonAsync(fx.OrthancClient, "/peers/other/system"));
        var overHttps = await PeersFixture.JsonAsync(fx.OrthancClient, "/peers/other-object/system");
        Assert.True(overHttps["IsHttpServerSecure"]!.GetValue<bool>());
        AssertSame(ourSystem, overHttps, new HashSet<string> { "IsHttpServerSecure" });
    }

    [Fact]
    public async Task A_synchronous_store_answers_as_orthanc_and_the_instance_arrives_each_way()
    {
        var id = (await PeersFixture.JsonAsync(fx.OursClient, "/instances"))[0]!.GetValue<string>();
        // The same instance, known to both: ours sends it to orthanc, orthanc sends it to us.
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/peers/other/store", id);
        Assert.True((orthanc.Status, ours.Status) == (200, 200), $"orthanc {orthanc.Status} {orthanc.Body}, ours {ours.Status} {ours.Body}");
        AssertSame(orthanc.Json, ours.Json, new HashSet<string> { "Peer" });
        Assert.Equal($"[\"{fx.Orthanc.Url}/\",\"nobody\",\"\"]", ours.Json!["Peer"]!.ToJsonString());

        // An instance only we have goes to orthanc, gzip-compressed; one only orthanc has comes to us over HTTPS, compressed too.
        var onlyOurs = GeneratedInstances.Ct("PEERS-1", "1.2.826.0.1.3680043.10.1419.71.1", "1.2.826.0.1.3680043.10.1419.71.2", "1.2.826.0.1.3680043.10.1419.71.3", 1);
        var onlyOrthancs = GeneratedInstances.Ct("PEERS-2", "1.2.826.0.1.3680043.10.1419.72.1", "1.2.826.0.1.3680043.10.1419.72.2", "1.2.826.0.1.3680043.10.1419.72.3", 1);
        var ourId = (await UploadAsync(fx.OursClient, onlyOurs.Bytes))["ID"]!.GetValue<string>();
        var theirId = (await UploadAsync(fx.OrthancClient, onlyOrthancs.Bytes))["ID"]!.GetValue<string>();

        var sent = await PeersFixture.PostJsonAsync(fx.OursClient, "/peers/other-object/store", $$"""{ "Resources": ["{{ourId}}"], "Compress": true }""");
        Assert.Equal((1, 0, true), (sent["InstancesCount"]!.GetValue<int>(), sent["FailedInstancesCount"]!.GetValue<int>(), sent["Compress"]!.GetValue<bool>()));
        Assert.True(long.Parse(sent["Size"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) < onlyOurs.Bytes.Length, "gzip made it smaller");
        Assert.Equal(onlyOurs.Bytes, await (await fx.OrthancClient.GetAsync($"/instances/{ourId}/file")).Content.ReadAsByteArrayAsync());

        var received = await PeersFixture.PostJsonAsync(fx.OrthancClient, "/peers/other-object/store", $$"""{ "Resources": ["{{theirId}}"], "Compress": true }""");
        Assert.Equal(1, received["InstancesCount"]!.GetValue<int>());
        Assert.Equal(onlyOrthancs.Bytes, await (await fx.OursClient.GetAsync($"/instances/{theirId}/file")).Content.ReadAsByteArrayAsync());

        // Every transfer is in our audit trail, with the peer it went to.
        var audit = await PeersFixture.JsonAsync(fx.OursClient, "/audit?action=Send&limit=20");
        Assert.Contains(audit.AsArray(), e => e!["Details"]!.GetValue<string>().Contains("to Orthanc peer other-object", StringComparison.Ordinal)
            && e["ResourceID"]!.GetValue<string>() == ourId);
    }

    [Fact]
    public async Task Store_straight_transcode_and_permissive_work_as_in_orthanc()
    {
        // store-straight: a file not stored by the sender; the answer is the receiver's own.
        var toOrthanc = GeneratedInstances.Ct("PEERS-4", "1.2.826.0.1.3680043.10.1419.74.1", "1.2.826.0.1.3680043.10.1419.74.2", "1.2.826.0.1.3680043.10.1419.74.3", 1);
        var toUs = GeneratedInstances.Ct("PEERS-5", "1.2.826.0.1.3680043.10.1419.75.1", "1.2.826.0.1.3680043.10.1419.75.2", "1.2.826.0.1.3680043.10.1419.75.3", 1);
        var ours = await PostBytesAsync(fx.OursClient, "/peers/other/store-straight", toOrthanc.Bytes);
        var theirs = await PostBytesAsync(fx.OrthancClient, "/peers/other/store-straight", toUs.Bytes);
        AssertSame(theirs, ours, new HashSet<string> { "ID", "ParentPatient", "ParentStudy", "ParentSeries", "Path" });
        Assert.Equal("Success", ours["Status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await fx.OursClient.GetAsync("/instances/" + ours["ID"])).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.OrthancClient.GetAsync("/instances/" + ours["ID"])).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.OursClient.GetAsync("/instances/" + theirs["ID"])).StatusCode);

        // Transcode: the peer receives the instance in the syntax asked for (here Implicit VR Little Endian).
        var transcoded = GeneratedInstances.Ct("PEERS-6", "1.2.826.0.1.3680043.10.1419.76.1", "1.2.826.0.1.3680043.10.1419.76.2", "1.2.826.0.1.3680043.10.1419.76.3", 1);
        var id = (await UploadAsync(fx.OursClient, transcoded.Bytes))["ID"]!.GetValue<string>();
        var answer = await PeersFixture.PostJsonAsync(fx.OursClient, "/peers/other/store", $$"""{ "Resources": ["{{id}}"], "Transcode": "1.2.840.10008.1.2" }""");
        Assert.Equal("1.2.840.10008.1.2", answer["Transcode"]!.GetValue<string>());
        Assert.Equal("1.2.840.10008.1.2", await fx.OrthancClient.GetStringAsync($"/instances/{id}/metadata/TransferSyntax"));

        // Permissive: a peer that cannot be reached fails the instances, not the request.
        var permissive = await PeersFixture.PostJsonAsync(fx.OursClient, "/peers/dead/store", $$"""{ "Resources": ["{{id}}"], "Permissive": true }""");
        Assert.Equal((1, 1), (permissive["InstancesCount"]!.GetValue<int>(), permissive["FailedInstancesCount"]!.GetValue<int>()));
    }

    private static async Task<JsonNode> PostBytesAsync(HttpClient client, string path, byte[] bytes)
    {
        using var response = await client.PostAsync(path, new ByteArrayContent(bytes));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task A_study_sent_as_a_job_arrives_whole_and_the_job_reads_as_orthancs()
    {
        const string root = "1.2.826.0.1.3680043.10.1419.73";
        var series = GeneratedInstances.Series("PEERS-3", root, 5);
        string studyId = "";
        foreach (var instance in series) studyId = (await UploadAsync(fx.OursClient, instance.Bytes))["ParentStudy"]!.GetValue<string>();
        var started = await PeersFixture.PostJsonAsync(fx.OursClient, "/peers/other/store", $$"""{ "Resources": ["{{studyId}}"], "Asynchronous": true, "Priority": 3 }""");
        Assert.Equal("/jobs/" + started["ID"]!.GetValue<string>(), started["Path"]!.GetValue<string>());
        var job = await PeersFixture.FinishedJobAsync(fx.OursClient, started["ID"]!.GetValue<string>(), TimeSpan.FromSeconds(30));
        Assert.Equal(("Success", 100, 3), (job["State"]!.GetValue<string>(), job["Progress"]!.GetValue<int>(), job["Priority"]!.GetValue<int>()));
        var statistics = await PeersFixture.JsonAsync(fx.OrthancClient, $"/studies/{studyId}/statistics");
        Assert.Equal("5", statistics["CountInstances"]!.ToString());

        // Orthanc's job for the same study, sent back to us (already stored here: answered AlreadyStored, still a success).
        var theirs = await PeersFixture.PostJsonAsync(fx.OrthancClient, "/peers/other/store", $$"""{ "Resources": ["{{studyId}}"], "Asynchronous": true, "Priority": 3 }""");
        var theirJob = await PeersFixture.FinishedJobAsync(fx.OrthancClient, theirs["ID"]!.GetValue<string>(), TimeSpan.FromSeconds(30));
        AssertSame(theirJob, job, new HashSet<string> { "ID", "CreationTime", "CompletionTime", "Timestamp", "EffectiveRuntime", "Peer" });
    }

    [Fact]
    public async Task A_job_stuck_on_a_silent_peer_is_cancelled_at_once_and_a_request_times_out()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<TcpClient>();
        var accepting = Task.Run(async () =>
        {
            try { while (true) accepted.Add(await silent.AcceptTcpClientAsync()); }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
        });
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await fx.OursClient.PutAsync("/peers/silent", new StringContent($$"""{ "Url": "http://127.0.0.1:{{port}}/", "Timeout": 30 }"""))).StatusCode);
            var id = (await PeersFixture.JsonAsync(fx.OursClient, "/instances"))[0]!.GetValue<string>();
            var started = await PeersFixture.PostJsonAsync(fx.OursClient, "/peers/silent/store", $$"""{ "Resources": ["{{id}}"], "Asynchronous": true }""");
            var jobId = started["ID"]!.GetValue<string>();
            var deadline = Stopwatch.StartNew();
            while ((await PeersFixture.JsonAsync(fx.OursClient, "/jobs/" + jobId))["State"]!.GetValue<string>() != "Running")
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the job never ran");
                await Task.Delay(20);
            }
            var cancelledAt = Stopwatch.StartNew();
            (await fx.OursClient.PostAsync($"/jobs/{jobId}/cancel", new StringContent("{}"))).EnsureSuccessStatusCode();
            var job = await PeersFixture.FinishedJobAsync(fx.OursClient, jobId, TimeSpan.FromSeconds(10));
            Assert.Equal(("Failure", "Canceled job"), (job["State"]!.GetValue<string>(), job["ErrorDescription"]!.GetValue<string>()));
            Assert.True(cancelledAt.Elapsed < TimeSpan.FromSeconds(5), $"cancelled after {cancelledAt.Elapsed}");

            // The peer's Timeout bounds a request within the call too.
            Assert.Equal(HttpStatusCode.OK, (await fx.OursClient.PutAsync("/peers/silent", new StringContent($"[\"http://127.0.0.1:{port}/\"]"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await fx.OursClient.PutAsync("/peers/silent", new StringContent($$"""{ "Url": "http://127.0.0.1:{{port}}/", "Timeout": 1 }"""))).StatusCode);
            var timedAt = Stopwatch.StartNew();
            using var answer = await fx.OursClient.GetAsync("/peers/silent/system");
            Assert.Equal(HttpStatusCode.InternalServerError, answer.StatusCode);
            Assert.Contains("no complete answer within 1 s", await answer.Content.ReadAsStringAsync());
            Assert.True(timedAt.Elapsed < TimeSpan.FromSeconds(10), $"timed out after {timedAt.Elapsed}");
        }
        finally
        {
            await fx.OursClient.DeleteAsync("/peers/silent");
            silent.Stop();
            await accepting;
            foreach (var c in accepted) c.Dispose();
        }
    }

    [Fact]
    public async Task Peers_added_at_run_time_are_kept_and_those_of_the_configuration_cannot_be_changed_from_outside()
    {
        using (var put = await fx.OursClient.PutAsync("/peers/runtime", new StringContent("""["http://127.0.0.1:9/x", "alice", "secret"]""")))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var configuration = await PeersFixture.JsonAsync(fx.OursClient, "/peers/runtime/configuration");
        Assert.Equal("""{"HttpHeaders":[],"Pkcs11":false,"Timeout":0,"Url":"http://127.0.0.1:9/x/","Username":"alice","Password":null}""", configuration.ToJsonString());
        Assert.Contains("runtime", (await PeersFixture.JsonAsync(fx.OursClient, "/peers")).AsArray().Select(n => n!.GetValue<string>()));

        using (var bad = await fx.OursClient.PutAsync("/peers/bad", new StringContent("""{ "Username": "alice" }""")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("Empty URL", await bad.Content.ReadAsStringAsync());
        }
        using (var configured = await fx.OursClient.DeleteAsync("/peers/other"))
            Assert.Equal(HttpStatusCode.BadRequest, configured.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.OursClient.DeleteAsync("/peers/runtime")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.OursClient.GetAsync("/peers/runtime/configuration")).StatusCode);
        // The change is in the audit trail, without the password.
        Assert.Contains(await PeersFixture.JsonAsync(fx.OursClient, "/audit?action=ConfigurationChanged&limit=10") is JsonArray a ? a : [],
            e => e!["Details"]!.GetValue<string>() == "Orthanc peer runtime set to http://127.0.0.1:9/x/ as alice");
    }

    [Fact]
    public async Task Https_peers_are_trusted_through_HttpsCACertificates_and_no_other_certificate_is()
    {
        var password = ServerProcess.AdminPassword;
        (await fx.OursClient.PutAsync("/peers/self", new StringContent($$"""{ "Url": "https://localhost:{{fx.OursHttpsPort}}/", "Username": "admin", "Password": "{{password}}" }"""))).EnsureSuccessStatusCode();
        using var untrusted = await UntrustedTlsServer.StartAsync();
        (await fx.OursClient.PutAsync("/peers/untrusted", new StringContent($"[\"https://localhost:{untrusted.Port}/\"]"))).EnsureSuccessStatusCode();
        try
        {
            // Our own certificate chains to the configured CA.
            var overHttps = await PeersFixture.JsonAsync(fx.OursClient, "/peers/self/system");
            Assert.True(overHttps["IsHttpServerSecure"]!.GetValue<bool>());
            AssertSame(await PeersFixture.JsonAsync(fx.OursClient, "/system"), overHttps, new HashSet<string> { "IsHttpServerSecure" });
            using var refused = await fx.OursClient.GetAsync("/peers/untrusted/system");
            var text = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.InternalServerError, refused.StatusCode);
            Assert.Contains("SSL", text, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            await fx.OursClient.DeleteAsync("/peers/self");
            await fx.OursClient.DeleteAsync("/peers/untrusted");
        }
    }

    [Fact]
    public async Task A_peer_whose_settings_cannot_work_stops_the_start_with_the_reason()
    {
        var folder = Directory.CreateTempSubdirectory("ow-peers-invalid-").FullName;
        try
        {
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(folder,
                """, "OrthancPeers": { "ftp": [ "ftp://example.org/" ], "half": { "Url": "http://example.org/", "Password": "x" } }"""));
            Assert.Contains("OrthancPeers:ftp: Url must be an absolute http:// or https:// URL", failure.Message);
            Assert.Contains("OrthancPeers:half: a Password needs its Username", failure.Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    private static async Task<JsonNode> UploadAsync(HttpClient client, byte[] bytes)
    {
        using var response = await client.PostAsync("/instances", new ByteArrayContent(bytes));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!;
    }

    /// <summary>A TLS listener with a certificate nobody issued: a handshake is all it takes part in.</summary>
    private sealed class UntrustedTlsServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly X509Certificate2 _certificate;
        private readonly Task _loop;

        private UntrustedTlsServer()
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
            using var selfSigned = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            _certificate = X509CertificateLoader.LoadPkcs12(selfSigned.Export(X509ContentType.Pkcs12), null);
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        using var client = await _listener.AcceptTcpClientAsync();
                        await using var tls = new SslStream(client.GetStream());
                        try { await tls.AuthenticateAsServerAsync(_certificate); }
                        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException) { }
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static Task<UntrustedTlsServer> StartAsync() => Task.FromResult(new UntrustedTlsServer());

        public void Dispose()
        {
            _listener.Stop();
            _loop.Wait(TimeSpan.FromSeconds(5));
            _certificate.Dispose();
        }
    }
}
