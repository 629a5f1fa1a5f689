using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Explorer;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Server;

namespace OrthancWeb.Tests.Explorer;

/// <summary>
/// The grids' totals follow what the index writer does. They are kept between two changes of the index (counting
/// walks every match), so every write that adds or removes resources must show in the change log.
/// </summary>
public sealed class ExplorerTotalsTests
{
    [Fact]
    public async Task Totals_follow_arrivals_and_deletions_made_by_the_index_writer()
    {
        var folder = Directory.CreateTempSubdirectory("ow-grid-totals-").FullName;
        try
        {
            var services = new ServiceCollection();
            RealServices.Add(services, folder);
            await using var provider = services.BuildServiceProvider();
            await provider.GetRequiredService<IndexStartup>().RunAsync();
            var ingest = provider.GetRequiredService<IngestService>();
            var explorer = provider.GetRequiredService<ExplorerService>();
            async Task<(int Studies, int Patients)> TotalsAsync() =>
                ((await explorer.SearchStudiesAsync(new StudySearch(), null, true, 0, 25)).Total, (await explorer.SearchPatientsAsync("", "", null, false, 0, 25)).Total);

            Assert.Equal((0, 0), await TotalsAsync());
            var first = await ingest.StoreAsync(StoreBehaviourTests.Instance("TOTALS-A"), new IngestSource(IngestOrigin.WebUI));
            Assert.Equal((1, 1), await TotalsAsync());
            await ingest.StoreAsync(StoreBehaviourTests.Instance("TOTALS-B"), new IngestSource(IngestOrigin.WebUI));
            await ingest.StoreAsync(StoreBehaviourTests.Instance("TOTALS-B", 2), new IngestSource(IngestOrigin.WebUI));
            Assert.Equal((2, 2), await TotalsAsync());
            var (_, rows) = await explorer.SearchStudiesAsync(new StudySearch { PatientId = "TOTALS-B" }, null, true, 0, 25);
            Assert.Equal(2, Assert.Single(rows).Instances);

            // The patient's only study goes, and the patient with it.
            await provider.GetRequiredService<IndexWriter>().DeleteAsync(first.StudyId!, ResourceLevel.Study, default);
            Assert.Equal((1, 1), await TotalsAsync());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }
}
