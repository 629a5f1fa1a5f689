using OrthancWeb.Dicom;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Transcoding;

/// <summary>
/// Our encoders checked by someone else's decoders: each pydicom sample transcoded here, written as a Part 10 file,
/// decompressed by DCMTK (dcmdjpls, dcmdrle) and compared sample by sample with the source's pixels. JPEG 2000 has no
/// DCMTK decoder: our OpenJPEG-based decoder reads it back, and OpenJPEG's opj_decompress decodes it too.
/// </summary>
public sealed class EncodeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ow-transcode-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample(string name) => Path.Combine(Peers.PydicomDir("test_files"), name);

    /// <summary>16-bit signed and unsigned grey, 8- and 16-bit RGB in two frames, and a compressed source.</summary>
    public static TheoryData<string, string> LosslessCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in new[] { "CT_small.dcm", "MR_small.dcm", "SC_rgb_rle_2frame.dcm", "SC_rgb_rle_16bit_2frame.dcm", "MR_small_jpeg_ls_lossless.dcm" })
            foreach (var ts in new[] { "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90" })
                if (!(file.Contains("jpeg_ls") && ts.EndsWith(".80", StringComparison.Ordinal))) // already JPEG-LS: nothing to do
                    data.Add(file, ts);
        return data;
    }

    [Theory]
    [MemberData(nameof(LosslessCases))]
    public void Lossless_round_trip_is_pixel_exact_through_an_independent_decoder(string sample, string uid)
    {
        var source = DicomFile.Open(Sample(sample));
        var target = Transcoder.ParseTarget(uid);
        var encoded = Transcoder.TranscodeFile(source, target);

        Assert.Equal(uid, encoded.FileMetaInfo.GetString(DicomTags.TransferSyntaxUID)?.TrimEnd('\0'));
        var pixels = Assert.IsType<DicomFragmentSequence>(encoded.Dataset[DicomTags.PixelData]);
        var frames = PixelDataInfo.From(source.Dataset).NumberOfFrames;
        // PS3.5 A.4: one fragment per frame, even lengths, and a Basic Offset Table with one entry per frame.
        Assert.Equal(frames, pixels.Fragments.Count);
        Assert.All(pixels.Fragments, f => Assert.Equal(0, f.Length % 2));
        Assert.Equal(4 * frames, pixels.OffsetTable.Length);
        Assert.Null(encoded.Dataset.GetString(DicomTags.LossyImageCompressionMethod));

        var path = Path.Combine(_dir, $"{sample}.{uid}.dcm");
        File.WriteAllBytes(path, encoded.ToBytes());
        var decoded = DecodeIndependently(path, uid);
        AssertSamePixels(Frames(source), Frames(decoded), tolerance: 0);
    }

    /// <summary>
    /// Every pydicom sample with pixel data we decode, to each lossless syntax DCMTK decodes: the round trip is exact,
    /// or the encoder refuses it with its reason (float, 1-bit, 32-bit samples a codec cannot hold...). Never a wrong
    /// pixel, never another exception.
    /// </summary>
    [Theory]
    [InlineData("1.2.840.10008.1.2.4.80", 35)]
    [InlineData("1.2.840.10008.1.2.5", 35)]
    [InlineData("1.2.840.10008.1.2.4.70", 35)]
    public void Every_sample_round_trips_exactly_or_is_refused_with_its_reason(string uid, int atLeast)
    {
        var target = Transcoder.ParseTarget(uid);
        var exact = new List<string>();
        var refused = new List<string>();
        foreach (var path in Peers.PydicomFiles())
        {
            DicomFile source;
            List<long[]> pixels;
            try
            {
                source = DicomFile.Open(path);
                if (source.Dataset[DicomTags.PixelData] is null || source.TransferSyntax.Equals(target)) continue;
                pixels = Frames(source);
            }
            catch (Exception ex) when (ex is DicomException or ImagingException or InvalidDataException or NotSupportedException)
            {
                continue; // not ours to encode: a file we do not decode (the decoding tests cover those)
            }
            DicomFile encoded;
            try { encoded = Transcoder.TranscodeFile(source, target); }
            catch (ImagingException ex)
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                refused.Add($"{Path.GetFileName(path)}: {ex.Message}");
                continue;
            }
            var output = Path.Combine(_dir, $"{Path.GetFileName(path)}.{uid}.dcm");
            File.WriteAllBytes(output, encoded.ToBytes());
            var decoded = DecodeIndependently(output, uid);
            AssertSamePixels(pixels, Frames(decoded), tolerance: 0);
            exact.Add(Path.GetFileName(path));
        }
        Assert.True(exact.Count >= atLeast, $"{exact.Count} exact round trips to {uid}; refused:\n{string.Join("\n", refused)}");
    }

    [Fact]
    public void Near_lossless_jpeg_ls_stays_within_near_and_records_the_lossy_compression()
    {
        var source = DicomFile.Open(Sample("CT_small.dcm"));
        var encoded = Transcoder.TranscodeFile(source, TransferSyntax.JPEGLSNearLossless, options: new EncodeOptions { NearLossless = 3 });
        Assert.Equal("01", encoded.Dataset.GetString(DicomTags.LossyImageCompression));
        Assert.Equal("ISO_14495_1", encoded.Dataset.GetString(DicomTags.LossyImageCompressionMethod));
        Assert.True(double.Parse(encoded.Dataset.GetString(DicomTags.LossyImageCompressionRatio)!, System.Globalization.CultureInfo.InvariantCulture) > 1);
        var path = Path.Combine(_dir, "near.dcm");
        File.WriteAllBytes(path, encoded.ToBytes());
        var (max, differing) = AssertSamePixels(Frames(source), Frames(DecodeIndependently(path, TransferSyntax.JPEGLSNearLossless.Uid)), tolerance: 3);
        Assert.True(differing > 0, "near-lossless with NEAR=3 changed no sample: the parameter was not applied");
        Assert.InRange(max, 1, 3);
    }

    [Fact]
    public void Lossy_jpeg_2000_keeps_the_error_small_and_the_rgb_goes_through_the_irreversible_transform()
    {
        var grey = DicomFile.Open(Sample("CT_small.dcm"));
        var encoded = Transcoder.TranscodeFile(grey, TransferSyntax.JPEG2000, options: new EncodeOptions { Jpeg2000Ratio = 8 });
        Assert.Equal("ISO_15444_1", encoded.Dataset.GetString(DicomTags.LossyImageCompressionMethod));
        var original = Frames(grey)[0];
        var back = Frames(Transcoder.TranscodeFile(encoded, TransferSyntax.ExplicitVRLittleEndian))[0];
        // Stated bound: root mean square error under 1% of the image's value range at 8:1.
        var range = original.Max() - original.Min();
        var rms = Math.Sqrt(original.Zip(back, (a, b) => (double)(a - b) * (a - b)).Average());
        Assert.True(rms < range * 0.01, $"RMS error {rms:0.0} for a range of {range}");
        var encodedSize = ((DicomFragmentSequence)encoded.Dataset[DicomTags.PixelData]!).Fragments.Sum(f => f.Length);
        Assert.InRange(encodedSize, 1, original.Length * 2 / 4); // well under the 16-bit original

        var rgb = Transcoder.TranscodeFile(DicomFile.Open(Sample("SC_rgb_rle_2frame.dcm")), TransferSyntax.JPEG2000);
        Assert.Equal("YBR_ICT", rgb.Dataset.GetString(DicomTags.PhotometricInterpretation));
    }

    [Fact]
    public void Jpeg_baseline_of_8_bit_rgb_reads_back_through_dcmdjpeg_within_the_bound_and_16_bit_is_refused()
    {
        var source = DicomFile.Open(Sample("SC_rgb_rle_2frame.dcm"));
        var encoded = Transcoder.TranscodeFile(source, TransferSyntax.JPEGBaseline8Bit, options: new EncodeOptions { JpegQuality = 95 });
        Assert.Equal("YBR_FULL", encoded.Dataset.GetString(DicomTags.PhotometricInterpretation));
        Assert.Equal("ISO_10918_1", encoded.Dataset.GetString(DicomTags.LossyImageCompressionMethod));
        var path = Path.Combine(_dir, "baseline.dcm");
        File.WriteAllBytes(path, encoded.ToBytes());
        var output = path + ".raw.dcm";
        // DCMTK converts YBR_FULL back to RGB itself (its default, +cm? no: colour conversion is on unless told otherwise).
        var run = Peers.Run("dcmdjpeg", path, output);
        Assert.True(run.ExitCode == 0, run.Stderr);
        var expected = Frames(source);
        var actual = Frames(DicomFile.Open(output));
        // Stated bound at quality 95 on this flat-coloured test image: mean absolute error under 2 per sample.
        var mean = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Average()).Average();
        Assert.True(mean < 2, $"mean absolute error {mean:0.00}");

        var ct = DicomFile.Open(Sample("CT_small.dcm"));
        var refused = Assert.Throws<ImagingException>(() => Transcoder.TranscodeFile(ct, TransferSyntax.JPEGBaseline8Bit));
        Assert.Contains("8-bit", refused.Message);
    }

    [Fact]
    public void What_cannot_be_encoded_is_refused_with_the_reason()
    {
        var unknown = Assert.Throws<ImagingException>(() => Transcoder.ParseTarget("1.2.3.4"));
        Assert.Equal(ImagingFailure.Invalid, unknown.Failure);
        var noEncoder = Assert.Throws<ImagingException>(() => Transcoder.ParseTarget("1.2.840.10008.1.2.4.100")); // MPEG-2
        Assert.Equal(ImagingFailure.NoCodec, noEncoder.Failure);
        // 32-bit samples: RLE takes them, JPEG-LS (at most 16 bits, ISO 14495-1 §C.2.2) does not.
        var wide = DicomFile.Open(Sample("SC_rgb_rle_32bit.dcm"));
        var tooWide = Assert.Throws<ImagingException>(() => Transcoder.TranscodeFile(wide, TransferSyntax.JPEGLSLossless));
        Assert.Contains("16 bits", tooWide.Message);
    }

    /// <summary>A file decompressed by a decoder that is not ours, read back.</summary>
    private DicomFile DecodeIndependently(string path, string uid)
    {
        var output = path + ".raw.dcm";
        var tool = uid switch
        {
            "1.2.840.10008.1.2.4.80" or "1.2.840.10008.1.2.4.81" => "dcmdjpls",
            "1.2.840.10008.1.2.5" => "dcmdrle",
            "1.2.840.10008.1.2.4.70" or "1.2.840.10008.1.2.4.57" => "dcmdjpeg",
            _ => null,
        };
        if (tool is null)
        {
            var file = DicomFile.Open(path);
            // The first frame's code stream decodes with OpenJPEG's own tool too (a raw .j2k stream, PS3.5 A.4.4).
            var j2k = Path.Combine(_dir, Path.GetFileName(path) + ".j2k");
            File.WriteAllBytes(j2k, ((DicomFragmentSequence)file.Dataset[DicomTags.PixelData]!).Fragments[0].Memory.ToArray());
            var run = Peers.Run(Peers.Tool("opj_decompress"), "-i", j2k, "-o", j2k + ".pgx");
            Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
            return Transcoder.TranscodeFile(file, TransferSyntax.ExplicitVRLittleEndian);
        }
        var result = Peers.Run(tool, path, output);
        Assert.True(result.ExitCode == 0, $"{tool} failed: {result.Stderr}");
        return DicomFile.Open(output);
    }

    /// <summary>Every sample of every frame, masked to Bits Stored and sign-extended as Pixel Representation says.</summary>
    internal static List<long[]> Frames(DicomFile file)
    {
        var source = new FrameSource(file.Dataset, file.TransferSyntax);
        var frames = new List<long[]>();
        for (var i = 0; i < source.FrameCount; i++)
        {
            var frame = CodecRegistry.Default.DecodeFrame(source, i);
            var info = frame.Info;
            var bps = info.BytesPerSample;
            var values = new long[frame.Data.Length / bps];
            for (var k = 0; k < values.Length; k++)
            {
                ulong raw = 0;
                for (var b = 0; b < bps; b++) raw |= (ulong)frame.Data[k * bps + b] << (8 * b);
                raw &= info.BitsStored >= 64 ? ulong.MaxValue : (1UL << info.BitsStored) - 1;
                values[k] = info.IsSigned && (raw >> (info.BitsStored - 1) & 1) == 1 ? (long)raw - (1L << info.BitsStored) : (long)raw;
            }
            frames.Add(values);
        }
        return frames;
    }

    internal static (long Max, int Differing) AssertSamePixels(List<long[]> expected, List<long[]> actual, int tolerance)
    {
        Assert.Equal(expected.Count, actual.Count);
        long max = 0;
        var differing = 0;
        for (var f = 0; f < expected.Count; f++)
        {
            Assert.Equal(expected[f].Length, actual[f].Length);
            for (var i = 0; i < expected[f].Length; i++)
            {
                var d = Math.Abs(expected[f][i] - actual[f][i]);
                if (d > 0) differing++;
                max = Math.Max(max, d);
                if (d > tolerance) Assert.Fail($"frame {f} sample {i}: {actual[f][i]}, expected {expected[f][i]} (tolerance {tolerance})");
            }
        }
        return (max, differing);
    }
}
