using Microsoft.Extensions.DependencyInjection;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Workflows;

/// <summary>A modification job run again (resumed after a pause, retried, restarted) redoes the same work, not a second copy.</summary>
public sealed class ModificationJobTests : IAsyncLifetime
{
    private RealServiceHost _host = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync() => _services = (_host = await RealServiceHost.StartAsync("ow-modjob-")).Services;

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Running_an_anonymization_job_twice_gives_the_same_study_once()
    {
        var ingest = _services.GetRequiredService<IngestService>();
        var stored = await ingest.StoreAsync(File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")), new IngestSource(IngestOrigin.RestApi));
        var handler = _services.GetServices<IJobHandler>().Single(h => h.Type == ResourceModificationJob.JobType);
        var job = new Job
        {
            Id = Guid.NewGuid().ToString(),
            Type = ResourceModificationJob.JobType,
            Content = ResourceModificationJob.Content(ResourceLevel.Study, stored.StudyId!, new AnonymizationRequest()),
        };
        var first = await handler.RunAsync(job, new Progress<double>(), CancellationToken.None);
        var again = await handler.RunAsync(job, new Progress<double>(), CancellationToken.None);
        Assert.Equal(first["ID"]!.GetValue<string>(), again["ID"]!.GetValue<string>());
        var queries = _services.GetRequiredService<IndexQueries>();
        Assert.Equal(2, (await queries.StatisticsAsync(default)).CountStudies); // the original and one anonymized copy

        // Another job is another pseudonymization.
        var other = new Job { Id = Guid.NewGuid().ToString(), Type = job.Type, Content = job.Content };
        var third = await handler.RunAsync(other, new Progress<double>(), CancellationToken.None);
        Assert.NotEqual(first["ID"]!.GetValue<string>(), third["ID"]!.GetValue<string>());
    }
}
