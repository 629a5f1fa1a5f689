using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// Both servers with RestApiWriteToFileSystemEnabled, loaded with pydicom's samples and two files of ours: one holding
/// every attribute of the dictionary once (so that each level's module answers every attribute orthanc lists for it),
/// and one with a Cyrillic patient name and no Specific Character Set (read anew by a reconstruction).
/// </summary>
public sealed class ModuleReconstructExportFixture : OrthancDifferentialFixture, IAsyncLifetime
{
    protected override (string Ours, string Orthanc) ExtraConfiguration =>
        ("\"RestApiWriteToFileSystemEnabled\": true", "\"RestApiWriteToFileSystemEnabled\": true");

    public string Folder { get; } = Directory.CreateTempSubdirectory("ow-module-").FullName;

    public string EveryAttributeFile => Path.Combine(Folder, "every-attribute.dcm");
    public string CyrillicFile => Path.Combine(Folder, "cyrillic.dcm");

    protected override async Task LoadAsync()
    {
        await base.LoadAsync();
        var made = Peers.Run(Peers.DebianPython, "-c", $$"""
            import pydicom, pydicom.data
            from pydicom.dataset import Dataset, FileMetaDataset
            from pydicom.datadict import DicomDictionary
            from pydicom.uid import ExplicitVRLittleEndian
            values = {'DA': '20200101', 'TM': '120000', 'DT': '20200101120000', 'UI': '1.2.3.4', 'AS': '030Y', 'CS': 'A',
                      'DS': '1', 'IS': '1', 'AE': 'AE', 'LO': 'lo', 'SH': 'sh', 'LT': 'lt', 'ST': 'st', 'UT': 'ut', 'UC': 'uc',
                      'UR': 'http://x', 'PN': 'P^N', 'US': 1, 'SS': 1, 'UL': 1, 'SL': 1, 'FL': 1.0, 'FD': 1.0, 'SV': 1, 'UV': 1,
                      'AT': 0x00100010}
            ds = Dataset()
            for tag, (vr, vm, name, retired, keyword) in DicomDictionary.items():
                group = tag >> 16
                if group in (0x0000, 0x0002, 0x0004, 0x0006, 0x7fe0, 0xfffe) or group % 2: continue
                vr = vr.split(' or ')[0]
                if vr == 'SQ':
                    item = Dataset(); item.CodeValue = 'X'
                    ds.add_new(tag, vr, [item])
                elif vr in values:
                    ds.add_new(tag, vr, values[vr])
                else:
                    ds.add_new(tag, vr, b'\0' * 8)
            ds.SpecificCharacterSet = 'ISO_IR 100'
            ds.PatientID = 'EVERY-ATTRIBUTE'
            ds.StudyInstanceUID = '1.2.826.0.1.3680043.8.498.1'; ds.SeriesInstanceUID = '1.2.826.0.1.3680043.8.498.2'
            ds.SOPInstanceUID = '1.2.826.0.1.3680043.8.498.3'; ds.SOPClassUID = '1.2.840.10008.5.1.4.1.1.7'
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.is_little_endian = True; ds.is_implicit_VR = False
            ds.save_as("{{EveryAttributeFile}}", write_like_original=False)

            # A Cyrillic name and description in ISO 8859-5, and no Specific Character Set, as some modalities send.
            ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
            del ds.SpecificCharacterSet
            ds.PatientName = None
            ds.add_new(0x00100010, "PN", "Иванов^Иван".encode("iso8859_5"))
            ds.add_new(0x00081030, "LO", "Исследование".encode("iso8859_5"))
            ds.PatientID = "RECONSTRUCT-1"
            ds.StudyInstanceUID = '1.2.826.0.1.3680043.8.498.11'; ds.SeriesInstanceUID = '1.2.826.0.1.3680043.8.498.12'
            ds.SOPInstanceUID = '1.2.826.0.1.3680043.8.498.13'; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as("{{CyrillicFile}}")

            # Two series for ordered-slices: three parallel slices out of order (a volume), three without a position
            # whose instance numbers disagree with their arrival order (a sequence).
            for i, (series, z, number) in enumerate([(42, 10.0, 3), (42, -5.0, 1), (42, 2.5, 2), (43, None, 5), (43, None, 2), (43, None, 9)]):
                ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
                ds.PatientID = "SLICES"; ds.StudyInstanceUID = '1.2.826.0.1.3680043.8.498.41'
                ds.SeriesInstanceUID = '1.2.826.0.1.3680043.8.498.%d' % series
                ds.SOPInstanceUID = '1.2.826.0.1.3680043.8.498.44.%d' % i; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]; ds.InstanceNumber = number
                if z is None: del ds.ImagePositionPatient
                else: ds.ImagePositionPatient = [0, 0, z]
                ds.save_as("{{Folder}}/slice%d.dcm" % i)

            # One patient, two studies, values that differ from file to file and a long comment: which instance a
            # module is read from shows, and ignore-length has something to show whole.
            for i, (birth, study) in enumerate([('19700101', 51), ('19800101', 52), ('19900101', 51)]):
                ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
                ds.PatientID = 'PICK'; ds.PatientBirthDate = birth; ds.PatientComments = 'x' * 300
                ds.StudyInstanceUID = '1.2.826.0.1.3680043.8.498.%d' % study; ds.SeriesInstanceUID = '1.2.826.0.1.3680043.8.498.6%d' % i
                ds.SOPInstanceUID = '1.2.826.0.1.3680043.8.498.7%d' % i; ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.save_as("{{Folder}}/pick%d.dcm" % i)
            """);
        if (made.ExitCode != 0) throw new InvalidOperationException(made.Stderr);
        foreach (var file in new[] { EveryAttributeFile, CyrillicFile }.Concat(Enumerable.Range(0, 6).Select(i => Path.Combine(Folder, $"slice{i}.dcm")))
                     .Concat(Enumerable.Range(0, 3).Select(i => Path.Combine(Folder, $"pick{i}.dcm"))))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            foreach (var client in new[] { OursClient, OrthancClient })
                (await client.PostAsync("/instances", new ByteArrayContent(bytes))).EnsureSuccessStatusCode();
        }
    }

    /// <summary>The path of the one resource an identifier names (orthanc's /tools/lookup), e.g. "/studies/{id}".</summary>
    public static async Task<string> LookupAsync(HttpClient client, string identifier)
    {
        using var response = await client.PostAsync("/tools/lookup", new StringContent(identifier));
        var found = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        Assert.True(found.Count == 1, $"lookup {identifier}: {found.ToJsonString()}");
        return found[0]!["Path"]!.GetValue<string>();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(Folder, true);
    }
}

