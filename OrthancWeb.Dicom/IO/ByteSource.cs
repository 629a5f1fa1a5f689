using System.Buffers.Binary;
using OrthancWeb.Dicom.Data;

namespace OrthancWeb.Dicom.IO;

/// <summary>Where the reader takes bytes from: every read is bounds-checked and fails with the offset where it stopped.</summary>
internal abstract class ByteSource
{
    /// <summary>Offset of the next byte, counted from the start of the input the caller gave.</summary>
    public abstract long Position { get; }

    /// <summary>Bytes left when known (memory, files); null for streams such as deflate.</summary>
    public abstract long? Remaining { get; }

    /// <summary>Reads exactly destination.Length bytes, or throws at end of input.</summary>
    public abstract void ReadExactly(Span<byte> destination);

    /// <summary>Up to destination.Length bytes without consuming them; returns how many were available.</summary>
    public abstract int Peek(Span<byte> destination);

    public abstract ReadOnlyMemory<byte> ReadMemory(int count);

    public abstract void Skip(long count);

    /// <summary>A buffer left in the source file when the source is a file; null otherwise.</summary>
    public virtual DicomBuffer? ReadLazy(long count, int swapUnit) => null;

    public bool AtEnd => Peek(stackalloc byte[1]) == 0;

    public ushort ReadUInt16(bool bigEndian)
    {
        Span<byte> b = stackalloc byte[2];
        ReadExactly(b);
        return bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    public uint ReadUInt32(bool bigEndian)
    {
        Span<byte> b = stackalloc byte[4];
        ReadExactly(b);
        return bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    protected DicomReadException EndOfData(long needed) =>
        new(Position, $"unexpected end of data ({needed} more bytes needed)");
}

/// <summary>Bytes already in memory: values become slices of the input, so a header parse copies nothing.</summary>
internal sealed class MemorySource(ReadOnlyMemory<byte> data, long baseOffset = 0) : ByteSource
{
    private int _pos;

    public override long Position => baseOffset + _pos;
    public override long? Remaining => data.Length - _pos;

    public override void ReadExactly(Span<byte> destination)
    {
        if (data.Length - _pos < destination.Length) throw EndOfData(destination.Length - (data.Length - _pos));
        data.Span.Slice(_pos, destination.Length).CopyTo(destination);
        _pos += destination.Length;
    }

    public override int Peek(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, data.Length - _pos);
        data.Span.Slice(_pos, n).CopyTo(destination);
        return n;
    }

    public override ReadOnlyMemory<byte> ReadMemory(int count)
    {
        if (data.Length - _pos < count) throw EndOfData(count - (data.Length - _pos));
        var m = data.Slice(_pos, count);
        _pos += count;
        return m;
    }

    public override void Skip(long count)
    {
        if (data.Length - _pos < count) throw EndOfData(count - (data.Length - _pos));
        _pos += (int)count;
    }

    public ReadOnlyMemory<byte> Rest => data[_pos..];
}

/// <summary>A stream read through a buffer; when it is a file, large values can stay in the file (lazy).</summary>
internal sealed class StreamSource : ByteSource
{
    private readonly Stream _stream;
    private readonly byte[] _buffer;
    private readonly long _startOffset;
    private readonly string? _path;
    private readonly long? _length;
    private int _bufPos, _bufLen;
    private long _consumedBeforeBuffer;

    public StreamSource(Stream stream, int bufferSize = 1 << 16, long startOffset = 0)
    {
        _stream = stream;
        _buffer = new byte[bufferSize];
        _startOffset = startOffset;
        if (stream is FileStream fs && fs.CanSeek)
        {
            _path = fs.Name;
            _length = fs.Length - fs.Position;
            _startOffset = fs.Position;
        }
        else if (stream.CanSeek)
            _length = stream.Length - stream.Position;
    }

    public override long Position => _startOffset + _consumedBeforeBuffer + _bufPos;
    public override long? Remaining => _length is { } l ? l - (_consumedBeforeBuffer + _bufPos) : null;

