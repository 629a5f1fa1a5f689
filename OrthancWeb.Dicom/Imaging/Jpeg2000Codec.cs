using System.Runtime.InteropServices;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// JPEG 2000 (PS3.5 §A.4.4) through Debian's libopenjp2-7, reading the codestream from memory through OpenJPEG's
/// stream callbacks; a clear "codec not available" error when the library is not installed. The multi-component
/// transform of YBR_RCT/YBR_ICT is undone by the decoder, so color frames come out as RGB.
/// </summary>
public sealed class Jpeg2000Codec : IFrameCodec, IFrameEncoder
{
    private const string Library = "libopenjp2.so.7";
    private const int CodecJ2K = 0, CodecJP2 = 2;

    public bool Supports(TransferSyntax syntax) => syntax.Uid is "1.2.840.10008.1.2.4.90" or "1.2.840.10008.1.2.4.91";

    public static bool IsAvailable => NativeLibrary.TryLoad(Library, out _);

    public DecodedFrame Decode(ReadOnlyMemory<byte> frame, PixelDataInfo info)
    {
        if (!IsAvailable) throw new ImagingException("no codec is available for JPEG 2000: install libopenjp2-7");
        var data = frame.ToArray();
        var isJp2 = data.Length > 12 && data[4] == 'j' && data[5] == 'P';
        var state = new MemoryState(data);
        var stateHandle = GCHandle.Alloc(state);
        var parameters = Marshal.AllocHGlobal(ParametersSize);
        IntPtr codec = IntPtr.Zero, stream = IntPtr.Zero, image = IntPtr.Zero;
        try
        {
            for (var i = 0; i < ParametersSize; i += 8) Marshal.WriteInt64(parameters, i, 0);
            codec = opj_create_decompress(isJp2 ? CodecJP2 : CodecJ2K);
            opj_set_default_decoder_parameters(parameters);
            if (opj_setup_decoder(codec, parameters) == 0) throw new ImagingException("OpenJPEG refused the decoder parameters");
            stream = opj_stream_create(1 << 16, 1);
            opj_stream_set_read_function(stream, ReadCallback);
            opj_stream_set_skip_function(stream, SkipCallback);
            opj_stream_set_seek_function(stream, SeekCallback);
            opj_stream_set_user_data(stream, GCHandle.ToIntPtr(stateHandle), IntPtr.Zero);
            opj_stream_set_user_data_length(stream, (ulong)data.Length);
            if (opj_read_header(stream, codec, out image) == 0) throw new ImagingException("JPEG 2000 header cannot be read");
            if (opj_decode(codec, stream, image) == 0) throw new ImagingException("JPEG 2000 stream cannot be decoded");
            // The frame is whole once opj_decode succeeds: this only reads what follows the code stream (a JP2 file's
            // trailing boxes; nothing for the raw code stream PS3.5 A.4.4 prescribes), so a damaged tail loses no pixel.
            _ = opj_end_decompress(codec, stream);
            return Extract(image, info);
        }
        finally
        {
            if (image != IntPtr.Zero) opj_image_destroy(image);
            if (stream != IntPtr.Zero) opj_stream_destroy(stream);
            if (codec != IntPtr.Zero) opj_destroy_codec(codec);
            Marshal.FreeHGlobal(parameters);
            stateHandle.Free();
        }
    }

    public bool CanEncode(TransferSyntax syntax) => Supports(syntax);