/// <summary>module and module-patient, reconstruct, the export to a file and the export log, answered as orthanc 1.10.1 does.</summary>
public sealed class ModuleReconstructExportTests(ModuleReconstructExportFixture fx) : IClassFixture<ModuleReconstructExportFixture>
{
    private static readonly HashSet<string> Volatile = ["LastUpdate", "IsStable", "FileSize", "FileUuid"];

    /// <param name="module">A module's attributes: the keys must be the same both ways (ours may add none), Other
    /// Patient IDs' name aside (see <see cref="SampleFileTagsTests.Normalized"/>).</param>
    private async Task AssertSameAsync(HttpMethod method, string path, string? body = null, bool module = false)
    {
        var (ours, orthanc) = await fx.SendBothAsync(method, path, body);
        Assert.True(orthanc.Status == ours.Status, $"{method} {path}: orthanc {orthanc.Status}, ours {ours.Status}: {ours.Body}");
        if (orthanc.Status / 100 != 2)
        {
            // Errors: the same Orthanc code (our Message holds the reason where orthanc repeats the code's text).
            if (orthanc.Body.Length > 0) Assert.Equal(orthanc.Json!["OrthancStatus"]!.GetValue<int>(), ours.Json!["OrthancStatus"]!.GetValue<int>());
            else Assert.Equal("", ours.Body);
            return;
        }
        if (orthanc.Body.Length == 0)
        {
            Assert.Equal("", ours.Body);
            return;
        }
        var (left, right) = module ? (SampleFileTagsTests.Normalized(orthanc.Json!), SampleFileTagsTests.Normalized(ours.Json!)) : (orthanc.Json, ours.Json);
        var differences = JsonDifference.Between(left, right, Volatile);
        if (module)
            differences.AddRange(JsonDifference.Between(right, left, Volatile).Where(d => d.EndsWith("missing in ours", StringComparison.Ordinal))
                .Select(d => d.Replace("missing in ours", "only in ours", StringComparison.Ordinal)));
        Assert.True(differences.Count == 0, $"{method} {path}:\n" + string.Join("\n", differences.Take(20)));
    }

