using OrthancWeb.Hosting;
using OrthancWeb.Jobs;

namespace OrthancWeb.Routing;

public static class RoutingRegistration
{
    /// <summary>Automatic routing: rules that follow the change log and become Route jobs.</summary>
    public static IServiceCollection AddAutoRouting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RoutingOptions>().Bind(configuration.GetSection(ServerOptions.Section))
            .Validate(o => o.Routing.All(r => r.Problem() is null), "Routing: every rule needs a name, a known tag in each condition, and something to do")
            .Validate(o => o.Routing.Select(r => r.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count() == o.Routing.Count, "Routing: rule names must be unique")
            .ValidateOnStart();
        services.AddSingleton<RoutingRegistry>();
        services.AddSingleton<IJobHandler, RouteJob>();
        services.AddSingleton<RoutingService>();
        services.AddHostedService(sp => sp.GetRequiredService<RoutingService>());
        services.AddSingleton<Index.IChangeLogFollower>(sp => sp.GetRequiredService<RoutingService>());
        return services;
    }
}
