using System.IO.Hashing;
using OrthancWeb.Ingest;

namespace OrthancWeb.Tests.Ingest;

/// <summary>The C-STORE checksum thread: right checksums whoever computes them, the write waited for, no caller left waiting.</summary>
public sealed class HashingThreadTests
{
    private static byte[] Bytes(int seed, int length)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static string Xxh128(byte[] bytes) => Convert.ToHexStringLower(XxHash128.Hash(bytes));

    [Fact]
    public async Task Concurrent_callers_all_get_the_checksum_of_their_own_two_parts()
    {
        using var hasher = new HashingThread();
        // Many at once: one gets the thread, the others the pool; all must be right.
        var inputs = Enumerable.Range(0, 64).Select(i => (Head: Bytes(i, 300 + i), Body: Bytes(1000 + i, 64 * 1024 + i))).ToList();
        var results = await Task.WhenAll(inputs.Select(x => Task.Run(() => hasher.ChecksumAsync(x.Head, x.Body))));
        for (var i = 0; i < inputs.Count; i++)
            Assert.Equal(Xxh128([.. inputs[i].Head, .. inputs[i].Body]), results[i]);
    }

    [Fact]
    public async Task The_checksum_is_set_only_once_the_wait_that_follows_it_returns()
    {
        using var hasher = new HashingThread();
        using var waiting = new ManualResetEventSlim();
        using var written = new ManualResetEventSlim();
        var task = hasher.ChecksumAsync(Bytes(1, 100), Bytes(2, 100), () => { waiting.Set(); written.Wait(); });
        // The checksum is computed and the wait for the write has begun: the task must not be set before it returns.
        Assert.True(waiting.Wait(TimeSpan.FromSeconds(10)), "the wait for the write never began");
        Assert.False(task.IsCompleted, "the checksum must wait for the file's write");
        written.Set();
        Assert.Equal(Xxh128([.. Bytes(1, 100), .. Bytes(2, 100)]), await task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_failed_write_fails_the_checksum_task()
    {
        using var hasher = new HashingThread();
        var task = hasher.ChecksumAsync(Bytes(1, 10), Bytes(2, 10), () => throw new IOException("No space left on device"));
        var ex = await Assert.ThrowsAsync<IOException>(() => task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("No space", ex.Message);
    }

    [Fact]
    public async Task A_caller_that_continues_on_the_thread_does_not_block_the_next_checksum()
    {
        using var hasher = new HashingThread();
        var (a, b) = (Bytes(1, 1000), Bytes(2, 500_000));
        // The first task's continuation runs on the checksum thread and waits there for a second one: that one must
        // not be queued to the thread it is blocking.
        var nested = await hasher.ChecksumAsync(a, b).ContinueWith(_ => hasher.ChecksumAsync(b, a).Result, TaskContinuationOptions.ExecuteSynchronously)
            .WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Xxh128([.. b, .. a]), nested);
    }

    [Fact]
    public async Task A_checksum_asked_for_before_dispose_still_completes()
    {
        var hasher = new HashingThread();
        var pending = hasher.ChecksumAsync(Bytes(3, 10), Bytes(4, 4 << 20));
        hasher.Dispose();
        Assert.Equal(32, (await pending.WaitAsync(TimeSpan.FromSeconds(10))).Length);
        // After Dispose the pool does the work.
        Assert.Equal(Xxh128([1, 2]), await hasher.ChecksumAsync(new byte[] { 1 }, new byte[] { 2 }));
    }
}
