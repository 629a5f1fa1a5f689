using Microsoft.EntityFrameworkCore;
using OrthancWeb.Index;
using OrthancWeb.Modification;
using OrthancWeb.Tests.Index;

namespace OrthancWeb.Tests.Modification;

public sealed class PseudonymKeysTests
{
    /// <summary>
    /// Jobs that start together on a new server all ask for the first key: they must share one secret, the one kept in
    /// the index, or a job resumed after a restart maps its UIDs differently and makes a second anonymized copy.
    /// </summary>
    [Fact]
    public async Task Concurrent_first_requests_share_the_one_secret_that_is_kept()
    {
        await using var index = await IndexHarness.StartAsync();
        var contexts = index.Get<IDbContextFactory<IndexDbContext>>();
        using var keys = new PseudonymKeys(contexts);
        using var start = new Barrier(16);
        var tasks = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            start.SignalAndWait();
            return await keys.KeyForAsync("job:1", CancellationToken.None);
        })).ToArray();
        var seen = (await Task.WhenAll(tasks)).Distinct().ToList();
        Assert.Single(seen);

        using var reopened = new PseudonymKeys(contexts);
        Assert.Equal(seen[0], await reopened.KeyForAsync("job:1", CancellationToken.None));
    }
}
