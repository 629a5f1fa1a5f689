using Microsoft.Extensions.Options;
using OrthancWeb.Hosting;
using OrthancWeb.Ingest;
using OrthancWeb.Jobs;

namespace OrthancWeb.Scripting;

public static class LuaRegistration
{
    /// <summary>Orthanc-compatible Lua scripting: the configured scripts, their callbacks and execute-script.</summary>
    public static IServiceCollection AddLuaScripting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LuaOptions>().Bind(configuration.GetSection(ServerOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LuaOptions>, LuaOptionsValidation>();
        services.AddSingleton<InProcessRestApi>();
        services.AddTransient<IStartupFilter, InProcessRestApiStartup>();
        services.AddSingleton<LuaEngine>();
        services.AddSingleton<IReceivedInstanceFilter, LuaReceivedInstanceFilter>();
        services.AddSingleton<Networking.IFindRequestFilter, LuaFindRequestFilter>();
        services.AddSingleton<IJobHandler, LuaOperationsJob>();
        services.AddSingleton<LuaEventsService>();
        services.AddHostedService(sp => sp.GetRequiredService<LuaEventsService>());
        services.AddSingleton<Index.IChangeLogFollower>(sp => sp.GetRequiredService<LuaEventsService>());
        return services;
    }

    /// <summary>IncomingHttpRequestFilter, once the request's user is known (after authentication).</summary>
    public static IApplicationBuilder UseLuaScripting(this IApplicationBuilder app) => app.UseMiddleware<LuaHttpRequestFilter>();
}