    /// <summary>
    /// One frame as a raw J2K code stream (PS3.5 §A.4.4: no JP2 boxes), one quality layer: reversible 5/3 wavelet and
    /// no rate limit for .90, irreversible 9/7 at <see cref="EncodeOptions.Jpeg2000Ratio"/> for .91. RGB goes through
    /// the multi-component transform, so the photometric interpretation becomes YBR_RCT or YBR_ICT (PS3.5 §8.2.4).
    /// </summary>
    public EncodedFrame Encode(DecodedFrame frame, TransferSyntax syntax, EncodeOptions options)
    {
        if (!IsAvailable) throw new ImagingException("no encoder is available for JPEG 2000: install libopenjp2-7", failure: ImagingFailure.NoCodec);
        var info = frame.Info;
        if (info.IsFloat || info.BitsAllocated is not (8 or 16) || info.BitsStored > 16)
            throw new ImagingException($"JPEG 2000 here holds up to 16 bits per sample, not {info.BitsStored} of {info.BitsAllocated} allocated");
        var lossy = syntax.Uid == "1.2.840.10008.1.2.4.91";
        var components = info.SamplesPerPixel;
        var mct = components == 3 && frame.Photometric == "RGB";
        var parameters = Marshal.AllocHGlobal(EncoderParametersSize);
        var cmptparms = Marshal.AllocHGlobal(CmptParmSize * components);
        var output = new OutputState();
        var outputHandle = GCHandle.Alloc(output);
        IntPtr codec = IntPtr.Zero, stream = IntPtr.Zero, image = IntPtr.Zero;
        try
        {
            for (var i = 0; i < EncoderParametersSize; i += 8) Marshal.WriteInt64(parameters, i, 0);
            opj_set_default_encoder_parameters(parameters);
            // Offsets in opj_cparameters_t (openjpeg.h 2.5, 64-bit), checked against offsetof on Debian 12.
            Marshal.WriteInt32(parameters, 20, 1);                               // cp_disto_alloc: rate-controlled layers
            Marshal.WriteInt32(parameters, 4796, 1);                             // tcp_numlayers
            WriteFloat(parameters, 4800, lossy ? Math.Max(1, options.Jpeg2000Ratio) : 0); // tcp_rates[0]; 0 = lossless
            Marshal.WriteInt32(parameters, 5616, lossy ? 1 : 0);                 // irreversible (9/7 wavelet)
            Marshal.WriteByte(parameters, 18698, (byte)(mct ? 1 : 0));           // tcp_mct
            // Each of the numresolution - 1 decompositions halves the image: keep the smallest level at least one pixel.
            var levels = 1;
            while (levels < 6 && (Math.Min(info.Rows, info.Columns) >> levels) >= 1) levels++;
            Marshal.WriteInt32(parameters, 5600, levels);                        // numresolution
            for (var c = 0; c < components; c++)
            {
                var at = cmptparms + c * CmptParmSize;
                int[] fields = [1, 1, info.Columns, info.Rows, 0, 0, info.BitsStored, info.BitsStored, info.IsSigned ? 1 : 0];
                for (var f = 0; f < fields.Length; f++) Marshal.WriteInt32(at, 4 * f, fields[f]);
            }
            image = opj_image_create((uint)components, cmptparms, components == 1 ? ColorSpaceGray : ColorSpaceSrgb);
            if (image == IntPtr.Zero) throw new ImagingException("OpenJPEG could not allocate the image");
            Marshal.WriteInt32(image, 8, info.Columns);  // x1
            Marshal.WriteInt32(image, 12, info.Rows);    // y1
            var pixels = info.Rows * info.Columns;
            var values = new int[pixels];
            var bps = info.BytesPerSample;
            var shift = 32 - info.BitsStored;
            var comps = Marshal.ReadIntPtr(image, 24);
            for (var c = 0; c < components; c++)
            {
                for (var p = 0; p < pixels; p++)
                {
                    var at = (p * components + c) * bps;
                    var raw = bps == 1 ? frame.Data[at] : frame.Data[at] | frame.Data[at + 1] << 8;
                    // Keep Bits Stored bits, sign-extended when Pixel Representation says signed (PS3.3 §C.7.6.3.1).
                    values[p] = info.IsSigned ? raw << shift >> shift : (int)((uint)raw << shift >> shift);
                }
                Marshal.Copy(values, 0, Marshal.ReadIntPtr(comps + c * CompSize, 48), pixels);
            }
            codec = opj_create_compress(CodecJ2K);
            if (opj_setup_encoder(codec, parameters, image) == 0) throw new ImagingException("OpenJPEG refused the encoder parameters");
            stream = opj_stream_create(1 << 16, 0);
            opj_stream_set_write_function(stream, WriteCallback);
            opj_stream_set_skip_function(stream, OutputSkipCallback);
            opj_stream_set_seek_function(stream, OutputSeekCallback);
            opj_stream_set_user_data(stream, GCHandle.ToIntPtr(outputHandle), IntPtr.Zero);
            if (opj_start_compress(codec, image, stream) == 0 || opj_encode(codec, stream) == 0 || opj_end_compress(codec, stream) == 0)
                throw new ImagingException("OpenJPEG could not encode the frame");
            var photometric = mct ? (lossy ? "YBR_ICT" : "YBR_RCT") : frame.Photometric;
            return new EncodedFrame(output.ToArray(), photometric);
        }
        finally
        {
            if (stream != IntPtr.Zero) opj_stream_destroy(stream);
            if (codec != IntPtr.Zero) opj_destroy_codec(codec);
            if (image != IntPtr.Zero) opj_image_destroy(image);
            Marshal.FreeHGlobal(parameters);
            Marshal.FreeHGlobal(cmptparms);
            outputHandle.Free();
        }
    }

