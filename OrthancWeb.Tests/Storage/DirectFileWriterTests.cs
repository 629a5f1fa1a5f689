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

    [Theory]
    [InlineData(100, 0)]
    [InlineData(4096, 0)]
    [InlineData(300, 4097)]
    [InlineData(334, 512 * 1024 + 123)]
    [InlineData(334, StagingBuffers.Size - 334)]
    [InlineData(334, StagingBuffers.Size)] // larger than a staging buffer: written at once
    public void An_asynchronous_write_holds_both_parts_once_waited_for(int firstLength, int secondLength)
    {
        var first = new byte[firstLength];
        var second = new byte[secondLength];
        new Random(firstLength).NextBytes(first);
        new Random(secondLength).NextBytes(second);
        var path = Path.Combine(_folder, Guid.NewGuid().ToString());
        using var writes = new AsyncDirectWrites(_pool);
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            using var pending = writes.Start(handle, first, second);
            // On Linux a file of at least a block that fits the staging buffer goes to the disk in the background.
            var size = firstLength + secondLength;
            if (OperatingSystem.IsLinux()) Assert.Equal(size >= 4096 && size <= StagingBuffers.Size, pending.InFlight);
            pending.Wait();
        }
        Assert.Equal([.. first, .. second], File.ReadAllBytes(path));
    }

    [Fact]
    public void Many_asynchronous_writes_at_once_each_hold_their_own_bytes()
    {
        using var writes = new AsyncDirectWrites(_pool);
        var files = Enumerable.Range(0, 16).Select(i =>
        {
            var data = new byte[200_000 + i * 1000];
            new Random(i).NextBytes(data);
            return (Path: Path.Combine(_folder, $"f{i}"), Data: data);
        }).ToList();
        Parallel.ForEach(files, f =>
        {
            using var handle = File.OpenHandle(f.Path, FileMode.CreateNew, FileAccess.Write);
            using var pending = writes.Start(handle, f.Data.AsSpan(0, 132), f.Data.AsSpan(132));
            pending.Wait();
        });
        foreach (var f in files) Assert.Equal(f.Data, File.ReadAllBytes(f.Path));
    }

    [Fact]
    public async Task Two_threads_waiting_for_one_write_both_return_once_it_is_written()
    {
        // The index (before reading a long header back) and the hash's continuation may wait at once: only one of
        // them reaps the kernel's completion event, and the other must neither wait forever nor return before it.
        using var writes = new AsyncDirectWrites(_pool);
        var data = new byte[512 * 1024 + 77];
        new Random(5).NextBytes(data);
        for (var round = 0; round < 20; round++)
        {
            var path = Path.Combine(_folder, $"twice{round}");
            using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
            using var pending = writes.Start(handle, data.AsSpan(0, 300), data.AsSpan(300));
            using var start = new Barrier(2);
            var waiters = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                pending.Wait();
                return File.ReadAllBytes(path); // what the disk holds the moment this waiter is let go
            }, TaskCreationOptions.LongRunning)).ToArray();
            foreach (var seen in await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10)))
                Assert.Equal(data, seen);
        }
    }
}
