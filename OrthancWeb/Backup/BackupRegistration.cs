using Microsoft.Extensions.Options;
using OrthancWeb.Audit;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Backup;

public static class BackupRegistration
{
    /// <summary>Online backup (the REST route and the UI's button call it; the command line builds its own, see <see cref="BackupCommand"/>).</summary>
    public static IServiceCollection AddBackup(this IServiceCollection services)
    {
        services.AddSingleton(sp => new BackupService(sp.GetRequiredService<DataPaths>(), sp.GetRequiredService<IOptions<StorageOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<BackupService>>(), sp.GetRequiredService<IAuditTrail>(),
            sp.GetRequiredService<StorageArea>()));
        return services;
    }
}
