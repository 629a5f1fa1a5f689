using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Network.Dimse;
using OrthancWeb.Dicom.Network.Services;
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
public sealed class DicomTlsTests(DicomTlsTests.Fixture fx) : IClassFixture<DicomTlsTests.Fixture>
{
    private const string Aet = "OWTLS";
    private const string ScuAet = "TLSSCU";
    private const string DestAet = "TLSDEST";

    /// <summary>The server with DICOM TLS on, two storescp +tls (one with a certificate from the other CA), and the certificates.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private string _folder = "";
        private PeerProcess _dest = null!, _rogueDest = null!;
        public ServerProcess Server { get; private set; } = null!;
        public HttpClient Rest { get; private set; } = null!;
        public int Port { get; private set; }
        public string DestFolder { get; private set; } = "";
        public (string Certificate, string Key) Client { get; private set; }
        public (string Certificate, string Key) Rogue { get; private set; }
        public TestCertificates Ca { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Peers.Tool("storescp");
            _folder = Directory.CreateTempSubdirectory("ow-tls-").FullName;
            Ca = TestCertificates.CreateAuthority(_folder, "hospital");
            var server = Ca.Issue("orthancweb");
            Client = Ca.Issue("modality");
            var destination = Ca.Issue("storescp");
            var other = TestCertificates.CreateAuthority(_folder, "elsewhere");
            Rogue = other.Issue("rogue");

            Port = ServerProcess.FreePort();
            var destPort = ServerProcess.FreePort();
            var rogueDestPort = ServerProcess.FreePort();
            DestFolder = Path.Combine(_folder, "received");
            _dest = StartStorescp(destination, destPort, DestFolder);
            _rogueDest = StartStorescp(Rogue, rogueDestPort, Path.Combine(_folder, "rogue-received"));
            Server = await ServerProcess.StartAsync(_folder, $$"""
                , "DicomPort": {{Port}}, "DicomAet": "{{Aet}}",
                "DicomTlsEnabled": true,
                "DicomTlsCertificate": "{{server.Certificate}}", "DicomTlsPrivateKey": "{{server.Key}}",
                "DicomTlsTrustedCertificates": "{{Ca.CaCertificate}}",
                "DicomModalities": {
                  "scu": { "AET": "{{ScuAet}}", "Host": "127.0.0.1", "Port": 1 },
                  "tlsdest": { "AET": "{{DestAet}}", "Host": "127.0.0.1", "Port": {{destPort}}, "UseDicomTls": true },
                  "impostor": { "AET": "IMPOSTOR", "Host": "127.0.0.1", "Port": {{rogueDestPort}}, "UseDicomTls": true },
                  "plaindest": { "AET": "PLAINDEST", "Host": "127.0.0.1", "Port": {{destPort}} }
                }
                """);
            Rest = Server.CreateRestClient();
            await _dest.WaitUntilListeningAsync(destPort);
            await _rogueDest.WaitUntilListeningAsync(rogueDestPort);
        }

        private PeerProcess StartStorescp((string Certificate, string Key) identity, int port, string folder)
        {
            Directory.CreateDirectory(folder);
            var psi = new ProcessStartInfo(Peers.Tool("storescp"),
                ["+tls", identity.Key, identity.Certificate, "+cf", Ca.CaCertificate, "-od", folder, "--fork", port.ToString(CultureInfo.InvariantCulture)]);
            return PeerProcess.Start(psi);
        }

