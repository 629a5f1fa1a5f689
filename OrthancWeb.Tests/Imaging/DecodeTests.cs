using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Imaging;

/// <summary>
/// Every pixel-bearing pydicom file in a syntax we decode, compared with DCMTK's decompression of it (dcmdrle,
/// dcmdjpeg): identical for lossless syntaxes, within a stated tolerance for lossy JPEG (two IDCTs and two color
/// conversions round differently).
/// </summary>
public sealed class DecodeTests(ITestOutputHelper output)
{
    /// <summary>
    /// Lossy JPEG: mean absolute difference per sample at most 3, and 99% of samples within 16. Both decoders follow
    /// the standard, but DCMTK (IJG) interpolates subsampled chroma ("fancy upsampling") where JpegLibrary replicates
    /// it, so sharp color edges of 4:2:2 streams differ by up to ~75 on a handful of pixels.
    /// </summary>
    private const double LossyMeanTolerance = 1.5;
    private const int LossyP99Tolerance = 16;
    /// <summary>Subsampled chroma (YBR_*_422/420): mean at most 3, 95% of samples within 24 (the edge bands above).</summary>
    private const double SubsampledMeanTolerance = 3.0;
    private const int SubsampledP95Tolerance = 24;

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Peers.PydicomFiles("test_files"))
        {
            DicomFile file;
            try { file = DicomFile.Open(f, new DicomReadOptions { LazyThreshold = long.MaxValue }); }
            catch (DicomReadException) { continue; }
            if (!file.Dataset.Contains(DicomTags.PixelData) || !file.Dataset.Contains(DicomTags.Rows)) continue;
            var ts = file.TransferSyntax;
            if (ts.IsUncompressed || ts.Uid is "1.2.840.10008.1.2.5" or "1.2.840.10008.1.2.4.50" or "1.2.840.10008.1.2.4.51" or "1.2.840.10008.1.2.4.57" or "1.2.840.10008.1.2.4.70"
                or "1.2.840.10008.1.2.4.80" or "1.2.840.10008.1.2.4.81")
                data.Add(Path.GetFileName(f));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Frames_decode_like_dcmtk(string name)
    {
        var path = Path.Combine(Peers.PydicomDir("test_files"), name);
        var file = DicomFile.Open(path);
        var source = new FrameSource(file.Dataset, file.TransferSyntax);
        var reference = Reference(path, file.TransferSyntax);
        var refSource = new FrameSource(reference.Dataset, reference.TransferSyntax);
        Assert.Equal(refSource.FrameCount, source.FrameCount);
        for (var i = 0; i < source.FrameCount; i++)
        {
            var ours = CodecRegistry.Default.DecodeFrame(source, i);
            var theirs = CodecRegistry.Default.DecodeFrame(refSource, i);
            Assert.Equal(theirs.Data.Length, ours.Data.Length);
            if (file.TransferSyntax.IsLossy)
            {
                var diffs = ours.Data.Select((b, k) => Math.Abs(b - theirs.Data[k])).Order().ToArray();
                var mean = diffs.Average();
                var p99 = diffs[(int)(diffs.Length * 0.99)];
                var p95 = diffs[(int)(diffs.Length * 0.95)];
                output.WriteLine($"{name} frame {i}: mean |diff| {mean:N3}, 99th percentile {p99}, max {diffs[^1]}");
                var jpeg = new JpegLibrary.JpegDecoder();
                jpeg.SetInput(source.GetFrame(i));
                jpeg.Identify();
                var subsampled = jpeg.NumberOfComponents == 3 && (jpeg.GetMaximumHorizontalSampling() > jpeg.GetHorizontalSampling(1) || jpeg.GetMaximumVerticalSampling() > jpeg.GetVerticalSampling(1));
                var ok = subsampled
                    ? mean <= SubsampledMeanTolerance && p95 <= SubsampledP95Tolerance
                    : mean <= LossyMeanTolerance && p99 <= LossyP99Tolerance;
                Assert.True(ok, $"{name} frame {i} ({(subsampled ? "subsampled chroma" : "full chroma")}): mean {mean:N3}, p95 {p95}, p99 {p99}, max {diffs[^1]}");
            }
            else
                Assert.True(theirs.Data.AsSpan().SequenceEqual(ours.Data), $"{name} frame {i} differs from DCMTK's decoding");
        }
    }

    /// <summary>DCMTK's uncompressed version of a file (the file itself when it is uncompressed already).</summary>
    private static DicomFile Reference(string path, TransferSyntax syntax)
    {
        if (syntax.IsUncompressed) return DicomFile.Open(path);
        var output = Path.Combine(Path.GetTempPath(), $"ow-ref-{Guid.NewGuid():N}.dcm");
        try
        {
            var tool = syntax.Uid switch
            {
                "1.2.840.10008.1.2.5" => "dcmdrle",
                "1.2.840.10008.1.2.4.80" or "1.2.840.10008.1.2.4.81" => "dcmdjpls",
                _ => "dcmdjpeg",
            };
            var r = Peers.Run(tool, path, output);
            Assert.True(r.ExitCode == 0, $"{tool} failed on {path}: {r.Stderr}");
            return DicomFile.Open(File.ReadAllBytes(output).AsMemory());
        }
        finally { File.Delete(output); }
    }

    /// <summary>
    /// The same MR image stored lossless in every compressed syntax pydicom ships: each decodes to exactly the
    /// pixels of the uncompressed original (an independent reference for JPEG 2000, which DCMTK cannot decode).
    /// </summary>
    [Theory]
    [InlineData("MR_small_RLE.dcm")]
    [InlineData("MR_small_jpeg_ls_lossless.dcm")]
    [InlineData("MR_small_jp2klossless.dcm")]
    public void Lossless_variants_decode_to_the_uncompressed_original(string name)
    {
        var dir = Peers.PydicomDir("test_files");
        var original = DicomFile.Open(Path.Combine(dir, "MR_small.dcm"));
        var expected = CodecRegistry.Default.DecodeFrame(new FrameSource(original.Dataset, original.TransferSyntax), 0).Data;
        var file = DicomFile.Open(Path.Combine(dir, name));
        var actual = CodecRegistry.Default.DecodeFrame(new FrameSource(file.Dataset, file.TransferSyntax), 0).Data;
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("JPEG2000.dcm")]
    [InlineData("693_J2KI.dcm")]
    [InlineData("GDCMJ2K_TextGBR.dcm")]
    [InlineData("J2K_pixelrep_mismatch.dcm")]
    public void Jpeg2000_files_decode_to_their_declared_geometry(string name)
    {
        var file = DicomFile.Open(Path.Combine(Peers.PydicomDir("test_files"), name));
        var source = new FrameSource(file.Dataset, file.TransferSyntax);
        var frame = CodecRegistry.Default.DecodeFrame(source, 0);
        Assert.Equal((long)source.Info.Rows * source.Info.Columns * source.Info.SamplesPerPixel * source.Info.BytesPerSample, frame.Data.Length);
        Assert.Contains(frame.Data, b => b != 0);
    }

    [Fact]
    public void Rle_encoding_round_trips_and_dcmtk_decodes_it()
    {
        var path = Path.Combine(Peers.PydicomDir("test_files"), "MR_small.dcm");
        var file = DicomFile.Open(path);
        var source = new FrameSource(file.Dataset, file.TransferSyntax);
        var native = CodecRegistry.Default.DecodeFrame(source, 0);
        var rle = RleCodec.Encode(native.Data, source.Info);
        Assert.Equal(native.Data, new RleCodec().Decode(rle, source.Info).Data);

        // Written as an RLE file, DCMTK's dcmdrle must get the same pixels back.
        var ds = file.Dataset.Clone();
        var fragments = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        fragments.Fragments.Add(DicomBuffer.From(rle));
        ds.AddOrUpdate(fragments);
        var encoded = new DicomFile(ds, TransferSyntax.RLELossless);
        encoded.UpdateFileMetaInfo();
        var rlePath = Path.Combine(Path.GetTempPath(), $"ow-rle-{Guid.NewGuid():N}.dcm");
        var outPath = rlePath + ".out";
        try
        {
            encoded.Save(rlePath);
            var r = Peers.Run("dcmdrle", rlePath, outPath);
            Assert.True(r.ExitCode == 0, r.Stderr);
            var back = DicomFile.Open(File.ReadAllBytes(outPath).AsMemory());
            Assert.Equal(native.Data, back.Dataset.GetBytes(DicomTags.PixelData).ToArray());
        }
        finally { File.Delete(rlePath); File.Delete(outPath); }
    }
}
