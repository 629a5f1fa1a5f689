using System.Globalization;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Dicom.Json;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Dicom;

/// <summary>PS3.18 Annex F against pydicom's independent writer, both directions; Orthanc's two REST shapes.</summary>
public sealed class JsonTests
{
    private const string PydicomJson = """
        import sys, pydicom
        ds = pydicom.dcmread(sys.argv[1])
        if 'PixelData' in ds:
            del ds.PixelData
        print(ds.to_json(bulk_data_threshold=1 << 30))
        """;

    [Theory]
    [InlineData("CT_small.dcm")]
    [InlineData("MR_small.dcm")]
    [InlineData("rtplan.dcm")]
    [InlineData("test-SR.dcm")]
    [InlineData("waveform_ecg.dcm")]
    public void Dicom_json_matches_pydicom(string name)
    {
        var path = Path.Combine(Peers.PydicomDir("test_files"), name);
        var run = Peers.Run(Peers.DebianPython, "-c", PydicomJson, path);
        Assert.True(run.ExitCode == 0, run.Stderr);
        var theirs = JsonNode.Parse(System.Text.Encoding.UTF8.GetString(System.Text.Encoding.Latin1.GetBytes(run.Stdout)))!.AsObject();
        var ds = DicomFile.Open(path).Dataset;
        ds.Remove(DicomTags.PixelData);
        var ours = JsonNode.Parse(new DicomJsonModel().Serialize(ds))!.AsObject();
        Compare(theirs, ours, name);
    }

    private static void Compare(JsonObject theirs, JsonObject ours, string where)
    {
        foreach (var (key, node) in theirs)
        {
            Assert.True(ours.ContainsKey(key), $"{where}: {key} missing from our JSON");
            var t = node!.AsObject();
            var o = ours[key]!.AsObject();
            Assert.Equal(t["vr"]!.GetValue<string>(), o["vr"]!.GetValue<string>());
            if (t["Value"] is not JsonArray tv) continue;
            var ov = o["Value"] as JsonArray;
            // An attribute with no values has no "Value" (PS3.18 §F.2.2); pydicom writes an empty array for empty sequences.
            if (tv.Count == 0 && ov is null) continue;
            Assert.True(ov is not null, $"{where} {key}: {tv.ToJsonString()} vs nothing");
            Assert.True(ov.Count == tv.Count, $"{where} {key}: {tv.ToJsonString()} vs {ov.ToJsonString()}");
            for (var i = 0; i < tv.Count; i++)
            {
                switch (tv[i])
                {
                    case JsonObject item when t["vr"]!.GetValue<string>() == "SQ":
                        Compare(item, ov[i]!.AsObject(), $"{where} {key}[{i}]");
                        break;
                    case JsonValue v when v.TryGetValue<double>(out var d):
                        // FL values: pydicom writes the float widened to double, we write its shortest form; same float.
                        var mine = ov[i]!.GetValue<double>();
                        Assert.True(Math.Abs(d - mine) <= 1e-6 * Math.Max(1, Math.Abs(d)), $"{where} {key}[{i}]: {d} vs {mine}");
                        break;
                    default:
                        Assert.Equal(tv[i]?.ToJsonString(), ov[i]?.ToJsonString());
                        break;
                }
            }
        }
    }

    [Theory]
    [InlineData("CT_small.dcm")]
    [InlineData("rtplan.dcm")]
    [InlineData("test-SR.dcm")]
    public void Dicom_json_reads_back_to_the_same_values(string name)
    {
        var ds = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), name)).Dataset;
        var model = new DicomJsonModel();
        var back = model.Deserialize(model.Serialize(ds));
        foreach (var item in ds)
        {
            if (item.Tag.IsGroupLength || item is DicomFragmentSequence) continue;
            Assert.True(back.Contains(item.Tag), $"{item.Tag} lost");
            if (item is DicomElement e && e.VR.Kind is not VRKind.DecimalString)
                Assert.Equal(ds.GetStrings(e.Tag), back.GetStrings(e.Tag));
            if (item is DicomElement ds2 && ds2.VR.Kind is VRKind.DecimalString)
                Assert.Equal(ds.GetValues<double>(item.Tag), back.GetValues<double>(item.Tag));
        }
    }

    [Fact]
    public void Bulk_data_uri_hook_replaces_inline_binary()
    {
        var ds = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")).Dataset;
        var json = JsonNode.Parse(new DicomJsonModel { BulkDataUri = (path, _) => $"/bulk/{path[^1].ToJsonKey()}" }.Serialize(ds))!;
        Assert.Equal("/bulk/7FE00010", json["7FE00010"]!["BulkDataURI"]!.GetValue<string>());
        Assert.Null(json["7FE00010"]!["InlineBinary"]);
    }

    [Fact]
    public void Orthanc_full_and_simplified_shapes()
    {
        var ds = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), "rtplan.dcm")).Dataset;
        var full = new OrthancJson().ToFull(ds);
        Assert.Equal("PatientName", full["0010,0010"]!["Name"]!.GetValue<string>());
        Assert.Equal("String", full["0010,0010"]!["Type"]!.GetValue<string>());
        Assert.Equal("Last^First^mid^pre", full["0010,0010"]!["Value"]!.GetValue<string>());
        var seq = full["300a,0010"]!;
        Assert.Equal("Sequence", seq["Type"]!.GetValue<string>());
        Assert.Equal(2, seq["Value"]!.AsArray().Count);
        Assert.Equal("1", seq["Value"]![0]!["300a,0012"]!["Value"]!.GetValue<string>());
        // Present without a value: an empty string, as Orthanc shows it (an absent element is not there at all).
        Assert.Equal("String", full["0010,0030"]!["Type"]!.GetValue<string>());
        Assert.Equal("", full["0010,0030"]!["Value"]!.GetValue<string>());
        Assert.Null(full["0010,1010"]); // PatientAge is not in the file

        var simple = new OrthancJson().ToSimplified(ds);
        Assert.Equal("Last^First^mid^pre", simple["PatientName"]!.GetValue<string>());
        Assert.Equal("COORDINATES", simple["DoseReferenceSequence"]![0]!["DoseReferenceStructureType"]!.GetValue<string>());

        var ct = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")).Dataset;
        var ctFull = new OrthancJson { MaximumStringLength = 8 }.ToFull(ct);
        // Pixel data is there, its value left out, as Orthanc shows it.
        Assert.Equal("Null", ctFull["7fe0,0010"]!["Type"]!.GetValue<string>());
        Assert.Null(ctFull["7fe0,0010"]!["Value"]);
        Assert.Equal("TooLong", ctFull["0008,0018"]!["Type"]!.GetValue<string>());
        Assert.Equal("128", new OrthancJson().ToFull(ct)["0028,0010"]!["Value"]!.GetValue<string>());
    }
}
