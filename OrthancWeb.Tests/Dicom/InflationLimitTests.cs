using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Tests.Dicom;

/// <summary>
/// Issue 15.2: deflated data (PS3.5 §A.5) is inflated in memory, so the reader bounds it two ways. The ratio alone
/// stops a classic bomb (zeros deflate about 1000 times); the size bound is what stops data that barely deflates but
/// is simply too large, which no ratio can tell from a real data set.
/// </summary>
public sealed class InflationLimitTests
{
    private static (byte[] File, byte[] Value) Deflated(byte[] value)
    {
        var ds = new DicomDataset();
        ds.Add(DicomTags.SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
        ds.Add(DicomTags.SOPInstanceUID, "1.2.826.0.1.3680043.10.543.99.1");
        ds.AddBytes(DicomTags.EncapsulatedDocument, DicomVR.OB, value);
        var file = new DicomFile(ds, TransferSyntax.DeflatedExplicitVRLittleEndian);
        file.UpdateFileMetaInfo();
        return (file.ToBytes(), value);
    }

    [Fact]
    public void Data_that_barely_deflates_is_refused_past_the_size_bound_and_read_within_it()
    {
        var random = new byte[3 * 1024 * 1024];
        new Random(15).NextBytes(random);
        var (file, value) = Deflated(random);
        Assert.True(file.Length > random.Length * 0.9, "random bytes should not deflate");

        var ex = Assert.Throws<DicomReadException>(() => DicomFile.Open(file, new DicomReadOptions { MaxInflatedSize = 1024 * 1024 }));
        Assert.Contains("inflates past 1 MB", ex.Message, StringComparison.Ordinal);

        // Within the bound (the default, 64 MB) the same file reads, every byte of it.
        var read = DicomFile.Open(file);
        Assert.True(read.Dataset.GetBytes(DicomTags.EncapsulatedDocument).Span.SequenceEqual(value));
    }

    [Fact]
    public void A_deflate_bomb_is_refused_by_its_ratio_long_before_the_size_bound()
    {
        var (file, _) = Deflated(new byte[16 * 1024 * 1024]);
        Assert.True(file.Length < 100 * 1024, $"zeros should deflate about 1000 times, got {file.Length} bytes");
        var ex = Assert.Throws<DicomReadException>(() => DicomFile.Open(file, new DicomReadOptions { MaxInflatedSize = long.MaxValue }));
        Assert.Contains("inflates over 200 times", ex.Message, StringComparison.Ordinal);
    }
}
