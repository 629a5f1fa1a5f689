using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using static OrthancWeb.Tests.Transcoding.EncodeTests;

namespace OrthancWeb.Tests.Transcoding;

/// <summary>
/// Our JPEG lossless (process 14) encoder read back by DCMTK's dcmdjpeg (IJG's lossless decoder) and by our own
/// decoder (JpegLibrary), sample for sample against the source: 8-bit grey, 12-bit in 16, 16-bit signed, 8- and 16-bit
/// RGB, and noise spanning the full 16-bit range (differences of SSSS 16 and the modulo 2^16 wrap).
/// </summary>
public sealed class JpegLosslessTests : IDisposable
{
    private const string Sv1 = "1.2.840.10008.1.2.4.70";
    private const string AnyPredictor = "1.2.840.10008.1.2.4.57";
    private readonly string _dir = Directory.CreateTempSubdirectory("ow-jpeg-lossless-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample(string name) => Path.Combine(Peers.PydicomDir("test_files"), name);

    public static TheoryData<string, string> Cases() => new()
    {
        { "image_dfl.dcm", Sv1 },             // 8-bit grey 512x512 (deflated source)
        { "JPGExtended.dcm", Sv1 },           // 12 bits stored in 16
        { "CT_small.dcm", Sv1 },              // 16-bit signed
        { "SC_rgb_rle_2frame.dcm", Sv1 },     // 8-bit RGB, 2 frames
        { "SC_rgb_rle_16bit.dcm", Sv1 },      // 16-bit RGB
        { "MR_small.dcm", AnyPredictor },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Round_trip_is_pixel_exact_through_dcmdjpeg_and_our_decoder(string sample, string uid)
    {
        var source = DicomFile.Open(Sample(sample));
        AssertRoundTrip(source, uid, sample);
    }

    [Fact]
    public void Full_range_16_bit_noise_round_trips_including_the_difference_of_32768()
    {
        var file = DicomFile.Open(Sample("MR_small.dcm"));
        var pixels = new byte[64 * 64 * 2];
        new Random(18).NextBytes(pixels);
        // The first samples alternate 0 and 65535 and then 32768 apart: the wrap and SSSS 16 (T.81 H.1.2.2).
        ushort[] edges = [0, 65535, 0, 65535, 32768, 0, 32768, 65535, 32767, 65535];
        for (var i = 0; i < edges.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(pixels.AsSpan(2 * i), edges[i]);
        file.Dataset.AddBytes(DicomTags.PixelData, DicomVR.OW, pixels);
        file.Dataset.Add(DicomTags.PixelRepresentation, DicomVR.US, (ushort)0);
        AssertRoundTrip(file, Sv1, "noise");
    }

    [Fact]
    public void The_encoder_refuses_what_the_syntax_cannot_hold()
    {
        var wide = DicomFile.Open(Sample("SC_rgb_rle_32bit.dcm"));
        var refused = Assert.Throws<ImagingException>(() => Transcoder.TranscodeFile(wide, Transcoder.ParseTarget(Sv1)));
        Assert.Contains("16 bits", refused.Message);
    }

    private void AssertRoundTrip(DicomFile source, string uid, string name)
    {
        var encoded = Transcoder.TranscodeFile(source, Transcoder.ParseTarget(uid));
        Assert.Equal(uid, encoded.TransferSyntax.Uid);
        Assert.Null(encoded.Dataset.GetString(DicomTags.LossyImageCompressionMethod));
        Assert.Equal(source.Dataset.GetString(DicomTags.PhotometricInterpretation), encoded.Dataset.GetString(DicomTags.PhotometricInterpretation));
        var expected = Frames(source);
        AssertSamePixels(expected, Frames(encoded), tolerance: 0);

        var path = Path.Combine(_dir, name + ".dcm");
        File.WriteAllBytes(path, encoded.ToBytes());
        var run = Peers.Run("dcmdjpeg", path, path + ".raw");
        Assert.True(run.ExitCode == 0, "dcmdjpeg: " + run.Stderr);
        AssertSamePixels(expected, Frames(DicomFile.Open(path + ".raw")), tolerance: 0);
    }
}