    private static void WriteFloat(IntPtr at, int offset, float value) => Marshal.WriteInt32(at, offset, BitConverter.SingleToInt32Bits(value));

    private const int EncoderParametersSize = 20 * 1024; // opj_cparameters_t is 18,720 bytes in 2.5
    private const int CmptParmSize = 36;                 // opj_image_cmptparm_t: dx dy w h x0 y0 prec bpp sgnd
    private const int ColorSpaceSrgb = 1, ColorSpaceGray = 2;

    /// <summary>A growing byte buffer OpenJPEG writes into, seeking when it patches a marker length.</summary>
    private sealed class OutputState
    {
        public byte[] Buffer = new byte[1 << 16];
        public long Position;
        public long Length;

        public byte[] ToArray() => Buffer.AsSpan(0, (int)Length).ToArray();
    }

    private static OutputState Output(IntPtr user) => (OutputState)GCHandle.FromIntPtr(user).Target!;

    private static nuint Write(IntPtr buffer, nuint count, IntPtr user)
    {
        var s = Output(user);
        var end = s.Position + (long)count;
        if (end > int.MaxValue) return unchecked((nuint)(-1));
        if (end > s.Buffer.Length) Array.Resize(ref s.Buffer, (int)Math.Min(int.MaxValue, Math.Max(end, 2L * s.Buffer.Length)));
        Marshal.Copy(buffer, s.Buffer, (int)s.Position, (int)count);
        s.Position = end;
        s.Length = Math.Max(s.Length, end);
        return count;
    }

    private static long OutputSkip(long count, IntPtr user)
    {
        var s = Output(user);
        if (s.Position + count < 0) return -1;
        s.Position += count;
        return count;
    }

