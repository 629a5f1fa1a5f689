using System.Runtime.InteropServices;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// A decoded frame: samples interleaved (R,G,B,R,...) in little-endian units of <see cref="PixelDataInfo.BytesPerSample"/>.
/// Read-only: an uncompressed frame may be the very array its pixel data was loaded into.
/// </summary>
public sealed record DecodedFrame(byte[] Data, PixelDataInfo Info, string Photometric);

/// <summary>Decodes (and may encode) the frames of one family of transfer syntaxes.</summary>
public interface IFrameCodec
{
    bool Supports(TransferSyntax syntax);
    DecodedFrame Decode(ReadOnlyMemory<byte> frame, PixelDataInfo info);
}

/// <summary>An encoded frame and the photometric interpretation it now has (a codec's colour transform may change it).</summary>
public sealed record EncodedFrame(byte[] Data, string Photometric);

/// <summary>How hard a lossy encoder may compress; lossless syntaxes ignore it.</summary>
public sealed record EncodeOptions
{
    public static EncodeOptions Default { get; } = new();

    /// <summary>JPEG-LS near-lossless NEAR parameter: the largest error allowed on any sample (ISO 14495-1 §A.2.1).</summary>
    public int NearLossless { get; init; } = 2;

    /// <summary>JPEG 2000 lossy target compression ratio (uncompressed size over compressed size).</summary>
    public float Jpeg2000Ratio { get; init; } = 10;

    /// <summary>JPEG baseline quality, 1 to 100 (IJG scaling of the Annex K tables).</summary>
    public int JpegQuality { get; init; } = 90;
}

/// <summary>Encodes decoded frames into one family of encapsulated transfer syntaxes.</summary>
public interface IFrameEncoder
{
    bool CanEncode(TransferSyntax syntax);

    /// <summary>
    /// Encodes one interleaved frame (as <see cref="IFrameCodec.Decode"/> gives it); an <see cref="ImagingException"/>
    /// when the syntax cannot hold such pixels (e.g. 16-bit into JPEG baseline).
    /// </summary>
    EncodedFrame Encode(DecodedFrame frame, TransferSyntax syntax, EncodeOptions options);
}

/// <summary>The one place that says which codec handles which transfer syntax.</summary>
public sealed class CodecRegistry(IEnumerable<IFrameCodec> codecs)
{
    private readonly IReadOnlyList<IFrameCodec> _codecs = codecs.ToList();

    /// <summary>The encoder for an encapsulated syntax, or a <see cref="ImagingFailure.NoCodec"/> failure.</summary>
    public IFrameEncoder FindEncoder(TransferSyntax syntax) =>
        _codecs.OfType<IFrameEncoder>().FirstOrDefault(c => c.CanEncode(syntax))
        ?? throw new ImagingException($"no encoder is available for {syntax.Name} ({syntax.Uid})", failure: ImagingFailure.NoCodec);

    /// <summary>Whether data sets can be written in <paramref name="syntax"/>: uncompressed, or an encoder for it.</summary>
    public bool CanWrite(TransferSyntax syntax) => !syntax.IsEncapsulated || _codecs.OfType<IFrameEncoder>().Any(c => c.CanEncode(syntax));

    /// <summary>Whether pixel data stored in <paramref name="syntax"/> can be decoded here.</summary>
    public bool CanRead(TransferSyntax syntax) => _codecs.Any(c => c.Supports(syntax));

    public static CodecRegistry Default { get; } = new([new NativeCodec(), new RleCodec(), new JpegCodec(), new JpegLsCodec(), new Jpeg2000Codec()]);

    public IFrameCodec Find(TransferSyntax syntax) =>
        _codecs.FirstOrDefault(c => c.Supports(syntax))
        ?? throw new ImagingException($"no codec is available for {syntax.Name} ({syntax.Uid})", failure: ImagingFailure.NoCodec);

    public DecodedFrame DecodeFrame(FrameSource source, int index)
    {
        source.Info.Validate();
        var codec = Find(source.Syntax);
        try
        {
            var frame = codec.Decode(source.GetFrame(index), source.Info);
            if (source.HasSwappedWords)
            {
                frame = frame with { Data = (byte[])frame.Data.Clone() };
                for (var i = 0; i + 4 <= frame.Data.Length; i += 4)
                    (frame.Data[i], frame.Data[i + 1], frame.Data[i + 2], frame.Data[i + 3]) = (frame.Data[i + 2], frame.Data[i + 3], frame.Data[i], frame.Data[i + 1]);
            }
            return frame;
        }
        catch (ImagingException) { throw; }
        catch (Exception ex) when (ex is InvalidDataException or IndexOutOfRangeException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new ImagingException($"frame {index} cannot be decoded ({source.Syntax.Name}): {ex.Message}", ex);
        }
    }
}

/// <summary>Uncompressed pixel data: already little endian in memory; planar configuration 1 is interleaved here.</summary>
public sealed class NativeCodec : IFrameCodec
{
    public bool Supports(TransferSyntax syntax) => syntax.IsUncompressed || syntax.Uid == "1.2.840.10008.1.2.1.98";

    public DecodedFrame Decode(ReadOnlyMemory<byte> frame, PixelDataInfo info)
    {
        if (info.BitsAllocated == 1)
        {
            // Unpack bits (least significant first, PS3.5 §8.1.1) to one byte per pixel.
            var count = info.Rows * info.Columns * info.SamplesPerPixel;
            var bytes = new byte[count];
            var s = frame.Span;
            for (var i = 0; i < count; i++) bytes[i] = (byte)((s[i >> 3] >> (i & 7)) & 1);
            return new DecodedFrame(bytes, info with { BitsAllocated = 8, BitsStored = 1, HighBit = 0 }, info.Photometric);
        }
        // A frame that is a whole array (one frame, loaded for this call) is used as it is: copying 512 KB per
        // rendered CT slice cost more than rendering it.
        var data = MemoryMarshal.TryGetArray(frame, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : frame.ToArray();
        if (info.SamplesPerPixel > 1 && info.PlanarConfiguration == 1)
            data = Interleave(data, info);
        return new DecodedFrame(data, info with { PlanarConfiguration = 0 }, info.Photometric);
    }

    internal static byte[] Interleave(byte[] planar, PixelDataInfo info)
    {
        var pixels = info.Rows * info.Columns;
        var bps = info.BytesPerSample;
        var spp = info.SamplesPerPixel;
        var result = new byte[planar.Length];
        for (var s = 0; s < spp; s++)
            for (var p = 0; p < pixels; p++)
                Buffer.BlockCopy(planar, (s * pixels + p) * bps, result, (p * spp + s) * bps, bps);
        return result;
    }
}
