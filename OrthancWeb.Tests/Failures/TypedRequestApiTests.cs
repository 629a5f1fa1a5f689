using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Failures;

/// <summary>A server that can send to itself ("self" is its own DICOM port), for the store request's forms.</summary>
public sealed class SelfSendingServerFixture : IAsyncLifetime
{
    private string _folder = "";
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public int DicomPort { get; } = ServerProcess.FreePort();

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-typed-requests-").FullName;
        Server = await ServerProcess.StartAsync(_folder, $$""", "DicomPort": {{DicomPort}}, "DicomAet": "SELF" """);
        Rest = Server.CreateRestClient();
    }

    public async Task DisposeAsync()
    {
        Rest.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

/// <summary>
/// Request bodies are typed: Orthanc's lenient values and short forms are accepted, a wrong type is a 400 that names
/// the field (as Orthanc's "Boolean value expected in field: Asynchronous"), and the OpenAPI document has the schemas.
/// </summary>
public sealed class TypedRequestApiTests(SelfSendingServerFixture fx) : IClassFixture<SelfSendingServerFixture>
{
    private HttpClient Client => fx.Rest;

    [Theory]
    [InlineData("true")]
    [InlineData("\"true\"")]
    [InlineData("\"1\"")]
    [InlineData("1")]
    public async Task Asynchronous_as_a_boolean_a_string_or_a_number_makes_a_job(string asynchronous)
    {
        var study = (await UploadAsync(Client, Sample("CT_small.dcm")))["ParentStudy"]!.GetValue<string>();
        var job = await PostAsync($"/studies/{study}/anonymize", $$"""{"Asynchronous": {{asynchronous}}, "Priority": "7", "KeepSource": "true"}""");
        var state = await GetJsonAsync(Client, "/jobs/" + job["ID"]!.GetValue<string>());
        Assert.Equal(("ResourceModification", 7), (state["Type"]!.GetValue<string>(), state["Priority"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Store_takes_a_bare_id_an_array_or_an_object_and_a_modality_takes_orthancs_array()
    {
        var id = (await UploadAsync(Client, Sample("MR_small.dcm")))["ID"]!.GetValue<string>();
        // Orthanc's array form, the port as a string.
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync("/modalities/self", new StringContent($$"""["SELF", "127.0.0.1", "{{fx.DicomPort}}"]"""))).StatusCode);
        foreach (var body in new[] { id, $"[\"{id}\"]", $$"""{"Resources": ["{{id}}"]}""" })
        {
            var sent = await PostAsync("/modalities/self/store", body);
            Assert.Equal((1, 0), (sent["InstancesCount"]!.GetValue<int>(), sent["FailedInstancesCount"]!.GetValue<int>()));
        }
        var job = await PostAsync("/modalities/self/store", $$"""{"Resources": ["{{id}}"], "Asynchronous": "1", "Retries": "2", "RetryDelay": "5"}""");
        Assert.NotNull(job["ID"]);
    }

    [Fact]
    public async Task Find_takes_numbers_as_strings_and_flags_as_strings()
    {
        await UploadAsync(Client, Sample("CT_small.dcm"));
        await UploadAsync(Client, Sample("MR_small.dcm"));
        var found = await PostAsync("/tools/find", """{"Level": "study", "Query": {"StudyDate": 20040119}, "Expand": "true", "Limit": "1", "Since": "0", "CaseSensitive": "false"}""");
        Assert.Equal("Study", Assert.Single(found.AsArray())!["Type"]!.GetValue<string>());
    }

    public static TheoryData<string, string, string> WrongTypes => new()
    {
        { "/studies/{study}/anonymize", """{"Asynchronous": "maybe"}""", "Boolean value expected in field: Asynchronous" },
        { "/studies/{study}/modify", """{"Force": [true]}""", "Boolean value expected in field: Force" },
        { "/studies/{study}/anonymize", """{"Priority": "high"}""", "Integer value expected in field: Priority" },
        { "/studies/{study}/modify", """{"Replace": {"PatientName": {"Alphabetic": "X"}}}""", "String value expected in field: Replace.PatientName" },
        { "/studies/{study}/anonymize", """{"Keep": "PatientName"}""", "Array value expected in field: Keep" },
        { "/tools/find", """{"Level": "Nope", "Query": {}}""", "Patient, Study, Series or Instance expected in field: Level" },
        { "/tools/find", """{"Level": "Study", "Query": {}, "Limit": 2.5}""", "Integer value expected in field: Limit" },
        { "/modalities/self/store", """{"Resources": "abc"}""", "Array value expected in field: Resources" },
        { "/modalities/self/store", """{"Resources": ["abc"], "Asynchronous": "yes"}""", "Boolean value expected in field: Asynchronous" },
        { "/tools/create-archive", """{"Resources": [], "Asynchronous": {}}""", "Boolean value expected in field: Asynchronous" },
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public async Task A_value_of_the_wrong_type_is_a_400_that_names_the_field(string path, string body, string details)
    {
        var study = (await UploadAsync(Client, Sample("CT_small.dcm")))["ParentStudy"]!.GetValue<string>();
        await Client.PutAsync("/modalities/self", new StringContent($$"""["SELF", "127.0.0.1", {{fx.DicomPort}}]"""));
        var response = await Client.PostAsync(path.Replace("{study}", study), new StringContent(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var error = JsonNode.Parse(text)!;
        Assert.Equal(details, error["Details"]!.GetValue<string>());
        Assert.Equal((400, 15, "Bad file format"), (error["HttpStatus"]!.GetValue<int>(), error["OrthancStatus"]!.GetValue<int>(), error["OrthancError"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_body_that_is_not_json_or_misses_a_required_field_is_a_400()
    {
        var notJson = await Client.PostAsync("/tools/find", new StringContent("{\"Level\": "));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        var missing = await Client.PostAsync("/tools/find", new StringContent("""{"Query": {}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("Level", JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["Details"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_openapi_document_describes_the_request_bodies()
    {
        var document = await GetJsonAsync(Client, "/openapi/v1.json");
        var schemas = document["components"]!["schemas"]!.AsObject();
        void HasProperties(string schema, params string[] properties)
        {
            Assert.True(schemas.ContainsKey(schema), $"no schema {schema} in {string.Join(", ", schemas.Select(s => s.Key))}");
            var declared = schemas[schema]!["properties"]!.AsObject();
            foreach (var p in properties) Assert.True(declared.ContainsKey(p), $"{schema} has no {p}: {declared.ToJsonString()}");
        }
        HasProperties("ModalityStoreRequest", "Resources", "Asynchronous", "Priority", "Retries", "RetryDelay");
        HasProperties("AnonymizationRequest", "Replace", "Keep", "Remove", "KeepSource", "Asynchronous", "KeepPrivateTags", "RetainLongFullDates");
        HasProperties("ModificationRequest", "Replace", "Remove", "Force", "RemovePrivateTags");
        HasProperties("ToolsFindRequest", "Level", "Query", "Expand", "Limit", "Since", "CaseSensitive");
        HasProperties("ArchiveRequest", "Resources", "Asynchronous");
        HasProperties("ModalityOptions", "AET", "Host", "Port");
        HasProperties("ModalityQueryRequest", "Level", "Query");
        Assert.Equal("boolean", schemas["ModalityStoreRequest"]!["properties"]!["Asynchronous"]!["type"]!.ToString());
        // The operation points at its schema.
        var store = document["paths"]!["/modalities/{name}/store"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>();
        Assert.EndsWith("/ModalityStoreRequest", store);
    }

    private async Task<JsonNode> PostAsync(string url, string body)
    {
        var response = await Client.PostAsync(url, new StringContent(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {url} {body}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }
}
