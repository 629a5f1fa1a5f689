using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using OrthancWeb.Explorer;
using OrthancWeb.Export;
using OrthancWeb.Hosting;
using OrthancWeb.Imaging;
using OrthancWeb.Index;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;
using OrthancWeb.Modification;
using OrthancWeb.Networking;
using OrthancWeb.Routing;
using OrthancWeb.Storage;

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
            .AddStorage(configuration)
            .AddIndex(configuration, paths)
            .AddIngest()
            .AddImaging()
            .AddJobs(configuration)
            .AddDicomNetworking(configuration)
            .AddModification()
            .AddExport(configuration)
            .AddAutoRouting(configuration)
            .AddExplorer();
        if (dicom is not null) services.AddSingleton<IOptionsMonitor<DicomOptions>>(new StaticOptions<DicomOptions>(dicom));
    }

    public sealed class StaticOptions<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;
        public T Get(string? name) => value;
        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}
