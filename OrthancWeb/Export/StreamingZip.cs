using System.IO.Compression;
using System.Text;

namespace OrthancWeb.Export;

/// <summary>
/// A ZIP written front to back into a stream that cannot seek (an HTTP response): each entry's sizes and CRC follow
/// its data in a data descriptor, and ZIP64 records take over when offsets pass 4 GB (APPNOTE 4.3.9, 4.5.3). Built on
/// ZipArchive; the small synchronous writes it still makes are held back and sent asynchronously.
/// </summary>
public sealed class StreamingZip : IAsyncDisposable
{
    private readonly SyncWriteBufferingStream _sink;
    private readonly ZipArchive _zip;
    private readonly CompressionLevel _level;

    private StreamingZip(SyncWriteBufferingStream sink, ZipArchive zip, CompressionLevel level) => (_sink, _zip, _level) = (sink, zip, level);

    public static async Task<StreamingZip> CreateAsync(Stream output, CompressionLevel level, CancellationToken ct)
    {
        var sink = new SyncWriteBufferingStream(output);
        var zip = await ZipArchive.CreateAsync(sink, ZipArchiveMode.Create, leaveOpen: true, Encoding.UTF8, ct);
        return new StreamingZip(sink, zip, level);
    }

    /// <summary>Adds one entry whose content <paramref name="write"/> writes into the stream it is given.</summary>
    public async Task AddAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken ct)
    {
        var entry = _zip.CreateEntry(path, _level);
        await using var target = await entry.OpenAsync(ct);
        await write(target, ct);
    }

    /// <summary>Writes the central directory and sends whatever is still held back.</summary>
    public async ValueTask DisposeAsync()
    {
        await _zip.DisposeAsync();
        await _sink.FlushAsync(CancellationToken.None);
    }
}
