using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Hosting;
using OrthancWeb.Security;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Bounds;

/// <summary>A running server with a viewer ("val") and a clinician ("cleo") besides the administrator.</summary>
public sealed class BoundsServerFixture : IAsyncLifetime
{
    public const string Password = "Bounds-Pa55word";
    private string _folder = "";
    public ServerProcess Server { get; private set; } = null!;
    public HttpClient Admin { get; private set; } = null!;
    public HttpClient Viewer { get; private set; } = null!;
    public HttpClient Clinician { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("ow-bounds-").FullName;
        await Accounts.CreateAsync(Path.Combine(_folder, "data"), Password, ("val", Roles.Viewer), ("cleo", Roles.Clinician));
        Server = await ServerProcess.StartAsync(_folder, ", \"ZipMaximumEntries\": 1000");
        Admin = Server.CreateRestClient();
        Viewer = Server.CreateRestClient("val", Password);
        Clinician = Server.CreateRestClient("cleo", Password);
    }

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        Viewer.Dispose();
        Clinician.Dispose();
        await Server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}

/// <summary>Issue 15, points 4, 6, 7 and 12, against a running server over REST.</summary>
[Collection("Bounds")]
public sealed class BoundsServerTests(BoundsServerFixture fx) : IClassFixture<BoundsServerFixture>
{
    private static byte[] Instance(string patientId, int index, string? description = null, int pixelBytes = 16 * 1024)
    {
        var ds = StoreBehaviourTests.CtSlice(patientId, index);
        if (description is not null) ds.Add(DicomTags.StudyDescription, description);
        ds.Add(DicomTags.Rows, (ushort)64);
        ds.Add(DicomTags.Columns, (ushort)(pixelBytes / 128));
        ds.Add(DicomTags.BitsAllocated, (ushort)16);
        ds.Add(DicomTags.BitsStored, (ushort)16);
        ds.Add(DicomTags.HighBit, (ushort)15);
        ds.Add(DicomTags.PixelRepresentation, (ushort)0);
        ds.Add(DicomTags.SamplesPerPixel, (ushort)1);
        ds.Add(DicomTags.PhotometricInterpretation, "MONOCHROME2");
        var pixels = new byte[pixelBytes];
        for (var i = 0; i < pixels.Length; i += 2) pixels[i] = (byte)(i / 64);
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
        var file = new DicomFile(ds, TransferSyntax.ExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return file.ToBytes();
    }

    private async Task<JsonNode> UploadBytesAsync(byte[] bytes)
    {
        var response = await fx.Admin.PostAsync("/instances", new ByteArrayContent(bytes));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!;
    }

    // ---- The audit trail is the administrators' ----

    [Fact]
    public async Task Viewers_and_clinicians_may_not_read_the_audit_trail()
    {
        foreach (var route in new[] { "/audit", "/audit/verify", "/audit/export" })
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await fx.Viewer.GetAsync(route)).StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await fx.Clinician.GetAsync(route)).StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.OK, (await fx.Admin.GetAsync(route)).StatusCode);
        }
    }

    // ---- Point 4: ReDoS through /tools/find ----

    [Fact]
    public async Task The_attack_find_as_a_viewer_answers_well_under_a_second()
    {
        // A 64-character description (an LO's most) that passes the index's LIKE and then has to fail the case-sensitive B.
        await UploadBytesAsync(Instance("REDOS", 1, new string('A', 63) + "b"));
        var query = new { Level = "Study", CaseSensitive = true, Query = new Dictionary<string, string> { ["StudyDescription"] = "*A*A*A*A*A*A*A*B" } };
        await PostJsonAsync(fx.Viewer, "/tools/find", new { Level = "Study", CaseSensitive = true, Query = new Dictionary<string, string> { ["StudyDescription"] = "*A*b" } }); // warm
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var watch = Stopwatch.StartNew();
        var response = await fx.Viewer.PostAsync("/tools/find", System.Net.Http.Json.JsonContent.Create(query, options: OrthancJsonOptions), timeout.Token);
        watch.Stop();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray());
        Assert.True(watch.ElapsedMilliseconds < 1000, $"{watch.ElapsedMilliseconds} ms");
        var loose = await PostJsonAsync(fx.Viewer, "/tools/find", new { Level = "Study", CaseSensitive = false, Query = query.Query });
        Assert.Single(loose.AsArray());
    }

    // ---- Point 7: /rendered sizes ----

    [Fact]
    public async Task Rendered_at_46000_pixels_is_clamped_and_quick()
    {
        var id = (await UploadBytesAsync(Instance("RENDER", 1)))["ID"]!.GetValue<string>();
        var watch = Stopwatch.StartNew();
        var response = await fx.Viewer.GetAsync($"/instances/{id}/rendered?width=46000&height=46000");
        watch.Stop();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var png = await response.Content.ReadAsByteArrayAsync();
        var (w, h) = (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        // 128 x 64 enlarged: the longest side stops at 4096.
        Assert.Equal((4096, 2048), (w, h));
        Assert.True(watch.ElapsedMilliseconds < 5000, $"{watch.ElapsedMilliseconds} ms");
        // Smaller boxes are served as asked; shrinking is not limited.
        var small = await fx.Viewer.GetByteArrayAsync($"/instances/{id}/rendered?width=64&height=64");
        Assert.Equal(64, BinaryPrimitives.ReadInt32BigEndian(small.AsSpan(16)));
    }

    // ---- Point 6: ZIP bombs ----

    private static byte[] Zip(Action<ZipArchive> fill)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true)) fill(zip);
        return ms.ToArray();
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var s = zip.CreateEntry(name, level).Open();
        s.Write(bytes);
    }

    private async Task<long> InstanceCountAsync() => (await GetJsonAsync(fx.Admin, "/statistics"))["CountInstances"]!.GetValue<long>();

    private async Task<(HttpStatusCode Status, string Body)> PostZipAsync(byte[] zip)
    {
        var response = await fx.Clinician.PostAsync("/instances", new ByteArrayContent(zip));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_one_megabyte_zip_inflating_to_a_gigabyte_is_refused_and_nothing_of_it_is_stored()
    {
        var zip = Zip(z =>
        {
            Add(z, "good/1.dcm", Instance("ZIPBOMB", 1)); // a real file first: it must not be stored either
            using var s = z.CreateEntry("bomb.dcm", CompressionLevel.SmallestSize).Open();
            var zeros = new byte[1 << 20];
            for (var i = 0; i < 1024; i++) s.Write(zeros);
        });
        Assert.True(zip.Length < 2 * 1024 * 1024, $"{zip.Length} bytes");
        var before = await InstanceCountAsync();
        var (status, body) = await PostZipAsync(zip);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("ZipMaximumRatio", body);
        Assert.Equal(before, await InstanceCountAsync());
    }

    [Fact]
    public async Task Many_megabyte_entries_inflating_far_past_the_zip_are_refused()
    {
        var zip = Zip(z => { for (var i = 0; i < 300; i++) Add(z, $"{i}.dcm", new byte[1 << 20], CompressionLevel.SmallestSize); });
        var (status, body) = await PostZipAsync(zip);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("ZipMaximumRatio", body);
    }

    [Fact]
    public async Task More_entries_than_allowed_are_refused_before_any_is_stored()
    {
        var zip = Zip(z =>
        {
            Add(z, "good/1.dcm", Instance("ZIPMANY", 1));
            for (var i = 0; i < 1000; i++) Add(z, $"tiny/{i}", []);
        });
        var before = await InstanceCountAsync();
        var (status, body) = await PostZipAsync(zip);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("ZipMaximumEntries", body);
        Assert.Equal(before, await InstanceCountAsync());
    }

    /// <summary>An entry whose central directory declares fewer bytes than it inflates to is refused at its declared size.</summary>
    [Fact]
    public async Task An_entry_lying_about_its_size_is_refused_and_the_honest_one_stored()
    {
        var honest = Instance("ZIPLIE", 1);
        var lying = Instance("ZIPLIE", 2);
        // Stored, not deflated: the reader then takes the entry's bytes as they are, and only our bound stops them.
        var zip = Zip(z => { Add(z, "honest.dcm", honest); Add(z, "lying.dcm", lying, CompressionLevel.NoCompression); });
        // Patch the declared uncompressed size of "lying.dcm" in its central directory record (APPNOTE 4.3.12) and
        // local header (4.3.7) to 1000 bytes.
        var text = System.Text.Encoding.ASCII.GetString(zip);
        foreach (var (signature, sizeOffset, nameOffset) in new[] { (0x02014b50u, 24, 46), (0x04034b50u, 22, 30) })
            for (var i = 0; i + nameOffset < zip.Length; i++)
                if (BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i)) == signature && text.AsSpan(i + nameOffset).StartsWith("lying.dcm"))
                    BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(i + sizeOffset), 1000);
        var response = await fx.Clinician.PostAsync("/instances", new ByteArrayContent(zip));
        var answers = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        var byName = answers.ToDictionary(a => a!["Entry"]!.GetValue<string>(), a => a!);
        Assert.Equal("Success", byName["honest.dcm"]["Status"]!.GetValue<string>());
        Assert.NotEqual("Success", byName["lying.dcm"]["Status"]!.GetValue<string>());
        var find = await PostJsonAsync(fx.Admin, "/tools/find", new { Level = "Instance", Query = new Dictionary<string, string> { ["PatientID"] = "ZIPLIE" } });
        Assert.Single(find.AsArray());
    }

    // ---- Point 12: jobs have owners ----

    [Fact]
    public async Task A_job_and_its_archive_are_its_owners_and_the_administrators_only()
    {
        var stored = await UploadBytesAsync(Instance("JOBOWNER", 1));
        var submitted = await PostJsonAsync(fx.Clinician, "/tools/create-archive", new { Resources = new[] { stored["ParentStudy"]!.GetValue<string>() }, Asynchronous = true });
        var id = submitted["ID"]!.GetValue<string>();
        var deadline = Stopwatch.StartNew();
        while ((await GetJsonAsync(fx.Clinician, $"/jobs/{id}"))["State"]!.GetValue<string>() != "Success")
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the archive job did not finish");
            await Task.Delay(100);
        }
        Assert.Equal(HttpStatusCode.OK, (await fx.Clinician.GetAsync($"/jobs/{id}/archive")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Admin.GetAsync($"/jobs/{id}/archive")).StatusCode);
        Assert.Contains(id, Ids(await GetJsonAsync(fx.Admin, "/jobs")));
        // Another user: no such job, no archive, not in the list.
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Viewer.GetAsync($"/jobs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Viewer.GetAsync($"/jobs/{id}/archive")).StatusCode);
        Assert.DoesNotContain(id, Ids(await GetJsonAsync(fx.Viewer, "/jobs")));
        Assert.DoesNotContain(id, (await GetJsonAsync(fx.Viewer, "/jobs?expand")).AsArray().Select(j => j!["ID"]!.GetValue<string>()));
        // A viewer's own archive job is theirs to see, and not the clinician's.
        var own = (await PostJsonAsync(fx.Viewer, "/tools/create-archive", new { Resources = new[] { stored["ParentStudy"]!.GetValue<string>() }, Asynchronous = true }))["ID"]!.GetValue<string>();
        Assert.Contains(own, Ids(await GetJsonAsync(fx.Viewer, "/jobs")));
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Clinician.PostAsync($"/jobs/{own}/cancel", null)).StatusCode);
    }
}
