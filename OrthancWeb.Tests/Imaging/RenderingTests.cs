using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Tests.Infrastructure;
using OrthancWeb.Tests.Server;
using static OrthancWeb.Tests.Server.Rest;

namespace OrthancWeb.Tests.Imaging;

/// <summary>/rendered and /preview against DCMTK's dcmj2pnm with the same window: within one grey level.</summary>
public sealed class RenderingTests(RestServerFixture fixture) : IClassFixture<RestServerFixture>
{
    private HttpClient Client => fixture.Client;

    [Theory]
    [InlineData("CT_small.dcm")]
    [InlineData("MR_small.dcm")]
    [InlineData("MR_small_bigendian.dcm")]
    [InlineData("MR_small_RLE.dcm")]
    [InlineData("MR_small_implicit.dcm")]
    public async Task Rendered_matches_dcmj2pnm_within_one_grey_level(string name)
    {
        var path = Sample(name);
        var ds = DicomFile.Open(path).Dataset;
        var id = (await UploadAsync(Client, path))["ID"]!.GetValue<string>();
        // A window inside the data's range, so both tools really apply it.
        var (center, width) = (ds.GetValues<double>(DicomTags.WindowCenter) is { Length: > 0 } c ? c[0] : 600, ds.GetValues<double>(DicomTags.WindowWidth) is { Length: > 0 } w ? w[0] : 1200);
        var png = await Client.GetByteArrayAsync(string.Create(CultureInfo.InvariantCulture, $"/instances/{id}/rendered?window-center={center}&window-width={width}"));
        var (ow, oh, ours) = DecodePng(png);

        var pgm = Path.Combine(Path.GetTempPath(), $"ow-{Guid.NewGuid():N}.pgm");
        try
        {
            var r = Peers.Run("dcmj2pnm", "+Ww", center.ToString(CultureInfo.InvariantCulture), width.ToString(CultureInfo.InvariantCulture), path, pgm);
            Assert.True(r.ExitCode == 0, r.Stderr);
            var (tw, th, theirs) = ReadPgm(File.ReadAllBytes(pgm));
            Assert.Equal((tw, th), (ow, oh));
            var worst = ours.Select((v, i) => Math.Abs(v - theirs[i])).Max();
            Assert.True(worst <= 1, $"{name}: differs from dcmj2pnm by up to {worst} grey levels");
        }
        finally { File.Delete(pgm); }
    }

