using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.DicomWeb;

/// <summary>One server holding a few of pydicom's files in several syntaxes, shared by the DICOMweb server tests.</summary>
public sealed class DicomWebFixture : IAsyncLifetime
{
    /// <summary>Explicit VR LE CT, RLE MR (its uncompressed twin is MR_small.dcm), 15-frame dose, 2-frame RLE colour, JPEG 2000, an SR.</summary>
    public static readonly string[] Files = ["CT_small.dcm", "MR_small_RLE.dcm", "rtdose.dcm", "SC_rgb_rle_2frame.dcm", "JPEG2000.dcm", "test-SR.dcm"];

    private string _folder = "";
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public string Root => $"http://127.0.0.1:{Server.HttpPort}/dicom-web";

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-dicomweb-").FullName;
        Server = await ServerProcess.StartAsync(_folder);
        Client = Server.CreateRestClient();
        foreach (var f in Files) await Rest.UploadAsync(Client, Rest.Sample(f));
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(_folder, true);
    }

    public static string Sample(string name) => Rest.Sample(name);

    /// <summary>The UIDs of a sample file, read by dcmdump (a peer, not our own reader).</summary>
    public static (string Study, string Series, string Instance) Uids(string name)
    {
        var dump = Peers.Run("dcmdump", "+P", "StudyInstanceUID", "+P", "SeriesInstanceUID", "+P", "SOPInstanceUID", Sample(name)).Stdout;
        string Value(string keyword) => System.Text.RegularExpressions.Regex.Match(dump, @"\[([^\]]*)\][^\n]*" + keyword).Groups[1].Value;
        return (Value("StudyInstanceUID"), Value("SeriesInstanceUID"), Value("SOPInstanceUID"));
    }

    /// <summary>What pydicom says of a file (see pydicom_reference.py).</summary>
    public static string Pydicom(params string[] args)
    {
        var script = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "DicomWeb", "pydicom_reference.py"));
        var result = Peers.Run(Peers.DebianPython, [script, .. args]);
        Assert.True(result.ExitCode == 0, $"pydicom: {result.Stderr}");
        return result.Stdout.Trim();
    }

    public async Task<(HttpResponseMessage Response, byte[] Body)> GetAsync(string path, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Root + path);
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        var response = await Client.SendAsync(request);
        return (response, await response.Content.ReadAsByteArrayAsync());
    }

    public async Task<JsonArray> JsonAsync(string path)
    {
        var (response, body) = await GetAsync(path, "application/dicom+json");
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        Assert.Equal("application/dicom+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(body)!.AsArray();
    }

    /// <summary>The parts of a multipart/related answer, with their content types (RFC 2387), read independently of the server's writer.</summary>
    public static async Task<List<(string ContentType, byte[] Body)>> PartsAsync(HttpResponseMessage response, byte[] body)
    {
        var type = response.Content.Headers.ContentType!;
        Assert.Equal("multipart/related", type.MediaType);
        var boundary = type.Parameters.First(p => p.Name == "boundary").Value!.Trim('"');
        var reader = new Microsoft.AspNetCore.WebUtilities.MultipartReader(boundary, new MemoryStream(body));
        var parts = new List<(string, byte[])>();
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            using var ms = new MemoryStream();
            await section.Body.CopyToAsync(ms);
            parts.Add((section.ContentType ?? "", ms.ToArray()));
        }
        return parts;
    }

    /// <summary>A STOW-RS request of these parts (each application/dicom unless given).</summary>
    public async Task<(HttpResponseMessage Response, string Body)> StowAsync(string path, IEnumerable<(byte[] Bytes, string? Type)> parts, string boundary = "stow-boundary")
    {
        var body = new MemoryStream();
        void Ascii(string s) => body.Write(System.Text.Encoding.ASCII.GetBytes(s));
        foreach (var (bytes, type) in parts)
        {
            Ascii($"--{boundary}\r\nContent-Type: {type ?? "application/dicom"}\r\n\r\n");
            body.Write(bytes);
            Ascii("\r\n");
        }
        Ascii($"--{boundary}--\r\n");
        var content = new ByteArrayContent(body.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", $"multipart/related; type=\"application/dicom\"; boundary={boundary}");
        var response = await Client.PostAsync(Root + path, content);
        return (response, await response.Content.ReadAsStringAsync());
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    public static MediaTypeWithQualityHeaderValue Media(string value) => MediaTypeWithQualityHeaderValue.Parse(value);
}