        public async Task DisposeAsync()
        {
            await _dest.DisposeAsync();
            await _rogueDest.DisposeAsync();
            Rest.Dispose();
            await Server.DisposeAsync();
            try { Directory.Delete(_folder, true); } catch (IOException) { }
        }
    }

    private string Port => fx.Port.ToString(CultureInfo.InvariantCulture);

    private string[] Tls((string Certificate, string Key) identity) => ["+tls", identity.Key, identity.Certificate, "+cf", fx.Ca.CaCertificate];

    private Peers.Result EchoOverTls((string Certificate, string Key) identity) =>
        Peers.Run("echoscu", [.. Tls(identity), "-aet", ScuAet, "-aec", Aet, "127.0.0.1", Port]);

    [Fact]
    public void Echoscu_storescu_and_findscu_over_tls_are_served()
    {
        var echo = EchoOverTls(fx.Client);
        Assert.True(echo.ExitCode == 0, echo.Stderr + echo.Stdout);
        var store = Peers.Run("storescu", [.. Tls(fx.Client), "-aet", ScuAet, "-aec", Aet, "127.0.0.1", Port, Sample("CT_small.dcm")]);
        Assert.True(store.ExitCode == 0, store.Stderr + store.Stdout);
        var studyUid = DicomFile.Open(Sample("CT_small.dcm")).Dataset.GetString(DicomTags.StudyInstanceUID)!;
        var find = Peers.Run("findscu", [.. Tls(fx.Client), "-S", "-aet", ScuAet, "-aec", Aet, "-k", "QueryRetrieveLevel=STUDY",
            "-k", $"StudyInstanceUID={studyUid}", "-k", "PatientID", "127.0.0.1", Port]);
        Assert.True(find.ExitCode == 0, find.Stderr + find.Stdout);
        Assert.Contains(studyUid, find.Stderr + find.Stdout);
    }

    [Fact]
    public void A_client_certificate_from_another_authority_is_refused_and_the_listener_goes_on()
    {
        var refused = EchoOverTls(fx.Rogue);
        Assert.NotEqual(0, refused.ExitCode);
        var anonymous = Peers.Run("echoscu", "+tla", "+cf", fx.Ca.CaCertificate, "-aet", ScuAet, "-aec", Aet, "127.0.0.1", Port);
        Assert.NotEqual(0, anonymous.ExitCode); // no certificate at all: DicomTlsRemoteCertificateRequired
        var echo = EchoOverTls(fx.Client);
        Assert.True(echo.ExitCode == 0, echo.Stderr + echo.Stdout);
    }

    [Fact]
    public void A_plain_client_on_the_tls_port_fails_quickly_and_the_listener_goes_on()
    {
        var clock = Stopwatch.StartNew();
        var plain = Peers.Run("echoscu", "-aet", ScuAet, "-aec", Aet, "127.0.0.1", Port);
        Assert.NotEqual(0, plain.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the plain client waited {clock.Elapsed.TotalSeconds:0} s for its failure");
        var echo = EchoOverTls(fx.Client);
        Assert.True(echo.ExitCode == 0, echo.Stderr + echo.Stdout);
    }

    [Fact]
    public async Task Our_echo_send_job_and_move_reach_storescp_over_tls()
    {
        var echo = await fx.Rest.PostAsync("/modalities/tlsdest/echo", new StringContent(""));
        Assert.True(echo.IsSuccessStatusCode, await echo.Content.ReadAsStringAsync());

        var up = await UploadAsync(fx.Rest, Sample("MR_small.dcm"));
        var job = await PostJsonAsync(fx.Rest, "/modalities/tlsdest/store", new { Resources = new[] { up["ID"]!.GetValue<string>() }, Asynchronous = true });
        var done = await JobsTests.WaitForStateAsync(fx.Rest, job["ID"]!.GetValue<string>(), "Success", "Failure");
        Assert.Equal("Success", done["State"]!.GetValue<string>());
        var sop = DicomFile.Open(Sample("MR_small.dcm")).Dataset.GetString(DicomTags.SOPInstanceUID);
        Assert.Contains(sop, Directory.GetFiles(fx.DestFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)));

        // C-MOVE to the TLS destination: the sub-operations go over TLS as well. DCMTK's movescu has no +tls, so the SCU
        // here is our toolkit's client, over TLS with the modality's certificate; the destination is storescp +tls.
        var ct = DicomFile.Open(Sample("CT_small.dcm")).Dataset;
        await UploadAsync(fx.Rest, Sample("CT_small.dcm"));
        using var certificate = X509Certificate2.CreateFromPemFile(fx.Client.Certificate, fx.Client.Key);
        using var ca = X509CertificateLoader.LoadCertificateFromFile(fx.Ca.CaCertificate);
        var tls = new SslClientAuthenticationOptions
        {
            ClientCertificates = [certificate],
            CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { ca }, RevocationMode = X509RevocationMode.NoCheck },
        };
        await using (var scu = await DicomClient.ConnectAsync("127.0.0.1", fx.Port, ScuAet, Aet,
            [(SopClasses.StudyRootMove, SopClasses.Uncompressed)], tls: tls))
        {
            var identifier = new DicomDataset()
                .Add(DicomTags.QueryRetrieveLevel, DicomVR.CS, "STUDY")
                .Add(DicomTags.StudyInstanceUID, DicomVR.UI, ct.GetString(DicomTags.StudyInstanceUID)!);
            var final = await scu.MoveAsync(SopClasses.StudyRootMove, DestAet, identifier);
            Assert.Equal(DimseStatus.Success, final.Status);
        }
        Assert.Contains(ct.GetString(DicomTags.SOPInstanceUID), Directory.GetFiles(fx.DestFolder).Select(f => DicomFile.Open(f).Dataset.GetString(DicomTags.SOPInstanceUID)));
    }

    [Fact]
    public async Task Our_scu_refuses_a_destination_whose_certificate_we_do_not_trust_and_a_plain_one_cannot_reach_a_tls_peer()
    {
        var impostor = await fx.Rest.PostAsync("/modalities/impostor/echo", new StringContent(""));
        Assert.Equal(HttpStatusCode.InternalServerError, impostor.StatusCode);
        Assert.Contains("TLS", (await impostor.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        var plain = await fx.Rest.PostAsync("/modalities/plaindest/echo", new StringContent(""));
        Assert.Equal(HttpStatusCode.InternalServerError, plain.StatusCode);
        _ = JsonNode.Parse(await plain.Content.ReadAsStringAsync());
    }
}
