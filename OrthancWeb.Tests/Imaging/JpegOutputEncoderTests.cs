using System.Text.Json;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Imaging;

/// <summary>
/// Our baseline JPEG encoder against an independent decoder (JpegLibrary's, which our JPEG codec wraps): sizes that
/// are not multiples of 8, grey and colour, noise whose entropy-coded bytes need 0xFF stuffing, and the quality scale;
/// and against libjpeg-turbo (through Debian's PIL): its decoding of ours, and the size of its own optimized coding.
/// </summary>
public sealed class JpegOutputEncoderTests
{

    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 8)]
    [InlineData(9, 17)]
    [InlineData(67, 45)]
    [InlineData(512, 512)]
    [InlineData(2050, 2050)] // past the size whose coefficients are kept for optimized tables: Annex K's, a row at a time
    public void Grey_noise_decodes_near_losslessly_at_quality_100(int width, int height)
    {
        // Uniform noise: every coefficient is non-zero, the codes are long, and the output is full of 0xFF bytes.
        var pixels = new byte[width * height];
        new Random(width * 1000 + height).NextBytes(pixels);
        var image = new RenderedImage(width, height, 1, pixels);
        foreach (var optimized in new[] { false, true })
        {
            var jpeg = JpegOutputEncoder.Encode(image, 100, optimized);
            Assert.True(JpegChecks.Psnr(pixels, JpegChecks.Decode(jpeg, image)) > 50, $"quality 100 keeps noise within a grey level or two (optimized tables: {optimized})");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(67, 45)]
    [InlineData(300, 200)]
    public void Colour_gradients_keep_their_colours(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = 3 * (y * width + x);
                (pixels[i], pixels[i + 1], pixels[i + 2]) = ((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)((x + y) % 256));
            }
        var image = new RenderedImage(width, height, 3, pixels);
        foreach (var optimized in new[] { false, true })
            Assert.True(JpegChecks.Psnr(pixels, JpegChecks.Decode(JpegOutputEncoder.Encode(image, 90, optimized), image)) > 35, $"colour at quality 90 (optimized tables: {optimized})");
    }

    [Fact]
    public void Lower_quality_gives_smaller_files_and_more_error()
    {
        // A smooth disc with some noise, like a CT slice.
        var (w, h) = (256, 256);
        var pixels = new byte[w * h];
        var random = new Random(7);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                pixels[y * w + x] = (byte)Math.Clamp(((x - 128) * (x - 128) + (y - 128) * (y - 128) < 100 * 100 ? 160 : 20) + random.Next(-10, 11), 0, 255);
        var image = new RenderedImage(w, h, 1, pixels);
        var (high, low) = (JpegOutputEncoder.Encode(image, 95), JpegOutputEncoder.Encode(image, 30));
        Assert.True(low.Length < high.Length / 2, $"quality 30: {low.Length} bytes, quality 95: {high.Length}");
        var (psnrHigh, psnrLow) = (JpegChecks.Psnr(pixels, JpegChecks.Decode(high, image)), JpegChecks.Psnr(pixels, JpegChecks.Decode(low, image)));
        Assert.True(psnrHigh > psnrLow + 3 && psnrLow > 28, $"PSNR {psnrHigh:N1} dB at 95, {psnrLow:N1} dB at 30");
    }

    [Fact]
    public void Images_it_cannot_encode_are_refused_clearly()
    {
        Assert.Throws<ImagingException>(() => JpegOutputEncoder.Encode(new RenderedImage(2, 2, 2, new byte[8])));
        Assert.Throws<ImagingException>(() => JpegOutputEncoder.Encode(new RenderedImage(70000, 1, 1, new byte[70000])));
    }

    /// <summary>
    /// PIL (libjpeg-turbo) decodes each JPEG named on the command line (name.anything.jpg, its raw source in name.raw),
    /// and codes that source itself at quality 90, 4:4:4, with and without optimized Huffman tables: a JSON line each.
    /// </summary>
    private const string PilCheck = """
        import io, json, sys
        from PIL import Image
        for path in sys.argv[1:]:
            ours = Image.open(path)
            ours.load()
            raw = open(path.split('.')[0] + '.raw', 'rb').read()
            source = Image.frombytes(ours.mode, ours.size, raw)
            def mad(image):
                return sum(abs(a - b) for a, b in zip(image.tobytes(), raw)) / len(raw)
            def pil(optimize):
                out = io.BytesIO()
                source.save(out, 'JPEG', quality=90, subsampling=0, optimize=optimize)
                return out.getvalue()
            print(json.dumps({'mode': ours.mode, 'size': list(ours.size), 'mad': mad(ours), 'pilMad': mad(Image.open(io.BytesIO(pil(False)))),
                              'pilDefault': len(pil(False)), 'pilOptimized': len(pil(True))}))
        """;

    [Fact]
    public void Libjpeg_decodes_ours_to_its_own_picture_at_its_own_size_with_either_kind_of_Huffman_tables()
    {
        // The rendered-frame benchmark's picture: uniform noise of 12-bit values through the CT's window (40/400),
        // about half the pixels black and the rest noise, a white row; and a small colour image with partial blocks.
        var (w, h) = (512, 512);
        var random = new Random(42);
        var grey = new byte[w * h];
        for (var i = 0; i < grey.Length; i++)
            grey[i] = i < w ? (byte)255 : (byte)Math.Clamp((int)Math.Round((random.Next(0, 1200) - 1024 + 160) * 255.0 / 399), 0, 255);
        var colour = new byte[67 * 45 * 3];
        for (var i = 0; i < colour.Length; i++) colour[i] = (byte)(i % 3 == 0 ? random.Next(256) : i / 3 % 67 * 3 + i % 3 * 40);
        var dir = Directory.CreateTempSubdirectory("jpeg-pil-");
        try
        {
            var files = new List<(string Path, RenderedImage Image, bool Optimized, int Length)>();
            foreach (var (name, image) in new[] { ("grey", new RenderedImage(w, h, 1, grey)), ("colour", new RenderedImage(67, 45, 3, colour)) })
            {
                File.WriteAllBytes(Path.Combine(dir.FullName, name + ".raw"), image.Pixels);
                foreach (var optimized in new[] { false, true })
                {
                    var path = Path.Combine(dir.FullName, $"{name}.{(optimized ? "optimized" : "annex-k")}.jpg");
                    var jpeg = JpegOutputEncoder.Encode(image, 90, optimized);
                    File.WriteAllBytes(path, jpeg);
                    files.Add((path, image, optimized, jpeg.Length));
                }
            }
            var run = Peers.Run(Peers.DebianPython, ["-c", PilCheck, .. files.Select(f => f.Path)]);
            Assert.True(run.ExitCode == 0, $"PIL (apt-get install -y python3-pil): {run.Stderr}");
            var answers = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(files.Count, answers.Count);
            foreach (var ((path, image, optimized, length), answer) in files.Zip(answers))
            {
                var name = Path.GetFileName(path);
                Assert.Equal(image.Channels == 1 ? "L" : "RGB", answer.GetProperty("mode").GetString());
                Assert.Equal([image.Width, image.Height], answer.GetProperty("size").EnumerateArray().Select(e => e.GetInt32()));
                // The same quantization as libjpeg's quality 90: as far from the source as libjpeg's own coding, to a
                // small fraction of a grey level (the colour image's noise is heavy: 6 levels for both).
                var (mad, pilMad) = (answer.GetProperty("mad").GetDouble(), answer.GetProperty("pilMad").GetDouble());
                Assert.True(Math.Abs(mad - pilMad) < 0.1, $"{name}: mean error {mad:N2} ours, {pilMad:N2} libjpeg's");
                // libjpeg's size with the same kind of tables, to 1% (our restart markers cost a few bytes); the
                // optimized tables clearly smaller on the CT picture (8%).
                var (libjpegOptimized, libjpegAnnexK) = (answer.GetProperty("pilOptimized").GetInt32(), answer.GetProperty("pilDefault").GetInt32());
                var expected = optimized ? libjpegOptimized : libjpegAnnexK;
                Assert.True(Math.Abs(length - expected) <= expected / 100 + 64, $"{name}: {length} bytes, libjpeg {expected}");
                if (optimized && image.Channels == 1) Assert.True(length < libjpegAnnexK * 0.95, $"{name}: {length} bytes, libjpeg {libjpegAnnexK} with Annex K's tables");
            }
        }
        finally { dir.Delete(true); }
    }
}