    [Fact]
    public async Task Preview_frames_raw_and_cache_headers()
    {
        var id = (await UploadAsync(Client, Sample("SC_rgb_rle_2frame.dcm")))["ID"]!.GetValue<string>();
        Assert.Equal(["0", "1"], Ids(await GetJsonAsync(Client, $"/instances/{id}/frames")));
        var preview = await Client.GetAsync($"/instances/{id}/frames/1/preview");
        Assert.Equal("image/png", preview.Content.Headers.ContentType!.MediaType);
        var (w, h, rgb) = DecodePng(await preview.Content.ReadAsByteArrayAsync());
        Assert.Equal(100 * 100 * 3, rgb.Length);
        var etag = preview.Headers.ETag!.Tag;
        using var again = new HttpRequestMessage(HttpMethod.Get, $"/instances/{id}/frames/1/preview");
        again.Headers.IfNoneMatch.ParseAdd(etag);
        Assert.Equal(HttpStatusCode.NotModified, (await Client.SendAsync(again)).StatusCode);

        var small = DecodePng(await Client.GetByteArrayAsync($"/instances/{id}/rendered?width=50"));
        Assert.Equal((50, 50), (small.Width, small.Height));
        Assert.NotEmpty(await Client.GetByteArrayAsync($"/instances/{id}/frames/0/raw"));

        var past = await Client.GetAsync($"/instances/{id}/frames/7/preview");
        Assert.Equal(HttpStatusCode.NotFound, past.StatusCode);
        Assert.Contains("does not exist", await past.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Jpeg_output_on_request_with_a_quality()
    {
        var id = (await UploadAsync(Client, Sample("CT_small.dcm")))["ID"]!.GetValue<string>();
        var (w, h, png) = DecodePng(await Client.GetByteArrayAsync($"/instances/{id}/rendered"));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/instances/{id}/rendered?quality=95");
        request.Headers.Accept.ParseAdd("image/jpeg");
        var response = await Client.SendAsync(request);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType!.MediaType);
        var jpeg = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal((0xFF, 0xD8), (jpeg[0], jpeg[1]));
        var info = new OrthancWeb.Dicom.Imaging.PixelDataInfo(h, w, 1, 8, 8, 7, false, 0, "MONOCHROME2", 1);
        var decoded = new OrthancWeb.Dicom.Imaging.JpegCodec().Decode(jpeg, info).Data;
        var mean = decoded.Select((v, i) => Math.Abs(v - png[i])).Average();
        Assert.True(mean < 3, $"JPEG at quality 95 is {mean:N2} grey levels from the PNG on average");
    }

    [Fact]
    public async Task Uint16_image_holds_the_stored_values()
    {
        var path = Sample("CT_small.dcm");
        var id = (await UploadAsync(Client, path))["ID"]!.GetValue<string>();
        var (w, h, data) = DecodePng(await Client.GetByteArrayAsync($"/instances/{id}/frames/0/image-uint16"), bytesPerSample: 2);
        var stored = DicomFile.Open(path).Dataset.GetBytes(DicomTags.PixelData).Span;
        for (var i = 0; i < w * h; i += 97)
            Assert.Equal(stored[2 * i] | stored[2 * i + 1] << 8, data[2 * i] << 8 | data[2 * i + 1]);
    }

    [Fact]
    public async Task Unsupported_syntax_and_corrupt_streams_get_a_4xx_with_a_reason()
    {
        // An MPEG-2 video instance: stored as received, but no codec here renders it.
        var video = DicomFile.Open(Sample("CT_small.dcm"));
        var mpeg = new DicomFragmentSequence(DicomTags.PixelData, DicomVR.OB);
        mpeg.Fragments.Add(DicomBuffer.From(new byte[] { 0, 0, 1, 0xB3, 1, 2, 3, 4 }));
        video.Dataset.AddOrUpdate(mpeg);
        video.Dataset.Add(DicomTags.SOPInstanceUID, "2.25.1234567.98");
        var mpegFile = new DicomFile(video.Dataset, TransferSyntax.Lookup("1.2.840.10008.1.2.4.100"));
        mpegFile.UpdateFileMetaInfo();
        var id = JsonNode.Parse(await (await Client.PostAsync("/instances", new ByteArrayContent(mpegFile.ToBytes()))).Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
        var r = await Client.GetAsync($"/instances/{id}/preview");
        Assert.Equal((HttpStatusCode)415, r.StatusCode);
        Assert.Contains("MPEG", await r.Content.ReadAsStringAsync());

        // A JPEG lossless instance whose stream is cut in half: 400, not 500.
        var file = DicomFile.Open(Sample("JPEG-LL.dcm") is var p && File.Exists(p) ? p : Sample("SC_rgb_jpeg_gdcm.dcm"));
        var frag = file.Dataset.Get<DicomFragmentSequence>(DicomTags.PixelData)!;
        var cut = frag.Fragments[0].Memory[..(frag.Fragments[0].Memory.Length / 2)].ToArray();
        frag.Fragments[0] = DicomBuffer.From(cut.AsMemory(0, cut.Length & ~1));
        file.Dataset.Add(DicomTags.SOPInstanceUID, "2.25.1234567.99");
        var broken = await Client.PostAsync("/instances", new ByteArrayContent(file.ToBytes()));
        var brokenId = JsonNode.Parse(await broken.Content.ReadAsStringAsync())!["ID"]!.GetValue<string>();
        var b = await Client.GetAsync($"/instances/{brokenId}/preview");
        Assert.True((int)b.StatusCode is >= 400 and < 500, $"{(int)b.StatusCode}: {await b.Content.ReadAsStringAsync()}");
    }

    /// <summary>Our PNGs use filter 0 on every row, so decoding is inflate and strip one byte per row.</summary>
    internal static (int Width, int Height, byte[] Pixels) DecodePng(byte[] png, int bytesPerSample = 1)
    {
        int Be(int at) => png[at] << 24 | png[at + 1] << 16 | png[at + 2] << 8 | png[at + 3];
        var width = Be(16);
        var height = Be(20);
        var channels = png[25] switch { 0 => 1, 2 => 3, 6 => 4, _ => throw new InvalidDataException() };
        using var idat = new MemoryStream();
        for (var pos = 8; pos < png.Length;)
        {
            var len = Be(pos);
            var type = Encoding.ASCII.GetString(png, pos + 4, 4);
            if (type == "IDAT") idat.Write(png, pos + 8, len);
            pos += 12 + len;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var stride = width * channels * bytesPerSample;
        var all = raw.ToArray();
        var pixels = new byte[stride * height];
        for (var y = 0; y < height; y++) Buffer.BlockCopy(all, y * (stride + 1) + 1, pixels, y * stride, stride);
        return (width, height, pixels);
    }

    private static (int Width, int Height, byte[] Pixels) ReadPgm(byte[] pgm)
    {
        var fields = new List<string>();
        var pos = 0;
        while (fields.Count < 4)
        {
            while (char.IsWhiteSpace((char)pgm[pos])) pos++;
            if (pgm[pos] == '#') { while (pgm[pos] != '\n') pos++; continue; }
            var start = pos;
            while (!char.IsWhiteSpace((char)pgm[pos])) pos++;
            fields.Add(Encoding.ASCII.GetString(pgm, start, pos - start));
        }
        pos++;
        Assert.Equal("P5", fields[0]);
        int w = int.Parse(fields[1], CultureInfo.InvariantCulture), h = int.Parse(fields[2], CultureInfo.InvariantCulture);
        return (w, h, pgm[pos..(pos + w * h)]);
    }
}
