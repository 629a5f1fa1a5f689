using System.IO.Compression;
using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Storage;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Bounds;

/// <summary>
/// Issue 15.6, the two ZIP bounds the ratio cannot stand in for: an entry too large, and entries too large together,
/// though none of them deflates well (random bytes). Refused from the central directory, before any entry is stored.
/// </summary>
public sealed class ZipSizeLimitTests
{
    private sealed class Fixed(UploadOptions value) : IOptionsMonitor<UploadOptions>
    {
        public UploadOptions CurrentValue => value;
        public UploadOptions Get(string? name) => value;
        public IDisposable? OnChange(Action<UploadOptions, string?> listener) => null;
    }

    private static byte[] Zip(params (string Name, byte[] Bytes)[] entries)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, bytes) in entries)
            {
                using var s = zip.CreateEntry(name).Open();
                s.Write(bytes);
            }
        return ms.ToArray();
    }

    private static byte[] Random(int megabytes, int seed)
    {
        var bytes = new byte[megabytes * 1024 * 1024];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task An_entry_past_ZipMaximumEntrySize_and_entries_past_ZipMaximumTotalSize_are_refused_with_nothing_stored()
    {
        await using var host = await RealServiceHost.StartAsync("ow-zip-sizes-");
        var uploads = new UploadService(host.Get<IngestService>(), host.Get<StorageArea>(),
            new Fixed(new UploadOptions { ZipMaximumEntrySize = 1, ZipMaximumTotalSize = 2 }), host.Get<IAuditTrail>());
        var real = GeneratedInstances.Series("ZIPSIZES", "1.2.826.0.1.3680043.10.543.61", 1)[0].Bytes;
        var source = new IngestSource(IngestOrigin.RestApi);
        async Task<long> CountAsync() => (await host.Get<IndexQueries>().StatisticsAsync(default)).CountInstances;

        var large = await Assert.ThrowsAsync<ZipLimitException>(() =>
            uploads.StoreZipAsync(new MemoryStream(Zip(("real.dcm", real), ("large.bin", Random(2, 1)))), source, default));
        Assert.Contains("(ZipMaximumEntrySize)", large.Message, StringComparison.Ordinal);

        // Three entries of exactly the entry bound (1 MB is not past it) together pass the 2 MB total.
        var many = await Assert.ThrowsAsync<ZipLimitException>(() =>
            uploads.StoreZipAsync(new MemoryStream(Zip(("real.dcm", real), ("a.bin", Random(1, 2)), ("b.bin", Random(1, 3)), ("c.bin", Random(1, 4)))), source, default));
        Assert.Contains("(ZipMaximumTotalSize)", many.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync());

        // Within both bounds the same service stores the real file.
        var outcomes = await uploads.StoreZipAsync(new MemoryStream(Zip(("real.dcm", real), ("a.bin", Random(1, 2)))), source, default);
        Assert.Equal(IngestStatus.Success, outcomes.Single(o => o.Name == "real.dcm").Result!.Status);
        Assert.Equal(1, await CountAsync());
    }
}
