using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Compatibility;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Networking;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.OrthancPeers;

/// <summary>
/// Our server and Debian's orthanc, each the other's peer under the same names: "other" in Orthanc's short form
/// [url, user, password], "other-object" in its object form (headers, timeout), and "dead" where nothing listens.
/// Orthanc reaches us over HTTP and over HTTPS (HttpsVerifyPeers false, as our certificate is self-issued); we reach it
/// over HTTP, and ourselves over HTTPS with our certificate's CA as HttpsCACertificates.
/// </summary>
/// <remarks>A collection fixture: /tools/create-dicom's differential tests use the same pair of servers.</remarks>
public sealed class PeersFixture : IAsyncLifetime
{
    public static readonly string[] Samples = ["CT_small.dcm"];

    private string _folder = "";
    public ServerProcess Ours { get; private set; } = null!;
    public OrthancPeer Orthanc { get; private set; } = null!;
    public HttpClient OursClient { get; private set; } = null!;
    public HttpClient OrthancClient { get; private set; } = null!;
    public int OursHttpsPort { get; private set; }
    public int OursHttpPort { get; private set; }

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-peers-").FullName;
        (OursHttpsPort, OursHttpPort) = (ServerProcess.FreePort(), ServerProcess.FreePort());
        File.WriteAllText(Path.Combine(_folder, "ports"), $"{OursHttpsPort} {OursHttpPort} {ServerProcess.FreePort()}");

        // Our HTTPS certificate, issued by a CA of the test's that our peer client is told to trust, put where the
        // server keeps the certificate it makes itself (ServerProcess's clients trust that file's certificate).
        var authority = TestCertificates.CreateAuthority(_folder, "peers");
        var (certificate, key) = authority.Issue("ours");
        Directory.CreateDirectory(Path.Combine(_folder, "data", "certs"));
        using (var pem = X509Certificate2.CreateFromPemFile(certificate, key))
            File.WriteAllBytes(Path.Combine(_folder, "data", "certs", "server.pfx"), pem.Export(X509ContentType.Pkcs12));

        var password = ServerProcess.AdminPassword;
        Orthanc = await OrthancPeer.StartAsync(extraJson: $$"""
            "OrthancPeers": {
              "other": [ "http://127.0.0.1:{{OursHttpPort}}/", "admin", "{{password}}" ],
              "other-object": { "Url": "https://localhost:{{OursHttpsPort}}", "Username": "admin", "Password": "{{password}}", "HttpHeaders": { "X-Test": "1" }, "Timeout": 5 },
              "dead": [ "http://127.0.0.1:1/" ]
            }
            """);
        Ours = await ServerProcess.StartAsync(_folder, $$"""
            , "HttpsCACertificates": "{{authority.CaCertificate}}",
            "OrthancPeers": {
              "other": [ "{{Orthanc.Url}}/", "nobody", "unused" ],
              "other-object": { "Url": "{{Orthanc.Url}}", "Username": "nobody", "Password": "unused", "HttpHeaders": { "X-Test": "1" }, "Timeout": 5 },
              "dead": [ "http://127.0.0.1:1/" ]
            }
            """, keepPorts: true);
        OursClient = Ours.CreateRestClient();
        OrthancClient = Orthanc.CreateClient();
        foreach (var sample in Samples)
        {
            var bytes = await File.ReadAllBytesAsync(Rest.Sample(sample));
            foreach (var client in new[] { OursClient, OrthancClient })
                (await client.PostAsync("/instances", new ByteArrayContent(bytes))).EnsureSuccessStatusCode();
        }
    }

    /// <summary>The same request to both servers: each answer's status and body.</summary>
    public async Task<(Answer Ours, Answer Orthanc)> SendBothAsync(HttpMethod method, string path, string? body = null)
    {
        async Task<Answer> Send(HttpClient client)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = new StringContent(body);
            using var response = await client.SendAsync(request);
            return new Answer((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        return (await Send(OursClient), await Send(OrthancClient));
    }

    public static async Task<JsonNode> JsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    public static async Task<JsonNode> PostJsonAsync(HttpClient client, string path, string body)
    {
        using var response = await client.PostAsync(path, new StringContent(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>A job's JSON once it has finished (Success or Failure), polled with a deadline.</summary>
    public static async Task<JsonNode> FinishedJobAsync(HttpClient client, string id, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var job = await JsonAsync(client, "/jobs/" + id);
            if (job["State"]!.GetValue<string>() is "Success" or "Failure") return job;
            Assert.True(DateTime.UtcNow < deadline, $"job {id} not finished within {within.TotalSeconds} s: {job.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        OursClient.Dispose();
        OrthancClient.Dispose();
        await Ours.DisposeAsync();
        await Orthanc.DisposeAsync();
        Directory.Delete(_folder, true);
    }
}

[CollectionDefinition(Name)]
public sealed class OursAndOrthancServers : ICollectionFixture<PeersFixture>
{
    public const string Name = "Ours and orthanc, each the other's peer";
}
