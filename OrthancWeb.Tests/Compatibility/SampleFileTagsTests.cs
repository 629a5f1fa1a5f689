using System.Text.Json.Nodes;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Compatibility;

/// <summary>
/// Every one of pydicom's real sample files sent to our server and to Debian's orthanc: the same files accepted under
/// the same IDs, and the same tags read back, in the full and the simplified shape.
/// </summary>
public sealed class SampleFilesFixture : OrthancDifferentialFixture
{
    /// <summary>Per file: the status and instance ID each server answered to its upload.</summary>
    public Dictionary<string, (int Status, string? Id, int OrthancStatus, string? OrthancId)> Uploads { get; } = [];

    protected override async Task LoadAsync()
    {
        foreach (var path in Directory.GetFiles(Peers.PydicomDir("test_files"), "*.dcm").Order(StringComparer.Ordinal))
        {
            var bytes = await File.ReadAllBytesAsync(path);
            var (status, id) = await UploadAsync(OursClient, bytes);
            var (orthancStatus, orthancId) = await UploadAsync(OrthancClient, bytes);
            Uploads[Path.GetFileName(path)] = (status, id, orthancStatus, orthancId);
        }
    }

    private static async Task<(int, string?)> UploadAsync(HttpClient client, byte[] bytes)
    {
        using var response = await client.PostAsync("/instances", new ByteArrayContent(bytes));
        var body = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, response.IsSuccessStatusCode ? JsonNode.Parse(body)!["ID"]!.GetValue<string>() : null);
    }
}

public sealed class SampleFileTagsTests(SampleFilesFixture fx) : IClassFixture<SampleFilesFixture>
{
    /// <summary>
    /// Files where Orthanc's answer differs from ours for a reason README's compatibility section gives:
    /// J2K_pixelrep_mismatch declares ISO 2022 IR 13, where Orthanc turns the value delimiter into a yen sign;
    /// rtdose_rle* hold every element as UN, where Orthanc keeps the values' padding (and so hashes other IDs);
    /// MR_truncated repeats MR_small's UIDs, so ours finds it already stored where orthanc reads it to the end.
    /// </summary>
    private static readonly HashSet<string> Documented = ["J2K_pixelrep_mismatch.dcm", "rtdose_rle.dcm", "rtdose_rle_1frame.dcm", "MR_truncated.dcm"];

    private IEnumerable<(string File, string Ours, string Orthanc)> BothStored() =>
        fx.Uploads.Where(u => !Documented.Contains(u.Key) && u.Value.Id is not null && u.Value.OrthancId is not null)
            .Select(u => (u.Key, u.Value.Id!, u.Value.OrthancId!));

    [Fact]
    public void The_files_orthanc_accepts_are_accepted_under_the_same_ids()
    {
        var accepted = fx.Uploads.Where(u => !Documented.Contains(u.Key) && u.Value.OrthancStatus == 200).ToList();
        Assert.True(accepted.Count >= 50, $"only {accepted.Count} sample files accepted by orthanc");
        var refused = accepted.Where(u => u.Value.Status != 200).Select(u => $"{u.Key}: ours {u.Value.Status}").ToList();
        Assert.True(refused.Count == 0, "refused by us, accepted by orthanc:\n" + string.Join("\n", refused));
        var otherIds = accepted.Where(u => u.Value.Id != u.Value.OrthancId).Select(u => $"{u.Key}: {u.Value.Id} vs {u.Value.OrthancId}").ToList();
        Assert.True(otherIds.Count == 0, string.Join("\n", otherIds));
        // Among them, files without a PatientID (four of pydicom's): stored under the empty patient ID, as Orthanc does.
        Assert.Contains("ExplVR_BigEndNoMeta.dcm", accepted.Select(u => u.Key));
    }

    [Fact]
    public async Task A_file_without_patient_id_is_under_the_empty_patient_id()
    {
        var id = fx.Uploads["ExplVR_BigEndNoMeta.dcm"].Id;
        Assert.NotNull(id);
        var patient = await Rest.GetJsonAsync(fx.OursClient, $"/instances/{id}/patient");
        // The patient's public ID is the hash of the empty ID (SHA-1 of nothing), as in Orthanc.
        Assert.Equal("da39a3ee-5e6b4b0d-3255bfef-95601890-afd80709", patient["ID"]!.GetValue<string>());
        Assert.Null(patient["MainDicomTags"]!["PatientID"]);
        Assert.Equal(fx.Uploads["ExplVR_BigEndNoMeta.dcm"].OrthancId, id);
    }

    [Theory]
    [InlineData("tags")]
    [InlineData("simplified-tags")]
    [InlineData("tags?short")]
    public async Task Every_sample_reads_back_with_the_tags_orthanc_shows(string route)
    {
        var failures = new List<string>();
        var compared = 0;
        foreach (var (file, ours, orthanc) in BothStored())
        {
            var mine = Normalized(await Rest.GetJsonAsync(fx.OursClient, $"/instances/{ours}/{route}"));
            var theirs = Normalized(await Rest.GetJsonAsync(fx.OrthancClient, $"/instances/{orthanc}/{route}"));
            var differences = JsonDifference.Between(theirs, mine, new HashSet<string>());
            // Ours may have more fields (JsonDifference allows that); for tags, not more elements.
            var extra = mine is JsonObject m && theirs is JsonObject t ? m.Select(p => p.Key).Except(t.Select(p => p.Key)).ToList() : [];
            if (differences.Count > 0 || extra.Count > 0)
                failures.Add($"{file}: " + string.Join("; ", differences.Concat(extra.Select(e => "extra " + e)).Take(6)));
            compared++;
        }
        Assert.True(compared >= 45, $"only {compared} files compared");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>
    /// The answer without Other Patient IDs' name: retired in the DICOM dictionary both DCMTK and we follow, but not in
    /// the older one Orthanc 1.10.1 embeds (README lists it).
    /// </summary>
    internal static JsonNode Normalized(JsonNode node)
    {
        if (node is not JsonObject o) return node;
        var result = new JsonObject();
        foreach (var (key, value) in o)
        {
            if (key is "OtherPatientIDs" or "RETIRED_OtherPatientIDs") continue;
            var copy = value?.DeepClone();
            if (copy is JsonObject element)
            {
                if (element["Name"]?.GetValue<string>() is "OtherPatientIDs" or "RETIRED_OtherPatientIDs") element.Remove("Name");
                if (element["Value"] is JsonArray items) element["Value"] = new JsonArray(items.Select(i => i is null ? null : Normalized(i)).ToArray());
            }
            else if (copy is JsonArray array) copy = new JsonArray(array.Select(i => i is null ? null : Normalized(i)).ToArray());
            result[key] = copy;
        }
        return result;
    }
}
