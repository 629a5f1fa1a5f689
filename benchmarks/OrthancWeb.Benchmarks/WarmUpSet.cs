using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

/// <summary>
/// What both servers receive before a timed run, so that each figure is a running server's rather than a just-started
/// one's (ours compiles its hot code in its first seconds; orthanc is native). Copies of the first files of the set
/// under another patient with new UIDs: they are kept, not deleted afterwards, because the timed run must not follow
/// a burst of deletions (on this machine's journal-less ext4, creating a file right after thousands were deleted scans
/// past every recently freed inode, which costs both servers time that no hospital would see).
/// </summary>
static class WarmUpSet
{
    /// <summary>
    /// BENCH_WARMUP files (default 1000; 0 measures a just-started server). After 300, the runtime's background
    /// compiler still took 15 % of our server's CPU during the timed REST run; after 1000, 5 %.
    /// </summary>
    public static int Count { get; } = int.TryParse(Environment.GetEnvironmentVariable("BENCH_WARMUP"), out var w) ? w : 1000;

    public const string PatientName = "WARMUP^BENCH";

    public static string[] For(string[] files)
    {
        var n = Math.Min(Count, files.Length);
        var dir = Path.Combine(Path.GetTempPath(), $"orthancweb-bench-warmup-{n}-{Path.GetFileName(Path.GetDirectoryName(files[0]))}");
        if (Directory.Exists(dir) && Directory.GetFiles(dir, "*.dcm").Length == n) return Directory.GetFiles(dir, "*.dcm").Order().ToArray();
        Directory.CreateDirectory(dir);
        for (var i = 0; i < n; i++)
        {
            var file = DicomFile.Open(files[i]);
            var ds = file.Dataset;
            // Deterministic new UIDs under 2.25 (PS3.5 B.2): the warm-up set is the same for both servers and every run.
            string Uid(DicomTag tag) => "2.25." + new System.Numerics.BigInteger(
                System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes("warmup|" + ds.GetString(tag))).AsSpan(0, 15), isUnsigned: true);
            var sop = Uid(DicomTags.SOPInstanceUID);
            ds.Add(DicomTags.StudyInstanceUID, Uid(DicomTags.StudyInstanceUID));
            ds.Add(DicomTags.SeriesInstanceUID, Uid(DicomTags.SeriesInstanceUID));
            ds.Add(DicomTags.SOPInstanceUID, sop);
            file.FileMetaInfo.Add(DicomTags.MediaStorageSOPInstanceUID, sop);
            ds.Add(DicomTags.PatientID, "WARMUP");
            ds.Add(DicomTags.PatientName, PatientName);
            ds.Add(DicomTags.StudyDate, "20000101"); // outside every date range the benchmarks query
            ds.Add(DicomTags.AccessionNumber, "WARMUP");
            file.Save(Path.Combine(dir, $"warmup_{i:D4}.dcm"));
        }
        return Directory.GetFiles(dir, "*.dcm").Order().ToArray();
    }
}
