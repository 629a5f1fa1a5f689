using OrthancWeb.Annotations;
using OrthancWeb.Audit;
using OrthancWeb.DicomWeb.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using OrthancWeb.DicomWeb.Ohif;
using OrthancWeb.Explorer;
using OrthancWeb.Export;
using OrthancWeb.Hosting;
using OrthancWeb.Imaging;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Networking;
using OrthancWeb.Reading;
using OrthancWeb.Routing;
using OrthancWeb.Storage;
using OrthancWeb.Worklists;

namespace OrthancWeb.Tests.Components;

/// <summary>
/// The application services the components use, registered by the server's own capability methods (SQLite index,
/// storage folder, jobs engine) in a temp folder. Hosted services are registered but not started.
/// </summary>
public static class RealServices
{
    public static void Add(IServiceCollection services, string folder, DicomOptions? dicom = null)
    {
        var paths = new DataPaths(folder);
        paths.CreateAll();
        var configuration = new ConfigurationBuilder().Build();
        services.AddMudServices();
        services.AddLogging();
        services.AddSingleton(paths);
        services.AddSingleton(TimeProvider.System);
        services
            .AddAudit()
            .AddStorage(configuration)
            .AddIndex(configuration, paths)
            .AddAnnotations(configuration)
            .AddIngest()
            .AddImaging()
            .AddJobs(configuration)
            .AddDicomNetworking(configuration)
            .AddModification()
            .AddExport(configuration)
            .AddDicomWebClient(configuration)
            .AddAutoRouting(configuration)
            .AddWorklists(configuration)
            .AddExplorer()
            .AddReading()
            .AddOhifViewer(configuration);
        if (dicom is not null) services.AddSingleton<IOptionsMonitor<DicomOptions>>(new StaticOptions<DicomOptions>(dicom));
    }

    public sealed class StaticOptions<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;
        public T Get(string? name) => value;
        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}

/// <summary>
/// The real application services (<see cref="RealServices"/>) in a temp folder of their own, with the index brought
/// up as the server brings it up (migrations, start-up check); removed with the folder on dispose.
/// </summary>
public sealed class RealServiceHost : IAsyncDisposable
{
    private RealServiceHost(string folder, ServiceProvider services) => (Folder, Services) = (folder, services);

    public string Folder { get; }
    public ServiceProvider Services { get; }

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public static async Task<RealServiceHost> StartAsync(string prefix, DicomOptions? dicom = null)
    {
        var folder = Directory.CreateTempSubdirectory(prefix).FullName;
        var services = new ServiceCollection();
        RealServices.Add(services, folder, dicom);
        var host = new RealServiceHost(folder, services.BuildServiceProvider());
        // The audit trail as the server starts it first (audit.db migrated, its writer draining).
        await host.Get<OrthancWeb.Audit.AuditWriter>().StartAsync(CancellationToken.None);
        await host.Get<IndexStartup>().RunAsync();
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}
