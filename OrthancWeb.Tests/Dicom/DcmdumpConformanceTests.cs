using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Dicom;

/// <summary>
/// Our reader against DCMTK's on every real file pydicom ships and on variants dcmconv makes of them: same elements,
/// VRs, lengths and values. Our writer's output must read back in dcmdump without a warning, listing the same.
/// </summary>
public sealed class DcmdumpConformanceTests(ITestOutputHelper output)
{
    /// <summary>Files that are broken on purpose; both readers must refuse them or we must explain why not.</summary>
    private static readonly Dictionary<string, string> DeliberatelyMalformed = new()
    {
        ["MR_truncated.dcm"] = "pixel data cut short: we raise DicomReadException, dcmdump prints what it can",
        ["SC_rgb_jpeg.dcm"] = "meta says explicit VR, data set is implicit VR: DCMTK fails too, we raise DicomReadException",
        ["no_meta.dcm"] = "starts with a stray byte, so no tag lines up: DCMTK fails too, we raise DicomReadException",
        ["rtplan_truncated.dcm"] = "truncated inside a sequence: we raise DicomReadException",
    };

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        // Relative names keep the test names readable; Resolve() turns them back into paths.
        foreach (var f in Peers.PydicomFiles("test_files")) data.Add("test_files/" + Path.GetFileName(f));
        foreach (var f in Peers.PydicomFiles("charset_files")) data.Add("charset_files/" + Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Reader_matches_dcmdump(string name)
    {
        var path = Path.Combine(Peers.PydicomData, name);
        if (DeliberatelyMalformed.ContainsKey(Path.GetFileName(path)))
        {
            Assert.Throws<DicomReadException>(() => DicomFile.Open(path));
            return;
        }
        CompareWithDcmdump(path, DicomFile.Open(path));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Reader_matches_dcmdump_on_dcmconv_variants(string name)
    {
        var path = Path.Combine(Peers.PydicomData, name);
        if (DeliberatelyMalformed.ContainsKey(Path.GetFileName(path))) return;
        var source = DicomFile.Open(path);
        if (source.TransferSyntax.IsEncapsulated) return; // dcmconv cannot re-encode compressed pixel data
        var dir = Directory.CreateTempSubdirectory("ow-conv-").FullName;
        try
        {
            foreach (var option in new[] { "+ti", "+te", "+tb", "+td" })
            {
                var variant = Path.Combine(dir, option.TrimStart('+') + ".dcm");
                var run = Peers.Run("dcmconv", option, path, variant);
                Assert.True(run.ExitCode == 0, $"dcmconv {option} failed on {path}: {run.Stderr}");
                CompareWithDcmdump(variant, DicomFile.Open(variant), $"{Path.GetFileName(path)} {option}");
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Writer_output_reads_back_in_dcmdump_without_warning(string name)
    {
        var path = Path.Combine(Peers.PydicomData, name);
        if (DeliberatelyMalformed.ContainsKey(Path.GetFileName(path))) return;
        var file = DicomFile.Open(path);
        var written = Path.Combine(Path.GetTempPath(), $"ow-write-{Guid.NewGuid():N}.dcm");
        try
        {
            file.Save(written);
            var run = Peers.Run("dcmdump", "-q", "+L", "-Un", "+E", written);
            Assert.True(run.ExitCode == 0 && run.Stderr.Trim().Length == 0, $"dcmdump complained about our copy of {path}: {run.Stderr}");
            var theirs = DcmdumpListing.Parse(run.Stdout);
            var ours = DcmdumpListing.FromOurs(DicomFile.Open(path));
            CompareListings(theirs, ours, path, skipMeta: true);
        }
        finally { File.Delete(written); }
    }

    private void CompareWithDcmdump(string path, DicomFile file, string? label = null)
    {
        var theirs = DcmdumpListing.FromDcmdump(path);
        var ours = DcmdumpListing.FromOurs(file);
        CompareListings(theirs, ours, label ?? path, skipMeta: false);
    }

    private void CompareListings(List<DumpRecord> theirs, List<DumpRecord> ours, string label, bool skipMeta)
    {
        if (skipMeta)
        {
            // The meta group of a written file is ours by design (implementation UID, version name).
            theirs = theirs.Where(r => r.Tag >> 16 != 0x0002).ToList();
            ours = ours.Where(r => r.Tag >> 16 != 0x0002).ToList();
        }
        var n = Math.Min(theirs.Count, ours.Count);
        for (var i = 0; i < n; i++)
        {
            var t = theirs[i];
            var o = ours[i];
            var context = $"{label}, record {i}:\n  dcmdump: {t}\n  ours:    {o}";
            Assert.True(t.Tag == o.Tag && t.Depth == o.Depth, "different element. " + context);
            Assert.True(SameVR(t, o), "different VR. " + context);
            Assert.True(t.Length == o.Length || OddPaddedByDcmtk(t, o), "different length. " + context);
            // Group lengths are recomputed by our writer by design; the originals of some files are wrong.
            var recomputed = skipMeta && (t.Tag & 0xFFFF) == 0;
            Assert.True(recomputed || DcmdumpListing.IsBinary(t.VR) || DcmdumpListing.SameValue(o.VR, t.Value, o.Value), "different value. " + context);
        }
        if (theirs.Count != ours.Count)
            output.WriteLine(string.Join('\n', theirs.Skip(n).Take(5)) + "\n--\n" + string.Join('\n', ours.Skip(n).Take(5)));
        Assert.True(theirs.Count == ours.Count, $"{label}: dcmdump lists {theirs.Count} records, we list {ours.Count}");
    }

    /// <summary>An odd length breaks PS3.5 §7.1.1: DCMTK pads the value as it reads; we keep the file's bytes (and pad when writing).</summary>
    private static bool OddPaddedByDcmtk(DumpRecord t, DumpRecord o) =>
        long.TryParse(o.Length, out var ol) && (ol & 1) == 1 && long.TryParse(t.Length, out var tl) && tl == ol + 1;

    /// <summary>
    /// dcmdump marks some VRs it could not settle ("xs" for US-or-SS, "ox" for OB-or-OW, "lt" for US-or-SS-or-OW);
    /// we settle them from Pixel Representation and Bits Allocated as PS3.5 Annex A.1 says, so any of those agree.
    /// </summary>
    private static bool SameVR(DumpRecord t, DumpRecord o) => t.VR == o.VR
        // UN with undefined length is a sequence (PS3.5 §6.2.2); DCMTK relabels it SQ, we keep UN to rewrite it as it came.
        || t.VR == "SQ" && o.VR == "UN" && o.Length == "u/l"
        // Implicit VR private elements: our private dictionary (GDCM's rows) knows VRs that DCMTK's does not.
        || t.VR == "UN" && ((t.Tag >> 16) & 1) == 1
        || t.VR == "xs" && o.VR is "US" or "SS"
        || t.VR == "ox" && o.VR is "OB" or "OW"
        || t.VR == "lt" && o.VR is "US" or "SS" or "OW"
        || t.VR == "na" && o.VR == "na"
        // DCMTK always calls encapsulated pixel data OB; a file may say OW, and we keep what it says.
        || t.VR == "OB" && o.VR == "OW" && o.Length == "u/l";
}
