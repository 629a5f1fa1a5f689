using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Dicom;

/// <summary>Writing back what was read: byte-identical in the file's own syntax, every value kept across syntaxes.</summary>
public sealed class RoundTripTests
{
    /// <summary>Files that are not well-formed, so a faithful writer cannot reproduce their bytes.</summary>
    private static readonly Dictionary<string, string> NotWellFormed = new()
    {
        ["ExplVR_BigEndNoMeta.dcm"] = "no preamble and no meta group: we write both",
        ["ExplVR_LitEndNoMeta.dcm"] = "no preamble and no meta group: we write both",
        ["no_meta_group_length.dcm"] = "meta group without (0002,0000): we write it (PS3.10 §7.1 makes it mandatory)",
        ["meta_missing_tsyntax.dcm"] = "meta group without Transfer Syntax UID: we write it",
        ["nested_priv_SQ.dcm"] = "odd value length (9): we pad to even (PS3.5 §7.1.1)",
        ["rtstruct.dcm"] = "raw data set without preamble or meta group: we write both",
        ["chrKoreanMulti.dcm"] = "wrong group lengths in the file: we write the true ones",
        ["chrJapMulti.dcm"] = "wrong group lengths in the file: we write the true ones",
        ["chrJapMultiExplicitIR6.dcm"] = "wrong group lengths in the file: we write the true ones",
        ["693_J2KI.dcm"] = "wrong group lengths in the file: we write the true ones",
        ["no_meta.dcm"] = "unreadable (see DcmdumpConformanceTests)",
        ["SC_rgb_jpeg.dcm"] = "unreadable (see DcmdumpConformanceTests)",
        ["MR_truncated.dcm"] = "unreadable (see DcmdumpConformanceTests)",
        ["rtplan_truncated.dcm"] = "unreadable (see DcmdumpConformanceTests)",
    };

    public static TheoryData<string> Files() => DcmdumpConformanceTests.Files();

    [Theory]
    [MemberData(nameof(Files))]
    public void Well_formed_file_is_written_back_byte_identical(string name)
    {
        var path = Path.Combine(Peers.PydicomData, name);
        var original = File.ReadAllBytes(path);
        if (NotWellFormed.ContainsKey(Path.GetFileName(path)))
            return;
        var file = DicomFile.Open(path);
        var written = file.ToBytes();
        if (file.TransferSyntax.IsDeflated)
        {
            // Deflate output depends on the compressor: compare the meta group as bytes and the data set inflated.
            (original, written) = (Inflated(original), Inflated(written));
        }
        if (!original.AsSpan().SequenceEqual(written))
        {
            var at = original.AsSpan().CommonPrefixLength(written);
            Assert.Fail($"{name}: our copy differs from byte {at} (original {original.Length} bytes, ours {written.Length})");
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Re_encoding_between_uncompressed_syntaxes_keeps_every_value(string name)
    {
        var path = Path.Combine(Peers.PydicomData, name);
        if (NotWellFormed.TryGetValue(Path.GetFileName(path), out var why) && why.StartsWith("unreadable", StringComparison.Ordinal)) return;
        var source = DicomFile.Open(path);
        if (source.TransferSyntax.IsEncapsulated) return;
        var expected = Values(source.Dataset);
        foreach (var syntax in new[] { TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ExplicitVRBigEndian, TransferSyntax.DeflatedExplicitVRLittleEndian })
        {
            var copy = new DicomFile(source.Dataset, syntax) { Preamble = source.Preamble };
            foreach (var m in source.FileMetaInfo) copy.FileMetaInfo.AddOrUpdate(m);
            var reread = DicomFile.Open(copy.ToBytes());
            Assert.Equal(syntax, reread.TransferSyntax);
            var actual = Values(reread.Dataset);
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
                Assert.True(expected[i] == actual[i], $"{name} as {syntax}: {expected[i]} became {actual[i]}");
        }
    }

    private static byte[] Inflated(byte[] file)
    {
        var metaEnd = 132 + 12 + BitConverter.ToInt32(file, 140);
        using var inflate = new System.IO.Compression.DeflateStream(new MemoryStream(file, metaEnd, file.Length - metaEnd), System.IO.Compression.CompressionMode.Decompress);
        using var output = new MemoryStream();
        output.Write(file, 0, metaEnd);
        inflate.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>Every element's tag and bytes, flattened through sequences (group lengths excluded: they are recomputed).</summary>
    private static List<string> Values(DicomDataset ds, string prefix = "")
    {
        var list = new List<string>();
        foreach (var item in ds)
        {
            switch (item)
            {
                case DicomSequence s:
                    for (var i = 0; i < s.Items.Count; i++) list.AddRange(Values(s.Items[i], $"{prefix}{s.Tag}[{i}]."));
                    break;
                case DicomElement e when !e.Tag.IsGroupLength:
                    var bytes = e.Buffer.Memory.ToArray();
                    list.Add($"{prefix}{e.Tag} {Convert.ToHexString(bytes.Length % 2 == 1 ? [.. bytes, e.VR.Padding] : bytes)}");
                    break;
            }
        }
        return list;
    }
}
