using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>Requests a script written for Orthanc sends, answered by both servers alike.</summary>
public sealed class OrthancDifferentialTests(OrthancDifferentialFixture fx) : IClassFixture<OrthancDifferentialFixture>
{
    /// <summary>What must differ between two servers: times, our data folder's sizes, each server's own ports and name.</summary>
    private static readonly HashSet<string> Volatile =
        ["LastUpdate", "Date", "HttpPort", "DicomPort", "Name", "DicomAet", "IsHttpServerSecure", "PluginsEnabled", "TotalDiskSize", "TotalDiskSizeMB",
         "TotalUncompressedSize", "TotalUncompressedSizeMB", "CheckRevisions", "FileSize", "FileUuid", "Uuid",
         // Each server's StableAge (orthanc's peer 1 s, ours the default).
         "IsStable"];

    public static TheoryData<string, string> SameAnswers => new()
    {
        { "GET", "/patients" },
        { "GET", "//patients" },
        { "GET", "/patients/" },
        { "GET", "//studies//" },
        { "GET", "/series?expand" },
        { "GET", "/system" },
        { "GET", "/statistics" },
        { "GET", "/tools/default-encoding" },
        { "GET", "/patients/nonexistent" },
        { "GET", "/nonexistent-route" },
        { "GET", "/tools/metrics" },
        { "GET", "/studies?expand&since=0&limit=2" },
        // RestApiWriteToFileSystemEnabled is off by default: 403 (empty) before the instance is even looked up.
        { "POST", "/instances/any-instance/export" },
        { "GET", "/exports" },
    };

    [Fact]
    public async Task Tools_lists_its_routes_and_answers_the_time_and_new_uids()
    {
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/tools");
        var names = ours.Json!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        // Every tool we list is one Orthanc has (labels: Orthanc 1.12's, which 1.10.1 lacks; backup: ours, issue 21), and
        // answers something other than 404 here.
        Assert.Subset(orthanc.Json!.AsArray().Select(n => n!.GetValue<string>()).Append("labels").Append("backup").ToHashSet(), names.ToHashSet());
        Assert.Subset(names.ToHashSet(), new HashSet<string> { "create-archive", "create-media", "default-encoding", "find", "generate-uid", "lookup", "metrics", "now", "now-local" });
        Assert.DoesNotContain(names, n => n.Contains('{', StringComparison.Ordinal) || n.Contains('/', StringComparison.Ordinal));

        var now = DateTime.ParseExact((await fx.SendBothAsync(HttpMethod.Get, "/tools/now")).Ours.Body, "yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture);
        Assert.InRange(now, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1));
        var uids = new HashSet<string>();
        for (var i = 0; i < 3; i++)
        {
            var uid = (await fx.SendBothAsync(HttpMethod.Get, "/tools/generate-uid?level=study")).Ours.Body;
            Assert.Matches(@"^[0-9]+(\.[0-9]+)+$", uid);
            Assert.InRange(uid.Length, 10, 64); // PS3.5 9.1: at most 64 characters
            uids.Add(uid);
        }
        Assert.Equal(3, uids.Count);
        Assert.Equal(400, (await fx.SendBothAsync(HttpMethod.Get, "/tools/generate-uid?level=galaxy")).Ours.Status);
    }

    [Theory]
    [MemberData(nameof(SameAnswers))]
    public async Task Ours_answers_as_orthanc_does(string method, string path)
    {
        var (ours, orthanc) = await fx.SendBothAsync(new HttpMethod(method), path);
        Assert.True(orthanc.Status == ours.Status, $"{method} {path}: orthanc {orthanc.Status}, ours {ours.Status}: {ours.Body}");
        if (orthanc.Status / 100 != 2) return;
        if (!orthanc.Body.TrimStart().StartsWith('[') && !orthanc.Body.TrimStart().StartsWith('{'))
        {
            Assert.Equal(orthanc.Body.Trim(), ours.Body.Trim());
            return;
        }
        var differences = JsonDifference.Between(orthanc.Json, ours.Json, Volatile);
        Assert.True(differences.Count == 0, $"{method} {path}:\n" + string.Join("\n", differences));
    }

