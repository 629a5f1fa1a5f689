using System.Text.Json;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Dicom;

/// <summary>Every text value of pydicom's character set files decodes to what pydicom decodes, and encodes back.</summary>
public sealed class CharacterSetTests
{
    /// <summary>Prints every character-set-dependent value of a file, as pydicom decodes it, keyed by tag path.</summary>
    private const string PydicomDump = """
        import json, sys, pydicom
        ds = pydicom.dcmread(sys.argv[1])
        ds.decode()
        out = {}
        def walk(d, prefix):
            for e in d:
                key = prefix + '%08X' % e.tag
                if e.VR == 'SQ':
                    for i, item in enumerate(e.value):
                        walk(item, key + '[%d].' % i)
                elif e.VR in ('PN', 'SH', 'LO', 'ST', 'LT', 'UT', 'UC') and e.value is not None:
                    v = e.value
                    if isinstance(v, (list, pydicom.multival.MultiValue)):
                        v = '\\'.join(str(x) for x in v)
                    out[key] = str(v)
        walk(ds, '')
        print(json.dumps(out))
        """;

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Peers.PydicomFiles("charset_files")) data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Decodes_like_pydicom(string name)
    {
        var path = Path.Combine(Peers.PydicomDir("charset_files"), name);
        var run = Peers.Run(Peers.DebianPython, "-c", PydicomDump, path);
        Assert.True(run.ExitCode == 0, $"pydicom failed on {name}: {run.Stderr}");
        var expected = JsonSerializer.Deserialize<Dictionary<string, string>>(System.Text.Encoding.UTF8.GetBytes(
            System.Text.Encoding.Latin1.GetBytes(run.Stdout) is var raw ? System.Text.Encoding.UTF8.GetString(raw) : ""))!;
        Assert.NotEmpty(expected);

        var ours = new Dictionary<string, string>();
        var unknown = new HashSet<string>();
        Walk(DicomFile.Open(path).Dataset, "", ours, unknown);
        foreach (var (key, value) in expected)
        {
            // A private element stored as UN: pydicom guesses its VR from a private dictionary; we keep the bytes.
            if (unknown.Contains(key)) continue;
            Assert.True(ours.TryGetValue(key, out var mine), $"{name}: we have no text value at {key}");
            Assert.True(Normalize(value) == Normalize(mine), $"{name} {key}: pydicom '{value}', ours '{mine}'");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Encoding_the_decoded_text_decodes_to_the_same_text(string name)
    {
        var ds = DicomFile.Open(Path.Combine(Peers.PydicomDir("charset_files"), name)).Dataset;
        var cs = ds.CharacterSet;
        foreach (var vrTag in new[] { DicomTags.PatientName, DicomTags.InstitutionName, DicomTags.StudyDescription })
        {
            if (ds[vrTag] is not DicomElement e) continue;
            var text = cs.Decode(e.Buffer.Memory.Span, e.VR);
            Assert.Equal(text, cs.Decode(cs.Encode(text, e.VR), e.VR));
        }
    }

    [Fact]
    public void Iso2022_japanese_person_name_is_encoded_with_escape_sequences()
    {
        var cs = new DicomCharacterSet(["", "ISO 2022 IR 87"]);
        var bytes = cs.Encode("Yamada^Tarou=山田^太郎", DicomVR.PN);
        Assert.Contains((byte)0x1B, bytes);
        Assert.Equal("Yamada^Tarou=山田^太郎", cs.Decode(bytes, DicomVR.PN));
        // Per PS3.5 §6.1.2.5.3 the ideographic group returns to ASCII before each delimiter.
        Assert.Equal("Yamada^Tarou=\u001b$B;3ED\u001b(B^\u001b$BB@O:\u001b(B", System.Text.Encoding.Latin1.GetString(bytes));
    }

    [Fact]
    public void Item_without_its_own_character_set_inherits_the_enclosing_one()
    {
        var ds = DicomFile.Open(Path.Combine(Peers.PydicomDir("charset_files"), "chrSQEncoding1.dcm")).Dataset;
        var item = ds.OfType<DicomSequence>().First().Items[0];
        Assert.Same(ds.CharacterSet, item.CharacterSet);
    }

    /// <summary>pydicom drops empty trailing PN component groups ("A^B=" becomes "A^B"); we return the value as stored.</summary>
    private static string Normalize(string s) => s.TrimEnd(' ', '\0').TrimEnd('=');

    private static void Walk(DicomDataset ds, string prefix, Dictionary<string, string> into, HashSet<string> unknown)
    {
        foreach (var item in ds)
        {
            var key = prefix + item.Tag.ToJsonKey();
            if (item is DicomSequence s)
                for (var i = 0; i < s.Items.Count; i++) Walk(s.Items[i], $"{key}[{i}].", into, unknown);
            else if (item is DicomElement e && e.VR.UsesCharacterSet)
                into[key] = ds.GetString(e.Tag) ?? "";
            else if (item.VR == DicomVR.UN)
                unknown.Add(key);
        }
    }
}
