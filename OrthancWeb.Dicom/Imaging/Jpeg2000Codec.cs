using System.Runtime.InteropServices;
using OrthancWeb.Dicom.IO;

namespace OrthancWeb.Dicom.Imaging;

/// <summary>
/// JPEG 2000 (PS3.5 §A.4.4) through Debian's libopenjp2-7, reading the codestream from memory through OpenJPEG's
/// stream callbacks; a clear "codec not available" error when the library is not installed. The multi-component
/// transform of YBR_RCT/YBR_ICT is undone by the decoder, so color frames come out as RGB.
/// </summary>
public sealed class Jpeg2000Codec : IFrameCodec
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