    /// <summary>Public IDs hash the DICOM identifiers, so both servers name the same resource alike.</summary>
    [Theory]
    [InlineData("instances-tags")]
    [InlineData("instances-tags?simplify")]
    [InlineData("instances-tags?short")]
    [InlineData("shared-tags")]
    [InlineData("shared-tags?simplify")]
    public async Task Tags_of_every_instance_and_the_shared_ones_as_orthanc_answers_them(string route)
    {
        foreach (var level in new[] { "patients", "studies", "series" })
            foreach (var id in (await Rest.GetJsonAsync(fx.OrthancClient, "/" + level)).AsArray().Select(n => n!.GetValue<string>()))
            {
                var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, $"/{level}/{id}/{route}");
                Assert.True(orthanc.Status == ours.Status, $"/{level}/{id}/{route}: orthanc {orthanc.Status}, ours {ours.Status}");
                var differences = JsonDifference.Between(orthanc.Json, ours.Json, Volatile);
                Assert.True(differences.Count == 0, $"/{level}/{id}/{route}:\n" + string.Join("\n", differences.Take(20)));
            }
        Assert.Equal(404, (await fx.SendBothAsync(HttpMethod.Get, "/studies/not-a-study/" + route)).Ours.Status);
    }

    [Fact]
    public async Task A_post_with_a_method_override_is_the_put_or_delete_it_names()
    {
        // Deleting something that does not exist, through the override: both answer as to a DELETE.
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Post, "/instances/0000-not-there", headers: new() { ["X-HTTP-Method-Override"] = "DELETE" });
        Assert.Equal(orthanc.Status, ours.Status);
        Assert.Equal(404, ours.Status);
        // Protecting a patient through the override is a PUT: both then read it back protected, and unprotected after.
        foreach (var flag in new[] { "1", "0" })
            foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
            {
                var patient = (await Rest.GetJsonAsync(client, "/patients")).AsArray()[0]!.GetValue<string>();
                using var put = new HttpRequestMessage(HttpMethod.Post, $"/patients/{patient}/protected") { Content = new StringContent(flag) };
                put.Headers.Add("X-HTTP-Method-Override", "put");
                Assert.True((await client.SendAsync(put)).IsSuccessStatusCode);
                Assert.Equal(flag, (await client.GetStringAsync($"/patients/{patient}/protected")).Trim());
            }
    }

    [Fact]
    public async Task The_default_encoding_reads_files_that_declare_none_and_can_be_changed_over_rest()
    {
        // A file with a Cyrillic patient name in ISO 8859-5 and no Specific Character Set, as some modalities send.
        var path = Path.Combine(Path.GetTempPath(), $"ow-encoding-{Guid.NewGuid():N}.dcm");
        var made = Peers.Run(Peers.DebianPython, "-c", $$"""
            import pydicom, pydicom.data
            ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
            if "SpecificCharacterSet" in ds: del ds.SpecificCharacterSet
            ds.PatientName = None
            ds.add_new(0x00100010, "PN", "Иванов^Иван".encode("iso8859_5"))
            ds.PatientID = "ENCODING-1"
            ds.StudyInstanceUID = pydicom.uid.generate_uid(); ds.SeriesInstanceUID = pydicom.uid.generate_uid()
            ds.SOPInstanceUID = pydicom.uid.generate_uid(); ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as("{{path}}")
            """);
        Assert.True(made.ExitCode == 0, made.Stderr);
        try
        {
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/default-encoding", "Cyrillic");
            Assert.Equal((orthanc.Status, 200), (ours.Status, 200));
            Assert.Equal("Cyrillic", (await fx.SendBothAsync(HttpMethod.Get, "/tools/default-encoding")).Ours.Body.Trim());
            var bytes = await File.ReadAllBytesAsync(path);
            var names = new List<string>();
            foreach (var client in new[] { fx.OursClient, fx.OrthancClient })
            {
                var up = JsonNode.Parse(await (await client.PostAsync("/instances", new ByteArrayContent(bytes))).Content.ReadAsStringAsync())!;
                var patient = await Rest.GetJsonAsync(client, $"/patients/{up["ParentPatient"]!.GetValue<string>()}");
                names.Add(patient["MainDicomTags"]!["PatientName"]!.GetValue<string>());
                (await client.DeleteAsync($"/patients/{up["ParentPatient"]!.GetValue<string>()}")).EnsureSuccessStatusCode();
            }
            Assert.Equal(["Иванов^Иван", "Иванов^Иван"], names);
            Assert.Equal(400, (await fx.SendBothAsync(HttpMethod.Put, "/tools/default-encoding", "Klingon")).Ours.Status);
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Put, "/tools/default-encoding", "Latin1");
            File.Delete(path);
        }
    }

    [Fact]
    public async Task System_reports_a_version_scripts_can_compare_and_our_own_product()
    {
        var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/system");
        var version = Version.Parse(ours.Json!["Version"]!.GetValue<string>());
        Assert.Equal(Version.Parse(orthanc.Json!["Version"]!.GetValue<string>()), version);
        Assert.Equal("OrthancWeb", ours.Json["Product"]!.GetValue<string>());
        Assert.Matches(@"^\d+\.\d+\.\d+$", ours.Json["ProductVersion"]!.GetValue<string>());
    }

    /// <summary>A Prometheus scrape as lines "name value [timestamp]", keyed by name (our labelled series apart).</summary>
    private static Dictionary<string, double> Scrape(string body) => body.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => !l.StartsWith('#') && !l.Contains('{', StringComparison.Ordinal))
        .Select(l => l.Split(' '))
        .ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));

    [Fact]
    public async Task Prometheus_metrics_carry_orthancs_names_and_values_and_can_be_switched_off()
    {
        try
        {
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/tools/metrics-prometheus");
            Assert.Equal((200, 200), (ours.Status, orthanc.Status));
            var (o, u) = (Scrape(orthanc.Body), Scrape(ours.Body));
            // Every figure orthanc publishes under its name, except the DICOM cache (a store of parsed files we do not keep).
            Assert.Equal([], o.Keys.Where(k => !k.StartsWith("orthanc_dicom_cache_", StringComparison.Ordinal)).Except(u.Keys).Order());
            foreach (var name in new[] { "orthanc_count_patients", "orthanc_count_studies", "orthanc_count_series", "orthanc_count_instances", "orthanc_uncompressed_size_mb" })
                Assert.True(o[name] == u[name], $"{name}: orthanc {o[name]}, ours {u[name]}");
            // Lines as orthanc writes them: name, value, time in milliseconds.
            var line = ours.Body.Split('\n').First(l => l.StartsWith("orthanc_count_instances ", StringComparison.Ordinal)).Split(' ');
            Assert.InRange(DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(line[2], CultureInfo.InvariantCulture)), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
            // Ours after them, in the exposition format: what the fixture stored went through the ingest meter.
            Assert.Contains("# TYPE orthancweb_ingest_instances_total counter", ours.Body, StringComparison.Ordinal);
            Assert.Matches(@"orthancweb_ingest_instances_total\{origin=""RestApi"",outcome=""Success""\} [1-9]", ours.Body);
            Assert.Matches(@"orthancweb_ingest_duration_milliseconds_count\{origin=""RestApi""\} [1-9]", ours.Body);
            Assert.Contains("# TYPE http_server_request_duration_seconds histogram", ours.Body, StringComparison.Ordinal);

            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/metrics", "maybe");
            Assert.Equal((400, 400), (ours.Status, orthanc.Status));
            Assert.Equal(orthanc.Json!["OrthancStatus"]!.GetValue<int>(), ours.Json!["OrthancStatus"]!.GetValue<int>());
            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Put, "/tools/metrics", "false");
            Assert.Equal((200, 200), (ours.Status, orthanc.Status));
            Assert.Equal("0", (await fx.SendBothAsync(HttpMethod.Get, "/tools/metrics")).Ours.Body);
            (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, "/tools/metrics-prometheus");
            Assert.Equal((orthanc.Status, orthanc.Body), (ours.Status, ours.Body));
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Put, "/tools/metrics", "1");
        }
    }

    [Fact]
    public async Task Health_answers_without_a_login_and_says_the_index_and_storage_are_ready()
    {
        using var anonymous = new HttpClient { BaseAddress = fx.OursClient.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        using var ready = await anonymous.GetAsync("/health/ready");
        var body = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", body["Checks"]!["index"]!["Status"]!.GetValue<string>());
        Assert.Equal("Healthy", body["Checks"]!["storage"]!["Status"]!.GetValue<string>());
        // Nothing else is open without a login.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/tools/metrics-prometheus")).StatusCode);
    }
}
