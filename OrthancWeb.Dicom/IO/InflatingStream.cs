using System.IO.Compression;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.IO;

/// <summary>
/// Inflates a deflated body (PS3.5 §A.5: raw deflate, no zlib header) and refuses to go past the limits of
/// <see cref="DicomReadOptions"/>: a total inflated size, and a ratio of inflated to deflated bytes read so far. A
/// deflate bomb therefore fails after a megabyte or so, with a <see cref="DicomReadException"/>, instead of filling memory.
/// </summary>
internal sealed class InflatingStream : Stream
{
    private readonly CountingStream _deflated;
    private readonly DeflateStream _inflater;
    private readonly long _maxSize;
    private readonly int _maxRatio;
    private long _inflated;

    public InflatingStream(Stream deflated, DicomReadOptions options, bool leaveOpen = false)
    {
        _deflated = new CountingStream(deflated, leaveOpen);
        _inflater = new DeflateStream(_deflated, CompressionMode.Decompress);
        _maxSize = options.MaxInflatedSize;
        _maxRatio = options.MaxInflationRatio;
    }

    /// <summary>Inflated bytes handed out so far.</summary>
    public long Inflated => _inflated;

    public override int Read(Span<byte> buffer)
    {
        // Never inflate more than the limit allows, even in one call.
        var room = _maxSize - _inflated;
        if (room <= 0)
        {
            // At the limit: one more byte tells whether the data goes on past it.
            Span<byte> probe = stackalloc byte[1];
            if (Inflate(probe) == 0) return 0;
            throw TooLarge();
        }
        if (buffer.Length > room) buffer = buffer[..(int)room];
        var n = Inflate(buffer);
        _inflated += n;
        if (_maxRatio > 0 && _inflated > DicomReadOptions.InflationRatioGrace && _inflated > (double)_maxRatio * Math.Max(1, _deflated.Count))
            throw new DicomReadException(_inflated,
                $"deflated data inflates over {_maxRatio} times its size (a bomb?)");
        return n;
    }

    private int Inflate(Span<byte> buffer)
    {
        try { return _inflater.Read(buffer); }
        catch (InvalidDataException ex) { throw new DicomReadException(_inflated, "corrupt deflate stream: " + ex.Message, ex); }
    }

    private DicomReadException TooLarge() =>
        new(_inflated, $"deflated data inflates past {_maxSize / (1024 * 1024)} MB");

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _inflated; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inflater.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Counts the bytes read from the stream it wraps.</summary>
    private sealed class CountingStream(Stream inner, bool leaveOpen) : Stream
    {
        public long Count { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            Count += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !leaveOpen) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>Bytes already read ahead into a buffer, then the rest of a stream, without copying the rest.</summary>
internal sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : Stream
{
    private ReadOnlyMemory<byte> _prefix = prefix;

    public override int Read(Span<byte> buffer)
    {
        if (_prefix.IsEmpty) return rest.Read(buffer);
        var n = Math.Min(buffer.Length, _prefix.Length);
        _prefix.Span[..n].CopyTo(buffer);
        _prefix = _prefix[n..];
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