    private static int OutputSeek(long position, IntPtr user)
    {
        if (position < 0) return 0;
        Output(user).Position = position;
        return 1;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate nuint WriteFn(IntPtr buffer, nuint count, IntPtr user);

    private static readonly WriteFn WriteCallback = Write;
    private static readonly SkipFn OutputSkipCallback = OutputSkip;
    private static readonly SeekFn OutputSeekCallback = OutputSeek;

    [DllImport(Library)] private static extern IntPtr opj_create_compress(int format);
    [DllImport(Library)] private static extern void opj_set_default_encoder_parameters(IntPtr parameters);
    [DllImport(Library)] private static extern int opj_setup_encoder(IntPtr codec, IntPtr parameters, IntPtr image);
    [DllImport(Library)] private static extern IntPtr opj_image_create(uint components, IntPtr parameters, int colorSpace);
    [DllImport(Library)] private static extern void opj_stream_set_write_function(IntPtr stream, WriteFn fn);
    [DllImport(Library)] private static extern int opj_start_compress(IntPtr codec, IntPtr image, IntPtr stream);
    [DllImport(Library)] private static extern int opj_encode(IntPtr codec, IntPtr stream);
    [DllImport(Library)] private static extern int opj_end_compress(IntPtr codec, IntPtr stream);

    /// <summary>opj_image_t and opj_image_comp_t (openjpeg.h 2.x, 64-bit layout) to interleaved little-endian samples.</summary>
    private static DecodedFrame Extract(IntPtr image, PixelDataInfo info)
    {
        var components = Marshal.ReadInt32(image, 16);
        var comps = Marshal.ReadIntPtr(image, 24);
        if (components != info.SamplesPerPixel)
            throw new ImagingException($"JPEG 2000 stream has {components} components, the data set says {info.SamplesPerPixel}");
        var pixels = info.Rows * info.Columns;
        var bps = info.BytesPerSample;
        var output = new byte[pixels * components * bps];
        var values = new int[pixels];
        for (var c = 0; c < components; c++)
        {
            var comp = comps + c * CompSize;
            var w = Marshal.ReadInt32(comp, 8);
            var h = Marshal.ReadInt32(comp, 12);
            if (w != info.Columns || h != info.Rows)
                throw new ImagingException($"JPEG 2000 component {c} is {w}x{h}, the data set says {info.Columns}x{info.Rows}");
            Marshal.Copy(Marshal.ReadIntPtr(comp, 48), values, 0, pixels);
            for (var p = 0; p < pixels; p++)
            {
                var v = values[p];
                var at = (p * components + c) * bps;
                output[at] = (byte)v;
                if (bps > 1) output[at + 1] = (byte)(v >> 8);
                if (bps > 2) { output[at + 2] = (byte)(v >> 16); output[at + 3] = (byte)(v >> 24); }
            }
        }
        var photometric = info.Photometric is "YBR_RCT" or "YBR_ICT" ? "RGB" : info.Photometric;
        return new DecodedFrame(output, info with { PlanarConfiguration = 0 }, photometric);
    }

    private const int ParametersSize = 16 * 1024; // opj_dparameters_t is ~8.3 KB; the rest stays zero
    private const int CompSize = 64;

    private sealed class MemoryState(byte[] data)
    {
        public readonly byte[] Data = data;
        public long Position;
    }

    private static MemoryState State(IntPtr user) => (MemoryState)GCHandle.FromIntPtr(user).Target!;

    private static nuint Read(IntPtr buffer, nuint count, IntPtr user)
    {
        var s = State(user);
        var left = s.Data.Length - s.Position;
        if (left <= 0) return unchecked((nuint)(-1));
        var n = (int)Math.Min((long)count, left);
        Marshal.Copy(s.Data, (int)s.Position, buffer, n);
        s.Position += n;
        return (nuint)n;
    }

    private static long Skip(long count, IntPtr user)
    {
        var s = State(user);
        var n = Math.Clamp(count, -s.Position, s.Data.Length - s.Position);
        s.Position += n;
        return n;
    }

    private static int Seek(long position, IntPtr user)
    {
        var s = State(user);
        if (position < 0 || position > s.Data.Length) return 0;
        s.Position = position;
        return 1;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate nuint ReadFn(IntPtr buffer, nuint count, IntPtr user);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate long SkipFn(long count, IntPtr user);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int SeekFn(long position, IntPtr user);

    // Kept in static fields so the collector never frees a callback OpenJPEG still holds.
    private static readonly ReadFn ReadCallback = Read;
    private static readonly SkipFn SkipCallback = Skip;
    private static readonly SeekFn SeekCallback = Seek;

    [DllImport(Library)] private static extern IntPtr opj_create_decompress(int format);
    [DllImport(Library)] private static extern void opj_set_default_decoder_parameters(IntPtr parameters);
    [DllImport(Library)] private static extern int opj_setup_decoder(IntPtr codec, IntPtr parameters);
    [DllImport(Library)] private static extern IntPtr opj_stream_create(nuint bufferSize, int isInput);
    [DllImport(Library)] private static extern void opj_stream_set_read_function(IntPtr stream, ReadFn fn);
    [DllImport(Library)] private static extern void opj_stream_set_skip_function(IntPtr stream, SkipFn fn);
    [DllImport(Library)] private static extern void opj_stream_set_seek_function(IntPtr stream, SeekFn fn);
    [DllImport(Library)] private static extern void opj_stream_set_user_data(IntPtr stream, IntPtr data, IntPtr freeFn);
    [DllImport(Library)] private static extern void opj_stream_set_user_data_length(IntPtr stream, ulong length);
    [DllImport(Library)] private static extern int opj_read_header(IntPtr stream, IntPtr codec, out IntPtr image);
    [DllImport(Library)] private static extern int opj_decode(IntPtr codec, IntPtr stream, IntPtr image);
    [DllImport(Library)] private static extern int opj_end_decompress(IntPtr codec, IntPtr stream);
    [DllImport(Library)] private static extern void opj_stream_destroy(IntPtr stream);
    [DllImport(Library)] private static extern void opj_destroy_codec(IntPtr codec);
    [DllImport(Library)] private static extern void opj_image_destroy(IntPtr image);
}
