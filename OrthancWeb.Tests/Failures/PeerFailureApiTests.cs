using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Failures;

/// <summary>A server whose modalities fail in every way <see cref="FailingPeers"/> knows, one per kind.</summary>
public sealed class FailingModalitiesFixture : IAsyncLifetime
{
    private readonly FailingPeers _peers = new();
    private string _folder = "";

    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var modalities = new List<string>();
        foreach (var failure in Enum.GetValues<PeerFailure>())
        {
            var (aet, port) = await _peers.StartAsync(failure);
            modalities.Add($$"""  "{{failure.ToString().ToLowerInvariant()}}": { "AET": "{{aet}}", "Host": "127.0.0.1", "Port": {{port}} }""");
        }
        _folder = Directory.CreateTempSubdirectory("ow-failures-api-").FullName;
        Server = await ServerProcess.StartAsync(_folder, $$"""
            , "DicomScuTimeout": 4, "DicomModalities": { {{string.Join(",\n", modalities)}} }
            """);
        Rest = Server.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        Rest.Dispose();
        await Server.DisposeAsync();
        await _peers.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

/// <summary>
/// The same failures over REST give Orthanc 1.10.1's answers (checked by hand against Debian's Orthanc): a modality that
/// cannot be reached, whatever the way, is a 500 "Error in the network protocol" (OrthancStatus 9) with the reason in
/// Details; an unknown modality is a 404 "Accessing an inexistent item" (7); an unknown resource a 404 (17).
/// </summary>
public sealed class PeerFailureApiTests(FailingModalitiesFixture fx) : IClassFixture<FailingModalitiesFixture>
{
    public static TheoryData<PeerFailure, string> EchoFailures => new()
    {
        { PeerFailure.Down, "cannot connect to 127.0.0.1" },
        { PeerFailure.Rejects, "association rejected: no reason given (permanent, service user)" },
        { PeerFailure.Silent, "no answer to the association request after 4 s" },
        { PeerFailure.Aborts, "the peer aborted the association" },
    };

    public static TheoryData<PeerFailure, string> StoreFailures => new()
    {
        { PeerFailure.Down, "cannot connect to 127.0.0.1" },
        { PeerFailure.Rejects, "association rejected" },
        { PeerFailure.AbortsOnStore, "aborted the association" },
    };

    [Theory]
    [MemberData(nameof(EchoFailures))]
    public async Task Echo_to_a_modality_that_fails_is_orthancs_network_error_with_the_reason(PeerFailure failure, string reason)
    {
        var name = failure.ToString().ToLowerInvariant();
        var response = await fx.Rest.PostAsync($"/modalities/{name}/echo", new StringContent("{}"));
        await AssertNetworkErrorAsync(response, $"/modalities/{name}/echo", reason);
    }

    [Theory]
    [MemberData(nameof(StoreFailures))]
    public async Task Store_to_a_modality_that_fails_is_orthancs_network_error_with_the_reason(PeerFailure failure, string reason)
    {
        var id = (await UploadAsync(fx.Rest, Sample("CT_small.dcm")))["ID"]!.GetValue<string>();
        var name = failure.ToString().ToLowerInvariant();
        var response = await fx.Rest.PostAsync($"/modalities/{name}/store", new StringContent(id));
        await AssertNetworkErrorAsync(response, $"/modalities/{name}/store", reason);
    }

    [Fact]
    public async Task Unknown_modality_and_unknown_resource_are_orthancs_404s()
    {
        var modality = await ErrorAsync(await fx.Rest.PostAsync("/modalities/nosuch/echo", new StringContent("{}")));
        Assert.Equal((404, 7, "Accessing an inexistent item", "Unknown modality: nosuch"),
            (modality["HttpStatus"]!.GetValue<int>(), modality["OrthancStatus"]!.GetValue<int>(), modality["OrthancError"]!.GetValue<string>(), modality["Details"]!.GetValue<string>()));

        var resource = await ErrorAsync(await fx.Rest.PostAsync("/modalities/down/store", new StringContent("""{"Resources": ["00000000-00000000-00000000-00000000-00000000"]}""", Encoding.UTF8, "application/json")));
        Assert.Equal((404, 17, "Unknown resource"), (resource["HttpStatus"]!.GetValue<int>(), resource["OrthancStatus"]!.GetValue<int>(), resource["OrthancError"]!.GetValue<string>()));
        Assert.Contains("00000000-00000000-00000000-00000000-00000000", resource["Details"]!.GetValue<string>());
    }

    private static async Task AssertNetworkErrorAsync(HttpResponseMessage response, string uri, string reason)
    {
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = await ErrorAsync(response);
        Assert.Equal("Internal Server Error", body["HttpError"]!.GetValue<string>());
        Assert.Equal(500, body["HttpStatus"]!.GetValue<int>());
        Assert.Equal(9, body["OrthancStatus"]!.GetValue<int>());
        Assert.Equal("Error in the network protocol", body["OrthancError"]!.GetValue<string>());
        Assert.Equal("POST", body["Method"]!.GetValue<string>());
        Assert.Equal(uri, body["Uri"]!.GetValue<string>());
        var details = body["Details"]!.GetValue<string>();
        Assert.Contains(reason, details);
        Assert.StartsWith("AET \"", details); // which modality failed, as Orthanc names it
        Assert.Equal(details, body["Message"]!.GetValue<string>());
    }

    private static async Task<JsonNode> ErrorAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.False(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!;
    }
}