    private bool Fill(int needed)
    {
        if (_bufLen - _bufPos >= needed) return true;
        if (needed > _buffer.Length) return false;
        var keep = _bufLen - _bufPos;
        Buffer.BlockCopy(_buffer, _bufPos, _buffer, 0, keep);
        _consumedBeforeBuffer += _bufPos;
        _bufPos = 0;
        _bufLen = keep;
        while (_bufLen < needed)
        {
            int n;
            try { n = _stream.Read(_buffer, _bufLen, _buffer.Length - _bufLen); }
            catch (InvalidDataException ex) { throw new DicomReadException(Position, "corrupt deflate stream: " + ex.Message, ex); }
            if (n == 0) return false;
            _bufLen += n;
        }
        return true;
    }

    public override void ReadExactly(Span<byte> destination)
    {
        if (destination.Length <= _buffer.Length)
        {
            if (!Fill(destination.Length)) throw EndOfData(destination.Length - (_bufLen - _bufPos));
            _buffer.AsSpan(_bufPos, destination.Length).CopyTo(destination);
            _bufPos += destination.Length;
            return;
        }
        var have = _bufLen - _bufPos;
        _buffer.AsSpan(_bufPos, have).CopyTo(destination);
        _bufPos += have;
        var rest = destination[have..];
        while (rest.Length > 0)
        {
            int n;
            try { n = _stream.Read(rest); }
            catch (InvalidDataException ex) { throw new DicomReadException(Position, "corrupt deflate stream: " + ex.Message, ex); }
            if (n == 0) throw EndOfData(rest.Length);
            rest = rest[n..];
            _consumedBeforeBuffer += n;
        }
    }

    public override int Peek(Span<byte> destination)
    {
        Fill(destination.Length);
        var n = Math.Min(destination.Length, _bufLen - _bufPos);
        _buffer.AsSpan(_bufPos, n).CopyTo(destination);
        return n;
    }

    public override ReadOnlyMemory<byte> ReadMemory(int count)
    {
        if (Remaining is { } r && r < count) throw EndOfData(count - r);
        if (Remaining is null && count > (1 << 20))
        {
            // Unknown length (deflate): grow with the data actually present, so a lying length cannot allocate 4 GB.
            using var ms = new MemoryStream();
            var chunk = new byte[1 << 20];
            var left = count;
            while (left > 0)
            {
                var n = Math.Min(chunk.Length, left);
                ReadExactly(chunk.AsSpan(0, n));
                ms.Write(chunk, 0, n);
                left -= n;
            }
            return ms.ToArray();
        }
        var data = new byte[count];
        ReadExactly(data);
        return data;
    }

    public override void Skip(long count)
    {
        if (Remaining is { } r && r < count) throw EndOfData(count - r);
        var inBuffer = Math.Min(count, _bufLen - _bufPos);
        _bufPos += (int)inBuffer;
        count -= inBuffer;
        if (count == 0) return;
        if (_stream.CanSeek)
        {
            _consumedBeforeBuffer += _bufPos + count;
            _bufPos = _bufLen = 0;
            _stream.Seek(count, SeekOrigin.Current);
            return;
        }
        Span<byte> sink = stackalloc byte[4096];
        while (count > 0)
        {
            var n = (int)Math.Min(sink.Length, count);
            ReadExactly(sink[..n]);
            count -= n;
        }
    }

    /// <summary>What is left (buffered bytes, then the stream), for a deflated body.</summary>
    public Stream RestAsStream()
    {
        // Read through, not copied: a deflated file of a gigabyte must not be held whole in memory to be inflated.
        var buffered = _buffer.AsMemory(_bufPos, _bufLen - _bufPos);
        _bufPos = _bufLen;
        return new PrefixedStream(buffered, _stream);
    }

    public override DicomBuffer? ReadLazy(long count, int swapUnit)
    {
        if (_path is null) return null;
        var offset = Position;
        Skip(count);
        return new FileRangeBuffer(_path, offset, count, swapUnit);
    }
}

/// <summary>A read-only stream over memory, without copying it (MemoryStream wants an array).</summary>
internal sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> data) : Stream
{
    private int _pos;

    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, data.Length - _pos);
        data.Span.Slice(_pos, n).CopyTo(buffer);
        _pos += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => data.Length;
    public override long Position { get => _pos; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
