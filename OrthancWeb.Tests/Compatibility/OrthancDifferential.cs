using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// Our server and Debian's orthanc side by side, loaded with the same files: the same request goes to both and the
/// answers are compared (status, then JSON), so that a script written for Orthanc finds what it expects.
/// </summary>
public class OrthancDifferentialFixture : IAsyncLifetime
{
    /// <summary>More configuration for each server: ours (inside "OrthancWeb", after a comma) and orthanc's (top level).</summary>
    protected virtual (string Ours, string Orthanc) ExtraConfiguration => ("", "");

    public static readonly string[] Samples = ["CT_small.dcm", "MR_small.dcm", "rtdose.dcm"];

    private string _folder = "";
    public ServerProcess Ours { get; private set; } = null!;
    public OrthancPeer Orthanc { get; private set; } = null!;
    public HttpClient OursClient { get; private set; } = null!;
    public HttpClient OrthancClient { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-differential-").FullName;
        var (oursJson, orthancJson) = ExtraConfiguration;
        var ours = ServerProcess.StartAsync(_folder, oursJson.Length > 0 ? ", " + oursJson : "");
        var orthanc = OrthancPeer.StartAsync(extraJson: orthancJson);
        (Ours, Orthanc) = (await ours, await orthanc);
        OursClient = Ours.CreateRestClient();
        OrthancClient = Orthanc.CreateClient();
        await LoadAsync();
    }

    /// <summary>The files both servers get before the first test: <see cref="Samples"/> unless a fixture wants others.</summary>
    protected virtual async Task LoadAsync()
    {
        foreach (var sample in Samples)
        {
            var bytes = await File.ReadAllBytesAsync(Rest.Sample(sample));
            foreach (var client in new[] { OursClient, OrthancClient })
                (await client.PostAsync("/instances", new ByteArrayContent(bytes))).EnsureSuccessStatusCode();
        }
    }

    /// <summary>The same request to both servers: each answer's status and body.</summary>
    public async Task<(Answer Ours, Answer Orthanc)> SendBothAsync(HttpMethod method, string path, string? body = null, Dictionary<string, string>? headers = null)
    {
        async Task<Answer> Send(HttpClient client)
        {
            // An absolute URI: a relative "//patients" would be read as a host name.
            using var request = new HttpRequestMessage(method, new Uri(client.BaseAddress!.GetLeftPart(UriPartial.Authority) + path));
            if (body is not null) request.Content = new StringContent(body);
            foreach (var (name, value) in headers ?? []) request.Headers.TryAddWithoutValidation(name, value);
            using var response = await client.SendAsync(request);
            return new Answer((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        return (await Send(OursClient), await Send(OrthancClient));
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

public sealed record Answer(int Status, string Body)
{
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

/// <summary>Compares Orthanc's JSON with ours: every field Orthanc answers must be in ours, equal unless told to ignore it.</summary>
public static class JsonDifference
{
    /// <summary>
    /// The differences, as paths; empty when ours has every field of Orthanc's with the same value. Ours may have
    /// more fields (our own extras); arrays of scalars compare as sets (the two servers need not list in one order).
    /// </summary>
    public static List<string> Between(JsonNode? orthanc, JsonNode? ours, ISet<string> ignored, string path = "$")
    {
        var differences = new List<string>();
        switch (orthanc)
        {
            case null:
                if (ours is not null) differences.Add($"{path}: orthanc null, ours {ours.ToJsonString()}");
                break;
            case JsonObject o when ours is JsonObject u:
                foreach (var (key, value) in o)
                {
                    if (ignored.Contains(key)) continue;
                    if (!u.ContainsKey(key)) differences.Add($"{path}.{key}: missing in ours");
                    else differences.AddRange(Between(value, u[key], ignored, $"{path}.{key}"));
                }
                break;
            case JsonArray a when ours is JsonArray b:
                if (a.Count != b.Count) { differences.Add($"{path}: {a.Count} items in orthanc, {b.Count} in ours"); break; }
                if (a.All(x => x is JsonValue))
                {
                    var left = a.Select(x => x!.ToJsonString()).Order(StringComparer.Ordinal);
                    var right = b.Select(x => x?.ToJsonString() ?? "null").Order(StringComparer.Ordinal);
                    if (!left.SequenceEqual(right)) differences.Add($"{path}: {a.ToJsonString()} in orthanc, {b.ToJsonString()} in ours");
                }
                else
                {
                    // Resources listed with ?expand: matched by their ID, not by position.
                    static string Key(JsonNode? n) => n is JsonObject o && o["ID"] is JsonValue id ? id.ToJsonString() : "";
                    var left = a.OrderBy(Key, StringComparer.Ordinal).ToList();
                    var right = b.OrderBy(Key, StringComparer.Ordinal).ToList();
                    for (var i = 0; i < left.Count; i++) differences.AddRange(Between(left[i], right[i], ignored, $"{path}[{Key(left[i])}]"));
                }
                break;
            case JsonValue v when ours is JsonValue w:
                if (v.ToJsonString() != w.ToJsonString()) differences.Add($"{path}: {v.ToJsonString()} in orthanc, {w.ToJsonString()} in ours");
                break;
            default:
                differences.Add($"{path}: {orthanc.GetValueKind()} in orthanc, {ours?.GetValueKind().ToString() ?? "nothing"} in ours");
                break;
        }
        return differences;
    }
}
