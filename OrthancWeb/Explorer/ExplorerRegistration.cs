namespace OrthancWeb.Explorer;

public static class ExplorerRegistration
{
    /// <summary>What the explorer's grids and pages read: searches, pages of rows, counts, and the storage curve of the home page.</summary>
    public static IServiceCollection AddExplorer(this IServiceCollection services)
    {
        services.AddSingleton<ExplorerService>();
        services.AddSingleton<StorageHistory>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageHistory>());
        return services;
    }
}
