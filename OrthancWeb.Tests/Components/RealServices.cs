using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using OrthancWeb.Dicom;
using OrthancWeb.Explorer;
using OrthancWeb.Export;
using OrthancWeb.Hosting;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Routing;
using OrthancWeb.Storage;

namespace OrthancWeb.Tests.Components;

/// <summary>The application services the components use, real ones (SQLite index, storage folder, jobs engine) in a temp folder.</summary>
public static class RealServices
{
    public static void Add(IServiceCollection services, string folder, DicomOptions? dicom = null)
    {
        var paths = new DataPaths(folder);
        paths.CreateAll();
        services.AddMudServices();
        services.AddLogging();
        services.AddSingleton(paths);
        services.AddSingleton<IOptionsMonitor<StorageOptions>>(new StaticOptions<StorageOptions>(new StorageOptions()));
        services.AddSingleton<IOptionsMonitor<DicomOptions>>(new StaticOptions<DicomOptions>(dicom ?? new DicomOptions()));
        services.AddSingleton<IOptionsMonitor<ExportOptions>>(new StaticOptions<ExportOptions>(new ExportOptions()));
        services.AddSingleton<IOptionsMonitor<RoutingOptions>>(new StaticOptions<RoutingOptions>(new RoutingOptions()));
        services.AddSingleton(Options.Create(new JobsOptions()));
        services.AddPooledDbContextFactory<IndexDbContext>(o => o.UseSqlite($"Data Source={paths.IndexDatabaseFile};Foreign Keys=True"));
        services.AddSingleton<StorageArea>();
        services.AddSingleton<IndexWriter>();
        services.AddSingleton<IndexQueries>();
        services.AddSingleton<IndexStartup>();
        services.AddSingleton<IngestService>();
        services.AddSingleton<UploadService>();
        services.AddSingleton<ExplorerService>();
        services.AddSingleton<InstanceFiles>();
        services.AddSingleton<ModalityRegistry>();
        services.AddSingleton<ModalityClient>();
        services.AddSingleton<ModificationService>();
        services.AddSingleton<PseudonymKeys>();
        services.AddSingleton<ArchiveService>();
        services.AddSingleton<ArchiveJob>();
        services.AddSingleton<RoutingRegistry>();
        services.AddSingleton<IJobHandler, ResourceModificationJob>();
        services.AddSingleton<IJobHandler, ModalityStoreJob>();
        services.AddSingleton<IJobHandler>(sp => sp.GetRequiredService<ArchiveJob>());
        services.AddSingleton<JobEngine>();
    }

    public sealed class StaticOptions<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;
        public T Get(string? name) => value;
        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}
