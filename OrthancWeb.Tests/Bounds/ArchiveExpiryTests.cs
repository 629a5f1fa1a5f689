using System.Security.Claims;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OrthancWeb.Audit;
using OrthancWeb.Export;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Security;
using OrthancWeb.Tests.Components;
using OrthancWeb.Tests.Index;
using OrthancWeb.Tests.Infrastructure;

namespace OrthancWeb.Tests.Bounds;

/// <summary>Issue 15, point 12: job archives expire (on the server's clock) and jobs have owners; archiving is audited.</summary>
[Collection("Bounds")]
public sealed class ArchiveExpiryTests : IAsyncDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ow-archive-expiry-").FullName;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly RecordingTrail _trail = new();
    private readonly ServiceProvider _services;

    public ArchiveExpiryTests()
    {
        var services = new ServiceCollection();
        RealServices.Add(services, _folder);
        services.AddSingleton<TimeProvider>(_clock);
        services.AddSingleton<IAuditTrail>(_trail);
        _services = services.BuildServiceProvider();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    private sealed class RecordingTrail : IAuditTrail
    {
        public List<AuditEvent> Events { get; } = [];
        public void Record(AuditEvent auditEvent) { lock (Events) Events.Add(auditEvent with { User = auditEvent.User ?? AuditActor.Current?.User }); }
    }

    private static ClaimsPrincipal User(string name, string role) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], "test"));

    [Fact]
    public async Task An_archive_is_deleted_once_its_lifetime_has_passed_on_the_server_clock()
    {
        await _services.GetRequiredService<IndexStartup>().RunAsync();
        var stored = await _services.GetRequiredService<IngestService>().StoreAsync(
            File.ReadAllBytes(Path.Combine(Peers.PydicomDir("test_files"), "CT_small.dcm")), new IngestSource(IngestOrigin.RestApi));
        var engine = _services.GetRequiredService<JobEngine>();
        var archives = _services.GetRequiredService<ArchiveJob>();
        var expiry = _services.GetRequiredService<ArchiveExpiry>();
        await engine.StartAsync(default);
        await expiry.StartAsync(default);
        try
        {
            Job job;
            using (Caller.Enter(User("cleo", Roles.Clinician)))
                job = engine.Submit(ArchiveJob.JobType, ArchiveJob.Content([stored.StudyId!], media: false));
            Assert.Equal("cleo", job.User);
            await IndexHarness.Eventually(() => job.IsFinished, "the archive job finished");
            Assert.Equal(JobState.Success, job.State);
            var zip = archives.OutputPath(job.Id);
            Assert.True(File.Exists(zip));
            // Audited on behalf of its owner, with the patient and study concerned.
            var archived = Assert.Single(_trail.Events, e => e.Action == AuditActions.Archive);
            Assert.Equal(("cleo", "1CT1"), (archived.User, archived.PatientId));
            Assert.NotNull(archived.StudyInstanceUid);

            // Owners: the clinician and administrators see it; a viewer does not, nor a job of the server's own.
            Assert.NotNull(engine.Get(job.Id, User("cleo", Roles.Clinician)));
            Assert.NotNull(engine.Get(job.Id, User("root", Roles.Administrator)));
            Assert.Null(engine.Get(job.Id, User("val", Roles.Viewer)));
            var serverJob = engine.Submit(ArchiveJob.JobType, ArchiveJob.Content([stored.StudyId!], media: false));
            Assert.Null(serverJob.User);
            Assert.DoesNotContain(engine.List(User("cleo", Roles.Clinician)), j => j.Id == serverJob.Id);
            Assert.Contains(engine.List(User("root", Roles.Administrator)), j => j.Id == serverJob.Id);
            await IndexHarness.Eventually(() => serverJob.IsFinished, "the server's job finished");

            // 59 minutes later (the default lifetime is 60): still there.
            _clock.Advance(TimeSpan.FromMinutes(59));
            Assert.False(archives.IsExpired(job));
            Assert.True(File.Exists(zip));
            _clock.Advance(TimeSpan.FromMinutes(2));
            Assert.True(archives.IsExpired(job));
            await IndexHarness.Eventually(() => !File.Exists(zip), "the periodic clean-up deleted the expired archive");
            Assert.Contains(_trail.Events, e => e.Action == AuditActions.Delete && e.ResourceId == job.Id);
            // The job itself stays in the history.
            Assert.NotNull(engine.Get(job.Id));
        }
        finally
        {
            await expiry.StopAsync(default);
            await engine.StopAsync(default);
        }
    }
}
