using System.Buffers.Binary;

namespace OrthancWeb.Dicom.Data;

/// <summary>
/// The bytes of one value, always held in little-endian order (big-endian input is swapped on read, PS3.5 §7.3).
/// Either in memory (often a slice of the file's own buffer, so parsing a header copies nothing) or a range of a file
/// read only when asked for, so that a 1 GB multi-frame can be indexed without loading its pixels.
/// </summary>
public abstract class DicomBuffer
{
    public static readonly DicomBuffer Empty = new MemoryBuffer(ReadOnlyMemory<byte>.Empty);

    /// <summary>Length in bytes, known without loading.</summary>
    public abstract long Length { get; }

    /// <summary>The bytes; loads a lazy buffer on first use.</summary>
    public abstract ReadOnlyMemory<byte> Memory { get; }

    public bool IsLoaded => this is MemoryBuffer;

    public static DicomBuffer From(ReadOnlyMemory<byte> bytes) => bytes.IsEmpty ? Empty : new MemoryBuffer(bytes);

    /// <summary>Writes the bytes to a stream without keeping a lazy buffer's contents in memory afterwards.</summary>
    public virtual void CopyTo(Stream destination) => destination.Write(Memory.Span);

    /// <summary>Swaps every unit of unitSize bytes in place: the one conversion between little and big endian.</summary>
    internal static void Swap(Span<byte> data, int unitSize)
    {
        switch (unitSize)
        {
            case 2:
                for (var i = 0; i + 1 < data.Length; i += 2) (data[i], data[i + 1]) = (data[i + 1], data[i]);
                break;
            case 4:
                for (var i = 0; i + 3 < data.Length; i += 4)
                    BinaryPrimitives.WriteUInt32LittleEndian(data[i..], BinaryPrimitives.ReadUInt32BigEndian(data[i..]));
                break;
            case 8:
                for (var i = 0; i + 7 < data.Length; i += 8)
                    BinaryPrimitives.WriteUInt64LittleEndian(data[i..], BinaryPrimitives.ReadUInt64BigEndian(data[i..]));
                break;
        }
    }
}

public sealed class MemoryBuffer(ReadOnlyMemory<byte> data) : DicomBuffer
{
    public override long Length => data.Length;
    public override ReadOnlyMemory<byte> Memory => data;
}

/// <summary>A value left in its file: read (and swapped if the file is big endian) each time it is asked for.</summary>
public sealed class FileRangeBuffer(string path, long offset, long length, int swapUnit) : DicomBuffer
{
    public string Path { get; } = path;
    public long Offset { get; } = offset;
    public override long Length => length;

    /// <summary>Whether the bytes in the file are the value's as they are (little endian), so that a range of them can be copied unread.</summary>
    public bool IsVerbatim => swapUnit <= 1;

    public override ReadOnlyMemory<byte> Memory
    {
        get
        {
            if (length > Array.MaxLength)
                throw new DicomReadException(Offset, $"value of {length} bytes is too large to load into memory");
            var data = new byte[length];
            using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            file.Position = Offset;
            file.ReadExactly(data);
            if (swapUnit > 1)
                Swap(data, swapUnit);
            return data;
        }
    }

    public override void CopyTo(Stream destination)
    {
        if (swapUnit > 1)
        {
            base.CopyTo(destination);
            return;
        }
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        file.Position = Offset;
        var buffer = new byte[1 << 16];
        var left = length;
        while (left > 0)
        {
            var n = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0)
                throw new DicomReadException(Offset + length - left, "file shrank after it was read");
            destination.Write(buffer, 0, n);
            left -= n;
        }
    }
}
