namespace OrthancWeb.Explorer;

public static class ExplorerRegistration
{
    /// <summary>What the explorer's grids and pages read: searches, pages of rows, counts.</summary>
    public static IServiceCollection AddExplorer(this IServiceCollection services) => services.AddSingleton<ExplorerService>();
}
