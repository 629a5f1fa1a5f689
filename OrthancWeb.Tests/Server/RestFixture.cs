using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Server;

/// <summary>Helpers for driving a running server over REST as a script would.</summary>
public static class Rest
{
    public static string Sample(string name) => Path.Combine(Peers.PydicomDir("test_files"), name);

    public static async Task<JsonNode> UploadAsync(HttpClient client, string path, bool expectSuccess = true)
    {
        var response = await client.PostAsync("/instances", new ByteArrayContent(await File.ReadAllBytesAsync(path)));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        if (expectSuccess)
            Assert.True(response.IsSuccessStatusCode, $"upload of {path} failed: {(int)response.StatusCode} {body.ToJsonString()}");
        return body;
    }

    public static async Task<JsonNode> GetJsonAsync(HttpClient client, string url)
    {
        var response = await client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    public static async Task<JsonNode> PostJsonAsync(HttpClient client, string url, object body)
    {
        var response = await client.PostAsJsonAsync(url, body, OrthancJsonOptions);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>Orthanc's keys are PascalCase ("Level", "Query"); keep property names as written.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions OrthancJsonOptions = new() { PropertyNamingPolicy = null };

    public static string[] Ids(JsonNode array) => array.AsArray().Select(n => n!.GetValue<string>()).ToArray();
}

/// <summary>One server shared by the read-mostly REST tests (starting one costs about two seconds).</summary>
public sealed class RestServerFixture : IAsyncLifetime
{
    private string _folder = "";
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-rest-").FullName;
        Server = await ServerProcess.StartAsync(_folder);
        Client = Server.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(_folder, true);
    }
}
