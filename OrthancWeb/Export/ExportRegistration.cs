using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.Export;

public static class ExportRegistration
{
    /// <summary>ZIP and DICOMDIR exports, streamed or as jobs.</summary>
    public static IServiceCollection AddExport(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ExportOptions>().Bind(configuration.GetSection(ServerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ArchiveService>();
        services.AddSingleton<ArchiveJob>();
        services.AddSingleton<IJobHandler>(sp => sp.GetRequiredService<ArchiveJob>());
        services.AddSingleton<InstanceFileExport>();
        services.AddHostedService<FileSystemExportNotice>();
        services.AddSingleton<ArchiveExpiry>();
        services.AddHostedService(sp => sp.GetRequiredService<ArchiveExpiry>());
        return services;
    }
}
