using System.IO.Hashing;
using System.Security.Cryptography;

namespace OrthancWeb.Storage;

/// <summary>
/// The checksum the index records for every stored file before the instance is acknowledged: XXH128 of the bytes
/// on disk, as lower-case hex. The start-up check and the on-demand MD5 verify files against it.
/// </summary>
/// <remarks>
/// Why not MD5 there, as Orthanc does: the checksum only has to catch damage, not resist an attacker, and on the
/// C-STORE path the index waited for it. MD5 takes 0.6 ms for a 512 KB instance here, XXH128 0.07 ms. The MD5s
/// Orthanc's API serves are computed when first asked for, from a file verified against this checksum.
/// </remarks>
public static class FileChecksum
{
    public static string Of(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var hash = new XxHash128();
        hash.Append(first);
        hash.Append(second);
        return Hex(hash);
    }

    public static string Hex(XxHash128 hash) => Convert.ToHexStringLower(hash.GetCurrentHash());

    /// <summary>The checksum and the MD5 of a whole stream, read once.</summary>
    public static (string Checksum, string Md5) WithMd5(Stream stream)
    {
        var hash = new XxHash128();
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 17);
        try
        {
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                hash.Append(buffer.AsSpan(0, n));
                md5.AppendData(buffer, 0, n);
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
        return (Hex(hash), Convert.ToHexStringLower(md5.GetHashAndReset()));
    }

    public static string OfFile(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);
        var hash = new XxHash128();
        hash.Append(f);
        return Hex(hash);
    }
}

/// <summary>Passes writes on to another stream while checksumming them: a file's checksum without reading it back.</summary>
public sealed class ChecksummingStream(Stream inner) : Stream
{
    private readonly XxHash128 _hash = new();

    /// <summary>The <see cref="FileChecksum"/> of everything written so far.</summary>
    public string Checksum => FileChecksum.Hex(_hash);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.Append(buffer);
        inner.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void Flush() => inner.Flush();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
