using OrthancWeb.Dicom.Imaging;
using OrthancWeb.Dicom.IO;
using OrthancWeb.Index;

namespace OrthancWeb.Imaging;

/// <summary>Pixels of stored instances for the REST API and the viewer: decode once per request, render, encode.</summary>
public sealed class RenderingService(InstanceFiles files)
{
    public sealed record Loaded(DicomFile File, FrameSource Frames);

    public async Task<Loaded?> LoadAsync(string instanceId, CancellationToken ct)
    {
        var attachment = await files.FindAsync(instanceId, ct);
        return attachment is null ? null : Load(attachment);
    }

    /// <summary>An instance whose file the caller has already looked up in the index.</summary>
    public Loaded Load(AttachmentInfo attachment)
    {
        var file = files.Read(attachment, includePixelData: true);
        return new Loaded(file, new FrameSource(file.Dataset, file.TransferSyntax));
    }

    public byte[] RenderPng(Loaded loaded, int frame, RenderOptions options)
    {
        var decoded = CodecRegistry.Default.DecodeFrame(loaded.Frames, frame);
        return PngEncoder.Encode(Renderer.Render(decoded, loaded.File.Dataset, options));
    }

    public byte[] RenderJpeg(Loaded loaded, int frame, RenderOptions options, int quality)
    {
        var decoded = CodecRegistry.Default.DecodeFrame(loaded.Frames, frame);
        var image = Renderer.Render(decoded, loaded.File.Dataset, options);
        // libjpeg-turbo where installed (the package depends on it): less than half the CPU of our encoder per frame.
        // Ours where it is not, or where it refuses a picture (libjpeg stops at 65,500 pixels on a side).
        if (TurboJpegEncoder.IsAvailable)
        {
            try { return TurboJpegEncoder.Encode(image, quality); }
            catch (ImagingException) { }
        }
        return JpegOutputEncoder.Encode(image, quality);
    }

    /// <summary>Raw sample values as PNG: 8-bit clamped, 16-bit unsigned, or signed 16-bit shifted by 32768.</summary>
    public byte[] RawPng(Loaded loaded, int frame, string format)
    {
        var decoded = CodecRegistry.Default.DecodeFrame(loaded.Frames, frame);
        var info = decoded.Info;
        if (decoded.Photometric is not ("MONOCHROME1" or "MONOCHROME2"))
            throw new ImagingException($"{format} is only defined for grayscale images");
        var values = Renderer.ModalityValues(decoded with { }, new Dicom.Data.DicomDataset());
        var count = values.Length;
        switch (format)
        {
            case "image-uint8":
                var b8 = new byte[count];
                for (var i = 0; i < count; i++) b8[i] = (byte)Math.Clamp(values[i], 0, 255);
                return PngEncoder.Encode(b8, info.Columns, info.Rows, 1, 8);
            case "image-uint16" or "image-int16":
                var b16 = new byte[count * 2];
                var offset = format == "image-int16" ? 32768 : 0;
                for (var i = 0; i < count; i++)
                {
                    var v = (int)Math.Clamp(values[i] + offset, 0, 65535);
                    b16[2 * i] = (byte)v;
                    b16[2 * i + 1] = (byte)(v >> 8);
                }
                return PngEncoder.Encode(b16, info.Columns, info.Rows, 1, 16);
            default:
                throw new ImagingException($"unknown format {format}");
        }
    }
}
