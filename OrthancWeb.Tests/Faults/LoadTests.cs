using OrthancWeb.Tests.Server;
using Xunit.Abstractions;

namespace OrthancWeb.Tests.Faults;

/// <summary>
/// The short form of the load benchmark (benchmarks/load-benchmark.sh runs it for two minutes at full load and
/// reports the grid's p95): concurrent storescu associations and REST uploaders while chromium pages the studies
/// grid. Nothing acknowledged may be lost, and the grid must keep answering; its times are printed, not asserted,
/// since a CI machine's timing says little.
/// </summary>
public sealed class LoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Under_concurrent_storescu_and_REST_load_nothing_acknowledged_is_lost_and_the_studies_grid_keeps_answering()
    {
        var settings = LoadSettings.FromEnvironment(new LoadSettings(Seconds: 15, Associations: 8, Uploaders: 2, SeedStudies: 150, PixelBytes: 16 * 1024, InstancesPerStudy: 20));
        var folder = Directory.CreateTempSubdirectory("ow-load-").FullName;
        var dicomPort = ServerProcess.FreePort();
        await using (var server = await ServerProcess.StartAsync(folder, LoadRun.ServerConfig(dicomPort)))
        {
            LoadReport report;
            try { report = await LoadRun.RunAsync(server, dicomPort, settings, folder, output.WriteLine); }
            catch (Exception)
            {
                output.WriteLine(server.Log);
                throw;
            }
            output.WriteLine(report.ToString());
            Assert.True(report.Missing.Count == 0, $"acknowledged but missing: {string.Join(", ", report.Missing.Take(10))}");
            Assert.True(report.StorescuAcknowledged > 0 && report.RestAcknowledged > 0, "both kinds of senders stored something");
            Assert.Equal(0, report.GridTimeouts);
            Assert.True(report.GridMilliseconds.Count >= 5, $"the grid answered {report.GridMilliseconds.Count} pages in {settings.Seconds} s");
        }
        Directory.Delete(folder, true);
    }
}
