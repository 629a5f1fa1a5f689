using Microsoft.EntityFrameworkCore;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

public static class IndexRegistration
{
    /// <summary>
    /// The DICOM index (EF Core on SQLite): its single writer and the parts that hold its rules, its queries, the
    /// start-up check and stability marking. Needs a <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddIndex(this IServiceCollection services, IConfiguration configuration, DataPaths paths)
    {
        var store = configuration.GetSection(ServerOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        services.AddPooledDbContextFactory<IndexDbContext>(o =>
        {
            if (store.IndexProvider != "Sqlite")
                throw new InvalidOperationException($"Index provider '{store.IndexProvider}' is not available in this build; use Sqlite");
            // A list in a query (ids.Contains(...)) goes as one JSON parameter: EF Core 10 otherwise makes one SQL parameter per
            // item, and SQLite refuses more than 32,766 (a find matching 100,000 studies failed).
            o.UseSqlite($"Data Source={paths.IndexDatabaseFile};Default Timeout=60;Foreign Keys=True",
                sqlite => sqlite.UseParameterizedCollectionMode(ParameterTranslationMode.Parameter));
            if (StorageArea.CanSyncFileSystem) o.AddInterceptors(new SqliteSynchronousInterceptor());
        });
        services.AddSingleton<HierarchyCache>();
        services.AddSingleton<StorageUsage>();
        services.AddSingleton<DurabilityWatermark>();
        services.AddSingleton<IndexTransactions>();
        services.AddSingleton<ResourceDeletion>();
        services.AddSingleton<RecyclingPolicy>();
        services.AddSingleton<InstanceIndexer>();
        services.AddSingleton<IndexMaintenance>();
        services.AddSingleton<CommitPipeline>();
        services.AddSingleton<StorageReconciliation>();
        services.AddSingleton<IndexWriter>();
        services.AddSingleton<IndexQueries>();
        services.AddSingleton<ChangeLogClearing>();
        services.AddSingleton<InstanceFiles>();
        services.AddSingleton<RequestedTagsReader>();
        services.AddSingleton<IndexReconstruction>();
        services.AddSingleton<MeasurementStore>();
        services.AddSingleton<IndexStartup>();
        services.AddHostedService<StabilityMonitor>();
        return services;
    }
}
