using OrthancWeb.Dicom.Imaging;

namespace OrthancWeb.Tests.Imaging;

/// <summary>PMSCT_RLE1's two passes on hand-made streams; the real files are compared with orthanc in MoreRoutesTests.</summary>
public sealed class ElscintPmsctRle1Tests
{
    [Fact]
    public void Runs_literals_and_signed_differences_give_the_samples()
    {
        // 0x5A 0x10 0x27: 10000; a run of three +1s; -2 (0xFE); a run of one 0xA5 byte (a -91 difference, escaped).
        var samples = ElscintPmsctRle1.Decode([0x5A, 0x10, 0x27, 0xA5, 0x02, 0x01, 0xFE, 0xA5, 0x00, 0xA5], 6);
        Assert.Equal(new ushort[] { 10000, 10001, 10002, 10003, 10001, 9910 },
            Enumerable.Range(0, 6).Select(i => BitConverter.ToUInt16(samples, i * 2)));
    }

    [Fact]
    public void A_stream_shorter_than_the_image_is_refused_with_a_reason()
    {
        var short1 = Assert.Throws<ImagingException>(() => ElscintPmsctRle1.Decode([0x5A, 0x10, 0x27, 0x01], 4));
        Assert.Contains("gives 2 samples", short1.Message, StringComparison.Ordinal);
        Assert.Throws<ImagingException>(() => ElscintPmsctRle1.Decode([0x01, 0xA5, 0x03], 8));
    }

    [Fact]
    public void A_file_claiming_more_samples_than_its_stream_can_hold_is_refused_before_allocating()
    {
        // Four bytes cannot give a 30000 x 30000 image (1.8 GB once decoded): refused with the reason, nothing allocated.
        var refused = Assert.Throws<ImagingException>(() => ElscintPmsctRle1.Decode([0xA5, 0xFF, 0x01, 0x00], 30000 * 30000));
        Assert.Contains("cannot hold", refused.Message, StringComparison.Ordinal);
    }
}
