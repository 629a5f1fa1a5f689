using System.Runtime.InteropServices;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// JPEG-LS lossless and near-lossless (PS3.5 §A.4.3) through Debian's libcharls2, called through its C API when the
/// library is installed; a clear "codec not available" error when it is not.
/// </summary>
public sealed class JpegLsCodec : IFrameCodec, IFrameEncoder
{
    private const string Library = "libcharls.so.2";

    public bool Supports(TransferSyntax syntax) => syntax.Uid is "1.2.840.10008.1.2.4.80" or "1.2.840.10008.1.2.4.81";

    public static bool IsAvailable => NativeLibrary.TryLoad(Library, out _);

    public DecodedFrame Decode(ReadOnlyMemory<byte> frame, PixelDataInfo info)
    {
        if (!IsAvailable) throw new ImagingException("no codec is available for JPEG-LS: install libcharls2");
        var decoder = charls_jpegls_decoder_create();
        if (decoder == IntPtr.Zero) throw new ImagingException("CharLS could not create a decoder");
        var input = GCHandle.Alloc(frame.ToArray(), GCHandleType.Pinned);
        try
        {
            Check(charls_jpegls_decoder_set_source_buffer(decoder, input.AddrOfPinnedObject(), (nuint)frame.Length), "set source");
            Check(charls_jpegls_decoder_read_header(decoder), "read header");
            Check(charls_jpegls_decoder_get_frame_info(decoder, out var fi), "frame info");
            Check(charls_jpegls_decoder_get_interleave_mode(decoder, out var interleave), "interleave mode");
            if (fi.Width != info.Columns || fi.Height != info.Rows || fi.ComponentCount != info.SamplesPerPixel)
                throw new ImagingException($"JPEG-LS stream is {fi.Width}x{fi.Height}x{fi.ComponentCount}, the data set says {info.Columns}x{info.Rows}x{info.SamplesPerPixel}");
            Check(charls_jpegls_decoder_get_destination_size(decoder, 0, out var size), "destination size");
            var output = new byte[(int)size];
            var handle = GCHandle.Alloc(output, GCHandleType.Pinned);
            try { Check(charls_jpegls_decoder_decode_to_buffer(decoder, handle.AddrOfPinnedObject(), size, 0), "decode"); }
            finally { handle.Free(); }
            var decodedInfo = info with { PlanarConfiguration = 0 };
            // Interleave mode none (0) gives one plane per component; line (1) one line per component in turn.
            if (fi.ComponentCount > 1 && interleave == 0) output = NativeCodec.Interleave(output, decodedInfo);
            else if (fi.ComponentCount > 1 && interleave == 1) output = FromLineInterleaved(output, decodedInfo);
            return new DecodedFrame(output, decodedInfo, info.Photometric);
        }
        finally
        {
            input.Free();
            charls_jpegls_decoder_destroy(decoder);
        }
    }

    public bool CanEncode(TransferSyntax syntax) => Supports(syntax);

    /// <summary>
    /// One frame as a JPEG-LS stream, samples interleaved (ILV=2) for colour and no colour transform, so the
    /// photometric interpretation stays as it is (PS3.5 §A.4.3; §8.2.3). Samples are masked to Bits Stored: the
    /// stream carries P = Bits Stored bits (ISO 14495-1 §C.2.2), signed values as their two's complement bits.
    /// </summary>
    public EncodedFrame Encode(DecodedFrame frame, TransferSyntax syntax, EncodeOptions options)
    {
        if (!IsAvailable) throw new ImagingException("no encoder is available for JPEG-LS: install libcharls2", failure: ImagingFailure.NoCodec);
        var info = frame.Info;
        if (info.IsFloat || info.BitsAllocated is not (8 or 16) || info.BitsStored < 2 || info.BitsStored > 16)
            throw new ImagingException($"JPEG-LS holds 2 to 16 bits per sample, not {info.BitsStored} of {info.BitsAllocated} allocated{(info.IsFloat ? " floating point" : "")}");
        var source = Transcoder.MaskToBitsStored(frame.Data, info);
        var encoder = charls_jpegls_encoder_create();
        if (encoder == IntPtr.Zero) throw new ImagingException("CharLS could not create an encoder");
        var input = GCHandle.Alloc(source, GCHandleType.Pinned);
        try
        {
            var fi = new FrameInfo { Width = (uint)info.Columns, Height = (uint)info.Rows, BitsPerSample = info.BitsStored, ComponentCount = info.SamplesPerPixel };
            Check(charls_jpegls_encoder_set_frame_info(encoder, ref fi), "set frame info");
            if (info.SamplesPerPixel > 1) Check(charls_jpegls_encoder_set_interleave_mode(encoder, 2), "set interleave mode");
            if (syntax.Uid == TransferSyntax.JPEGLSNearLossless.Uid)
                Check(charls_jpegls_encoder_set_near_lossless(encoder, Math.Clamp(options.NearLossless, 0, 255)), "set near-lossless");
            Check(charls_jpegls_encoder_get_estimated_destination_size(encoder, out var estimate), "estimate size");
            var output = new byte[(int)estimate];
            var outHandle = GCHandle.Alloc(output, GCHandleType.Pinned);
            try
            {
                Check(charls_jpegls_encoder_set_destination_buffer(encoder, outHandle.AddrOfPinnedObject(), estimate), "set destination");
                Check(charls_jpegls_encoder_encode_from_buffer(encoder, input.AddrOfPinnedObject(), (nuint)source.Length, 0), "encode");
                Check(charls_jpegls_encoder_get_bytes_written(encoder, out var written), "bytes written");
                return new EncodedFrame(output.AsSpan(0, (int)written).ToArray(), frame.Photometric);
            }
            finally { outHandle.Free(); }
        }
        finally
        {
            input.Free();
            charls_jpegls_encoder_destroy(encoder);
        }
    }

