using Microsoft.EntityFrameworkCore;
using OrthancWeb.Hosting;
using OrthancWeb.Storage;

namespace OrthancWeb.Index;

public static class IndexRegistration
{
    /// <summary>
    /// The DICOM index (EF Core on SQLite or PostgreSQL, see <see cref="IndexDatabase"/>): its single writer and the parts that hold its rules, its queries, the
    /// start-up check and stability marking. Needs a <see cref="TimeProvider"/>.
    /// </summary>
    public static IServiceCollection AddIndex(this IServiceCollection services, IConfiguration configuration, DataPaths paths)
    {
        var store = configuration.GetSection(ServerOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        IndexDatabase.Validate(store);
        services.AddPooledDbContextFactory<IndexDbContext>(o => IndexDatabase.Configure(o, store, paths.IndexDatabaseFile));
        // The app registers who this server is (Hosting); harnesses that build the index alone get the default identity.
        services.AddSingleton(sp => new ClusterMembership(store, sp.GetService<ServerIdentity>() ?? ServerIdentity.Of(new ServerOptions(), paths),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ClusterMembership>>()));
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
        services.AddHostedService<OrphanSweeper>();
        return services;
    }
}
