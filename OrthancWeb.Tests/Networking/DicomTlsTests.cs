using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using OrthancWeb.Tests.Workflows;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Networking;

/// <summary>
/// DICOM TLS both ways against DCMTK (PS3.15 Annex B.1): echoscu, storescu and findscu with +tls against our listener
/// (DicomTlsEnabled turns DicomPort to TLS, as in Orthanc), and storescp +tls as the destination of our echo, send
/// job and C-MOVE. Certificates come from a CA made for the test; a second CA stands for everyone else.
/// </summary>
public sealed class DicomTlsTests : IAsyncLifetime
{
    private const string Aet = "OWTLS";
    private const string ScuAet = "TLSSCU";
    private const string DestAet = "TLSDEST";
    private string _folder = "";
    private ServerProcess _server = null!;
    private HttpClient _rest = null!;
    private string _port = "";
    private int _destPort, _rogueDestPort;
    private string _destFolder = "";
    private (string Certificate, string Key) _client, _rogue;
    private TestCertificates _ca = null!;
    private PeerProcess _dest = null!, _rogueDest = null!;

    public async Task InitializeAsync()
    {
        Peers.Tool("storescp");
        _folder = Directory.CreateTempSubdirectory("ow-tls-").FullName;
        _ca = TestCertificates.CreateAuthority(_folder, "hospital");
        var server = _ca.Issue("orthancweb");
        _client = _ca.Issue("modality");
        var destination = _ca.Issue("storescp");
        var other = TestCertificates.CreateAuthority(_folder, "elsewhere");
        _rogue = other.Issue("rogue");

        var port = ServerProcess.FreePort();
        _port = port.ToString(CultureInfo.InvariantCulture);
        _destPort = ServerProcess.FreePort();
        _rogueDestPort = ServerProcess.FreePort();
        _destFolder = Path.Combine(_folder, "received");
        Directory.CreateDirectory(_destFolder);
        _dest = StartStorescp(destination, _destPort, _destFolder);
        _rogueDest = StartStorescp(_rogue, _rogueDestPort, Path.Combine(_folder, "rogue-received"));
        _server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomPort": {{port}}, "DicomAet": "{{Aet}}",
            "DicomTlsEnabled": true,
            "DicomTlsCertificate": "{{server.Certificate}}", "DicomTlsPrivateKey": "{{server.Key}}",
            "DicomTlsTrustedCertificates": "{{_ca.CaCertificate}}",
            "DicomModalities": {
              "scu": { "AET": "{{ScuAet}}", "Host": "127.0.0.1", "Port": 1 },
              "tlsdest": { "AET": "{{DestAet}}", "Host": "127.0.0.1", "Port": {{_destPort}}, "UseDicomTls": true },
              "impostor": { "AET": "{{DestAet}}", "Host": "127.0.0.1", "Port": {{_rogueDestPort}}, "UseDicomTls": true },
              "plaindest": { "AET": "{{DestAet}}", "Host": "127.0.0.1", "Port": {{_destPort}} }
            }
            """);
        _rest = _server.CreateRestClient();
        await _dest.WaitUntilListeningAsync(_destPort);
        await _rogueDest.WaitUntilListeningAsync(_rogueDestPort);
    }

    private PeerProcess StartStorescp((string Certificate, string Key) identity, int port, string folder)
    {
        Directory.CreateDirectory(folder);
        var psi = new ProcessStartInfo(Peers.Tool("storescp"),
            ["+tls", identity.Key, identity.Certificate, "+cf", _ca.CaCertificate, "-aet", DestAet, "-od", folder, "--fork", port.ToString(CultureInfo.InvariantCulture)]);
        return PeerProcess.Start(psi);
    }

    public async Task DisposeAsync()
    {
        await _dest.DisposeAsync();
        await _rogueDest.DisposeAsync();
        _rest.Dispose();
        await _server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    private string[] Tls((string Certificate, string Key) identity) => ["+tls", identity.Key, identity.Certificate, "+cf", _ca.CaCertificate];

    private Peers.Result EchoOverTls((string Certificate, string Key) identity) =>
        Peers.Run("echoscu", [.. Tls(identity), "-aet", ScuAet, "-aec", Aet, "127.0.0.1", _port]);

    [Fact]
    public void Echoscu_storescu_and_findscu_over_tls_are_served()
    {
        var echo = EchoOverTls(_client);
        Assert.True(echo.ExitCode == 0, echo.Stderr + echo.Stdout);
        var store = Peers.Run("storescu", [.. Tls(_client), "-aet", ScuAet, "-aec", Aet, "127.0.0.1", _port, Sample("CT_small.dcm")]);
        Assert.True(store.ExitCode == 0, store.Stderr + store.Stdout);
        var studyUid = DicomFile.Open(Sample("CT_small.dcm")).Dataset.GetString(DicomTags.StudyInstanceUID)!;
        var find = Peers.Run("findscu", [.. Tls(_client), "-S", "-aet", ScuAet, "-aec", Aet, "-k", "QueryRetrieveLevel=STUDY",
            "-k", $"StudyInstanceUID={studyUid}", "-k", "PatientID", "127.0.0.1", _port]);
        Assert.True(find.ExitCode == 0, find.Stderr + find.Stdout);
        Assert.Contains(studyUid, find.Stderr + find.Stdout);
    }

    [Fact]
    public void A_client_certificate_from_another_authority_is_refused_and_the_listener_goes_on()
    {
        var refused = EchoOverTls(_rogue);
        Assert.NotEqual(0, refused.ExitCode);
        var anonymous = Peers.Run("echoscu", "+tla", "+cf", _ca.CaCertificate, "-aet", ScuAet, "-aec", Aet, "127.0.0.1", _port);
        Assert.NotEqual(0, anonymous.ExitCode); // no certificate at all: DicomTlsRemoteCertificateRequired
        var echo = EchoOverTls(_client);
        Assert.True(echo.ExitCode == 0, echo.Stderr + echo.Stdout);
    }

    [Fact]
    public void A_plain_client_on_the_tls_port_fails_quickly_and_the_listener_goes_on()
    {
        var clock = Stopwatch.StartNew();
        var plain = Peers.Run("echoscu", "-aet", ScuAet, "-aec", Aet, "127.0.0.1", _port);
        Assert.NotEqual(0, plain.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the plain client waited {clock.Elapsed.TotalSeconds:0} s for its failure");
        var echo = EchoOverTls(_client);
        Assert.True(echo.ExitCode == 0, echo.Stderr + echo.Stdout);
    }

    [Fact]
    public async Task Our_echo_send_job_and_move_reach_storescp_over_tls()
    {
        var echo = await _rest.PostAsync("/modalities/tlsdest/echo", new StringContent(""));
        Assert.True(echo.IsSuccessStatusCode, await echo.Content.ReadAsStringAsync());

        var up = await UploadAsync(_rest, Sample("MR_small.dcm"));
        var job = await PostJsonAsync(_rest, "/modalities/tlsdest/store", new { Resources = new[] { up["ID"]!.GetValue<string>() }, Asynchronous = true });
        var done = await JobsTests.WaitForStateAsync(_rest, job["ID"]!.GetValue<string>(), "Success", "Failure");
        Assert.Equal("Success", done["State"]!.GetValue<string>());
        var sop = DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID);
        Assert.Contains(sop, Directory.GetFiles(_destFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)));

        // C-MOVE from a TLS SCU to the TLS destination: the sub-operations go over TLS as well.
        var ct = DicomFile.Open(Sample("CT_small.dcm")).Dataset;
        await UploadAsync(_rest, Sample("CT_small.dcm"));
        var move = Peers.Run("movescu", [.. Tls(_client), "-S", "-aet", ScuAet, "-aec", Aet, "-aem", DestAet, "-k", "QueryRetrieveLevel=STUDY",
            "-k", $"StudyInstanceUID={ct.GetString(DicomTags.StudyInstanceUID)}", "127.0.0.1", _port]);
        Assert.True(move.ExitCode == 0, move.Stderr + move.Stdout);
        Assert.Contains(ct.GetString(DicomTags.SOPInstanceUID), Directory.GetFiles(_destFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)));
    }

    [Fact]
    public async Task Our_scu_refuses_a_destination_whose_certificate_we_do_not_trust_and_a_plain_one_cannot_reach_a_tls_peer()
    {
        var impostor = await _rest.PostAsync("/modalities/impostor/echo", new StringContent(""));
        Assert.Equal(HttpStatusCode.InternalServerError, impostor.StatusCode);
        Assert.Contains("TLS", (await impostor.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        var plain = await _rest.PostAsync("/modalities/plaindest/echo", new StringContent(""));
        Assert.Equal(HttpStatusCode.InternalServerError, plain.StatusCode);
        _ = JsonNode.Parse(await plain.Content.ReadAsStringAsync());
    }
}
