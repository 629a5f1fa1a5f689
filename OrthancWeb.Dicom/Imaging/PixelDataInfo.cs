using OrthancWeb.Dicom.Data;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>The Image Pixel module attributes that say how to read pixel data (PS3.3 §C.7.6.3).</summary>
public sealed record PixelDataInfo(
    int Rows,
    int Columns,
    int SamplesPerPixel,
    int BitsAllocated,
    int BitsStored,
    int HighBit,
    bool IsSigned,
    int PlanarConfiguration,
    string Photometric,
    int NumberOfFrames)
{
    /// <summary>Float Pixel Data (7FE0,0008) or Double Float Pixel Data (7FE0,0009): IEEE samples, no rescale bits.</summary>
    public bool IsFloat { get; init; }

    public static PixelDataInfo From(DicomDataset ds)
    {
        var rows = ds.GetValueOrDefault<int>(DicomTags.Rows, 0, 0);
        var columns = ds.GetValueOrDefault<int>(DicomTags.Columns, 0, 0);
        var bitsAllocated = ds.GetValueOrDefault<int>(DicomTags.BitsAllocated, 0, 0);
        var bitsStored = ds.GetValueOrDefault(DicomTags.BitsStored, 0, bitsAllocated);
        var frames = ds.GetValueOrDefault(DicomTags.NumberOfFrames, 0, 1);
        return new PixelDataInfo(
            rows, columns,
            ds.GetValueOrDefault(DicomTags.SamplesPerPixel, 0, 1),
            bitsAllocated, bitsStored,
            ds.GetValueOrDefault(DicomTags.HighBit, 0, bitsStored - 1),
            ds.GetValueOrDefault<int>(DicomTags.PixelRepresentation, 0, 0) == 1,
            ds.GetValueOrDefault<int>(DicomTags.PlanarConfiguration, 0, 0),
            (ds.GetString(DicomTags.PhotometricInterpretation) ?? "MONOCHROME2").Trim(),
            Math.Max(1, frames));
    }

    public int BytesPerSample => BitsAllocated <= 8 ? 1 : (BitsAllocated + 7) / 8;

    /// <summary>Bytes of one uncompressed frame; bit-packed for 1-bit data (PS3.5 §8.1.1).</summary>
    public long FrameLength => BitsAllocated == 1
        ? ((long)Rows * Columns * SamplesPerPixel + 7) / 8
        // Native YBR_FULL_422 keeps two luminance samples and one Cb/Cr pair per two pixels (PS3.3 §C.7.6.3.1.2).
        : Photometric == "YBR_FULL_422" && SamplesPerPixel == 3 ? (long)Rows * Columns * 2 * BytesPerSample
        : (long)Rows * Columns * SamplesPerPixel * BytesPerSample;

    public bool IsMonochrome => Photometric is "MONOCHROME1" or "MONOCHROME2";

    public void Validate()
    {
        if (Rows <= 0 || Columns <= 0) throw new ImagingException($"invalid image size {Columns}x{Rows}");
        if (BitsAllocated is not (1 or 8 or 16 or 32 or 64)) throw new ImagingException($"Bits Allocated {BitsAllocated} is not supported");
        if (SamplesPerPixel is not (1 or 3 or 4)) throw new ImagingException($"Samples per Pixel {SamplesPerPixel} is not supported");
        if (BitsStored <= 0 || BitsStored > BitsAllocated) throw new ImagingException($"Bits Stored {BitsStored} does not fit Bits Allocated {BitsAllocated}");
    }
}

/// <summary>Why pixel data could not be decoded or rendered: what the REST API and DICOMweb answer depends on it.</summary>
public enum ImagingFailure
{
    /// <summary>The pixel data or the request is wrong (a 400).</summary>
    Invalid,
    /// <summary>No codec here reads the instance's transfer syntax (a 415, or DICOMweb's 406: only as stored).</summary>
    NoCodec,
    /// <summary>A frame number beyond the instance's frames (a 404).</summary>
    NoSuchFrame,
}

/// <summary>Pixel data that cannot be decoded or rendered as asked; a 4xx with the reason, never a 500.</summary>
public sealed class ImagingException(string message, Exception? inner = null, ImagingFailure failure = ImagingFailure.Invalid) : DicomException(message, inner)
{
    public ImagingFailure Failure { get; } = failure;
}
