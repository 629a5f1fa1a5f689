using OrthancWeb.Hosting;

namespace OrthancWeb.Jobs;

public static class JobsRegistration
{
    /// <summary>The jobs engine; each capability registers its own <see cref="IJobHandler"/>s.</summary>
    public static IServiceCollection AddJobs(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JobsOptions>().Bind(configuration.GetSection(ServerOptions.Section))
            .Validate(o => o.ConcurrentJobs is >= 1 and <= 64 && o.JobsHistorySize >= 0, "Jobs: ConcurrentJobs must be 1-64 and JobsHistorySize not negative")
            .ValidateOnStart();
        services.AddSingleton<IJobLeases, SharedJobLeases>();
        services.AddSingleton<JobEngine>();
        services.AddSingleton<JobsView>();
        services.AddHostedService(sp => sp.GetRequiredService<JobEngine>());
        return services;
    }
}
