using OrthancWeb.Storage;

namespace OrthancWeb.Tests.Storage;

/// <summary>Direct writes of the storage area: every byte lands where it belongs, whatever the sizes and chunking.</summary>
public sealed class DirectFileWriterTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("orthancweb-direct-").FullName;
    private readonly StagingBuffers _pool = new();

    public void Dispose() => Directory.Delete(_folder, true);

    [Theory]
    [InlineData(0, 1000)]
    [InlineData(1, 1)]
    [InlineData(4095, 4096)]
    [InlineData(4096, 100)]
    [InlineData(4097, 4097)]
    [InlineData(StagingBuffers.Size - 1, 65536)]
    [InlineData(StagingBuffers.Size, 65536)]
    [InlineData(StagingBuffers.Size + 1, 131072)]
    [InlineData(3 * StagingBuffers.Size + 12345, 77777)] // chunks that straddle the staging buffer's end
    public void The_file_holds_exactly_the_bytes_written(int length, int chunk)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var path = Path.Combine(_folder, Guid.NewGuid().ToString());
        long direct;
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        using (var writer = new DirectFileWriter(handle, _pool))
        {
            for (var at = 0; at < length; at += chunk) writer.Write(data.AsSpan(at, Math.Min(chunk, length - at)));
            writer.Complete();
            Assert.Equal(length, writer.Length);
            direct = writer.DirectBytes;
        }
        Assert.Equal(data, File.ReadAllBytes(path));
        // On Linux every whole 4 KiB block bypasses the page cache; only the partial last one goes through it.
        if (OperatingSystem.IsLinux()) Assert.Equal(length / 4096 * 4096, direct);
    }

    [Fact]
    public void Without_a_pool_the_writer_writes_through_the_page_cache()
    {
        var data = new byte[10000];
        new Random(7).NextBytes(data);
        var path = Path.Combine(_folder, "buffered");
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        using (var writer = new DirectFileWriter(handle, null))
        {
            writer.Write(data);
            writer.Complete();
            Assert.Equal(0, writer.DirectBytes);
        }
        Assert.Equal(data, File.ReadAllBytes(path));
    }
}
