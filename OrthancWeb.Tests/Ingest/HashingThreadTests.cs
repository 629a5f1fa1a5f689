using System.Security.Cryptography;
using OrthancWeb.Ingest;

namespace OrthancWeb.Tests.Ingest;

/// <summary>The C-STORE MD5 thread: right hashes whoever computes them, and no caller left waiting.</summary>
public sealed class HashingThreadTests
{
    private static byte[] Bytes(int seed, int length)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task Concurrent_callers_all_get_the_md5_of_their_own_two_parts()
    {
        using var hasher = new HashingThread();
        // Many at once: one gets the thread, the others the pool; all must be right.
        var inputs = Enumerable.Range(0, 64).Select(i => (Head: Bytes(i, 300 + i), Body: Bytes(1000 + i, 64 * 1024 + i))).ToList();
        var results = await Task.WhenAll(inputs.Select(x => Task.Run(() => hasher.Md5Async(x.Head, x.Body))));
        for (var i = 0; i < inputs.Count; i++)
            Assert.Equal(Convert.ToHexStringLower(MD5.HashData([.. inputs[i].Head, .. inputs[i].Body])), results[i]);
    }

    [Fact]
    public async Task A_caller_that_continues_on_the_thread_does_not_block_the_next_hash()
    {
        using var hasher = new HashingThread();
        var (a, b) = (Bytes(1, 1000), Bytes(2, 500_000));
        // The first hash's continuation runs on the hashing thread and waits there for a second hash: that one must
        // not be queued to the thread it is blocking.
        var nested = await hasher.Md5Async(a, b).ContinueWith(_ => hasher.Md5Async(b, a).Result, TaskContinuationOptions.ExecuteSynchronously)
            .WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData([.. b, .. a])), nested);
    }

    [Fact]
    public async Task A_hash_asked_for_before_dispose_still_completes()
    {
        var hasher = new HashingThread();
        var pending = hasher.Md5Async(Bytes(3, 10), Bytes(4, 4 << 20));
        hasher.Dispose();
        Assert.Equal(32, (await pending.WaitAsync(TimeSpan.FromSeconds(10))).Length);
        // After Dispose the pool does the work.
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(new byte[] { 1, 2 })), await hasher.Md5Async(new byte[] { 1 }, new byte[] { 2 }));
    }
}
