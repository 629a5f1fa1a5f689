using OrthancWeb.Hosting;
using OrthancWeb.Networking;

namespace OrthancWeb.Worklists;

public static class WorklistsRegistration
{
    /// <summary>Modality worklists: items in the index (and a folder of .wl files), the MWL C-FIND source, arrivals marking them performed.</summary>
    public static IServiceCollection AddWorklists(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WorklistOptions>().Bind(configuration.GetSection(ServerOptions.Section).GetSection("Worklists"))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<WorklistStore>();
        services.AddSingleton<IWorklistSource, WorklistScp>();
        services.AddSingleton<WorklistArrivals>();
        services.AddHostedService(sp => sp.GetRequiredService<WorklistArrivals>());
        services.AddSingleton<Index.IChangeLogFollower>(sp => sp.GetRequiredService<WorklistArrivals>());
        return services;
    }
}