    private async Task<List<string>> IdsAsync(string collection) =>
        (await Rest.GetJsonAsync(fx.OrthancClient, "/" + collection)).AsArray().Select(n => n!.GetValue<string>()).ToList();

    [Fact]
    public async Task Each_level_answers_the_attributes_of_its_module_in_every_shape()
    {
        foreach (var collection in new[] { "patients", "studies", "series", "instances" })
            foreach (var id in await IdsAsync(collection))
                foreach (var shape in new[] { "", "?simplify", "?short", "?simplify&ignore-length=PatientComments,StudyDescription", "?ignore-length=0010-4000", "?ignore-length=Bogus" })
                {
                    await AssertSameAsync(HttpMethod.Get, $"/{collection}/{id}/module{shape}", module: true);
                    if (collection == "studies") await AssertSameAsync(HttpMethod.Get, $"/{collection}/{id}/module-patient{shape}", module: true);
                }
        // Orthanc 1.10.1 has module-patient for studies only: for a series or an instance both answer an unknown route.
        foreach (var collection in new[] { "series", "instances" })
        {
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, $"/{collection}/{(await IdsAsync(collection))[0]}/module-patient");
            Assert.Equal((404, 404), (orthanc.Status, ours.Status));
        }
        await AssertSameAsync(HttpMethod.Get, "/studies/not-a-study/module");
        await AssertSameAsync(HttpMethod.Get, "/studies/not-a-study/module-patient");
        // The file holding every attribute: each level answers its whole module (24, 17, 26 and 21 attributes).
        var counts = new List<int>();
        foreach (var identifier in new[] { "EVERY-ATTRIBUTE", "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2", "1.2.826.0.1.3680043.8.498.3" })
            counts.Add((await Rest.GetJsonAsync(fx.OursClient, await ModuleReconstructExportFixture.LookupAsync(fx.OursClient, identifier) + "/module")).AsObject().Count);
        Assert.Equal([24, 17, 26, 21], counts);
    }

    [Fact]
    public async Task Ordered_slices_lists_a_volume_by_position_and_a_sequence_by_instance_number()
    {
        var types = new List<string>();
        foreach (var series in await IdsAsync("series"))
        {
            await AssertSameAsync(HttpMethod.Get, $"/series/{series}/ordered-slices");
            // The order is the point (the comparison above takes lists of strings as sets).
            var (ours, orthanc) = await fx.SendBothAsync(HttpMethod.Get, $"/series/{series}/ordered-slices");
            foreach (var key in new[] { "Dicom", "Slices", "SlicesShort" })
                Assert.Equal(orthanc.Json![key]!.ToJsonString(), ours.Json![key]!.ToJsonString());
            types.Add(ours.Json!["Type"]!.GetValue<string>());
        }
        Assert.Contains("Volume", types);
        await AssertSameAsync(HttpMethod.Get, "/series/not-a-series/ordered-slices");
    }

    [Fact]
    public async Task Reconstruct_reads_the_files_again_with_the_default_encoding_in_force()
    {
        var patient = (await ModuleReconstructExportFixture.LookupAsync(fx.OursClient, "RECONSTRUCT-1")).Split('/')[^1];
        var study = (await ModuleReconstructExportFixture.LookupAsync(fx.OursClient, "1.2.826.0.1.3680043.8.498.11")).Split('/')[^1];
        var oursLast = (await Rest.GetJsonAsync(fx.OursClient, "/changes?since=0&limit=10000"))["Last"]!.GetValue<long>();
        var orthancLast = (await Rest.GetJsonAsync(fx.OrthancClient, "/changes?since=0&limit=10000"))["Last"]!.GetValue<long>();
        try
        {
            // Stored under Latin1: the name reads as Latin-1 letters. A new default alone changes nothing stored...
            await fx.SendBothAsync(HttpMethod.Put, "/tools/default-encoding", "Cyrillic");
            Assert.NotEqual("Иванов^Иван", await PatientNameAsync(patient));
            await AssertSameAsync(HttpMethod.Get, $"/patients/{patient}");
            // ...until the study is reconstructed: its main tags and its patient's are read again from the file.
            await AssertSameAsync(HttpMethod.Post, $"/studies/{study}/reconstruct");
            Assert.Equal("Иванов^Иван", await PatientNameAsync(patient));
            await AssertSameAsync(HttpMethod.Get, $"/patients/{patient}");
            await AssertSameAsync(HttpMethod.Get, $"/studies/{study}");
            await AssertSameAsync(HttpMethod.Post, "/tools/find", """{"Level": "Study", "Query": {"StudyDescription": "Исследование"}}""");

            // Every level, the whole index, and an unknown resource; a body (orthanc 1.11's options) is ignored.
            await fx.SendBothAsync(HttpMethod.Put, "/tools/default-encoding", "Latin1");
            foreach (var collection in new[] { "patients", "series", "instances" })
                await AssertSameAsync(HttpMethod.Post, $"/{collection}/{(await IdsAsync(collection))[0]}/reconstruct");
            await AssertSameAsync(HttpMethod.Post, "/tools/reconstruct", """{"ReconstructFiles": false}""");
            Assert.NotEqual("Иванов^Иван", await PatientNameAsync(patient));
            await AssertSameAsync(HttpMethod.Get, $"/studies/{study}");
            await AssertSameAsync(HttpMethod.Post, "/patients/not-a-patient/reconstruct");
            // A reconstruction logs no change (orthanc's stability changes aside, which its 1 s StableAge may bring meanwhile).
            foreach (var (client, last) in new[] { (fx.OursClient, oursLast), (fx.OrthancClient, orthancLast) })
            {
                var changes = (await Rest.GetJsonAsync(client, $"/changes?since={last}&limit=1000"))["Changes"]!.AsArray();
                Assert.All(changes, c => Assert.StartsWith("Stable", c!["ChangeType"]!.GetValue<string>(), StringComparison.Ordinal));
            }
        }
        finally
        {
            await fx.SendBothAsync(HttpMethod.Put, "/tools/default-encoding", "Latin1");
        }
    }

    private async Task<string> PatientNameAsync(string patient) =>
        (await Rest.GetJsonAsync(fx.OursClient, $"/patients/{patient}"))["MainDicomTags"]!["PatientName"]!.GetValue<string>();

    [Fact]
    public async Task Export_writes_the_stored_file_where_the_body_says_and_the_export_log_stays_empty()
    {
        var ct = await ModuleReconstructExportFixture.LookupAsync(fx.OursClient, CtSopInstanceUid);
        var (oursPath, orthancPath) = (Path.Combine(fx.Folder, "ours.dcm"), Path.Combine(fx.Folder, "orthanc.dcm"));
        var (ours, orthanc) = (await Send(fx.OursClient, oursPath), await Send(fx.OrthancClient, orthancPath));
        Assert.Equal((200, "{}"), (orthanc.Status, orthanc.Json!.ToJsonString()));
        Assert.Equal((200, "{}"), (ours.Status, ours.Json!.ToJsonString()));
        var sample = await File.ReadAllBytesAsync(Rest.Sample("CT_small.dcm"));
        Assert.Equal(sample, await File.ReadAllBytesAsync(orthancPath));
        Assert.Equal(sample, await File.ReadAllBytesAsync(oursPath));

        await AssertSameAsync(HttpMethod.Post, "/instances/not-an-instance/export", Path.Combine(fx.Folder, "none.dcm"));
        await AssertSameAsync(HttpMethod.Post, $"{ct}/export", Path.Combine(fx.Folder, "no-such-folder", "x.dcm"));
        await AssertSameAsync(HttpMethod.Post, $"{ct}/export", "");
        // Ours only: never into its own data directory (the index and the storage area are there).
        var inside = await Send(fx.OursClient, Path.Combine(fx.Ours.DataDirectory, "index-overwritten.dcm"));
        Assert.Equal(500, inside.Status);
        Assert.Equal(14, inside.Json!["OrthancStatus"]!.GetValue<int>());
        Assert.False(File.Exists(Path.Combine(fx.Ours.DataDirectory, "index-overwritten.dcm")));

        await AssertSameAsync(HttpMethod.Get, "/exports");
        await AssertSameAsync(HttpMethod.Delete, "/exports");
        await AssertSameAsync(HttpMethod.Get, "/exports?since=0&limit=10");
    }

    private const string CtSopInstanceUid = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";

    /// <summary>POST /instances/{CT_small}/export with a path, to one server.</summary>
    private static async Task<Answer> Send(HttpClient client, string path)
    {
        using var response = await client.PostAsync(await ModuleReconstructExportFixture.LookupAsync(client, CtSopInstanceUid) + "/export", new StringContent(path));
        return new Answer((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
