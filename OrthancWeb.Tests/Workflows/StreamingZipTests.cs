using System.Globalization;
using System.IO.Compression;
using OrthancWeb.Export;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Workflows;

/// <summary>The archive writer past 4 GB, into a stream that cannot seek, as an HTTP response is.</summary>
public sealed class StreamingZipTests
{
    /// <summary>Write-only and unseekable, like Kestrel's response body; refuses synchronous writes as Kestrel does.</summary>
    private sealed class ResponseLikeStream(Stream inner) : Stream
    {
        public long Written { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => throw new InvalidOperationException("synchronous flush");
        public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("synchronous write");
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
        {
            Written += buffer.Length;
            await inner.WriteAsync(buffer, ct);
        }
        public override Task FlushAsync(CancellationToken ct) => inner.FlushAsync(ct);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public async Task An_archive_over_4_GB_streams_without_seeking_and_reads_back_as_ZIP64()
    {
        var dir = Directory.CreateTempSubdirectory("ow-zip64-");
        try
        {
            var path = Path.Combine(dir.FullName, "big.zip");
            const long entrySize = 1_600L * 1024 * 1024; // three of them: 4.7 GB, past every 32-bit offset
            var chunk = new byte[1 << 20];
            for (var i = 0; i < chunk.Length; i++) chunk[i] = (byte)(i * 31);
            await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                var response = new ResponseLikeStream(file);
                await using (var zip = await StreamingZip.CreateAsync(response, CompressionLevel.NoCompression, CancellationToken.None))
                {
                    for (var e = 0; e < 3; e++)
                        await zip.AddAsync($"part{e}.bin", async (target, ct) =>
                        {
                            for (long written = 0; written < entrySize; written += chunk.Length) await target.WriteAsync(chunk, ct);
                        }, CancellationToken.None);
                    await zip.AddAsync("small.txt", (target, ct) => target.WriteAsync("after 4 GB"u8.ToArray(), ct).AsTask(), CancellationToken.None);
                }
                Assert.True(response.Written > 4L * 1024 * 1024 * 1024);
            }
            // An independent reader: Python's zipfile lists the entries with their ZIP64 sizes and offsets.
            var list = Peers.Run(Peers.DebianPython, "-c",
                "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); [print(i.filename, i.file_size, i.header_offset) for i in z.infolist()]; print(z.read('small.txt').decode())", path);
            Assert.True(list.ExitCode == 0, list.Stderr);
            var lines = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"part2.bin {entrySize}", string.Join(' ', lines[2].Split(' ').Take(2)));
            Assert.True(long.Parse(lines[3].Split(' ')[2], CultureInfo.InvariantCulture) > uint.MaxValue); // small.txt starts past 4 GB
            Assert.Equal("after 4 GB", lines[4]);
            using var back = ZipFile.OpenRead(path);
            await using var last = back.GetEntry("part2.bin")!.Open();
            var head = new byte[16];
            await last.ReadExactlyAsync(head);
            Assert.Equal(chunk[..16], head);
        }
        finally { dir.Delete(true); }
    }
}
