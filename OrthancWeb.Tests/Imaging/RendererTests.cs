using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Tests.Imaging;

/// <summary>The LUT stages of PS3.4 Annex N on small images whose right answer is computed by hand.</summary>
public sealed class RendererTests
{
    private static DicomDataset Grey(int bits, params ushort[] values)
    {
        var ds = new DicomDataset()
            .Add(DicomTags.Rows, (ushort)1).Add(DicomTags.Columns, (ushort)values.Length)
            .Add(DicomTags.SamplesPerPixel, (ushort)1).Add(DicomTags.PhotometricInterpretation, "MONOCHROME2")
            .Add(DicomTags.BitsAllocated, (ushort)16).Add(DicomTags.BitsStored, (ushort)bits).Add(DicomTags.HighBit, (ushort)(bits - 1))
            .Add(DicomTags.PixelRepresentation, (ushort)0);
        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, values.SelectMany(BitConverter.GetBytes).ToArray());
        return ds;
    }

    private static byte[] Render(DicomDataset ds, RenderOptions? options = null)
    {
        var source = new FrameSource(ds, TransferSyntax.ExplicitVRLittleEndian);
        return Renderer.Render(CodecRegistry.Default.DecodeFrame(source, 0), ds, options ?? new RenderOptions()).Pixels;
    }

    [Fact]
    public void Window_follows_the_linear_function_and_monochrome1_inverts()
    {
        var ds = Grey(12, 0, 1000, 2000, 3000);
        ds.Add(DicomTags.RescaleIntercept, "-1024").Add(DicomTags.RescaleSlope, "1");
        // Window 0..2000 in Hounsfield units (PS3.3 §C.11.2.1.2.1): -1024 and -24 are below it (0);
        // 976 -> ((976 - 999.5) / 1999 + 0.5) * 255 = 124.5 -> 125; 1976 -> 252.
        var pixels = Render(ds, new RenderOptions { WindowCenter = 1000, WindowWidth = 2000 });
        Assert.Equal([0, 0, 125, 252], pixels.Select(p => (int)p).ToArray());
        ds.Add(DicomTags.PhotometricInterpretation, "MONOCHROME1");
        Assert.Equal([255, 255, 130, 3], Render(ds, new RenderOptions { WindowCenter = 1000, WindowWidth = 2000 }).Select(p => (int)p).ToArray());
    }

    [Fact]
    public void Modality_lut_sequence_replaces_rescale()
    {
        var ds = Grey(8, 0, 1, 2, 3);
        var lut = new DicomDataset().Add(DicomTags.LUTDescriptor, DicomVR.US, (ushort)4, (ushort)0, (ushort)16);
        lut.AddBytes(DicomTags.LUTData, DicomVR.OW, new ushort[] { 0, 100, 200, 300 }.SelectMany(BitConverter.GetBytes).ToArray());
        ds.AddSequence(DicomTags.ModalityLUTSequence, lut);
        ds.Add(DicomTags.RescaleSlope, "1000"); // ignored when a Modality LUT Sequence is present
        var pixels = Render(ds, new RenderOptions { WindowCenter = 150.5, WindowWidth = 301 });
        Assert.Equal([0, 85, 170, 255], pixels.Select(p => (int)p).ToArray());
    }

    [Fact]
    public void Voi_lut_sequence_is_used_when_no_window_is_given()
    {
        var ds = Grey(8, 0, 1, 2, 3);
        var voi = new DicomDataset().Add(DicomTags.LUTDescriptor, DicomVR.US, (ushort)4, (ushort)0, (ushort)8);
        voi.AddBytes(DicomTags.LUTData, DicomVR.OW, new ushort[] { 255, 128, 64, 0 }.SelectMany(BitConverter.GetBytes).ToArray());
        ds.AddSequence(DicomTags.VOILUTSequence, voi);
        Assert.Equal([255, 128, 64, 0], Render(ds).Select(p => (int)p).ToArray());
    }

    [Fact]
    public void Float_pixel_data_renders_with_an_automatic_window()
    {
        var ds = new DicomDataset()
            .Add(DicomTags.Rows, (ushort)1).Add(DicomTags.Columns, (ushort)3)
            .Add(DicomTags.SamplesPerPixel, (ushort)1).Add(DicomTags.PhotometricInterpretation, "MONOCHROME2")
            .Add(DicomTags.BitsAllocated, (ushort)32);
        ds.AddBytes(DicomTags.FloatPixelData, DicomVR.OF, new[] { -1.5f, 0.25f, 2.0f }.SelectMany(BitConverter.GetBytes).ToArray());
        var pixels = Render(ds);
        Assert.Equal(0, pixels[0]);
        Assert.Equal(255, pixels[2]);
        // Automatic window c = 0.25, w = 3.5: 0.25 -> ((0.25 - (0.25 - 0.5)) / 2.5 + 0.5) * 255 = 178.5 -> 178.
        Assert.InRange(pixels[1], 178, 179);
    }

    [Fact]
    public void Segmented_palette_expands_discrete_and_linear_segments()
    {
        var ds = new DicomDataset()
            .Add(DicomTags.Rows, (ushort)1).Add(DicomTags.Columns, (ushort)4)
            .Add(DicomTags.SamplesPerPixel, (ushort)1).Add(DicomTags.PhotometricInterpretation, "PALETTE COLOR")
            .Add(DicomTags.BitsAllocated, (ushort)8).Add(DicomTags.BitsStored, (ushort)8).Add(DicomTags.HighBit, (ushort)7)
            .Add(DicomTags.PixelRepresentation, (ushort)0);
        ds.AddBytes(DicomTags.PixelData, DicomVR.OB, new byte[] { 0, 1, 2, 3 });
        foreach (var (descriptor, segmented) in new[]
        {
            (DicomTags.RedPaletteColorLookupTableDescriptor, DicomTags.SegmentedRedPaletteColorLookupTableData),
            (DicomTags.GreenPaletteColorLookupTableDescriptor, DicomTags.SegmentedGreenPaletteColorLookupTableData),
            (DicomTags.BluePaletteColorLookupTableDescriptor, DicomTags.SegmentedBluePaletteColorLookupTableData),
        })
        {
            ds.Add(descriptor, DicomVR.US, (ushort)4, (ushort)0, (ushort)16);
            // Discrete [0], then linear up to 0xFFFF over 3 entries: 0, 0x5555, 0xAAAA, 0xFFFF.
            ds.AddBytes(segmented, DicomVR.OW, new ushort[] { 0, 1, 0, 1, 3, 0xFFFF }.SelectMany(BitConverter.GetBytes).ToArray());
        }
        var rgb = Render(ds);
        Assert.Equal([0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255], rgb.Select(p => (int)p).ToArray());
    }

    [Fact]
    public void Signed_stored_values_are_masked_and_sign_extended_from_bits_stored()
    {
        // 12 of 16 bits, two's complement (PS3.5 8.1.1); the top four bits are not part of the value and are set here
        // to prove it. 0x0FFF is -1, 0x0800 is -2048, 0x07FF is 2047.
        var ds = Grey(12, 0xF000, 0xFFFF, 0xF800, 0x07FF);
        ds.Add(DicomTags.PixelRepresentation, (ushort)1);
        // Window 0/4096: -2048 is at the bottom (0); 0 -> (0.5 / 4095 + 0.5) * 255 = 127.53 -> 128; -1 -> 127.47 -> 127; 2047 -> 255.
        Assert.Equal([128, 127, 0, 255], Render(ds, new RenderOptions { WindowCenter = 0, WindowWidth = 4096 }).Select(p => (int)p).ToArray());
    }

    [Fact]
    public void Pixel_data_shorter_than_the_geometry_is_a_clear_error()
    {
        var ds = Grey(12, 1, 2, 3, 4);
        ds.Add(DicomTags.Rows, (ushort)10);
        var source = new FrameSource(ds, TransferSyntax.ExplicitVRLittleEndian);
        var ex = Assert.Throws<ImagingException>(() => CodecRegistry.Default.DecodeFrame(source, 0));
        Assert.Contains("needs bytes", ex.Message);
    }
}