    private static byte[] FromLineInterleaved(byte[] data, PixelDataInfo info)
    {
        var bps = info.BytesPerSample;
        var spp = info.SamplesPerPixel;
        var result = new byte[data.Length];
        var line = info.Columns * bps;
        for (var y = 0; y < info.Rows; y++)
            for (var c = 0; c < spp; c++)
                for (var x = 0; x < info.Columns; x++)
                    Buffer.BlockCopy(data, (y * spp + c) * line + x * bps, result, ((y * info.Columns + x) * spp + c) * bps, bps);
        return result;
    }

    private static void Check(int error, string step)
    {
        if (error != 0) throw new ImagingException($"JPEG-LS {step} failed (CharLS error {error})");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct FrameInfo
    {
        public uint Width;
        public uint Height;
        public int BitsPerSample;
        public int ComponentCount;
    }

    [DllImport(Library)] private static extern IntPtr charls_jpegls_encoder_create();
    [DllImport(Library)] private static extern void charls_jpegls_encoder_destroy(IntPtr encoder);
    [DllImport(Library)] private static extern int charls_jpegls_encoder_set_frame_info(IntPtr encoder, ref FrameInfo frameInfo);
    [DllImport(Library)] private static extern int charls_jpegls_encoder_set_near_lossless(IntPtr encoder, int nearLossless);
    [DllImport(Library)] private static extern int charls_jpegls_encoder_set_interleave_mode(IntPtr encoder, int interleaveMode);
    [DllImport(Library)] private static extern int charls_jpegls_encoder_get_estimated_destination_size(IntPtr encoder, out nuint size);
    [DllImport(Library)] private static extern int charls_jpegls_encoder_set_destination_buffer(IntPtr encoder, IntPtr destination, nuint size);
    [DllImport(Library)] private static extern int charls_jpegls_encoder_encode_from_buffer(IntPtr encoder, IntPtr source, nuint size, uint stride);
    [DllImport(Library)] private static extern int charls_jpegls_encoder_get_bytes_written(IntPtr encoder, out nuint written);
    [DllImport(Library)] private static extern IntPtr charls_jpegls_decoder_create();
    [DllImport(Library)] private static extern void charls_jpegls_decoder_destroy(IntPtr decoder);
    [DllImport(Library)] private static extern int charls_jpegls_decoder_set_source_buffer(IntPtr decoder, IntPtr source, nuint size);
    [DllImport(Library)] private static extern int charls_jpegls_decoder_read_header(IntPtr decoder);
    [DllImport(Library)] private static extern int charls_jpegls_decoder_get_frame_info(IntPtr decoder, out FrameInfo frameInfo);
    [DllImport(Library)] private static extern int charls_jpegls_decoder_get_interleave_mode(IntPtr decoder, out int interleaveMode);
    [DllImport(Library)] private static extern int charls_jpegls_decoder_get_destination_size(IntPtr decoder, uint stride, out nuint size);
    [DllImport(Library)] private static extern int charls_jpegls_decoder_decode_to_buffer(IntPtr decoder, IntPtr destination, nuint size, uint stride);
}
