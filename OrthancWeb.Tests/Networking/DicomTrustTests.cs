using System.Globalization;
using System.Net;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Networking;

/// <summary>
/// Issue 15, point 1: trust over DICOM is the calling AE title *from its modality's Host*. DCMTK's SCUs all connect from
/// 127.0.0.1; a modality whose Host is elsewhere (192.0.2.10, TEST-NET-1, RFC 5737) stands for a known AE title sent
/// from the wrong address, i.e. what anyone on the network can do.
/// </summary>
public sealed class DicomTrustTests(DicomTrustTests.Fixture fx) : IClassFixture<DicomTrustTests.Fixture>
{
    private const string Aet = "OWTRUST";

    /// <summary>One server for the class: its modalities, and a study to query and retrieve.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private string _folder = "";
        public ServerProcess Server { get; private set; } = null!;
        public HttpClient Rest { get; private set; } = null!;
        public string Port { get; private set; } = "";
        public string StudyUid { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Peers.Tool("findscu");
            _folder = Directory.CreateTempSubdirectory("ow-trust-").FullName;
            var port = ServerProcess.FreePort();
            Port = port.ToString(CultureInfo.InvariantCulture);
            Server = await ServerProcess.StartAsync(_folder, $$"""
                , "DicomPort": {{port}}, "DicomAet": "{{Aet}}",
                "DicomModalities": {
                  "local": { "AET": "LOCALSCU", "Host": "127.0.0.1", "Port": 1 },
                  "named": { "AET": "NAMEDSCU", "Host": "localhost", "Port": 1 },
                  "faraway": { "AET": "FARAWAY", "Host": "192.0.2.10", "Port": 104, "AllowGet": true },
                  "getter": { "AET": "GETTER", "Host": "127.0.0.1", "Port": 1, "AllowGet": true }
                }
                """);
            Rest = Server.CreateRestClient();
            await UploadAsync(Rest, Sample("CT_small.dcm"));
            StudyUid = DicomFile.Open(Sample("CT_small.dcm")).Dataset.GetString(DicomTags.StudyInstanceUID)!;
        }

        public async Task DisposeAsync()
        {
            Rest.Dispose();
            await Server.DisposeAsync();
            try { Directory.Delete(_folder, true); } catch (IOException) { }
        }
    }

    private string Port => fx.Port;
    private string StudyUid => fx.StudyUid;
    private HttpClient RestClient => fx.Rest;

    private Peers.Result Find(string aet) =>
        Peers.Run("findscu", "-S", "-aet", aet, "-aec", Aet, "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={StudyUid}", "-k", "PatientID", "127.0.0.1", Port);

    private Peers.Result Get(string aet, string dir) =>
        Peers.Run("getscu", "-S", "-aet", aet, "-aec", Aet, "-od", dir, "-k", "QueryRetrieveLevel=STUDY", "-k", $"StudyInstanceUID={StudyUid}", "127.0.0.1", Port);

    private static void Refused(Peers.Result r)
    {
        Assert.NotEqual(0, r.ExitCode);
        // findscu says "No Acceptable Presentation Contexts", getscu and movescu "No adequate Presentation Contexts".
        Assert.Matches("No (Acceptable|adequate) Presentation Contexts", r.Stderr + r.Stdout);
    }

    [Fact]
    public void A_known_aet_from_another_address_cannot_query_or_retrieve()
    {
        Refused(Find("FARAWAY"));
        var dir = Directory.CreateTempSubdirectory("ow-trust-get-").FullName;
        try
        {
            Refused(Get("FARAWAY", dir));
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
        var move = Peers.Run("movescu", "-S", "-aet", "FARAWAY", "-aec", Aet, "-aem", "FARAWAY", "-k", "QueryRetrieveLevel=STUDY",
            "-k", $"StudyInstanceUID={StudyUid}", "127.0.0.1", Port);
        Refused(move);
    }

    [Fact]
    public void A_known_aet_from_another_address_gets_what_unknown_aets_get()
    {
        // DicomAlwaysAllowEcho and DicomAlwaysAllowStore (both true by default) are open to anyone: so to it.
        var echo = Peers.Run("echoscu", "-aet", "FARAWAY", "-aec", Aet, "127.0.0.1", Port);
        Assert.True(echo.ExitCode == 0, echo.Stderr);
        var store = Peers.Run("storescu", "-aet", "FARAWAY", "-aec", Aet, "127.0.0.1", Port, Sample("MR_small.dcm"));
        Assert.True(store.ExitCode == 0, store.Stderr);
    }

    [Fact]
    public void A_known_aet_from_its_host_queries_whatever_the_case_of_its_title()
    {
        foreach (var aet in new[] { "LOCALSCU", "localscu", "NAMEDSCU" })
        {
            var r = Find(aet);
            Assert.True(r.ExitCode == 0, aet + ": " + r.Stderr + r.Stdout);
            Assert.Contains(StudyUid, r.Stderr + r.Stdout);
        }
    }

    [Fact]
    public void C_get_needs_AllowGet_which_a_modality_has_only_when_asked()
    {
        var dir = Directory.CreateTempSubdirectory("ow-trust-get-").FullName;
        try
        {
            Refused(Get("LOCALSCU", dir));
            var r = Get("GETTER", dir);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Single(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task A_modality_added_over_rest_without_AllowGet_may_not_get()
    {
        var put = await RestClient.PutAsync("/modalities/added", new StringContent("""{"AET": "ADDED", "Host": "127.0.0.1", "Port": 104}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var shorthand = await RestClient.PutAsync("/modalities/short", new StringContent("""["SHORT", "127.0.0.1", 104]"""));
        Assert.Equal(HttpStatusCode.OK, shorthand.StatusCode);
        Assert.False((await GetJsonAsync(RestClient, "/modalities/added/configuration"))["AllowGet"]!.GetValue<bool>());
        Assert.False((await GetJsonAsync(RestClient, "/modalities/short/configuration"))["AllowGet"]!.GetValue<bool>());
        Assert.True((await GetJsonAsync(RestClient, "/modalities/added/configuration"))["AllowFind"]!.GetValue<bool>());
        var dir = Directory.CreateTempSubdirectory("ow-trust-get-").FullName;
        try { Refused(Get("ADDED", dir)); }
        finally { Directory.Delete(dir, true); }
        var find = Find("ADDED");
        Assert.True(find.ExitCode == 0, find.Stderr);
    }
}
